// The MongoDB connection and every collection with its indexes. Indexes are created at start.
// Note for the embedded server: no TTL, no partialFilterExpression, so uniqueness that applies
// only to some documents uses sparse single-field indexes on a key that is absent otherwise.
import { MongoClient, type Collection, type Db } from 'mongodb';
import type { ApiKeyDoc } from './api-keys.ts';
import type { WebhookDoc } from './webhooks.ts';

export interface Collections {
  apiKeys: Collection<ApiKeyDoc>;
  webhooks: Collection<WebhookDoc>;
}

export interface Database {
  readonly client: MongoClient;
  readonly db: Db;
  readonly collections: Collections;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function connectDatabase(uri: string, databaseName: string): Promise<Database> {
  const client = new MongoClient(uri, {
    appName: 'optimocms-webhook-gateway',
    serverSelectionTimeoutMS: 10_000,
    maxPoolSize: 50,
  });
  await client.connect();
  const db = client.db(databaseName);
  const collections: Collections = {
    apiKeys: db.collection<ApiKeyDoc>('api_keys'),
    webhooks: db.collection<WebhookDoc>('webhooks'),
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
  ]);
}
