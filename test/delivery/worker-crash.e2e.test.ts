// A worker process killed in the middle of an attempt loses nothing: the API runs in-process
// (ROLE=api, no jobs), workers are real child processes (ROLE=worker) on the same database. The
// receiver holds the first request open; the worker is SIGKILLed; a fresh worker makes the
// attempt again once the claim and the job lock (DELIVERY_LOCK_LIFETIME_MS) expire.
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually, startReceiver, type Receiver, type ReceivedRequest } from '../support/receiver.ts';
import { killAllWorkerProcesses, startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

const SITE = 'site-crash';
let api: TestApp;
let r: Receiver;
const workers: WorkerProcess[] = [];

const workerEnv = () => ({
  MONGODB_URI: api.mongoUri,
  MONGODB_DB: api.databaseName,
  ROLE: 'worker',
  ALLOW_PRIVATE_DESTINATIONS: 'true',
  DELIVERY_LOCK_LIFETIME_MS: '2000',
  DELIVERY_TIMEOUT_MS: '10000',
  RETRY_SCHEDULE: '1h',
  POLL_INTERVAL_MS: '200',
  SWEEP_INTERVAL_MS: '500',
});

async function worker(): Promise<WorkerProcess> {
  const w = await startWorkerProcess(workerEnv(), 60_000);
  workers.push(w);
  return w;
}

function verify(secret: string, request: ReceivedRequest): unknown {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
  return new StandardWebhook(secret).verify(request.rawBody, headers);
}

beforeAll(async () => {
  api = await startTestApp({ ROLE: 'api', DELIVERY_LOCK_LIFETIME_MS: '2000', DELIVERY_TIMEOUT_MS: '10000', RETRY_SCHEDULE: '1h' });
  // The first request is never answered; later ones get 200.
  r = await startReceiver({ script: [{ hang: true }] });
});

afterAll(async () => {
  await killAllWorkerProcesses();
  await api?.stop();
  await r?.stop();
});

describe('worker crash mid-delivery', () => {
  let secret: string;

  it('a fresh worker delivers the event the killed one was sending', async () => {
    const created = await api.request('POST', `/v1/sites/${SITE}/webhooks`, { body: { url: r.url(), events: ['page.created'] } });
    expect(created.status).toBe(201);
    const hook = created.body.data;
    secret = hook.secret;

    const first = await worker();
    const published = await api.request('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.created', data: { crash: true } } });
    expect(published.status).toBe(202);
    const eventId = published.body.data.id;

    const [held] = await r.waitForRequests(1, 20_000);
    expect(held!.headers['webhook-id']).toBe(eventId);
    const exit = await first.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    // Nothing was recorded for the attempt cut short, and it is still queued.
    const c = api.app.database.collections;
    expect(await c.deliveries.countDocuments({ webhookId: hook.id })).toBe(0);
    expect(await c.messages.countDocuments({ webhookId: hook.id })).toBe(1);

    const killedAt = Date.now();
    await worker();
    const [, again] = await r.waitForRequests(2, 30_000);
    // Not before the claim of the killed worker expired.
    expect(again!.at - held!.at).toBeGreaterThanOrEqual(1500);
    expect(again!.headers['webhook-id']).toBe(eventId);
    expect(verify(secret, again!)).toMatchObject({ id: eventId, type: 'page.created', siteId: SITE, data: { crash: true } });
    expect(again!.rawBody).toBe(held!.rawBody);

    const log = await eventually(
      async () => {
        const res = await api.request('GET', `/v1/sites/${SITE}/webhooks/${hook.id}/deliveries`);
        return res.body.data.length >= 1 ? res.body.data : undefined;
      },
      { what: 'the attempt logged' },
    );
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ eventId, webhookId: hook.id, attempt: 1, statusCode: 200, success: true, error: null });
    await eventually(async () => (await c.messages.countDocuments({ webhookId: hook.id })) === 0, { what: 'queue emptied' });
    const webhook = await eventually(async () => {
      const w = (await api.request('GET', `/v1/sites/${SITE}/webhooks/${hook.id}`)).body.data;
      return w.lastDeliveredAt ? w : undefined;
    });
    expect(webhook.failCount).toBe(0);
    expect(webhook.lastDeliveredAt).toBe(log[0].deliveredAt);
    expect(r.requests).toHaveLength(2);
    expect(Date.now() - killedAt).toBeLessThan(60_000);
  }, 150_000);

  it('no process wrote the webhook secret to its log', () => {
    expect(secret).toMatch(/^whsec_/);
    const outputs = [api.logs.join('\n'), ...workers.map((w) => w.output())];
    expect(workers.every((w) => w.logs().some((l) => l.msg === 'worker started'))).toBe(true);
    for (const text of outputs) {
      expect(text.includes(secret)).toBe(false);
      expect(text.includes(secret.slice('whsec_'.length))).toBe(false);
    }
  });
});
