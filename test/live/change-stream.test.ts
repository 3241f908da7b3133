// The change-stream feeds survive a database that stops answering: an embedded MongoDB of this
// test's own is paused (SIGSTOP) past the feed's stall limit, then resumed (SIGCONT). The feeds
// reopen from their resume point, and every attempt and webhook change written meanwhile (issued
// while paused, written right after the resume, written during the reopen backoff) reaches the
// in-process bus exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Collection } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongo } from '../../src/db/embedded.ts';
import { connectDatabase, type Database } from '../../src/store/database.ts';
import { LiveResults, WEBHOOK_CHANGES_COLLECTION } from '../../src/live/live-results.ts';
import { createLogger } from '../../src/logger.ts';
import type { DeliveryDoc } from '../../src/store/deliveries.ts';
import type { Webhook } from '../../src/domain/webhooks/types.ts';
import { eventually, sleep } from '../support/receiver.ts';

const STALL_MS = 1000;
/** Longer than the stall limit: the feeds give up on their reads two or three times. */
const PAUSE_MS = 3000;

let mongo: EmbeddedMongo;
let writer: MongoClient;
let paused = false;
const logs: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  mongo = await startEmbeddedMongo({ maxHeapMb: 256 });
  writer = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 20_000 });
  await writer.connect();
});

afterAll(async () => {
  resume();
  await writer?.close();
  await mongo?.stop();
  process.off('unhandledRejection', onUnhandled);
});

function pause(): void {
  process.kill(mongo.pid, 'SIGSTOP');
  paused = true;
}

function resume(): void {
  if (paused) process.kill(mongo.pid, 'SIGCONT');
  paused = false;
}

let seq = 0;
function deliveryDoc(site: string, label: string): DeliveryDoc {
  return {
    _id: `dlv_test_${label}_${++seq}`,
    siteId: site,
    webhookId: 'wh_test',
    eventId: 'evt_test',
    event: 'page.created',
    url: 'http://127.0.0.1:9/hook',
    attempt: 1,
    statusCode: 200,
    success: true,
    error: null,
    durationMs: 3,
    deliveredAt: new Date(),
    responseBody: 'ok',
    trigger: 'event',
    replayId: null,
  };
}

function webhook(site: string, label: string): Webhook {
  const now = new Date();
  return {
    id: `wh_test_${label}_${++seq}`,
    siteId: site,
    url: 'http://127.0.0.1:9/hook',
    events: ['*'],
    secret: 'whsec_dGVzdA==',
    active: true,
    createdBy: 'test',
    createdAt: now,
    updatedAt: now,
    failCount: 0,
    lastDeliveredAt: null,
    disabledReason: null,
  } as Webhook;
}

interface Harness {
  database: Database;
  live: LiveResults;
  deliveries: Collection<DeliveryDoc>;
  /** Delivery ids in the order the bus carried them. */
  seen: string[];
  /** Webhook ids of change notices, in order. */
  changed: string[];
  stop(): Promise<void>;
}

const harnesses: Harness[] = [];

/** A LiveResults (cross-process) on its own database, its bus followed for one site. */
async function follow(site: string): Promise<Harness> {
  const dbName = `live_feed_${++seq}`;
  const database = await connectDatabase(mongo.uri, dbName);
  const live = new LiveResults(database.db, true, createLogger('info', (line) => logs.push(line)));
  const seen: string[] = [];
  const changed: string[] = [];
  const deliveriesOut = live.bus.subscribe('delivery', site)[Symbol.asyncIterator]();
  const changesOut = live.bus.subscribe('webhook', site)[Symbol.asyncIterator]();
  void (async () => {
    for (let r = await deliveriesOut.next(); !r.done; r = await deliveriesOut.next()) seen.push(r.value.id);
  })();
  void (async () => {
    for (let r = await changesOut.next(); !r.done; r = await changesOut.next()) changed.push(r.value.id);
  })();
  await live.start({ stallMs: STALL_MS });
  const harness: Harness = {
    database,
    live,
    deliveries: writer.db(dbName).collection<DeliveryDoc>('deliveries'),
    seen,
    changed,
    async stop() {
      await live.stop();
      await deliveriesOut.return?.();
      await changesOut.return?.();
      await database.close();
    },
  };
  harnesses.push(harness);
  return harness;
}

afterEach(async () => {
  resume();
  await Promise.all(harnesses.splice(0).map((h) => h.stop()));
});

/** Pauses the database past the stall limit; writes through `writer` during and right after. */
async function pauseAndWrite(h: Harness, site: string, webhookWriter: LiveResults) {
  const expected: string[] = [];
  const expectedChanges: string[] = [];
  const writes: Promise<unknown>[] = [];
  const write = (label: string) => {
    const doc = deliveryDoc(site, label);
    expected.push(doc._id);
    writes.push(h.deliveries.insertOne(doc));
  };
  const reopenedBefore = h.live.reopened;
  pause();
  try {
    // Issued while paused: they land the moment the server resumes.
    write('during-pause');
    const change = webhook(site, 'during-pause');
    expectedChanges.push(change.id);
    writes.push(webhookWriter.webhookChanged('updated', change));
    await sleep(PAUSE_MS - STALL_MS);
    expect(h.live.reopened).toBeGreaterThan(reopenedBefore);
    // Resume just as both feeds gave up on a read again: they are waiting out their reopen
    // backoff, so what lands now is written while no stream is open.
    const base = h.live.reopened;
    await eventually(() => h.live.reopened >= base + 2, { timeoutMs: 5000, intervalMs: 2, what: 'both feeds stalling again' });
  } finally {
    resume();
  }
  // Right after the resume, while the feeds are still waiting to reopen.
  for (let i = 0; i < 3; i++) write('after-resume');
  const change = webhook(site, 'after-resume');
  expectedChanges.push(change.id);
  writes.push(webhookWriter.webhookChanged('disabled', change));
  await Promise.all(writes);
  // And a little later, during the reopen backoff or after it.
  await sleep(150);
  for (let i = 0; i < 3; i++) write('later');
  await Promise.all(writes);
  return { expected, expectedChanges };
}

async function expectExactlyOnce(h: Harness, expected: string[], expectedChanges: string[]) {
  await eventually(() => expected.every((id) => h.seen.includes(id)) && expectedChanges.every((id) => h.changed.includes(id)), {
    timeoutMs: 10_000,
    what: `all ${expected.length} attempts and ${expectedChanges.length} changes on the bus (seen ${h.seen.length}: ${h.seen.join(', ')}; changes ${h.changed.join(', ')})`,
  });
  await sleep(STALL_MS + 500); // one more stall period: nothing arrives twice
  const counts = new Map<string, number>();
  for (const id of h.seen) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
  expect(new Set(h.changed).size).toBe(h.changed.length);
}

describe('change stream feeds after the database paused past the timeouts', () => {
  it('reopen from their resume token and lose nothing written meanwhile', async () => {
    const site = 'feed-site';
    const h = await follow(site);
    const before = [deliveryDoc(site, 'before'), deliveryDoc(site, 'before')];
    await h.deliveries.insertMany(before);
    await h.live.webhookChanged('created', webhook(site, 'before'));
    await eventually(() => h.seen.length === 2 && h.changed.length === 1, { what: 'the first attempts and change' });

    const { expected, expectedChanges } = await pauseAndWrite(h, site, h.live);
    await expectExactlyOnce(h, [...before.map((d) => d._id), ...expected], expectedChanges);
    expect(h.seen.slice(0, 2)).toEqual(before.map((d) => d._id));
    expect(h.live.reopened).toBeGreaterThan(0);
    expect(logs.some((l) => l.includes('change stream lost; reopening from its resume token'))).toBe(true);
    expect(unhandled).toEqual([]);
  });

  it('lose nothing when the pause comes before the first change (no resume token yet)', async () => {
    const site = 'feed-site-fresh';
    const h = await follow(site);
    const { expected, expectedChanges } = await pauseAndWrite(h, site, h.live);
    await expectExactlyOnce(h, expected, expectedChanges);
    expect(h.live.reopened).toBeGreaterThan(0);
    // Once a change came through, the feed runs on as before.
    const after = deliveryDoc(site, 'after');
    await h.deliveries.insertOne(after);
    await eventually(() => h.seen.includes(after._id), { what: 'an attempt after the recovery' });
    expect(unhandled).toEqual([]);
  });
});
