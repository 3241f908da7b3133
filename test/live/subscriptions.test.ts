// Live results through the real app (ROLE=all on the run's embedded MongoDB, change streams on):
// deliveryAttempted and webhookChanged over graphql-ws and SSE, their filters, site isolation and
// refused keys. Deliveries go to real receivers on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { sleep, startReceiver, type Receiver } from '../support/receiver.ts';
import { closeAllLiveClients, rawSocket, sseSubscribe, wsClient, wsConnected, type Feed, type WsClient } from '../support/live-clients.ts';
import {
  attempts,
  changes,
  createWebhook,
  deleteWebhook,
  DELIVERY_ATTEMPTED,
  publish,
  updateWebhook,
  WEBHOOK_CHANGED,
  type Api,
} from '../support/live-fixtures.ts';

let t: TestApp;
let api: Api;
let ok: Receiver;
let failing: Receiver;
const receivers: Receiver[] = [];

/**
 * Time for subscriptions to be registered on the server after their requests went out (neither
 * transport acknowledges a subscription); taken once after opening a test's subscriptions.
 */
const settle = () => sleep(250);

beforeAll(async () => {
  // No retry within the test's time: each event gives exactly one attempt per webhook.
  t = await startTestApp({ RETRY_SCHEDULE: '1h', LOG_LEVEL: 'info' });
  api = { url: t.url, key: t.adminKey };
  ok = await startReceiver({ fallback: { status: 200, body: 'fine' } });
  failing = await startReceiver({ fallback: { status: 500, body: 'boom' } });
  receivers.push(ok, failing);
  expect(t.app.live.crossProcess).toBe(true);
});

afterAll(async () => {
  await closeAllLiveClients();
  await Promise.all(receivers.map((r) => r.stop()));
  await t?.stop();
});

const newWs = async (key: string | null = api.key): Promise<WsClient> => wsClient(api.url, key);

/** Subscribes over graphql-ws once the connection is acknowledged. */
async function wsSubscribe(ws: WsClient, query: string, variables: Record<string, unknown>): Promise<Feed> {
  const feed = ws.subscribe(query, variables);
  await wsConnected(ws);
  return feed;
}

async function sse(query: string, variables: Record<string, unknown>, key: string | null = api.key): Promise<Feed> {
  const feed = await sseSubscribe(api.url, key, query, variables);
  expect(feed.status).toBe(200);
  expect(feed.contentType).toContain('text/event-stream');
  return feed;
}

function expectDelivery(d: any, expected: { site: string; webhookId: string; url: string; eventId: string; success: boolean; statusCode: number }) {
  expect(d).toMatchObject({
    eventId: expected.eventId,
    webhookId: expected.webhookId,
    event: 'page.created',
    url: expected.url,
    attempt: 1,
    statusCode: expected.statusCode,
    success: expected.success,
    trigger: 'EVENT',
    webhook: { id: expected.webhookId },
    sourceEvent: { id: expected.eventId, type: 'page.created' },
  });
  expect(d.id).toMatch(/^dlv_/);
  expect(typeof d.durationMs).toBe('number');
  expect(d.durationMs).toBeGreaterThanOrEqual(0);
  expect(Number.isNaN(Date.parse(d.deliveredAt))).toBe(false);
  expect(Math.abs(Date.now() - Date.parse(d.deliveredAt))).toBeLessThan(30_000);
  if (expected.success) expect(d.error).toBeNull();
  else expect(d.error).toEqual(expect.any(String));
}

describe('deliveryAttempted', () => {
  it('reaches a graphql-ws client and an SSE client: a success and a failure, with every field', async () => {
    const site = 'live-fields';
    const good = await createWebhook(api, site, ok.url('/fields'));
    const bad = await createWebhook(api, site, failing.url('/fields'));
    const ws = await newWs();
    const overWs = await wsSubscribe(ws, DELIVERY_ATTEMPTED, { siteId: site });
    const overSse = await sse(DELIVERY_ATTEMPTED, { siteId: site });
    await settle();

    const event = await publish(api, site);
    expect(event.webhooks).toBe(2);

    for (const feed of [overWs, overSse]) {
      const got = attempts(await feed.waitFor(2));
      const byWebhook = new Map(got.map((d) => [d.webhookId, d]));
      expectDelivery(byWebhook.get(good.id), { site, webhookId: good.id, url: good.url, eventId: event.id, success: true, statusCode: 200 });
      expectDelivery(byWebhook.get(bad.id), { site, webhookId: bad.id, url: bad.url, eventId: event.id, success: false, statusCode: 500 });
    }
    // The same attempts, as recorded in the log.
    const wsIds = attempts(overWs.values).map((d) => d.id).sort();
    expect(attempts(overSse.values).map((d) => d.id).sort()).toEqual(wsIds);
    const logged = await t.graphql(`query($id: ID!) { node(id: $id) { ... on Delivery { id success } } }`, { id: wsIds[0] });
    expect(logged.body.data.node.id).toBe(wsIds[0]);
    await sleep(300);
    expect(overWs.values).toHaveLength(2);
    expect(overSse.values).toHaveLength(2);
    await ws.dispose();
  });

  it('filters by webhookId and by success on both transports', async () => {
    const site = 'live-filters';
    const good = await createWebhook(api, site, ok.url('/filters'));
    const bad = await createWebhook(api, site, failing.url('/filters'));
    const ws = await newWs();
    const feeds = {
      wsGood: await wsSubscribe(ws, DELIVERY_ATTEMPTED, { siteId: site, webhookId: good.id }),
      wsFailed: await wsSubscribe(ws, DELIVERY_ATTEMPTED, { siteId: site, success: false }),
      wsBadSucceeded: await wsSubscribe(ws, DELIVERY_ATTEMPTED, { siteId: site, webhookId: bad.id, success: true }),
      sseBad: await sse(DELIVERY_ATTEMPTED, { siteId: site, webhookId: bad.id }),
      sseSucceeded: await sse(DELIVERY_ATTEMPTED, { siteId: site, success: true }),
      all: await sse(DELIVERY_ATTEMPTED, { siteId: site }),
    };
    await settle();

    const first = await publish(api, site);
    const second = await publish(api, site, 'page.created', { pageId: 'p2' });
    await feeds.all.waitFor(4);
    await Promise.all([feeds.wsGood, feeds.wsFailed, feeds.sseBad, feeds.sseSucceeded].map((f) => f.waitFor(2)));
    await sleep(300); // anything that should not have come would have come by now

    const seen = (feed: Feed) => attempts(feed.values).map((d) => `${d.webhookId}:${d.success}:${d.eventId}`).sort();
    const of = (webhookId: string, success: boolean) => [first.id, second.id].map((e) => `${webhookId}:${success}:${e}`).sort();
    expect(seen(feeds.wsGood)).toEqual(of(good.id, true));
    expect(seen(feeds.sseSucceeded)).toEqual(of(good.id, true));
    expect(seen(feeds.wsFailed)).toEqual(of(bad.id, false));
    expect(seen(feeds.sseBad)).toEqual(of(bad.id, false));
    expect(feeds.wsBadSucceeded.values).toEqual([]);
    expect(seen(feeds.all)).toEqual([...of(good.id, true), ...of(bad.id, false)].sort());
    await ws.dispose();
  });

  it('isolates sites: a key for site A sees nothing of site B and may not subscribe to it', async () => {
    const siteA = 'live-site-a';
    const siteB = 'live-site-b';
    const keyA = await t.createKey([siteA], 'site A only');
    const whA = await createWebhook(api, siteA, ok.url('/a'));
    const whB = await createWebhook(api, siteB, ok.url('/b'));

    const wsA = await newWs(keyA);
    const aOverWs = await wsSubscribe(wsA, DELIVERY_ATTEMPTED, { siteId: siteA });
    const aOverSse = await sse(DELIVERY_ATTEMPTED, { siteId: siteA }, keyA);
    const admin = await newWs();
    const bOverAdmin = await wsSubscribe(admin, DELIVERY_ATTEMPTED, { siteId: siteB });
    await settle();

    // Refused: A's key on site B, over both transports, with FORBIDDEN.
    const refusedWs = wsA.subscribe(DELIVERY_ATTEMPTED, { siteId: siteB });
    await refusedWs.whenDone();
    const refusedSse = await sseSubscribe(api.url, keyA, DELIVERY_ATTEMPTED, { siteId: siteB });
    await refusedSse.whenDone();
    for (const refused of [refusedWs, refusedSse]) {
      const errors = refused.error !== undefined ? (refused.error as any[]) : refused.values.flatMap((v: any) => v.errors ?? []);
      expect(errors.map((e: any) => e.extensions?.code), JSON.stringify(refused.values)).toEqual(['FORBIDDEN']);
      expect(refused.values.every((v: any) => v.data?.deliveryAttempted == null)).toBe(true);
    }

    const eventB = await publish(api, siteB);
    const [fromB] = attempts(await bOverAdmin.waitFor(1));
    expect(fromB).toMatchObject({ webhookId: whB.id, eventId: eventB.id });
    const eventA = await publish(api, siteA);
    for (const feed of [aOverWs, aOverSse]) {
      const got = attempts(await feed.waitFor(1));
      expect(got[0]).toMatchObject({ webhookId: whA.id, eventId: eventA.id });
    }
    await sleep(300);
    for (const feed of [aOverWs, aOverSse]) expect(attempts(feed.values).map((d) => d.eventId)).toEqual([eventA.id]);
    expect(attempts(bOverAdmin.values).map((d) => d.eventId)).toEqual([eventB.id]);
    await wsA.dispose();
    await admin.dispose();
  });
});

describe('refused keys', () => {
  it('closes graphql-ws with 4401 for a wrong, missing or revoked key (connectionParams or X-Api-Key header)', async () => {
    const revoked = await t.app.services.apiKeys.create({ name: 'to revoke', sites: null });
    await t.app.services.apiKeys.revoke(revoked.apiKey.id);

    const cases: { name: string; key: string | null; header?: boolean }[] = [
      { name: 'wrong', key: 'ock_wrong' },
      { name: 'missing', key: null },
      { name: 'revoked', key: revoked.key },
      { name: 'wrong header', key: 'ock_wrong', header: true },
      { name: 'revoked header', key: revoked.key, header: true },
    ];
    for (const c of cases) {
      const ws = wsClient(api.url, c.key, { header: c.header });
      const feed = ws.subscribe(DELIVERY_ATTEMPTED, { siteId: 'live-refused' });
      await feed.whenDone();
      expect((feed.error as { code?: number })?.code, c.name).toBe(4401);
      expect(ws.closes, c.name).toEqual([{ code: 4401, reason: 'UNAUTHORIZED' }]);
      expect(feed.values, c.name).toEqual([]);
      await ws.dispose();
    }

    // The same on a raw socket: closed with 4401 right after connection_init.
    const raw = rawSocket(api.url);
    await raw.opened;
    raw.send({ type: 'connection_init', payload: { apiKey: 'ock_nope' } });
    // Our refusal (reason: the error code), not graphql-ws's own 4401 'Unauthorized'.
    expect(await raw.closed).toEqual({ code: 4401, reason: 'UNAUTHORIZED' });
    expect(raw.messages).toEqual([]);

    // A valid key in the upgrade's header is accepted.
    const viaHeader = wsClient(api.url, api.key, { header: true });
    viaHeader.subscribe(DELIVERY_ATTEMPTED, { siteId: 'live-refused' });
    await wsConnected(viaHeader);
    await viaHeader.dispose();
  });

  it('answers an SSE subscription without a valid key with UNAUTHORIZED', async () => {
    for (const key of [null, 'ock_wrong']) {
      const feed = await sseSubscribe(api.url, key, DELIVERY_ATTEMPTED, { siteId: 'live-refused' });
      await feed.whenDone();
      const errors = feed.values.flatMap((v: any) => v.errors ?? []);
      expect(errors.map((e: any) => e.extensions?.code), `${key}: ${feed.status} ${JSON.stringify(feed.values)}`).toEqual(['UNAUTHORIZED']);
      expect(feed.values.every((v: any) => v.data?.deliveryAttempted == null)).toBe(true);
    }
  });
});

describe('webhookChanged', () => {
  it('sends created, updated, disabled by the engine (410) and deleted, in order, on both transports', async () => {
    const site = 'live-changes';
    const gone = await startReceiver({ fallback: { status: 410, body: 'gone' } });
    receivers.push(gone);
    const ws = await newWs();
    const overWs = await wsSubscribe(ws, WEBHOOK_CHANGED, { siteId: site });
    const overSse = await sse(WEBHOOK_CHANGED, { siteId: site });
    const other = await sse(WEBHOOK_CHANGED, { siteId: 'live-changes-other' });
    await settle();

    const webhook = await createWebhook(api, site, gone.url('/gone'));
    await updateWebhook(api, site, webhook.id, { events: ['page.created', 'page.updated'] });
    await publish(api, site);
    await overWs.waitFor(3, 10_000); // disabled by the engine after the 410
    await deleteWebhook(api, site, webhook.id);

    for (const feed of [overWs, overSse]) {
      const got = changes(await feed.waitFor(4));
      expect(got.map((c) => c.change)).toEqual(['CREATED', 'UPDATED', 'DISABLED', 'DELETED']);
      for (const c of got) expect(c).toMatchObject({ id: webhook.id, siteId: site, url: webhook.url });
      expect(got[0]).toMatchObject({ active: true, events: ['*'], deletedAt: null, disabledReason: null });
      expect(got[1]).toMatchObject({ active: true, events: ['page.created', 'page.updated'], deletedAt: null });
      expect(got[2]).toMatchObject({ active: false, deletedAt: null });
      expect(got[2].disabledReason).toMatch(/410/);
      expect(got[3].deletedAt).toEqual(expect.any(String));
      expect(Math.abs(Date.now() - Date.parse(got[3].deletedAt))).toBeLessThan(30_000);
    }
    expect(gone.received()).toHaveLength(1);
    await sleep(200);
    expect(overWs.values).toHaveLength(4);
    expect(overSse.values).toHaveLength(4);
    expect(other.values).toEqual([]);
    await ws.dispose();
  });
});
