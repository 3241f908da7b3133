import type { Collection, Filter } from 'mongodb';
import type { Webhook } from '../domain/webhooks/types.ts';
import { findKeysetPage, type KeysetPage } from './paging.ts';

export interface WebhookDoc {
  _id: string;
  siteId: string;
  url: string;
  events: string[];
  secret: string;
  active: boolean;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  failCount: number;
  lastDeliveredAt: Date | null;
  disabledReason: string | null;
}

export interface WebhookFilter {
  active?: boolean | undefined;
  event?: string | undefined;
}

const toDomain = (d: WebhookDoc): Webhook => ({
  id: d._id,
  siteId: d.siteId,
  url: d.url,
  events: d.events,
  secret: d.secret,
  active: d.active,
  createdBy: d.createdBy,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
  failCount: d.failCount,
  lastDeliveredAt: d.lastDeliveredAt,
  disabledReason: d.disabledReason ?? null,
});

const toDoc = (w: Webhook): WebhookDoc => ({
  _id: w.id,
  siteId: w.siteId,
  url: w.url,
  events: w.events,
  secret: w.secret,
  active: w.active,
  createdBy: w.createdBy,
  createdAt: w.createdAt,
  updatedAt: w.updatedAt,
  failCount: w.failCount,
  lastDeliveredAt: w.lastDeliveredAt,
  disabledReason: w.disabledReason,
});

export class WebhookStore {
  constructor(private readonly collection: Collection<WebhookDoc>) {}

  private filterFor(siteId: string, filter: WebhookFilter): Filter<WebhookDoc> {
    const query: Filter<WebhookDoc> = { siteId };
    if (filter.active !== undefined) query.active = filter.active;
    if (filter.event !== undefined) query.events = { $in: [filter.event, '*'] };
    return query;
  }

  async insert(webhook: Webhook): Promise<void> {
    await this.collection.insertOne(toDoc(webhook));
  }

  async findById(siteId: string, id: string): Promise<Webhook | null> {
    const doc = await this.collection.findOne({ _id: id, siteId });
    return doc ? toDomain(doc) : null;
  }

  /** For id-only lookups (GraphQL node); callers check the site against the caller's access. */
  async findByIdAnySite(id: string): Promise<Webhook | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toDomain(doc) : null;
  }

  async findManyAnySite(ids: readonly string[]): Promise<Webhook[]> {
    const docs = await this.collection.find({ _id: { $in: [...ids] } }).toArray();
    return docs.map(toDomain);
  }

  async page(siteId: string, filter: WebhookFilter, page: KeysetPage): Promise<Webhook[]> {
    const docs = await findKeysetPage(this.collection, this.filterFor(siteId, filter), 1, page);
    return docs.map(toDomain);
  }

  async count(siteId: string, filter: WebhookFilter): Promise<number> {
    return this.collection.countDocuments(this.filterFor(siteId, filter));
  }

  async listAll(siteId: string): Promise<Webhook[]> {
    const docs = await this.collection.find({ siteId }).sort({ _id: 1 }).toArray();
    return docs.map(toDomain);
  }

  /** Applies `set` and returns the webhook as it is afterwards, or null when it does not exist. */
  async update(siteId: string, id: string, set: Partial<Omit<WebhookDoc, '_id' | 'siteId'>>): Promise<Webhook | null> {
    const doc = await this.collection.findOneAndUpdate(
      { _id: id, siteId },
      { $set: set },
      { returnDocument: 'after' },
    );
    return doc ? toDomain(doc) : null;
  }

  /** Applies the result of a batch of attempts to failCount / lastDeliveredAt. */
  async recordOutcome(siteId: string, id: string, update: OutcomeUpdate): Promise<Webhook | null> {
    const doc = await this.collection.findOneAndUpdate(
      { _id: id, siteId },
      update.resetFailCountTo !== undefined
        ? { $set: { failCount: update.resetFailCountTo, lastDeliveredAt: update.lastDeliveredAt ?? null } }
        : { $inc: { failCount: update.addFailures ?? 0 } },
      { returnDocument: 'after' },
    );
    return doc ? toDomain(doc) : null;
  }

  /** Disables an active webhook; null when it was not active (someone else did it first). */
  async disable(siteId: string, id: string, reason: string): Promise<Webhook | null> {
    const doc = await this.collection.findOneAndUpdate(
      { _id: id, siteId, active: true },
      { $set: { active: false, disabledReason: reason, updatedAt: new Date() } },
      { returnDocument: 'after' },
    );
    return doc ? toDomain(doc) : null;
  }

  /** Active webhooks of a site receiving this event type. */
  async subscribers(siteId: string, type: string): Promise<Webhook[]> {
    const docs = await this.collection.find({ siteId, active: true, events: { $in: [type, '*'] } }).toArray();
    return docs.map(toDomain);
  }

  async delete(siteId: string, id: string): Promise<boolean> {
    const result = await this.collection.deleteOne({ _id: id, siteId });
    return result.deletedCount === 1;
  }
}

export interface OutcomeUpdate {
  /** A success happened: failCount becomes the failures after it. */
  resetFailCountTo?: number;
  lastDeliveredAt?: Date;
  /** Only failures: add them. */
  addFailures?: number;
}
