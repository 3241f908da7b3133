// Event ingestion: store the event, fan it out to every active subscribed webhook of its site
// (one queued attempt each), then wake those webhooks' delivery jobs.
import { createHash } from 'node:crypto';
import { assertSiteAccess } from '../api-keys/service.ts';
import type { Principal } from '../api-keys/types.ts';
import { AppError, notFound, validationError, type FieldErrors } from '../errors.ts';
import { newId } from '../ids.ts';
import { assertSiteId, isPlainObject, rejectUnknownFields, throwIfAny } from '../validation.ts';
import { firstAttempt, type Message } from '../deliveries/types.ts';
import { Coalescer } from '../../store/coalescer.ts';
import type { Webhook } from '../webhooks/types.ts';
import { isEventType, TEST_EVENT_TYPE } from './catalogue.ts';
import type { Event } from './types.ts';
import type { EventStore } from '../../store/events.ts';
import type { MessageStore } from '../../store/messages.ts';
import type { WebhookStore } from '../../store/webhooks.ts';

export const MAX_EVENT_DATA_BYTES = 256 * 1024;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Wakes delivery jobs (jobs/deliver-webhook.ts); an interface so that domain code needs no Agenda. */
export interface DeliveryWaker {
  kick(webhookIds: readonly string[], dueAt: Date): Promise<void>;
}

interface Publication {
  event: Event;
  idempotency: { key: string; requestHash: string } | undefined;
  messages: Message[];
}

export interface PublishResult {
  event: Event;
  /** True when an earlier publish with the same idempotency key answered. */
  replayed: boolean;
}

export class EventService {
  constructor(
    private readonly deps: { events: EventStore; messages: MessageStore; webhooks: WebhookStore; waker: DeliveryWaker },
  ) {}

  async publish(principal: Principal, siteId: string, body: unknown, idempotencyKey?: string | null): Promise<PublishResult> {
    assertSiteId(siteId);
    assertSiteAccess(principal, siteId);
    const { type, data } = parsePublish(body);
    let idempotency: { key: string; requestHash: string } | undefined;
    if (idempotencyKey !== undefined && idempotencyKey !== null) {
      if (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
        throw validationError({ idempotencyKey: `must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters` });
      }
      idempotency = { key: `${siteId}:${idempotencyKey}`, requestHash: createHash('sha256').update(JSON.stringify({ type, data })).digest('hex') };
      const earlier = await this.earlierPublish(idempotency);
      if (earlier) return earlier;
    }
    const subscribers = await this.deps.webhooks.subscribers(siteId, type);
    const now = new Date();
    const event: Event = { id: newId('Event', now.getTime()), siteId, type, data, createdAt: now, webhookCount: subscribers.length };
    const messages = subscribers.map((w) => firstAttempt(event, w.id, 'event', null, now));
    if ((await this.writer.submit({ event, idempotency, messages })) === 'duplicate') {
      // The same key won a race with us: answer with the first result.
      const earlier = await this.earlierPublish(idempotency!);
      if (earlier) return earlier;
      throw new AppError('CONFLICT', 'An event with this idempotency key is being published', { idempotencyKey });
    }
    await this.deps.waker.kick(subscribers.map((w) => w.id), now);
    return { event, replayed: false };
  }

  /**
   * Stores concurrent publications together (group commit): their events, then their queued
   * attempts, then the mark that their fan-out is complete, three round trips for the group. A
   * crash between the steps leaves events unmarked, and the sweep finishes their fan-out.
   */
  private readonly writer = new Coalescer<Publication, 'stored' | 'duplicate'>(async (items) => {
    const stored = await this.deps.events.insertMany(items);
    const fresh = items.filter((_, i) => stored[i]);
    await this.deps.messages.insertMany(fresh.flatMap((p) => p.messages));
    await this.deps.events.markFannedOut(fresh.map((p) => p.event.id));
    return stored.map((ok) => (ok ? 'stored' : 'duplicate'));
  });

  /** The first publish with this key; a reuse of the key with another request is refused (as Stripe does). */
  private async earlierPublish(idempotency: { key: string; requestHash: string }): Promise<PublishResult | null> {
    const earlier = await this.deps.events.findByIdempotencyKey(idempotency.key);
    if (!earlier) return null;
    if (earlier.requestHash !== null && earlier.requestHash !== idempotency.requestHash) {
      throw new AppError('CONFLICT', 'This Idempotency-Key was already used with a different request', {
        idempotencyKey: idempotency.key.slice(idempotency.key.indexOf(':') + 1),
        eventId: earlier.event.id,
      });
    }
    return { event: earlier.event, replayed: true };
  }

  /** Sends a webhook.test event to one webhook only, through the same delivery path. */
  async sendTest(principal: Principal, siteId: string, webhookId: string): Promise<Event> {
    assertSiteId(siteId);
    assertSiteAccess(principal, siteId);
    const webhook = await this.deps.webhooks.findById(siteId, webhookId);
    if (!webhook) throw notFound('Webhook', webhookId);
    if (!webhook.active) {
      // Inactive webhooks receive nothing, tests included: say so rather than drop it silently.
      throw new AppError('CONFLICT', 'The webhook is disabled; re-activate it before sending a test event', {
        webhookId,
        disabledReason: webhook.disabledReason,
      });
    }
    const now = new Date();
    const event: Event = {
      id: newId('Event', now.getTime()),
      siteId,
      type: TEST_EVENT_TYPE,
      data: { webhookId, message: 'This is a test event sent from the OptimoCMS webhook gateway.' },
      createdAt: now,
      webhookCount: 1,
    };
    await this.deps.events.insert(event);
    await this.fanOut(event, [webhook], 'test');
    return event;
  }

  /** Queues one attempt per webhook, marks the fan-out done, and wakes the delivery jobs. */
  private async fanOut(event: Event, webhooks: Webhook[], trigger: 'event' | 'test'): Promise<void> {
    const now = new Date();
    const messages = webhooks.map((w) => firstAttempt(event, w.id, trigger, null, now));
    await this.deps.messages.insertMany(messages);
    await this.deps.events.markFannedOut(event.id);
    await this.deps.waker.kick(webhooks.map((w) => w.id), now);
  }

  /** Finishes fan-outs that a crash cut short (their messages are idempotent by id). */
  async resumeFanOuts(before: Date): Promise<number> {
    const events = await this.deps.events.unfinishedFanOuts(before, 100);
    for (const event of events) {
      if (event.type === TEST_EVENT_TYPE) {
        const webhookId = String(event.data.webhookId);
        const webhook = await this.deps.webhooks.findById(event.siteId, webhookId);
        await this.fanOut(event, webhook ? [webhook] : [], 'test');
      } else {
        await this.fanOut(event, await this.deps.webhooks.subscribers(event.siteId, event.type), 'event');
      }
    }
    return events.length;
  }
}

function parsePublish(body: unknown): { type: string; data: Record<string, unknown> } {
  if (!isPlainObject(body)) throw validationError({ body: 'must be a JSON object with "type" and "data"' });
  const errors: FieldErrors = {};
  rejectUnknownFields(body, ['type', 'data'], errors);
  if (typeof body.type !== 'string' || !isEventType(body.type)) {
    errors.type = 'must be an event type from the catalogue (see eventTypes)';
  }
  if (!isPlainObject(body.data)) {
    errors.data = 'must be a JSON object';
  } else if (Buffer.byteLength(JSON.stringify(body.data)) > MAX_EVENT_DATA_BYTES) {
    errors.data = `must be at most ${MAX_EVENT_DATA_BYTES} bytes serialized`;
  }
  throwIfAny(errors);
  return { type: body.type as string, data: body.data as Record<string, unknown> };
}
