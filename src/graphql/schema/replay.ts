import { builder } from '../builder.ts';
import { ReplayRef, WebhookRef } from './refs.ts';
import { principalOf } from '../context.ts';
import type { Replay } from '../../domain/replays/types.ts';
import type { GraphQLContext } from '../context.ts';
import { inOrder } from './util.ts';

const ReplayStatus = builder.enumType('ReplayStatus', {
  values: {
    SCHEDULING: { value: 'scheduling', description: 'Attempts are being queued.' },
    DELIVERING: { value: 'delivering', description: 'All queued; some still wait for a (re)try.' },
    COMPLETED: { value: 'completed', description: 'Every event was delivered or given up.' },
    CANCELLED: { value: 'cancelled', description: 'Stopped: the webhook was deleted or disabled.' },
  } as const,
});

/** Progress is counted once per Replay object per request. */
const progressOf = (replay: Replay, ctx: GraphQLContext) => {
  const cache = ((ctx as GraphQLContext & { replayProgress?: Map<string, ReturnType<typeof ctx.services.replays.progress>> }).replayProgress ??= new Map());
  let progress = cache.get(replay.id);
  if (!progress) cache.set(replay.id, (progress = ctx.services.replays.progress(replay)));
  return progress;
};

builder.node(ReplayRef, {
  description: 'A re-delivery of past events to one webhook, and its progress.',
  id: { resolve: (r) => r.id },
  loadMany: async (ids, ctx) => inOrder(ids, await ctx.services.replays.findMany(principalOf(ctx), ids)),
  fields: (t) => ({
    webhookId: t.exposeID('webhookId'),
    webhook: t.field({
      type: WebhookRef,
      nullable: true,
      resolve: (r, _args, ctx) => ctx.services.webhooks.find(principalOf(ctx), r.webhookId),
    }),
    since: t.expose('since', { type: 'DateTime' }),
    until: t.expose('until', { type: 'DateTime' }),
    onlyFailed: t.exposeBoolean('onlyFailed'),
    eventIds: t.exposeIDList('eventIds', { description: 'The events replayed, oldest first.' }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    cancelledReason: t.string({
      nullable: true,
      description: 'Why it stopped early, when it was cancelled.',
      resolve: async (r, _a, ctx) => (await progressOf(r, ctx)).cancelledReason,
    }),
    status: t.field({ type: ReplayStatus, resolve: async (r, _a, ctx) => (await progressOf(r, ctx)).status }),
    scheduled: t.int({ description: 'Attempts queued so far.', resolve: async (r, _a, ctx) => (await progressOf(r, ctx)).scheduled }),
    delivered: t.int({ description: 'Events re-delivered successfully.', resolve: async (r, _a, ctx) => (await progressOf(r, ctx)).delivered }),
    failed: t.int({ description: 'Events whose re-delivery was given up.', resolve: async (r, _a, ctx) => (await progressOf(r, ctx)).failed }),
    pending: t.int({ description: 'Events still waiting for a (re)try.', resolve: async (r, _a, ctx) => (await progressOf(r, ctx)).pending }),
  }),
});

builder.queryField('replay', (t) =>
  t.field({
    type: ReplayRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await ctx.services.replays.findMany(principalOf(ctx), [String(args.id)]))[0] ?? null,
  }),
);

builder.relayMutationField(
  'replayWebhook',
  {
    inputFields: (t) => ({
      id: t.id({ required: true, description: 'The webhook.' }),
      since: t.field({ type: 'DateTime', required: true, description: 'Events created at or after this time.' }),
      until: t.field({ type: 'DateTime', description: 'Events created before this time (default now).' }),
      onlyFailed: t.boolean({ description: 'Only events whose last attempt to this webhook failed or that never reached it.' }),
      dryRun: t.boolean({ description: 'Answer with what would be replayed; schedule nothing.' }),
    }),
  },
  {
    resolve: async (_root, { input }, ctx) => {
      const principal = principalOf(ctx);
      const webhookId = String(input.id);
      const siteId = await ctx.services.webhooks.siteOf(principal, webhookId);
      const body: Record<string, unknown> = { since: input.since.toISOString() };
      if (input.until) body.until = input.until.toISOString();
      if (input.onlyFailed != null) body.onlyFailed = input.onlyFailed;
      if (input.dryRun != null) body.dryRun = input.dryRun;
      const answer = await ctx.services.replays.replay(principal, siteId, webhookId, body);
      return { ...answer, replayed: answer.eventIds.length };
    },
  },
  {
    outputFields: (t) => ({
      webhookId: t.exposeID('webhookId'),
      replayed: t.exposeInt('replayed'),
      eventIds: t.exposeIDList('eventIds'),
      dryRun: t.exposeBoolean('dryRun'),
      replay: t.expose('replay', { type: ReplayRef, nullable: true, description: 'Null for a dry run.' }),
    }),
  },
);
