import type { DeliveryService } from '../../domain/deliveries/service.ts';
import { deliveryJson } from './presenters.ts';
import { pageOf, parsePaging } from './paging.ts';
import type { Route } from './router.ts';

export function deliveryRoutes(deliveries: DeliveryService): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/sites/:siteId/webhooks/:webhookId/deliveries',
      async handle({ principal, params, query }) {
        const { siteId, webhookId } = params as { siteId: string; webhookId: string };
        const paging = parsePaging(query, 'Delivery');
        const { items, pagination } = await pageOf(
          paging,
          (page) => deliveries.listForWebhook(principal, siteId, webhookId, {}, page),
          () => deliveries.countForWebhook(principal, siteId, webhookId, {}),
        );
        return { data: items.map(deliveryJson), pagination };
      },
    },
  ];
}
