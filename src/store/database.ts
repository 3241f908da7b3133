// The MongoDB connection and every collection with its indexes. Indexes are created at start.
// Note for the embedded server: no TTL, no partialFilterExpression, so uniqueness that applies
// only to some documents uses sparse single-field indexes on a key that is absent otherwise.
import { MongoClient, type Collection, type Db } from 'mongodb';
import type { ApiKeyDoc } from './api-keys.ts';
import type { WebhookDoc } from './webhooks.ts';
import type { EventDoc } from './events.ts';
import type { MessageDoc } from './messages.ts';
import type { DeliveryDoc } from './deliveries.ts';
import type { ReplayDoc } from './replays.ts';

/** Agenda's job collection; the delivery scheduler also writes its per-webhook jobs there. */
export const AGENDA_COLLECTION = 'agendaJobs';
/** Live webhook-change notices (live/live-results.ts). */
export const WEBHOOK_CHANGES_COLLECTION = 'webhook_changes';

export interface Collections {
  apiKeys: Collection<ApiKeyDoc>;
  webhooks: Collection<WebhookDoc>;
  events: Collection<EventDoc>;
  messages: Collection<MessageDoc>;
  deliveries: Collection<DeliveryDoc>;
  replays: Collection<ReplayDoc>;
  /** Live webhook-change notices (live/live-results.ts). */
  webhookChanges: Collection;
  agendaJobs: Collection;
}

export interface Database {
  readonly client: MongoClient;
  readonly db: Db;
  readonly collections: Collections;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function connectDatabase(
  uri: string,
  databaseName: string,
  options: { monitorCommands?: boolean } = {},
): Promise<Database> {
  const client = new MongoClient(uri, {
    appName: 'optimocms-webhook-gateway',
    serverSelectionTimeoutMS: 10_000,
    maxPoolSize: 50,
    // The benchmark counts round trips through command monitoring.
    monitorCommands: options.monitorCommands ?? false,
  });
  await client.connect();
  const db = client.db(databaseName);
  const collections: Collections = {
    apiKeys: db.collection<ApiKeyDoc>('api_keys'),
    webhooks: db.collection<WebhookDoc>('webhooks'),
    events: db.collection<EventDoc>('events'),
    messages: db.collection<MessageDoc>('messages'),
    deliveries: db.collection<DeliveryDoc>('deliveries'),
    replays: db.collection<ReplayDoc>('replays'),
    webhookChanges: db.collection(WEBHOOK_CHANGES_COLLECTION),
    agendaJobs: db.collection(AGENDA_COLLECTION),
  };
  return {
    client,
    db,
    collections,
    async ping() {
      try {
        await db.command({ ping: 1 }, { timeoutMS: 2000 });
        return true;
      } catch {
        return false;
      }
    },
    close: () => client.close(),
  };
}

export async function ensureIndexes(c: Collections): Promise<void> {
  await Promise.all([
    c.apiKeys.createIndex({ hash: 1 }, { unique: true, name: 'hash_unique' }),
    c.webhooks.createIndex({ siteId: 1, _id: 1 }, { name: 'site_id' }),
    c.events.createIndex({ idempotencyKey: 1 }, { unique: true, sparse: true, name: 'idempotency_unique' }),
    c.events.createIndex({ siteId: 1, createdAt: 1 }, { name: 'site_created' }),
    c.events.createIndex({ fannedOut: 1, createdAt: 1 }, { name: 'fan_out_pending' }),
    c.messages.createIndex({ webhookId: 1, dueAt: 1, _id: 1 }, { name: 'webhook_due' }),
    c.messages.createIndex({ dueAt: 1 }, { name: 'due' }),
    c.messages.createIndex({ claimToken: 1 }, { name: 'claim' }),
    c.messages.createIndex({ replayId: 1, attempt: 1 }, { name: 'replay_progress' }),
    c.deliveries.createIndex({ replayId: 1, success: 1 }, { name: 'replay_progress' }),
    c.deliveries.createIndex({ siteId: 1, webhookId: 1, _id: -1 }, { name: 'webhook_log' }),
    c.deliveries.createIndex({ siteId: 1, eventId: 1, _id: -1 }, { name: 'event_log' }),
    c.deliveries.createIndex({ deliveredAt: 1 }, { name: 'retention' }),
    c.replays.createIndex({ activeFor: 1 }, { unique: true, sparse: true, name: 'one_active_per_webhook' }),
    c.replays.createIndex({ createdAt: 1 }, { name: 'retention' }),
    c.webhookChanges.createIndex({ at: 1 }, { name: 'retention' }),
    // One delivery job per webhook (see jobs/deliver-webhook.ts); absent on other jobs.
    c.agendaJobs.createIndex({ 'data.deliveryQueue': 1 }, { unique: true, sparse: true, name: 'delivery_queue_unique' }),
  ]);
}
