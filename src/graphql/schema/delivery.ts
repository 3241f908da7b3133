import { builder } from '../builder.ts';
import { WebhookRef, EventRef, DeliveryRef } from './refs.ts';
import { principalOf } from '../context.ts';
import type { Delivery } from '../../domain/deliveries/types.ts';
import { inOrder } from './util.ts';


const DeliveryTrigger = builder.enumType('DeliveryTrigger', {
  description: 'What caused the attempt.',
  values: {
    EVENT: { value: 'event', description: 'The site published the event.' },
    TEST: { value: 'test', description: 'Someone sent a test event.' },
    REPLAY: { value: 'replay', description: 'A replay re-delivered the event.' },
  } as const,
});

builder.node(DeliveryRef, {
  description: 'One attempt to deliver an event to a webhook.',
  id: { resolve: (d) => d.id },
  loadMany: async (ids, ctx) => inOrder(ids, await ctx.services.deliveries.findMany(principalOf(ctx), ids)),
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    webhookId: t.exposeID('webhookId'),
    event: t.exposeString('event', { description: 'The event type.' }),
    url: t.exposeString('url'),
    attempt: t.exposeInt('attempt'),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no response came.' }),
    success: t.exposeBoolean('success'),
    error: t.exposeString('error', { nullable: true }),
    durationMs: t.exposeInt('durationMs'),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime' }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first KiB of the answer.' }),
    trigger: t.expose('trigger', { type: DeliveryTrigger }),
    webhook: t.field({
      type: WebhookRef,
      nullable: true,
      description: 'Null once the webhook was deleted.',
      resolve: (d, _args, ctx) => ctx.services.webhooks.find(principalOf(ctx), d.webhookId),
    }),
    sourceEvent: t.field({
      type: EventRef,
      nullable: true,
      description: 'The event delivered (null once removed by retention).',
      resolve: async (d, _args, ctx) => (await ctx.services.deliveries.findEvents(principalOf(ctx), [d.eventId]))[0] ?? null,
    }),
  }),
});
