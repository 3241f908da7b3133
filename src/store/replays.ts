import type { Collection } from 'mongodb';
import type { Replay } from '../domain/replays/types.ts';

export interface ReplayDoc extends Omit<Replay, 'id'> {
  _id: string;
  /**
   * The webhook id while this replay is the webhook's active one; absent afterwards. A sparse
   * unique index on it lets only one replay per webhook be active (a full, not partial, index:
   * the embedded server has no partialFilterExpression).
   */
  activeFor?: string;
  /** Set once the replay reached its end (completed or cancelled); absent before. */
  finishedAt?: Date | null;
  /** How far into eventIds the job has queued, so that a job run again resumes there. */
  scheduledThrough?: number;
}

/** A replay with the bookkeeping of its job (store and replay service only). */
export interface ReplayRecord extends Replay {
  finishedAt: Date | null;
  scheduledThrough: number;
}

const toDomain = ({ _id, activeFor: _a, finishedAt, scheduledThrough, ...rest }: ReplayDoc): ReplayRecord => ({
  id: _id,
  ...rest,
  finishedAt: finishedAt ?? null,
  scheduledThrough: scheduledThrough ?? 0,
});

export class ReplayStore {
  constructor(private readonly collection: Collection<ReplayDoc>) {}

  /** Inserts the replay as its webhook's active one; false when another is active. */
  async insertActive(replay: Replay): Promise<boolean> {
    const { id, ...rest } = replay;
    try {
      await this.collection.insertOne({ _id: id, ...rest, activeFor: replay.webhookId, finishedAt: null, scheduledThrough: 0 });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 11000) return false;
      throw error;
    }
  }

  async findActive(webhookId: string): Promise<ReplayRecord | null> {
    const doc = await this.collection.findOne({ activeFor: webhookId });
    return doc ? toDomain(doc) : null;
  }

  async release(id: string): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $unset: { activeFor: '' } });
  }

  async findById(id: string): Promise<ReplayRecord | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toDomain(doc) : null;
  }

  async findManyAnySite(ids: readonly string[]): Promise<ReplayRecord[]> {
    return (await this.collection.find({ _id: { $in: [...ids] } }).toArray()).map(toDomain);
  }

  /**
   * Counts a chunk queued and records that eventIds before `through` are done; a chunk already
   * counted (a job run again) is not counted twice.
   */
  async addScheduled(id: string, count: number, through: number): Promise<void> {
    await this.collection.updateOne(
      { _id: id, $or: [{ scheduledThrough: { $exists: false } }, { scheduledThrough: { $lt: through } }] },
      { $inc: { scheduled: count }, $set: { scheduledThrough: through } },
    );
  }

  async finishScheduling(id: string, at: Date, cancelledReason: string | null): Promise<void> {
    if (cancelledReason) {
      await this.finish(id, at, cancelledReason, true);
      return;
    }
    await this.collection.updateOne({ _id: id }, { $set: { scheduledAt: at } });
  }

  /**
   * Records the end of a replay (cancelled when a reason is given) and frees its webhook for the
   * next one. The first end recorded stays.
   */
  async finish(id: string, at: Date, cancelledReason: string | null, scheduling = false): Promise<void> {
    const set: Partial<ReplayDoc> = { finishedAt: at };
    if (cancelledReason) set.cancelledReason = cancelledReason;
    if (scheduling) set.scheduledAt = at;
    await this.collection.updateOne({ _id: id, finishedAt: null }, { $set: set, $unset: { activeFor: '' } });
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.collection.deleteMany({ createdAt: { $lt: cutoff }, activeFor: { $exists: false } })).deletedCount;
  }
}
