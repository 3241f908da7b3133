import { builder } from '../builder.ts';
import { EventRef, DeliveryRef } from './refs.ts';
import { principalOf } from '../context.ts';
import type { Event } from '../../domain/events/types.ts';
import { idConnection, inOrder } from './util.ts';


builder.node(EventRef, {
  description: 'An event a site emitted (or a webhook.test event).',
  id: { resolve: (e) => e.id },
  loadMany: async (ids, ctx) => inOrder(ids, await ctx.services.deliveries.findEvents(principalOf(ctx), ids)),
  fields: (t) => ({
    siteId: t.exposeID('siteId'),
    type: t.exposeString('type'),
    data: t.expose('data', { type: 'JSON' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    webhookCount: t.exposeInt('webhookCount', { description: 'Deliveries scheduled by the fan-out.' }),
    deliveries: t.connection({
      type: DeliveryRef,
      description: 'Attempts to deliver this event, newest first.',
      args: { success: t.arg.boolean() },
      resolve: (event, args, ctx) => {
        const filter = { success: args.success ?? undefined };
        return idConnection(
          'Delivery',
          args,
          (page) => ctx.services.deliveries.pageForEvent(event.siteId, event.id, filter, page),
          () => ctx.services.deliveries.countFor(event.siteId, { eventId: event.id }, filter),
        );
      },
    }),
  }),
});

builder.queryField('event', (t) =>
  t.field({
    type: EventRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await ctx.services.deliveries.findEvents(principalOf(ctx), [String(args.id)]))[0] ?? null,
  }),
);

builder.relayMutationField(
  'publishEvent',
  {
    inputFields: (t) => ({
      siteId: t.id({ required: true }),
      type: t.string({ required: true, description: 'An event type from eventTypes.' }),
      data: t.field({ type: 'JSON', required: true, description: 'A JSON object, at most 256 KiB serialized.' }),
      idempotencyKey: t.string({ description: 'A repeated publish with the same key returns the first result.' }),
    }),
  },
  {
    resolve: async (_root, { input }, ctx) => {
      const { event, replayed } = await ctx.services.events.publish(
        principalOf(ctx),
        String(input.siteId),
        { type: input.type, data: input.data },
        input.idempotencyKey,
      );
      return { event, webhooks: event.webhookCount, duplicate: replayed };
    },
  },
  {
    outputFields: (t) => ({
      event: t.expose('event', { type: EventRef }),
      webhooks: t.exposeInt('webhooks', { description: 'Deliveries scheduled.' }),
      duplicate: t.exposeBoolean('duplicate', { description: 'True when an earlier publish with this idempotency key answered.' }),
    }),
  },
);

const SendTestEventPayload = builder.objectRef<{ event: Event }>('SendTestEventPayload').implement({
  fields: (t) => ({ event: t.expose('event', { type: EventRef }) }),
});

builder.mutationField('sendTestEvent', (t) =>
  t.field({
    type: SendTestEventPayload,
    description: 'Delivers a webhook.test event to this webhook alone.',
    args: { id: t.arg.id({ required: true, description: 'The webhook.' }) },
    resolve: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      const siteId = await ctx.services.webhooks.siteOf(principal, String(args.id));
      return { event: await ctx.services.events.sendTest(principal, siteId, String(args.id)) };
    },
  }),
);
