// Webhook management. Knows nothing of HTTP or GraphQL: REST handlers and resolvers both call it.
import { assertSiteAccess, canAccessSite } from '../api-keys/service.ts';
import type { Principal } from '../api-keys/types.ts';
import { notFound, validationError } from '../errors.ts';
import { isSubscribable } from '../events/catalogue.ts';
import { newId } from '../ids.ts';
import { assertSiteId } from '../validation.ts';
import { generateSecret } from '../../delivery/signature.ts';
import type { KeysetPage } from '../../store/paging.ts';
import type { WebhookFilter, WebhookStore } from '../../store/webhooks.ts';
import type { CreateWebhookInput, UpdateWebhookInput, Webhook } from './types.ts';
import { parseCreateWebhook, parseUpdateWebhook } from './validation.ts';

export type WebhookChange = { kind: 'created' | 'updated' | 'deleted' | 'disabled'; webhook: Webhook };

export interface WebhookServiceDeps {
  store: WebhookStore;
  /** Called after a change was written (live results). */
  onChange?: (change: WebhookChange) => Promise<void> | void;
}

export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  private authorize(principal: Principal, siteId: string, filter?: WebhookFilter): void {
    assertSiteId(siteId);
    assertSiteAccess(principal, siteId);
    if (filter?.event !== undefined && !isSubscribable(filter.event)) {
      throw validationError({ event: 'must be an event type from the catalogue, or "*"' });
    }
  }

  async list(principal: Principal, siteId: string, filter: WebhookFilter, page: KeysetPage): Promise<Webhook[]> {
    this.authorize(principal, siteId, filter);
    return this.deps.store.page(siteId, filter, page);
  }

  async count(principal: Principal, siteId: string, filter: WebhookFilter): Promise<number> {
    this.authorize(principal, siteId, filter);
    return this.deps.store.count(siteId, filter);
  }

  async listAll(principal: Principal, siteId: string): Promise<Webhook[]> {
    this.authorize(principal, siteId);
    return this.deps.store.listAll(siteId);
  }

  async get(principal: Principal, siteId: string, id: string): Promise<Webhook> {
    this.authorize(principal, siteId);
    const webhook = await this.deps.store.findById(siteId, id);
    if (!webhook) throw notFound('Webhook', id);
    return webhook;
  }

  /** By id alone (GraphQL); a webhook of a site the caller may not access is treated as absent. */
  async find(principal: Principal, id: string): Promise<Webhook | null> {
    const webhook = await this.deps.store.findByIdAnySite(id);
    return webhook && canAccessSite(principal, webhook.siteId) ? webhook : null;
  }

  async findMany(principal: Principal, ids: readonly string[]): Promise<Webhook[]> {
    return (await this.deps.store.findManyAnySite(ids)).filter((w) => canAccessSite(principal, w.siteId));
  }

  /** Resolves the site of a webhook for id-only operations, or NOT_FOUND. */
  async siteOf(principal: Principal, id: string): Promise<string> {
    const webhook = await this.find(principal, id);
    if (!webhook) throw notFound('Webhook', id);
    return webhook.siteId;
  }

  async create(principal: Principal, siteId: string, body: unknown): Promise<Webhook> {
    this.authorize(principal, siteId);
    const input: CreateWebhookInput = parseCreateWebhook(body);
    const now = new Date();
    const webhook: Webhook = {
      id: newId('Webhook', now.getTime()),
      siteId,
      url: input.url,
      events: input.events,
      secret: input.secret ?? generateSecret(),
      active: input.active ?? true,
      createdBy: principal.name,
      createdAt: now,
      updatedAt: now,
      failCount: 0,
      lastDeliveredAt: null,
      disabledReason: null,
    };
    await this.deps.store.insert(webhook);
    await this.deps.onChange?.({ kind: 'created', webhook });
    return webhook;
  }

  async update(principal: Principal, siteId: string, id: string, body: unknown): Promise<Webhook> {
    this.authorize(principal, siteId);
    const input: UpdateWebhookInput = parseUpdateWebhook(body);
    const set: Parameters<WebhookStore['update']>[2] = { updatedAt: new Date() };
    if (input.url !== undefined) set.url = input.url;
    if (input.events !== undefined) set.events = input.events;
    if (input.secret !== undefined) set.secret = input.secret;
    if (input.active === true) {
      // Re-activating a disabled webhook starts its failure count afresh.
      const current = await this.deps.store.findById(siteId, id);
      if (!current) throw notFound('Webhook', id);
      if (!current.active) Object.assign(set, { active: true, failCount: 0, disabledReason: null });
    } else if (input.active === false) {
      Object.assign(set, { active: false, disabledReason: 'disabled by a user' });
    }
    const webhook = await this.deps.store.update(siteId, id, set);
    if (!webhook) throw notFound('Webhook', id);
    await this.deps.onChange?.({ kind: 'updated', webhook });
    return webhook;
  }

  async delete(principal: Principal, siteId: string, id: string): Promise<Webhook> {
    this.authorize(principal, siteId);
    const webhook = await this.deps.store.findById(siteId, id);
    if (!webhook || !(await this.deps.store.delete(siteId, id))) throw notFound('Webhook', id);
    await this.deps.onChange?.({ kind: 'deleted', webhook });
    return webhook;
  }
}
