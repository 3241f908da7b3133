// Domain objects to the documented JSON shapes. Field names here are the /v1 contract.
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
