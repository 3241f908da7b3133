// The delivery queue: one document per attempt still to be made. Workers claim documents
// atomically (claimedUntil/claimToken) before sending, so a job that runs twice never sends the
// same attempt twice, and a crashed worker's claims expire and are taken up again.
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { Message, Trigger } from '../domain/deliveries/types.ts';

export interface MessageDoc {
  /** Deterministic per (event, webhook[, replay]) so that a repeated fan-out inserts nothing new. */
  _id: string;
  siteId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  trigger: Trigger;
  replayId: string | null;
  dueAt: Date;
  createdAt: Date;
  /** Epoch when unclaimed. */
  claimedUntil: Date;
  claimToken: string | null;
}

export const UNCLAIMED = new Date(0);

const toDomain = (d: MessageDoc): Message => ({
  id: d._id,
  siteId: d.siteId,
  webhookId: d.webhookId,
  eventId: d.eventId,
  eventType: d.eventType,
  attempt: d.attempt,
  trigger: d.trigger,
  replayId: d.replayId,
  dueAt: d.dueAt,
  createdAt: d.createdAt,
});

export type MessageOutcome =
  | { kind: 'done'; id: string }
  | { kind: 'retry'; id: string; attempt: number; dueAt: Date };

export class MessageStore {
  constructor(private readonly collection: Collection<MessageDoc>) {}

  /** Inserts new attempts; ids already present (a repeated fan-out) are skipped. */
  async insertMany(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    const docs: MessageDoc[] = messages.map((m) => ({
      _id: m.id,
      siteId: m.siteId,
      webhookId: m.webhookId,
      eventId: m.eventId,
      eventType: m.eventType,
      attempt: m.attempt,
      trigger: m.trigger,
      replayId: m.replayId,
      dueAt: m.dueAt,
      createdAt: m.createdAt,
      claimedUntil: UNCLAIMED,
      claimToken: null,
    }));
    try {
      await this.collection.insertMany(docs, { ordered: false });
    } catch (error) {
      const writeErrors = (error as { writeErrors?: { code: number }[] | { code: number } }).writeErrors;
      const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
      if (list.length === 0 || list.some((e) => e.code !== 11000)) throw error;
    }
  }

  /**
   * Claims up to `limit` due, unclaimed attempts of one webhook, oldest first. Each document is
   * claimed by a conditional update, so two claimers never get the same one.
   */
  async claimDue(webhookId: string, now: Date, limit: number, token: string, lockMs: number): Promise<Message[]> {
    const candidates = await this.collection
      .find({ webhookId, dueAt: { $lte: now }, claimedUntil: { $lte: now } })
      .sort({ dueAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    if (candidates.length === 0) return [];
    const ids = candidates.map((c) => c._id);
    // dueAt again: a candidate settled by another run meanwhile (a retry due later, unclaimed)
    // must not be taken and sent before its time.
    const result = await this.collection.updateMany(
      { _id: { $in: ids }, dueAt: { $lte: now }, claimedUntil: { $lte: now } },
      { $set: { claimedUntil: new Date(now.getTime() + lockMs), claimToken: token } },
    );
    if (result.modifiedCount === candidates.length) return candidates.map(toDomain);
    // Someone else claimed part of them meanwhile: keep only ours.
    const mine = await this.collection.find({ _id: { $in: ids }, claimToken: token }).sort({ dueAt: 1, _id: 1 }).toArray();
    return mine.map(toDomain);
  }

  /** Extends our claim while a long batch is still being sent. */
  async extendClaim(token: string, until: Date): Promise<void> {
    await this.collection.updateMany({ claimToken: token }, { $set: { claimedUntil: until } });
  }

  /** Records what happened to claimed attempts: done ones leave the queue, failed ones wait. */
  async settle(token: string, outcomes: MessageOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const ops: AnyBulkWriteOperation<MessageDoc>[] = outcomes.map((o) =>
      o.kind === 'done'
        ? { deleteOne: { filter: { _id: o.id, claimToken: token } } }
        : {
            updateOne: {
              filter: { _id: o.id, claimToken: token },
              update: { $set: { attempt: o.attempt, dueAt: o.dueAt, claimedUntil: UNCLAIMED, claimToken: null } },
            },
          },
    );
    await this.collection.bulkWrite(ops, { ordered: false });
  }

  /** Drops attempts of a webhook that was deleted or disabled; returns how many. */
  async cancelForWebhook(webhookId: string): Promise<number> {
    return (await this.collection.deleteMany({ webhookId })).deletedCount;
  }

  async cancelIds(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.collection.deleteMany({ _id: { $in: ids } });
  }

  /**
   * When the webhook's next attempt is due: the earliest unclaimed attempt, or the earliest claim
   * that expires (a crashed run's attempts are taken over then).
   */
  async nextDueAt(webhookId: string): Promise<Date | null> {
    const [unclaimed, claimed] = await Promise.all([
      this.collection.find({ webhookId, claimToken: null }).sort({ dueAt: 1 }).limit(1).project<{ dueAt: Date }>({ dueAt: 1 }).toArray(),
      this.collection
        .find({ webhookId, claimToken: { $ne: null } })
        .sort({ claimedUntil: 1 })
        .limit(1)
        .project<{ claimedUntil: Date }>({ claimedUntil: 1 })
        .toArray(),
    ]);
    const times = [unclaimed[0]?.dueAt, claimed[0]?.claimedUntil].filter((d): d is Date => d instanceof Date);
    return times.length === 0 ? null : new Date(Math.min(...times.map((d) => d.getTime())));
  }

  /** Webhooks that have attempts due now and not claimed by anyone. */
  async webhooksWithDueAttempts(now: Date): Promise<string[]> {
    return this.collection.distinct('webhookId', { dueAt: { $lte: now }, claimedUntil: { $lte: now } });
  }

  /** Attempts of a replay still queued; with firstOnly, those never tried yet. */
  async countForReplay(replayId: string, firstOnly = false): Promise<number> {
    return this.collection.countDocuments(firstOnly ? { replayId, attempt: 1 } : { replayId });
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.collection.deleteMany({ createdAt: { $lt: cutoff } })).deletedCount;
  }
}
