// Live results: each finished attempt, and each webhook change, as it happens. Subscribers see
// only sites their API key may access.
import { filter, pipe } from 'graphql-yoga';
import { builder } from '../builder.ts';
import { DeliveryRef, WebhookRef } from './refs.ts';
import { principalOf } from '../context.ts';
import { assertSiteAccess } from '../../domain/api-keys/service.ts';
import { assertSiteId } from '../../domain/validation.ts';
import type { Delivery } from '../../domain/deliveries/types.ts';
import type { LiveWebhook } from '../../live/bus.ts';

builder.subscriptionType({});

builder.subscriptionFields((t) => ({
  deliveryAttempted: t.field({
    type: DeliveryRef,
    description: 'Every finished delivery attempt of the site, the moment it is recorded.',
    args: {
      siteId: t.arg.id({ required: true }),
      webhookId: t.arg.id({ description: 'Only attempts to this webhook.' }),
      success: t.arg.boolean({ description: 'Only successful (true) or failed (false) attempts.' }),
    },
    subscribe: (_root, args, ctx) => {
      const siteId = String(args.siteId);
      assertSiteId(siteId);
      assertSiteAccess(principalOf(ctx), siteId);
      const webhookId = args.webhookId == null ? null : String(args.webhookId);
      return pipe(
        ctx.live.subscribe('delivery', siteId),
        filter((d: Delivery) => (webhookId === null || d.webhookId === webhookId) && (args.success == null || d.success === args.success)),
      );
    },
    resolve: (delivery: Delivery) => delivery,
  }),
  webhookChanged: t.field({
    type: WebhookRef,
    description: 'A webhook of the site as it is after it was created, updated, disabled by the engine, or deleted (deletedAt set).',
    args: { siteId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => {
      const siteId = String(args.siteId);
      assertSiteId(siteId);
      assertSiteAccess(principalOf(ctx), siteId);
      return ctx.live.subscribe('webhook', siteId);
    },
    resolve: (webhook: LiveWebhook) => webhook,
  }),
}));
