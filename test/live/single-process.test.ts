// Without change streams (CHANGE_STREAMS=off, as with a standalone MongoDB) one ROLE=all process
// still works fully: workers are woken in-process, and live results reach both transports through
// in-process pub/sub; the log says that cross-process results are off.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { sleep, startReceiver, type Receiver } from '../support/receiver.ts';
import { closeAllLiveClients, sseSubscribe, wsClient, wsConnected } from '../support/live-clients.ts';
import { attempts, changes, createWebhook, DELIVERY_ATTEMPTED, publish, WEBHOOK_CHANGED, type Api } from '../support/live-fixtures.ts';

let t: TestApp;
let receiver: Receiver;

beforeAll(async () => {
  // Poll and sweep far away: only the in-process wake-up can start a delivery promptly.
  t = await startTestApp({ CHANGE_STREAMS: 'off', POLL_INTERVAL_MS: '60000', SWEEP_INTERVAL_MS: '60000', LOG_LEVEL: 'info' });
  receiver = await startReceiver({ fallback: { status: 200 } });
});
afterAll(async () => {
  await closeAllLiveClients();
  await t?.stop();
  await receiver?.stop();
});

it('delivers at once and streams results and webhook changes in-process', async () => {
  expect(t.app.live.crossProcess).toBe(false);
  expect(t.logs.some((line) => line.includes('cross-process live results are off'))).toBe(true);
  const api: Api = { url: t.url, key: t.adminKey };
  const site = 'single-process';

  const ws = wsClient(t.url, t.adminKey);
  const wsAttempts = ws.subscribe(DELIVERY_ATTEMPTED, { siteId: site });
  const wsChanges = ws.subscribe(WEBHOOK_CHANGED, { siteId: site });
  await wsConnected(ws); // graphql-ws connects with its first subscription
  const sse = await sseSubscribe(t.url, t.adminKey, DELIVERY_ATTEMPTED, { siteId: site });
  await sleep(250);

  const webhook = await createWebhook(api, site, receiver.url());
  const started = Date.now();
  const event = await publish(api, site);
  await receiver.waitForRequests(1, 5000);
  expect(Date.now() - started).toBeLessThan(5000);

  const [viaWs] = attempts(await wsAttempts.waitFor(1));
  const [viaSse] = attempts(await sse.waitFor(1));
  for (const delivery of [viaWs, viaSse]) {
    expect(delivery).toMatchObject({ eventId: event.id, webhookId: webhook.id, success: true, statusCode: 200, trigger: 'EVENT' });
  }
  const [created] = changes(await wsChanges.waitFor(1));
  expect(created).toMatchObject({ id: webhook.id, change: 'CREATED' });
});
