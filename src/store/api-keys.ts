import type { Collection } from 'mongodb';
import type { ApiKey } from '../domain/api-keys/types.ts';

/** Only the SHA-256 of a key is stored, never the key. */
export interface ApiKeyDoc {
  _id: string;
  name: string;
  hash: string;
  prefix: string;
  sites: string[] | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export type ApiKeyRecord = ApiKey & { hash: string };

const toRecord = (d: ApiKeyDoc): ApiKeyRecord => ({
  id: d._id,
  name: d.name,
  hash: d.hash,
  prefix: d.prefix,
  sites: d.sites,
  createdAt: d.createdAt,
  lastUsedAt: d.lastUsedAt,
  revokedAt: d.revokedAt,
});

export class ApiKeyStore {
  constructor(private readonly collection: Collection<ApiKeyDoc>) {}

  async insert(key: ApiKeyRecord): Promise<void> {
    const { id, ...rest } = key;
    await this.collection.insertOne({ _id: id, ...rest });
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const doc = await this.collection.findOne({ hash });
    return doc ? toRecord(doc) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.collection.find({}).sort({ _id: 1 }).toArray()).map(toRecord);
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { lastUsedAt: at } });
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | null> {
    // Revoking twice keeps the first revocation time.
    await this.collection.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: at } });
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toRecord(doc) : null;
  }
}
