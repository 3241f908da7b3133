// What entry points (REST, GraphQL, CLI, jobs) may call: the domain services, built once in app.ts.
import type { ApiKeyService } from './domain/api-keys/service.ts';
import type { WebhookService } from './domain/webhooks/service.ts';

export interface Services {
  apiKeys: ApiKeyService;
  webhooks: WebhookService;
}
