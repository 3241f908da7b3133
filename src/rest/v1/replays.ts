import type { ReplayService } from '../../domain/replays/service.ts';
import type { Route } from './router.ts';

export function replayRoutes(replays: ReplayService): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/sites/:siteId/webhooks/:webhookId/replay',
      async handle({ principal, params, body }) {
        const answer = await replays.replay(principal, params.siteId!, params.webhookId!, await body());
        return {
          data: {
            webhookId: answer.webhookId,
            replayed: answer.eventIds.length,
            eventIds: answer.eventIds,
            // Additions beyond the documented answer.
            replayId: answer.replay?.id ?? null,
            dryRun: answer.dryRun,
          },
        };
      },
    },
  ];
}
