// Job "deliver-webhook": one Agenda job per webhook drains that webhook's due attempts in
// batches (delivery/engine.ts). Agenda locks it, so one worker at a time serves a webhook, and
// distributes the webhooks over all workers. New attempts wake it through kick() below.
import type { Agenda, Job, JobWithId, NotificationChannel } from 'agenda';
import type { Collection } from 'mongodb';
import type { DeliveryEngine } from '../delivery/engine.ts';
import type { Logger } from '../logger.ts';
import { Coalescer } from '../store/coalescer.ts';

export const DELIVER_JOB = 'deliver-webhook';

interface DeliverJobData {
  /** The webhook id; unique over the job collection (sparse unique index), one job per webhook. */
  deliveryQueue: string;
}

export interface DeliverJobOptions {
  concurrency: number;
  lockLimit: number;
  lockLifetimeMs: number;
}

/** perform: prepare (deadline), drain (send + record), reschedule at the next due attempt. */
export function defineDeliverJob(
  agenda: Agenda,
  engine: DeliveryEngine,
  kicker: DeliveryKicker,
  options: DeliverJobOptions,
  logger: Logger,
): void {
  agenda.define<DeliverJobData>(
    DELIVER_JOB,
    async (job: Job<DeliverJobData>) => {
      const webhookId = job.attrs.data.deliveryQueue;
      // Leave the job after a while so that other webhooks get their turn; it is rescheduled
      // at once when more is due.
      const deadline = Date.now() + Math.max(1000, options.lockLifetimeMs / 2);
      const { attempted, nextDueAt } = await engine.drain(webhookId, deadline, () => job.touch());
      if (attempted > 0) logger.debug('delivery batch finished', { webhookId, attempted });
      // Agenda saves nextRunAt when the job ends: null would forget attempts still waiting.
      job.attrs.nextRunAt = nextDueAt;
    },
    { concurrency: options.concurrency, lockLimit: options.lockLimit, lockLifetime: options.lockLifetimeMs },
  );
  // Agenda's final save of a run writes the nextRunAt the drain computed, over any kick that
  // came in meanwhile. Once it has saved, restore such a kick.
  agenda.on(`complete:${DELIVER_JOB}`, (job: JobWithId, remote?: false) => {
    if (remote || !job.attrs._id || !job.attrs.lastRunAt) return;
    kicker.restoreKick(job.attrs._id, job.attrs.lastRunAt).catch((error: unknown) => {
      logger.warn('could not restore a delivery wake-up', { error: error instanceof Error ? error.message : String(error) });
    });
  });
}

/**
 * Wakes the delivery jobs of these webhooks at `dueAt`. Writes the job documents directly, in one
 * round trip for any number of webhooks (two more the first time a webhook gets a job): Agenda's own upsert
 * would also clear the lock of a job that is running. Workers hear of it through the change
 * stream on the job collection; without change streams, through the in-process channel.
 */
export class DeliveryKicker {
  /** Concurrent kicks (many publishes at once) share their round trips. */
  private readonly coalescer = new Coalescer<{ webhookIds: readonly string[]; dueAt: Date }, void>(async (kicks) => {
    const dueAt = new Date(Math.min(...kicks.map((k) => k.dueAt.getTime())));
    await this.kickNow(kicks.flatMap((k) => k.webhookIds), dueAt);
    return kicks.map(() => undefined);
  });

  constructor(
    private readonly jobs: Collection,
    private readonly channel: NotificationChannel | null,
  ) {}

  kick(webhookIds: readonly string[], dueAt: Date): Promise<void> {
    if (webhookIds.length === 0) return Promise.resolve();
    return this.coalescer.submit({ webhookIds, dueAt });
  }

  private async kickNow(webhookIds: readonly string[], dueAt: Date): Promise<void> {
    const ids = [...new Set(webhookIds)];
    if (ids.length === 0) return;
    // One round trip in the usual case: every kick is "now", so setting nextRunAt on all of the
    // jobs is right (one already overdue moves by milliseconds at most).
    const { matchedCount } = await this.jobs.updateMany(
      { 'data.deliveryQueue': { $in: ids } },
      { $set: { nextRunAt: dueAt, kickedAt: new Date() } },
    );
    if (matchedCount < ids.length) {
      const existing = new Set(await this.jobs.distinct('data.deliveryQueue', { 'data.deliveryQueue': { $in: ids } }));
      const fresh = ids.filter((id) => !existing.has(id));
      if (fresh.length > 0) await this.insertJobs(fresh, dueAt);
    }
    // Workers of this process hear at once; other processes through the change stream.
    if (this.channel?.state === 'connected') {
      await this.channel.publish({ jobId: 'kick' as never, jobName: DELIVER_JOB, nextRunAt: dueAt, priority: 0, timestamp: new Date(), source: 'kick' });
    }
  }

  /** Wakes the job again if it was kicked after its run began (see defineDeliverJob). */
  async restoreKick(jobId: unknown, runStartedAt: Date): Promise<void> {
    const now = new Date();
    await this.jobs.updateOne(
      { _id: jobId as never, kickedAt: { $gte: runStartedAt }, $or: [{ nextRunAt: null }, { nextRunAt: { $gt: now } }] },
      { $set: { nextRunAt: now } },
    );
  }

  /** A deleted webhook's job document goes too. */
  async forget(webhookId: string): Promise<void> {
    await this.jobs.deleteOne({ 'data.deliveryQueue': webhookId });
  }

  private async insertJobs(webhookIds: string[], dueAt: Date): Promise<void> {
    try {
      await this.jobs.insertMany(
        webhookIds.map((id) => ({
          name: DELIVER_JOB,
          data: { deliveryQueue: id } satisfies DeliverJobData,
          type: 'normal',
          priority: 0,
          nextRunAt: dueAt,
          lockedAt: null,
          lastModifiedBy: null,
          disabled: null,
        })),
        { ordered: false },
      );
    } catch (error) {
      // Another process created some of them meanwhile (unique index): then make sure of their time.
      if ((error as { code?: number }).code !== 11000 && !String((error as Error).message).includes('E11000')) throw error;
      await this.jobs.updateMany(
        { 'data.deliveryQueue': { $in: webhookIds }, $or: [{ nextRunAt: null }, { nextRunAt: { $gt: dueAt } }] },
        { $set: { nextRunAt: dueAt, kickedAt: new Date() } },
      );
    }
  }
}
