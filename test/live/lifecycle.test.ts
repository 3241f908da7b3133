// Lifecycle of live connections: the server pings idle WebSocket clients (keep-alive through
// proxies), and app.stop() closes graphql-ws clients with 1001, ends SSE streams, resolves
// promptly and leaves no unhandled rejection behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually, sleep } from '../support/receiver.ts';
import { closeAllLiveClients, rawSocket, sseSubscribe, wsClient, wsConnected } from '../support/live-clients.ts';
import { DELIVERY_ATTEMPTED, WEBHOOK_CHANGED } from '../support/live-fixtures.ts';

let t: TestApp;
let stopped = false;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  t = await startTestApp({ LOG_LEVEL: 'info' });
});

afterAll(async () => {
  await closeAllLiveClients();
  if (!stopped) await t?.stop();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

describe('keep-alive', () => {
  let k: TestApp;

  afterAll(async () => {
    await k?.stop();
  });

  it('pings idle WebSocket clients every WS_KEEPALIVE_MS and keeps the connection open while they answer', async () => {
    // The app's own wiring with a short interval, so the test need not sit idle for 12 s.
    k = await startTestApp({ WS_KEEPALIVE_MS: '300', LOG_LEVEL: 'info' });
    const raw = rawSocket(k.url);
    await raw.opened;
    raw.send({ type: 'connection_init', payload: { apiKey: k.adminKey } });
    await eventually(() => raw.pings >= 3, { timeoutMs: 5000, what: 'three pings' });
    expect(raw.messages).toEqual([{ type: 'connection_ack' }]);
    // `ws` answers pings with pongs by itself: the idle connection is still open.
    expect(raw.socket.readyState).toBe(raw.socket.OPEN);

    // A client that stops answering pings is dropped.
    const silent = rawSocket(k.url, {}, { autoPong: false });
    await silent.opened;
    silent.send({ type: 'connection_init', payload: { apiKey: k.adminKey } });
    const outcome = await Promise.race([silent.closed.then(() => 'closed'), sleep(3000).then(() => 'still open')]);
    expect(outcome).toBe('closed');
    expect(silent.pings).toBeGreaterThanOrEqual(1);
    raw.socket.close();
  });
});

describe('app.stop()', () => {
  it('closes graphql-ws clients with 1001, ends SSE streams, is quick and leaves no unhandled rejection', async () => {
    const site = 'live-lifecycle';
    const ws = wsClient(t.url, t.adminKey);
    const wsAttempts = ws.subscribe(DELIVERY_ATTEMPTED, { siteId: site });
    const wsChanges = ws.subscribe(WEBHOOK_CHANGED, { siteId: site });
    await wsConnected(ws);
    const raw = rawSocket(t.url, { 'x-api-key': t.adminKey });
    await raw.opened;
    raw.send({ type: 'connection_init', payload: {} });
    const sseAttempts = await sseSubscribe(t.url, t.adminKey, DELIVERY_ATTEMPTED, { siteId: site });
    const sseChanges = await sseSubscribe(t.url, t.adminKey, WEBHOOK_CHANGED, { siteId: site });
    expect(sseAttempts.contentType).toContain('text/event-stream');
    await eventually(() => raw.messages.length > 0, { what: 'connection_ack on the raw socket' });
    expect(raw.messages).toEqual([{ type: 'connection_ack' }]);
    raw.send({ type: 'subscribe', id: 'a', payload: { query: DELIVERY_ATTEMPTED, variables: { siteId: site } } });
    await sleep(150);
    // Live: a change goes through before the stop.
    const created = await t.request('POST', `/v1/sites/${site}/webhooks`, { body: { url: 'https://example.com/hook', events: ['*'] } });
    expect(created.status, created.text).toBe(201);
    await Promise.all([wsChanges.waitFor(1), sseChanges.waitFor(1)]);

    const started = Date.now();
    stopped = true;
    await t.stop();
    const took = Date.now() - started;
    expect(took).toBeLessThan(3000);

    // graphql-ws: a proper close, 1001 (going away), seen by both the client and a raw socket.
    await Promise.all([wsAttempts.whenDone(5000), wsChanges.whenDone(5000)]);
    expect(ws.closes.map((c) => c.code)).toEqual([1001]);
    expect((wsAttempts.error as { code?: number }).code).toBe(1001);
    expect((await raw.closed).code).toBe(1001);
    // SSE: the streams ended (the reader saw done) without an error.
    for (const feed of [sseAttempts, sseChanges]) {
      await feed.whenDone(5000);
      expect(feed.error).toBeUndefined();
    }

    await sleep(300); // let anything left over settle
    expect(unhandled).toEqual([]);
    expect(t.logs.filter((l) => l.startsWith('{') && JSON.parse(l).level === 'error')).toEqual([]);
    await ws.dispose();
  });
});
