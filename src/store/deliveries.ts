// The delivery log: one document per finished attempt, newest first by id (ids are time-ordered
// and given when the attempt finishes).
import type { Collection, Filter } from 'mongodb';
import type { Delivery } from '../domain/deliveries/types.ts';
import { findKeysetPage, type KeysetPage } from './paging.ts';

export interface DeliveryDoc extends Omit<Delivery, 'id'> {
  _id: string;
}

export interface DeliveryFilter {
  success?: boolean | undefined;
  event?: string | undefined;
}

const toDomain = ({ _id, ...rest }: DeliveryDoc): Delivery => ({ id: _id, ...rest });
const toDoc = ({ id, ...rest }: Delivery): DeliveryDoc => ({ _id: id, ...rest });

export class DeliveryStore {
  constructor(private readonly collection: Collection<DeliveryDoc>) {}

  async insertMany(deliveries: Delivery[]): Promise<void> {
    if (deliveries.length > 0) await this.collection.insertMany(deliveries.map(toDoc), { ordered: false });
  }

  private filterFor(siteId: string, scope: { webhookId?: string; eventId?: string }, filter: DeliveryFilter): Filter<DeliveryDoc> {
    const query: Filter<DeliveryDoc> = { siteId };
    if (scope.webhookId !== undefined) query.webhookId = scope.webhookId;
    if (scope.eventId !== undefined) query.eventId = scope.eventId;
    if (filter.success !== undefined) query.success = filter.success;
    if (filter.event !== undefined) query.event = filter.event;
    return query;
  }

  async page(
    siteId: string,
    scope: { webhookId?: string; eventId?: string },
    filter: DeliveryFilter,
    page: KeysetPage,
  ): Promise<Delivery[]> {
    return (await findKeysetPage(this.collection, this.filterFor(siteId, scope, filter), -1, page)).map(toDomain);
  }

  async count(siteId: string, scope: { webhookId?: string; eventId?: string }, filter: DeliveryFilter): Promise<number> {
    return this.collection.countDocuments(this.filterFor(siteId, scope, filter));
  }

  async findManyAnySite(ids: readonly string[]): Promise<Delivery[]> {
    return (await this.collection.find({ _id: { $in: [...ids] } }).toArray()).map(toDomain);
  }

  /** For each of these events, whether the newest attempt to this webhook succeeded. */
  async lastOutcomes(webhookId: string, eventIds: string[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    if (eventIds.length === 0) return out;
    const docs = await this.collection
      .find({ webhookId, eventId: { $in: eventIds } })
      .project<{ _id: string; eventId: string; success: boolean }>({ _id: 1, eventId: 1, success: 1 })
      .sort({ _id: 1 })
      .toArray();
    for (const d of docs) out.set(d.eventId, d.success);
    return out;
  }

  async countSucceededForReplay(replayId: string): Promise<number> {
    return this.collection.countDocuments({ replayId, success: true });
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.collection.deleteMany({ deliveredAt: { $lt: cutoff } })).deletedCount;
  }
}
