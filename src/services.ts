// What entry points (REST, GraphQL, CLI, jobs) may call: the domain services, built once in app.ts.
import type { ApiKeyService } from './domain/api-keys/service.ts';
import type { WebhookService } from './domain/webhooks/service.ts';
import type { EventService } from './domain/events/service.ts';
import type { DeliveryService } from './domain/deliveries/service.ts';
import type { ReplayService } from './domain/replays/service.ts';

export interface Services {
  apiKeys: ApiKeyService;
  webhooks: WebhookService;
  events: EventService;
  deliveries: DeliveryService;
  replays: ReplayService;
}
