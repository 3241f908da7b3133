// Reading the delivery log (REST and GraphQL); the engine writes it.
import { assertSiteAccess, canAccessSite } from '../api-keys/service.ts';
import type { Principal } from '../api-keys/types.ts';
import { notFound } from '../errors.ts';
import { assertSiteId } from '../validation.ts';
import type { DeliveryFilter, DeliveryStore } from '../../store/deliveries.ts';
import type { EventStore } from '../../store/events.ts';
import type { KeysetPage } from '../../store/paging.ts';
import type { WebhookStore } from '../../store/webhooks.ts';
import type { Event } from '../events/types.ts';
import type { Delivery } from './types.ts';

export class DeliveryService {
  constructor(private readonly deps: { deliveries: DeliveryStore; webhooks: WebhookStore; events: EventStore }) {}

  private async checkWebhook(principal: Principal, siteId: string, webhookId: string): Promise<void> {
    assertSiteId(siteId);
    assertSiteAccess(principal, siteId);
    if (!(await this.deps.webhooks.findById(siteId, webhookId))) throw notFound('Webhook', webhookId);
  }

  /** A webhook's attempts, newest first. */
  async listForWebhook(principal: Principal, siteId: string, webhookId: string, filter: DeliveryFilter, page: KeysetPage) {
    await this.checkWebhook(principal, siteId, webhookId);
    return this.deps.deliveries.page(siteId, { webhookId }, filter, page);
  }

  async countForWebhook(principal: Principal, siteId: string, webhookId: string, filter: DeliveryFilter): Promise<number> {
    assertSiteAccess(principal, siteId);
    return this.deps.deliveries.count(siteId, { webhookId }, filter);
  }

  /** Trusted callers that already resolved the webhook (GraphQL fields of a Webhook). */
  pageForWebhook(siteId: string, webhookId: string, filter: DeliveryFilter, page: KeysetPage) {
    return this.deps.deliveries.page(siteId, { webhookId }, filter, page);
  }

  countFor(siteId: string, scope: { webhookId?: string; eventId?: string }, filter: DeliveryFilter) {
    return this.deps.deliveries.count(siteId, scope, filter);
  }

  pageForEvent(siteId: string, eventId: string, filter: DeliveryFilter, page: KeysetPage) {
    return this.deps.deliveries.page(siteId, { eventId }, filter, page);
  }

  async findMany(principal: Principal, ids: readonly string[]): Promise<Delivery[]> {
    return (await this.deps.deliveries.findManyAnySite(ids)).filter((d) => canAccessSite(principal, d.siteId));
  }

  async findEvents(principal: Principal, ids: readonly string[]): Promise<Event[]> {
    return (await this.deps.events.findManyAnySite(ids)).filter((e) => canAccessSite(principal, e.siteId));
  }
}
