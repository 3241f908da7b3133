// The embedded server keeps its oplog in an ordinary, uncapped collection that every change
// stream read scans; startEmbeddedMongo trims it so that it does not grow without bound.
import { afterAll, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongo } from '../../src/db/embedded.ts';
import { eventually } from '../support/receiver.ts';

let db: EmbeddedMongo | undefined;
let client: MongoClient | undefined;
afterAll(async () => {
  await client?.close();
  await db?.stop();
});

it('removes oplog entries older than oplogKeepMs and keeps newer ones', async () => {
  db = await startEmbeddedMongo({ maxHeapMb: 256, oplogKeepMs: 1000 });
  client = await MongoClient.connect(db.uri);
  const oplog = client.db('local').collection('oplog.rs');
  await client.db('x').collection('a').insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  expect(await oplog.countDocuments({ ns: 'x.a' })).toBe(3);
  await eventually(async () => (await oplog.countDocuments({ ns: 'x.a' })) === 0, { timeoutMs: 5000, what: 'old entries trimmed' });
  await client.db('x').collection('a').insertOne({ n: 4 });
  expect(await oplog.countDocuments({ ns: 'x.a' })).toBe(1);
});
