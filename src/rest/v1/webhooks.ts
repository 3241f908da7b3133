import type { WebhookService } from '../../domain/webhooks/service.ts';
import { webhookJson } from './presenters.ts';
import type { Route } from './router.ts';

export function webhookRoutes(webhooks: WebhookService): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/sites/:siteId/webhooks',
      async handle({ principal, params }) {
        const list = await webhooks.listAll(principal, params.siteId!);
        return { data: list.map(webhookJson) };
      },
    },
    {
      method: 'POST',
      path: '/v1/sites/:siteId/webhooks',
      async handle({ principal, params, body }) {
        const webhook = await webhooks.create(principal, params.siteId!, await body());
        return { status: 201, data: webhookJson(webhook) };
      },
    },
    {
      method: 'GET',
      path: '/v1/sites/:siteId/webhooks/:webhookId',
      async handle({ principal, params }) {
        return { data: webhookJson(await webhooks.get(principal, params.siteId!, params.webhookId!)) };
      },
    },
    {
      method: 'PATCH',
      path: '/v1/sites/:siteId/webhooks/:webhookId',
      async handle({ principal, params, body }) {
        const webhook = await webhooks.update(principal, params.siteId!, params.webhookId!, await body());
        return { data: webhookJson(webhook) };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/sites/:siteId/webhooks/:webhookId',
      async handle({ principal, params }) {
        const webhook = await webhooks.delete(principal, params.siteId!, params.webhookId!);
        return { data: { id: webhook.id, deleted: true } };
      },
    },
  ];
}
