// Several processes as one system: two API apps (ROLE=api, the real app started in this test
// process, each with its own MongoDB client, bus and change streams) and one worker process
// (ROLE=worker, `node --import tsx src/main.ts`), sharing the run's embedded MongoDB and one
// database. An event published through API #2 is attempted by the worker at once (woken by the
// change stream on Agenda's jobs, not by its 60 s poll), and the result reaches subscribers on
// API #1 (and #2) only through their change streams of the deliveries collection: the attempt is
// made and written in the other process.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, uniqueDatabaseName, type TestApp } from '../support/app.ts';
import { killAllWorkerProcesses, startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';
import { sleep, startReceiver, type Receiver } from '../support/receiver.ts';
import { closeAllLiveClients, sseSubscribe, wsClient, wsConnected, type Feed } from '../support/live-clients.ts';
import { attempts, changes, createWebhook, DELIVERY_ATTEMPTED, publish, WEBHOOK_CHANGED, type Api } from '../support/live-fixtures.ts';

const SITE = 'live-cross';
/**
 * The worker polls once a minute and sweeps once a minute: an attempt within a few seconds can
 * only come from a wake-up. (2 s is typical; the margin is for a loaded CI machine.)
 */
const PROMPT_MS = 5000;
let api1: Api;
let api2: Api;
const apps: TestApp[] = [];
let worker: WorkerProcess | undefined;
let ok: Receiver;
let gone: Receiver;

beforeAll(async () => {
  const db = uniqueDatabaseName();
  [ok, gone] = await Promise.all([
    startReceiver({ fallback: { status: 200, body: 'fine' } }),
    startReceiver({ fallback: { status: 410, body: 'gone' } }),
  ]);
  const [w, a1, a2] = await Promise.allSettled([
    startWorkerProcess(
      {
        MONGODB_URI: inject('mongoUri'),
        MONGODB_DB: db,
        ROLE: 'worker',
        LOG_LEVEL: 'info',
        ALLOW_PRIVATE_DESTINATIONS: 'true',
        RETRY_SCHEDULE: '1h',
        POLL_INTERVAL_MS: '60000',
        SWEEP_INTERVAL_MS: '60000',
      },
      45_000,
    ),
    startTestApp({ ROLE: 'api', MONGODB_DB: db, LOG_LEVEL: 'info' }),
    startTestApp({ ROLE: 'api', MONGODB_DB: db, LOG_LEVEL: 'info' }),
  ]);
  for (const a of [a1, a2]) if (a.status === 'fulfilled') apps.push(a.value);
  if (w.status === 'fulfilled') worker = w.value;
  for (const s of [w, a1, a2]) if (s.status === 'rejected') throw s.reason;
  expect(apps.map((a) => a.app.live.crossProcess)).toEqual([true, true]);
  api1 = { url: apps[0]!.url, key: apps[0]!.adminKey };
  api2 = { url: apps[1]!.url, key: apps[1]!.adminKey };
}, 60_000);

afterAll(async () => {
  await closeAllLiveClients();
  await Promise.all(apps.map((a) => a.stop()));
  await Promise.all([ok?.stop(), gone?.stop()]);
  try {
    if (worker) {
      // A graceful stop (SIGTERM); killed if it does not exit in time.
      const timer = setTimeout(() => void worker!.kill('SIGKILL'), 10_000);
      const exit = await worker.kill('SIGTERM');
      clearTimeout(timer);
      expect(exit.code, worker.output()).toBe(0);
      expect(worker.logs().filter((l) => l.level === 'error'), worker.output()).toEqual([]);
      expect(worker.output()).not.toMatch(/unhandled|Fatal/i);
    }
  } finally {
    await killAllWorkerProcesses();
  }
}, 30_000);

describe('two API processes and a worker process', () => {
  it('deliver an event published through API #2 at once, and stream its result on API #1', async () => {
    expect(worker!.running).toBe(true);
    const ws = wsClient(api1.url, api1.key);
    const onApi1: Feed = ws.subscribe(DELIVERY_ATTEMPTED, { siteId: SITE });
    const changesOnApi1: Feed = ws.subscribe(WEBHOOK_CHANGED, { siteId: SITE });
    await wsConnected(ws);
    const sseOnApi1 = await sseSubscribe(api1.url, api1.key, DELIVERY_ATTEMPTED, { siteId: SITE, success: true });
    const sseOnApi2 = await sseSubscribe(api2.url, api2.key, DELIVERY_ATTEMPTED, { siteId: SITE });
    await sleep(200);

    // Webhooks created through API #2 are announced on API #1.
    const good = await createWebhook(api2, SITE, ok.url('/cross'));
    const dead = await createWebhook(api2, SITE, gone.url('/cross'));
    expect(changes(await changesOnApi1.waitFor(2)).map((c) => [c.id, c.change])).toEqual([
      [good.id, 'CREATED'],
      [dead.id, 'CREATED'],
    ]);

    const publishedAt = Date.now();
    const event = await publish(api2, SITE);
    expect(event.webhooks).toBe(2);
    const [first] = await ok.waitForRequests(1, 10_000);
    // The worker's poll is 60 s away: this attempt was woken by the change stream.
    expect(first!.at - publishedAt).toBeLessThan(PROMPT_MS);
    expect(first!.json).toMatchObject({ type: 'page.created' });

    const got = attempts(await onApi1.waitFor(2, 10_000));
    const byWebhook = new Map(got.map((d) => [d.webhookId, d]));
    expect(byWebhook.get(good.id)).toMatchObject({
      eventId: event.id,
      url: good.url,
      attempt: 1,
      statusCode: 200,
      success: true,
      error: null,
      webhook: { id: good.id },
      sourceEvent: { id: event.id, type: 'page.created' },
    });
    expect(byWebhook.get(dead.id)).toMatchObject({ eventId: event.id, statusCode: 410, success: false, webhook: { id: dead.id } });
    expect(attempts(await sseOnApi1.waitFor(1)).map((d) => d.webhookId)).toEqual([good.id]);
    expect(attempts(await sseOnApi2.waitFor(2)).map((d) => d.id).sort()).toEqual(got.map((d) => d.id).sort());

    // The worker disabled the webhook that answered 410: API #1 hears of it too.
    const [, , disabled] = changes(await changesOnApi1.waitFor(3, 10_000));
    expect(disabled).toMatchObject({ id: dead.id, change: 'DISABLED', active: false });

    await sleep(300);
    expect(onApi1.values).toHaveLength(2);
    expect(sseOnApi1.values).toHaveLength(1);
    expect(sseOnApi2.values).toHaveLength(2);
    expect(changesOnApi1.values).toHaveLength(3);
    expect(ok.received()).toHaveLength(1);
    await ws.dispose();
    sseOnApi1.abort();
    sseOnApi2.abort();
  });
});
