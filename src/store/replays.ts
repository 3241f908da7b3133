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
}

const toDomain = ({ _id, activeFor: _a, ...rest }: ReplayDoc): Replay => ({ id: _id, ...rest });

export class ReplayStore {
  constructor(private readonly collection: Collection<ReplayDoc>) {}

  /** Inserts the replay as its webhook's active one; false when another is active. */
  async insertActive(replay: Replay): Promise<boolean> {
    const { id, ...rest } = replay;
    try {
      await this.collection.insertOne({ _id: id, ...rest, activeFor: replay.webhookId });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 11000) return false;
      throw error;
    }
  }

  async findActive(webhookId: string): Promise<Replay | null> {
    const doc = await this.collection.findOne({ activeFor: webhookId });
    return doc ? toDomain(doc) : null;
  }

  async release(id: string): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $unset: { activeFor: '' } });
  }

  async findById(id: string): Promise<Replay | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toDomain(doc) : null;
  }

  async findManyAnySite(ids: readonly string[]): Promise<Replay[]> {
    return (await this.collection.find({ _id: { $in: [...ids] } }).toArray()).map(toDomain);
  }

  async addScheduled(id: string, count: number): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $inc: { scheduled: count } });
  }

  async finishScheduling(id: string, at: Date, cancelledReason: string | null): Promise<void> {
    const update: Record<string, unknown> = { $set: { scheduledAt: at, cancelledReason } };
    // A cancelled replay is no longer the webhook's active one.
    if (cancelledReason) update.$unset = { activeFor: '' };
    await this.collection.updateOne({ _id: id }, update);
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.collection.deleteMany({ createdAt: { $lt: cutoff }, activeFor: { $exists: false } })).deletedCount;
  }
}
