import type { EventService } from '../../domain/events/service.ts';
import { eventAcceptedJson } from './presenters.ts';
import type { Route } from './router.ts';

export function eventRoutes(events: EventService): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/sites/:siteId/events',
      async handle({ principal, params, body, req }) {
        const header = req.headers['idempotency-key'];
        const key = Array.isArray(header) ? header[0] : header;
        const { event } = await events.publish(principal, params.siteId!, await body(), key);
        return { status: 202, data: eventAcceptedJson(event) };
      },
    },
    {
      method: 'POST',
      path: '/v1/sites/:siteId/webhooks/:webhookId/test',
      async handle({ principal, params }) {
        const event = await events.sendTest(principal, params.siteId!, params.webhookId!);
        return { status: 202, data: eventAcceptedJson(event) };
      },
    },
  ];
}
