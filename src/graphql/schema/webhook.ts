import { builder } from '../builder.ts';
import { WebhookRef, DeliveryRef } from './refs.ts';
import { principalOf } from '../context.ts';
import type { Webhook } from '../../domain/webhooks/types.ts';
import { idConnection, inOrder, withoutNulls } from './util.ts';


builder.node(WebhookRef, {
  description: 'An endpoint of a site that receives signed event deliveries.',
  id: { resolve: (w) => w.id },
  loadMany: async (ids, ctx) => inOrder(ids, await ctx.services.webhooks.findMany(principalOf(ctx), ids)),
  fields: (t) => ({
    siteId: t.exposeID('siteId'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events', { description: 'Subscribed event types, or ["*"] for all.' }),
    secret: t.exposeString('secret', { description: 'Signing secret (whsec_...), as in the REST API.' }),
    active: t.exposeBoolean('active'),
    createdBy: t.exposeString('createdBy', { description: 'Name of the API key that created it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    failCount: t.exposeInt('failCount', { description: 'Consecutive failed attempts.' }),
    lastDeliveredAt: t.expose('lastDeliveredAt', { type: 'DateTime', nullable: true }),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    deletedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Set only on webhookChanged notices of a deletion.',
      resolve: (w) => (w as { deletedAt?: Date | null }).deletedAt ?? null,
    }),
    change: t.field({
      type: WebhookChangeKind,
      nullable: true,
      description: 'On webhookChanged notices: what happened. Null elsewhere.',
      resolve: (w) => (w as { change?: 'created' | 'updated' | 'disabled' | 'deleted' }).change ?? null,
    }),
    deliveries: t.connection({
      type: DeliveryRef,
      description: 'Attempts to this webhook, newest first.',
      args: { success: t.arg.boolean(), event: t.arg.string({ description: 'Only attempts of this event type.' }) },
      resolve: (webhook, args, ctx) => {
        const filter = { success: args.success ?? undefined, event: args.event ?? undefined };
        return idConnection(
          'Delivery',
          args,
          (page) => ctx.services.deliveries.pageForWebhook(webhook.siteId, webhook.id, filter, page),
          () => ctx.services.deliveries.countFor(webhook.siteId, { webhookId: webhook.id }, filter),
        );
      },
    }),
  }),
});

const WebhookChangeKind = builder.enumType('WebhookChangeKind', {
  values: {
    CREATED: { value: 'created' },
    UPDATED: { value: 'updated' },
    DISABLED: { value: 'disabled', description: 'Disabled by the delivery engine (410 Gone, or too many failures).' },
    DELETED: { value: 'deleted' },
  } as const,
});

builder.queryFields((t) => ({
  webhook: t.field({
    type: WebhookRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.find(principalOf(ctx), String(args.id)),
  }),
  webhooks: t.connection({
    type: WebhookRef,
    description: 'Webhooks of a site, oldest first, paged by cursor.',
    args: {
      siteId: t.arg.id({ required: true }),
      active: t.arg.boolean(),
      event: t.arg.string({ description: 'Only webhooks receiving this event type.' }),
    },
    resolve: async (_root, args, ctx) => {
      const principal = principalOf(ctx);
      const siteId = String(args.siteId);
      const filter = { active: args.active ?? undefined, event: args.event ?? undefined };
      return idConnection(
        'Webhook',
        args,
        (page) => ctx.services.webhooks.list(principal, siteId, filter, page),
        () => ctx.services.webhooks.count(principal, siteId, filter),
      );
    },
  }),
}));

builder.relayMutationField(
  'createWebhook',
  {
    inputFields: (t) => ({
      siteId: t.id({ required: true }),
      url: t.string({ required: true }),
      events: t.stringList({ required: true }),
      secret: t.string({ description: 'A whsec_ secret; generated when omitted.' }),
      active: t.boolean(),
    }),
  },
  {
    resolve: async (_root, { input }, ctx) => {
      const { siteId, clientMutationId: _c, ...fields } = input;
      return { webhook: await ctx.services.webhooks.create(principalOf(ctx), String(siteId), withoutNulls(fields)) };
    },
  },
  { outputFields: (t) => ({ webhook: t.expose('webhook', { type: WebhookRef }) }) },
);

builder.relayMutationField(
  'updateWebhook',
  {
    inputFields: (t) => ({
      id: t.id({ required: true }),
      url: t.string(),
      events: t.stringList(),
      secret: t.string(),
      active: t.boolean({ description: 'Re-activating a disabled webhook resets failCount to 0.' }),
    }),
  },
  {
    resolve: async (_root, { input }, ctx) => {
      const principal = principalOf(ctx);
      const { id, clientMutationId: _c, ...fields } = input;
      const siteId = await ctx.services.webhooks.siteOf(principal, String(id));
      return { webhook: await ctx.services.webhooks.update(principal, siteId, String(id), withoutNulls(fields)) };
    },
  },
  { outputFields: (t) => ({ webhook: t.expose('webhook', { type: WebhookRef }) }) },
);

builder.relayMutationField(
  'deleteWebhook',
  { inputFields: (t) => ({ id: t.id({ required: true }) }) },
  {
    resolve: async (_root, { input }, ctx) => {
      const principal = principalOf(ctx);
      const siteId = await ctx.services.webhooks.siteOf(principal, String(input.id));
      const webhook = await ctx.services.webhooks.delete(principal, siteId, String(input.id));
      return { deletedWebhookId: webhook.id, deleted: true };
    },
  },
  {
    outputFields: (t) => ({
      deletedWebhookId: t.exposeID('deletedWebhookId'),
      deleted: t.exposeBoolean('deleted'),
    }),
  },
);
