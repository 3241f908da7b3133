// Job "retention", hourly: removes events, attempts and queued attempts older than the retention
// period (no TTL index: the embedded server ignores them).
import type { Agenda } from 'agenda';
import type { Logger } from '../logger.ts';
import type { DeliveryStore } from '../store/deliveries.ts';
import type { EventStore } from '../store/events.ts';
import type { MessageStore } from '../store/messages.ts';
import type { ReplayStore } from '../store/replays.ts';
import type { LiveResults } from '../live/live-results.ts';

/** Live webhook-change notices only serve subscribers that are connected: keep them an hour. */
const LIVE_NOTICE_RETENTION_MS = 3_600_000;

export const RETENTION_JOB = 'retention';

export function defineRetentionJob(
  agenda: Agenda,
  deps: { events: EventStore; deliveries: DeliveryStore; messages: MessageStore; replays: ReplayStore; live?: LiveResults; retentionDays: number; logger: Logger },
): void {
  agenda.define(RETENTION_JOB, async () => {
    const removed = await runRetention(deps, new Date());
    deps.logger.info('retention', removed);
  }, { concurrency: 1, lockLifetime: 10 * 60_000 });
}

export async function runRetention(
  deps: { events: EventStore; deliveries: DeliveryStore; messages: MessageStore; replays?: ReplayStore; live?: LiveResults; retentionDays: number },
  now: Date,
): Promise<{ events: number; deliveries: number; messages: number; replays: number; liveNotices: number }> {
  const cutoff = new Date(now.getTime() - deps.retentionDays * 86_400_000);
  const [events, deliveries, messages, replays, liveNotices] = await Promise.all([
    deps.events.deleteOlderThan(cutoff),
    deps.deliveries.deleteOlderThan(cutoff),
    deps.messages.deleteOlderThan(cutoff),
    deps.replays ? deps.replays.deleteOlderThan(cutoff) : 0,
    deps.live ? deps.live.deleteOlderThan(new Date(now.getTime() - LIVE_NOTICE_RETENTION_MS)) : 0,
  ]);
  return { events, deliveries, messages, replays, liveNotices };
}
