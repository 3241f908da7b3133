// Job "deliveries-sweep", every few seconds: the safety net under the fast path. It finishes
// fan-outs that a crash cut short, and wakes webhooks whose due attempts have no job waiting
// (a wake-up lost in the moment a running job ended).
import type { Agenda } from 'agenda';
import type { EventService } from '../domain/events/service.ts';
import type { Logger } from '../logger.ts';
import type { MessageStore } from '../store/messages.ts';
import type { DeliveryKicker } from './deliver-webhook.ts';

export const SWEEP_JOB = 'deliveries-sweep';
/** A fan-out unfinished for this long was cut short by a crash. */
const FAN_OUT_GRACE_MS = 10_000;

export function defineSweepJob(
  agenda: Agenda,
  deps: { messages: MessageStore; events: EventService; kicker: DeliveryKicker; logger: Logger },
): void {
  agenda.define(SWEEP_JOB, async () => {
    const resumed = await deps.events.resumeFanOuts(new Date(Date.now() - FAN_OUT_GRACE_MS));
    if (resumed > 0) deps.logger.warn('finished fan-outs cut short', { events: resumed });
    const now = new Date();
    const due = await deps.messages.webhooksWithDueAttempts(now);
    if (due.length > 0) await deps.kicker.kick(due, now);
  }, { concurrency: 1, lockLifetime: 60_000 });
}

export async function scheduleSweep(agenda: Agenda, everyMs: number): Promise<void> {
  await agenda.every(everyMs, SWEEP_JOB);
}
