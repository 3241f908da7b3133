// End to end through the real app (HTTP, MongoDB, Agenda jobs, the sender) to real receivers on
// loopback: signed first-attempt success, retries, failures of every kind, disabling, Retry-After
// and refused private destinations. Short settings keep it fast; waits poll with a deadline.
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually, refusedPort, sleep, startReceiver, type Receiver, type ReceivedRequest } from '../support/receiver.ts';
import { VERSION } from '../../src/version.ts';

/** A fresh site per test, so that no test's webhooks receive another test's events. */
let SITE = 'site-delivery';
let siteSeq = 0;
beforeEach(() => {
  SITE = `site-delivery-${++siteSeq}`;
});
const RETRY_MS = 250;

const receivers: Receiver[] = [];
const apps: TestApp[] = [];
/** Every secret of every webhook created here: none may reach a log line. */
const secrets: string[] = [];

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

async function app(env: Record<string, string>): Promise<TestApp> {
  const t = await startTestApp(env);
  apps.push(t);
  return t;
}

async function createWebhook(t: TestApp, url: string, events: string[] = ['*'], site = SITE) {
  const res = await t.request('POST', `/v1/sites/${site}/webhooks`, { body: { url, events } });
  expect(res.status, res.text).toBe(201);
  secrets.push(res.body.data.secret);
  return res.body.data as { id: string; secret: string; url: string };
}

async function publish(t: TestApp, type = 'page.created', data: Record<string, unknown> = { pageId: 'p1' }, site = SITE) {
  const res = await t.request('POST', `/v1/sites/${site}/events`, { body: { type, data } });
  expect(res.status, res.text).toBe(202);
  return res.body.data as { id: string; type: string; createdAt: string; webhooks: number };
}

async function getWebhook(t: TestApp, id: string, site = SITE) {
  const res = await t.request('GET', `/v1/sites/${site}/webhooks/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

async function deliveries(t: TestApp, webhookId: string, site = SITE): Promise<any[]> {
  const res = await t.request('GET', `/v1/sites/${site}/webhooks/${webhookId}/deliveries?limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

/** Waits until the log holds at least `count` attempts; returns them oldest first. */
async function waitForAttempts(t: TestApp, webhookId: string, count: number, timeoutMs = 10_000): Promise<any[]> {
  const list = await eventually(
    async () => {
      const d = await deliveries(t, webhookId);
      return d.length >= count ? d : undefined;
    },
    { timeoutMs, what: `${count} logged attempt(s) of ${webhookId}` },
  );
  return [...list].reverse();
}

async function deleteWebhook(t: TestApp, id: string, site = SITE): Promise<void> {
  const res = await t.request('DELETE', `/v1/sites/${site}/webhooks/${id}`);
  expect(res.status, res.text).toBe(200);
}

async function queuedFor(t: TestApp, webhookId: string): Promise<number> {
  return t.app.database.collections.messages.countDocuments({ webhookId });
}

function headerRecord(request: ReceivedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Verifies like a receiver does; throws when the signature is wrong. */
function verify(secret: string, request: ReceivedRequest): unknown {
  return new StandardWebhook(secret).verify(request.rawBody, headerRecord(request));
}

afterAll(async () => {
  await Promise.all(apps.map((t) => t.stop()));
  await Promise.all(receivers.map((r) => r.stop()));
});

describe('deliveries with short retries (RETRY_SCHEDULE 250ms, DISABLE_AFTER_FAILURES 3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await app({
      RETRY_SCHEDULE: Array(8).fill(`${RETRY_MS}ms`).join(','),
      // Generous: a slow moment of a busy machine must not turn an answer into a timeout.
      DELIVERY_TIMEOUT_MS: '5000',
      DISABLE_AFTER_FAILURES: '3',
      SWEEP_INTERVAL_MS: '500',
      POLL_INTERVAL_MS: '200',
    });
  });

  it('delivers a signed event on the first attempt and logs it with every documented field', async () => {
    const r = await receiver();
    const hook = await createWebhook(t, r.url('/ok?x=1'), ['page.created']);
    const data = { pageId: 'p-42', title: 'Grüße', nested: { list: [1, 2, 3] } };
    const before = Date.now();
    const event = await publish(t, 'page.created', data);
    expect(event).toMatchObject({ type: 'page.created', webhooks: 1 });
    expect(event.id).toMatch(/^evt_/);

    const [request] = await r.waitForRequests(1);
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/ok?x=1');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toBe(`OptimoCMS-Webhooks/${VERSION}`);
    expect(request!.headers['webhook-id']).toBe(event.id);
    // Unix seconds of the moment of sending: between the publish and the arrival.
    const timestamp = Number(request!.headers['webhook-timestamp']);
    expect(timestamp).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(timestamp).toBeLessThanOrEqual(Math.ceil(request!.at / 1000));
    expect(request!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // The receiver's library accepts it, and returns the body it verified.
    expect(verify(hook.secret, request!)).toEqual(JSON.parse(request!.rawBody));
    expect(() => verify(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, request!)).toThrow();
    expect(JSON.parse(request!.rawBody)).toEqual({ id: event.id, type: 'page.created', siteId: SITE, createdAt: event.createdAt, data });
    expect(Object.keys(JSON.parse(request!.rawBody))).toEqual(['id', 'type', 'siteId', 'createdAt', 'data']);

    const [attempt] = await waitForAttempts(t, hook.id, 1);
    expect(attempt).toMatchObject({
      eventId: event.id,
      webhookId: hook.id,
      event: 'page.created',
      url: hook.url,
      attempt: 1,
      statusCode: 200,
      success: true,
      error: null,
    });
    expect(attempt.id).toMatch(/^dlv_/);
    expect(Number.isInteger(attempt.durationMs) && attempt.durationMs >= 0).toBe(true);
    expect(new Date(attempt.deliveredAt).toISOString()).toBe(attempt.deliveredAt);
    expect(Date.parse(attempt.deliveredAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(attempt.deliveredAt)).toBeLessThanOrEqual(Date.now());

    const webhook = await eventually(async () => {
      const w = await getWebhook(t, hook.id);
      return w.lastDeliveredAt ? w : undefined;
    });
    expect(webhook.failCount).toBe(0);
    expect(webhook.lastDeliveredAt).toBe(attempt.deliveredAt);
    expect(webhook.active).toBe(true);
    // Nothing left in the queue; no second request.
    expect(await queuedFor(t, hook.id)).toBe(0);
    expect(r.requests).toHaveLength(1);
  });

  it('retries after a 500: two attempts with the same webhook-id, failCount 1 then 0', async () => {
    // The second request is held open until failCount was checked.
    const r = await receiver({ script: [{ status: 500, body: 'boom' }, { hang: true }] });
    const hook = await createWebhook(t, r.url());
    const event = await publish(t);

    const [first, second] = await r.waitForRequests(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(RETRY_MS * 0.8 - 20);
    expect(await getWebhook(t, hook.id)).toMatchObject({ failCount: 1, active: true, lastDeliveredAt: null });
    r.release({ status: 200 });

    const attempts = await waitForAttempts(t, hook.id, 2);
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.success, a.error])).toEqual([
      [1, 500, false, 'HTTP 500'],
      [2, 200, true, null],
    ]);
    expect(attempts[0].responseBody).toBe('boom');
    for (const request of [first!, second!]) {
      expect(request.headers['webhook-id']).toBe(event.id);
      verify(hook.secret, request);
    }
    const webhook = await eventually(async () => {
      const w = await getWebhook(t, hook.id);
      return w.failCount === 0 ? w : undefined;
    });
    expect(webhook.lastDeliveredAt).toBe(attempts[1].deliveredAt);
    expect(await queuedFor(t, hook.id)).toBe(0);
  });

  it('records connection refused', async () => {
    const port = await refusedPort();
    const hook = await createWebhook(t, `http://127.0.0.1:${port}/hook`);
    await publish(t);
    const [attempt] = await waitForAttempts(t, hook.id, 1);
    expect(attempt).toMatchObject({ attempt: 1, statusCode: null, success: false, error: 'connection refused' });
    await deleteWebhook(t, hook.id);
  });

  it('sends a pending retry to the URL and with the secret the webhook has by then', async () => {
    const before = await receiver({ fallback: { status: 503, headers: { 'retry-after': '1' } } });
    const after = await receiver();
    const hook = await createWebhook(t, before.url());
    const event = await publish(t);
    await before.waitForRequests(1);
    const secret = `whsec_${Buffer.from('rotated-secret-rotated-secret-32').toString('base64')}`;
    secrets.push(secret);
    const patched = await t.request('PATCH', `/v1/sites/${SITE}/webhooks/${hook.id}`, { body: { url: after.url('/new'), secret } });
    expect(patched.status, patched.text).toBe(200);
    const [retry] = await after.waitForRequests(1);
    expect(retry!.headers['webhook-id']).toBe(event.id);
    verify(secret, retry!);
    expect(() => verify(hook.secret, retry!)).toThrow();
    const attempts = await waitForAttempts(t, hook.id, 2);
    expect(attempts.map((a) => [a.attempt, a.url, a.success])).toEqual([
      [1, hook.url, false],
      [2, after.url('/new'), true],
    ]);
    expect(before.requests).toHaveLength(1);
  });

  it('treats a redirect as a failure and never follows it', async () => {
    const target = await receiver();
    const r = await receiver({ fallback: { status: 302, headers: { location: target.url('/elsewhere') } } });
    const hook = await createWebhook(t, r.url());
    await publish(t);
    const [attempt] = await waitForAttempts(t, hook.id, 1);
    expect(attempt).toMatchObject({ attempt: 1, statusCode: 302, success: false });
    expect(attempt.error).toMatch(/redirect/i);
    await deleteWebhook(t, hook.id);
    await sleep(100);
    expect(target.requests).toHaveLength(0);
  });

  it('disables the webhook on 410 Gone and drops its scheduled retries', async () => {
    // The first event (page.created) fails with a retry due in 2 s; the next one (page.updated)
    // meets a 410 meanwhile.
    const r = await receiver({
      fallback: (req) => (req.json?.type === 'page.created' ? { status: 503, headers: { 'retry-after': '2' } } : { status: 410 }),
    });
    const hook = await createWebhook(t, r.url());
    await publish(t, 'page.created');
    const [firstRequest] = await r.waitForRequests(1);
    const retry = await eventually(() => t.app.database.collections.messages.findOne({ webhookId: hook.id, attempt: 2 }));
    expect(retry.dueAt.getTime()).toBeGreaterThan(Date.now());
    const second = await publish(t, 'page.updated');
    await r.waitForRequests(2);
    expect(r.requests[1]!.headers['webhook-id']).toBe(second.id);

    const webhook = await eventually(async () => {
      const w = await getWebhook(t, hook.id);
      return w.active === false ? w : undefined;
    });
    expect(webhook.disabledReason).toMatch(/410/);
    await eventually(async () => (await queuedFor(t, hook.id)) === 0, { what: 'pending retry dropped' });
    // Past the time the retry was due: nothing came.
    await sleep(Math.max(0, firstRequest!.at + 2500 - Date.now()));
    expect(r.requests).toHaveLength(2);
    // A new event is not fanned out to the disabled webhook.
    expect((await publish(t)).webhooks).toBe(0);
    const attempts = await waitForAttempts(t, hook.id, 2);
    expect(attempts.map((a) => a.statusCode).sort()).toEqual([410, 503]);
  });

  it('disables the webhook after DISABLE_AFTER_FAILURES consecutive failures', async () => {
    const r = await receiver({ fallback: { status: 500 } });
    const hook = await createWebhook(t, r.url());
    await publish(t);
    const webhook = await eventually(
      async () => {
        const w = await getWebhook(t, hook.id);
        return w.active === false ? w : undefined;
      },
    );
    expect(webhook.failCount).toBe(3);
    expect(webhook.disabledReason).toMatch(/3 consecutive failed attempts/);
    await eventually(async () => (await queuedFor(t, hook.id)) === 0, { what: 'pending retry dropped' });
    await sleep(RETRY_MS * 3);
    expect(r.requests).toHaveLength(3);
    const attempts = await waitForAttempts(t, hook.id, 3);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
  });

  it('stops the pending retries of a deleted webhook without further requests', async () => {
    const r = await receiver({ fallback: { status: 503 } });
    const hook = await createWebhook(t, r.url());
    await publish(t);
    await r.waitForRequests(1);
    await deleteWebhook(t, hook.id);
    // The retry comes due, is claimed, and dropped because the webhook is gone.
    await eventually(async () => (await queuedFor(t, hook.id)) === 0, { what: 'queue emptied' });
    await sleep(RETRY_MS);
    expect(r.requests).toHaveLength(1);
  });

});

describe('timeouts (DELIVERY_TIMEOUT_MS 500)', () => {
  it('records a timeout as a failed attempt without a status code', async () => {
    const t = await app({ DELIVERY_TIMEOUT_MS: '500', RETRY_SCHEDULE: '1h' });
    const r = await receiver({ fallback: { hang: true } });
    const hook = await createWebhook(t, r.url());
    await publish(t);
    const [attempt] = await waitForAttempts(t, hook.id, 1);
    expect(attempt).toMatchObject({ attempt: 1, statusCode: null, success: false, error: 'timeout after 500 ms' });
    expect(attempt.durationMs).toBeGreaterThanOrEqual(450);
    expect(r.requests).toHaveLength(1);
  });
});

describe('retries used up (RETRY_SCHEDULE 100ms,100ms: three attempts)', () => {
  it('stops after the last attempt of the schedule, without disabling the webhook', async () => {
    const t = await app({ RETRY_SCHEDULE: '100ms,100ms', DELIVERY_TIMEOUT_MS: '5000' });
    const r = await receiver({ fallback: { status: 500 } });
    const hook = await createWebhook(t, r.url());
    await publish(t);
    const attempts = await waitForAttempts(t, hook.id, 3);
    expect(attempts.map((a) => [a.attempt, a.statusCode])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
    ]);
    await eventually(async () => (await queuedFor(t, hook.id)) === 0, { what: 'queue emptied' });
    await sleep(300);
    expect(r.requests).toHaveLength(3);
    expect(await getWebhook(t, hook.id)).toMatchObject({ active: true, failCount: 3, lastDeliveredAt: null });
  });
});

describe('Retry-After (RETRY_SCHEDULE 1h)', () => {
  it('retries a 429 or 503 with Retry-After: 1 after about a second, not after the scheduled hour', async () => {
    const t = await app({ RETRY_SCHEDULE: '1h,1h', POLL_INTERVAL_MS: '200', SWEEP_INTERVAL_MS: '500', DELIVERY_TIMEOUT_MS: '5000' });
    const cases = await Promise.all(
      [429, 503].map(async (status) => {
        const r = await receiver({ script: [{ status, headers: { 'retry-after': '1' } }] });
        const hook = await createWebhook(t, r.url());
        return { status, r, hook };
      }),
    );
    const started = Date.now();
    await publish(t);
    for (const { status, r, hook } of cases) {
      const [first, second] = await r.waitForRequests(2);
      const gap = second!.at - first!.at;
      expect(gap, `gap after ${status}`).toBeGreaterThanOrEqual(900);
      // Well before the scheduled hour (loose: a busy machine may be slow to wake the job).
      expect(gap, `gap after ${status}`).toBeLessThan(10_000);
      expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
      const attempts = await waitForAttempts(t, hook.id, 2);
      expect(attempts.map((a) => [a.attempt, a.statusCode, a.success])).toEqual([
        [1, status, false],
        [2, 200, true],
      ]);
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('private destinations refused (ALLOW_PRIVATE_DESTINATIONS=false)', () => {
  it('records "destination refused" and sends nothing, for an IP literal and for a name', async () => {
    const t = await app({ ALLOW_PRIVATE_DESTINATIONS: 'false', RETRY_SCHEDULE: '1h' });
    const r = await receiver();
    const byIp = await createWebhook(t, r.url('/ip'));
    const byName = await createWebhook(t, `http://localhost:${r.port}/name`);
    await publish(t);
    for (const hook of [byIp, byName]) {
      const [attempt] = await waitForAttempts(t, hook.id, 1);
      expect(attempt).toMatchObject({ attempt: 1, statusCode: null, success: false });
      expect(attempt.error).toMatch(/^destination refused/);
    }
    expect(r.requests).toHaveLength(0);
  });
});

describe('logs', () => {
  it('never contain a webhook secret or its key material', () => {
    expect(secrets.length).toBeGreaterThan(5);
    // The apps log at debug level, so this covers everything they could write.
    expect(apps[0]!.logs.some((l) => l.includes('"level":"debug"'))).toBe(true);
    for (const t of apps) {
      const text = t.logs.join('\n');
      for (const secret of secrets) {
        expect(text.includes(secret)).toBe(false);
        expect(text.includes(secret.slice('whsec_'.length))).toBe(false);
      }
    }
  });
});
