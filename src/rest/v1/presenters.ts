// Domain objects to the documented JSON shapes. Field names here are the /v1 contract.
import type { Event } from '../../domain/events/types.ts';
import type { Delivery } from '../../domain/deliveries/types.ts';
import type { Webhook } from '../../domain/webhooks/types.ts';

export const webhookJson = (w: Webhook) => ({
  id: w.id,
  url: w.url,
  events: w.events,
  secret: w.secret,
  active: w.active,
  createdBy: w.createdBy,
  createdAt: w.createdAt.toISOString(),
  failCount: w.failCount,
  lastDeliveredAt: w.lastDeliveredAt?.toISOString() ?? null,
  // Additions beyond the documented fields (allowed: none removed or renamed).
  siteId: w.siteId,
  disabledReason: w.disabledReason,
  updatedAt: w.updatedAt.toISOString(),
});

export const eventAcceptedJson = (e: Event) => ({
  id: e.id,
  type: e.type,
  createdAt: e.createdAt.toISOString(),
  webhooks: e.webhookCount,
});

export const deliveryJson = (d: Delivery) => ({
  id: d.id,
  eventId: d.eventId,
  webhookId: d.webhookId,
  event: d.event,
  url: d.url,
  attempt: d.attempt,
  statusCode: d.statusCode,
  success: d.success,
  error: d.error,
  durationMs: d.durationMs,
  deliveredAt: d.deliveredAt.toISOString(),
  // Additions beyond the documented fields.
  trigger: d.trigger,
  responseBody: d.responseBody,
});
