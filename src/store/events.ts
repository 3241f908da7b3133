import type { Collection, Filter } from 'mongodb';
import type { Event } from '../domain/events/types.ts';

export interface EventDoc {
  _id: string;
  siteId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
  webhookCount: number;
  /** `${siteId}:${key}` when published with an Idempotency-Key; absent otherwise (sparse unique). */
  idempotencyKey?: string;
  /** SHA-256 of the request that used the key: a reuse with another request is refused. */
  requestHash?: string;
  /** False until the fan-out's messages are written; the sweep finishes fan-outs a crash cut short. */
  fannedOut: boolean;
}

const toDomain = (d: EventDoc): Event => ({
  id: d._id,
  siteId: d.siteId,
  type: d.type,
  data: d.data,
  createdAt: d.createdAt,
  webhookCount: d.webhookCount,
});

export class EventStore {
  constructor(private readonly collection: Collection<EventDoc>) {}

  /** Inserts the event; returns false when its idempotency key is already taken. */
  async insert(event: Event, idempotency?: { key: string; requestHash: string }): Promise<boolean> {
    return (await this.insertMany([{ event, idempotency }]))[0]!;
  }

  /**
   * Inserts several events in one round trip; answers per event whether it was stored (false:
   * its idempotency key was taken).
   */
  async insertMany(items: { event: Event; idempotency?: { key: string; requestHash: string } | undefined }[]): Promise<boolean[]> {
    const docs: EventDoc[] = items.map(({ event, idempotency }) => ({
      _id: event.id,
      siteId: event.siteId,
      type: event.type,
      data: event.data,
      createdAt: event.createdAt,
      webhookCount: event.webhookCount,
      fannedOut: false,
      ...(idempotency ? { idempotencyKey: idempotency.key, requestHash: idempotency.requestHash } : {}),
    }));
    const stored = docs.map(() => true);
    try {
      await this.collection.insertMany(docs, { ordered: false });
    } catch (error) {
      const raw = (error as { writeErrors?: { index: number; code: number }[] | { index: number; code: number } }).writeErrors;
      const writeErrors = Array.isArray(raw) ? raw : raw ? [raw] : [];
      if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== 11000 || !items[e.index]?.idempotency)) throw error;
      for (const e of writeErrors) stored[e.index] = false;
    }
    return stored;
  }

  async markFannedOut(ids: string | string[]): Promise<void> {
    const list = Array.isArray(ids) ? ids : [ids];
    if (list.length > 0) await this.collection.updateMany({ _id: { $in: list } }, { $set: { fannedOut: true } });
  }

  async findByIdempotencyKey(key: string): Promise<{ event: Event; requestHash: string | null } | null> {
    const doc = await this.collection.findOne({ idempotencyKey: key });
    return doc ? { event: toDomain(doc), requestHash: doc.requestHash ?? null } : null;
  }

  async findById(siteId: string, id: string): Promise<Event | null> {
    const doc = await this.collection.findOne({ _id: id, siteId });
    return doc ? toDomain(doc) : null;
  }

  async findManyAnySite(ids: readonly string[]): Promise<Event[]> {
    if (ids.length === 0) return [];
    return (await this.collection.find({ _id: { $in: [...ids] } }).toArray()).map(toDomain);
  }

  /** Events whose fan-out did not finish (a crash between the writes), older than `before`. */
  async unfinishedFanOuts(before: Date, limit: number): Promise<Event[]> {
    const docs = await this.collection.find({ fannedOut: false, createdAt: { $lt: before } }).limit(limit).toArray();
    return docs.map(toDomain);
  }

  /** Events of a site in [since, until), oldest first, of the given types (null: any). */
  async findInWindow(
    siteId: string,
    types: string[] | null,
    since: Date,
    until: Date,
    limit: number,
  ): Promise<Event[]> {
    const filter: Filter<EventDoc> = { siteId, createdAt: { $gte: since, $lt: until } };
    if (types) filter.type = { $in: types };
    const docs = await this.collection.find(filter).sort({ createdAt: 1, _id: 1 }).limit(limit).toArray();
    return docs.map(toDomain);
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.collection.deleteMany({ createdAt: { $lt: cutoff } })).deletedCount;
  }
}
