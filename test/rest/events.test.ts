// The /v1 paths beyond webhook management, through the contract check: publishing events, the
// test event, the delivery log (with real attempts: a success, a 500, a refused connection) and
// replay, with their validation, errors and site isolation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { checkRequestBody, contractRequest, type ContractRequest } from '../support/openapi.ts';
import { eventually, refusedPort, sleep, startReceiver, type Receiver } from '../support/receiver.ts';

let t: TestApp;
let api: ContractRequest;
let ok: Receiver;
let failing: Receiver;
let refused: number;

const SITE = 'events-site';
const OTHER = 'events-other-site';
const UNKNOWN_WEBHOOK = 'wh_01ARZ3NDEKTSV4RRFFQ69G5FAV';
const EVENTS = '/v1/sites/{siteId}/events';
const REPLAY = '/v1/sites/{siteId}/webhooks/{webhookId}/replay';

/** Webhooks of SITE: A (200 receiver), F (500 receiver), X (nothing listens), plus two that get nothing. */
const hooks: Record<'A' | 'F' | 'X' | 'inactive' | 'assets' | 'other', any> = {} as any;
/** The three page.created events published in beforeAll, oldest first. */
const published: any[] = [];
let beforeFirst: string;

async function createWebhook(site: string, body: Record<string, unknown>) {
  const answer = await api('POST', `/v1/sites/${site}/webhooks`, { body });
  expect(answer.status, answer.text).toBe(201);
  return answer.body.data;
}

async function deliveries(webhookId: string, query = '', site = SITE) {
  const answer = await api('GET', `/v1/sites/${site}/webhooks/${webhookId}/deliveries${query}`);
  expect(answer.status, answer.text).toBe(200);
  return answer;
}

const logged = (webhookId: string, count: number) =>
  eventually(
    async () => {
      const answer = await deliveries(webhookId, '?limit=100');
      return answer.body.data.length >= count ? answer.body.data : undefined;
    },
    { timeoutMs: 30_000, what: `${count} logged attempts of ${webhookId}` },
  );

beforeAll(async () => {
  // Retries far away, so each failing event leaves exactly one attempt in the log here.
  t = await startTestApp({ RETRY_SCHEDULE: '1h' });
  api = contractRequest(t);
  ok = await startReceiver();
  failing = await startReceiver({ fallback: { status: 500, body: 'boom' } });
  refused = await refusedPort();

  hooks.A = await createWebhook(SITE, { url: ok.url('/a'), events: ['page.created', 'page.updated'] });
  hooks.F = await createWebhook(SITE, { url: failing.url('/f'), events: ['*'] });
  hooks.X = await createWebhook(SITE, { url: `http://127.0.0.1:${refused}/x`, events: ['page.created'] });
  hooks.inactive = await createWebhook(SITE, { url: ok.url('/inactive'), events: ['*'], active: false });
  hooks.assets = await createWebhook(SITE, { url: ok.url('/assets'), events: ['asset.created'] });
  hooks.other = await createWebhook(OTHER, { url: ok.url('/other'), events: ['*'] });

  await sleep(5);
  beforeFirst = new Date().toISOString();
  await sleep(5);
  for (let i = 0; i < 3; i++) {
    const answer = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.created', data: { n: i } } });
    expect(answer.status, answer.text).toBe(202);
    published.push(answer.body.data);
    await sleep(3);
  }
  await Promise.all([logged(hooks.A.id, 3), logged(hooks.F.id, 3), logged(hooks.X.id, 3)]);
});

afterAll(async () => {
  await t?.stop();
  await ok?.stop();
  await failing?.stop();
});

describe('POST /v1/sites/{siteId}/events', () => {
  it('accepts an event: 202 with id, type, createdAt and the number of deliveries scheduled', () => {
    for (const event of published) {
      expect(event).toMatchObject({ id: expect.stringMatching(/^evt_/), type: 'page.created', webhooks: 3 });
      expect(Date.parse(event.createdAt)).toBeGreaterThan(Date.parse(beforeFirst));
    }
    expect(new Set(published.map((e) => e.id)).size).toBe(3);
  });

  it('delivers to the subscribed active webhooks of the site only', async () => {
    const received = ok.received().map((r) => r.path);
    expect(received.filter((p) => p === '/a')).toHaveLength(3);
    expect(received).not.toContain('/inactive');
    expect(received).not.toContain('/assets');
    expect(received).not.toContain('/other');
    expect(failing.received('/f')).toHaveLength(3);
  });

  it('counts only matching webhooks', async () => {
    const answer = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'asset.created', data: {} } });
    expect(answer.status).toBe(202);
    expect(answer.body.data).toMatchObject({ type: 'asset.created', webhooks: 2 }); // F ("*") and assets
    const none = await api('POST', `/v1/sites/a-site-without-webhooks/events`, { body: { type: 'page.deleted', data: { x: [1, { y: null }] } } });
    expect(none.body.data.webhooks).toBe(0);
  });

  it('answers a repeated Idempotency-Key with the first result and delivers once', async () => {
    const key = `idem-${Date.now()}`;
    const first = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.updated', data: { v: 1 } }, headers: { 'idempotency-key': key } });
    const second = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.updated', data: { v: 1 } }, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.data).toEqual(first.body.data);
    // The same key with another request is a client mistake, not a new event.
    const reused = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.updated', data: { v: 2 } }, headers: { 'idempotency-key': key } });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('CONFLICT');
    expect(first.body.data.webhooks).toBe(2); // A and F
    await eventually(() => ok.received('/a').some((r) => r.headers['webhook-id'] === first.body.data.id), { timeoutMs: 20_000 });
    await sleep(300);
    expect(ok.received('/a').filter((r) => r.headers['webhook-id'] === first.body.data.id)).toHaveLength(1);
    expect(await t.app.database.collections.events.countDocuments({ _id: first.body.data.id })).toBe(1);

    // The same key on another site is another key.
    const elsewhere = await api('POST', `/v1/sites/${OTHER}/events`, { body: { type: 'page.updated', data: {} }, headers: { 'idempotency-key': key } });
    expect(elsewhere.body.data.id).not.toBe(first.body.data.id);
  });

  it('accepts an Idempotency-Key of 255 characters and refuses one of 256', async () => {
    const okKey = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.updated', data: {} }, headers: { 'idempotency-key': 'k'.repeat(255) } });
    expect(okKey.status).toBe(202);
    const tooLong = await api('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.updated', data: {} }, headers: { 'idempotency-key': 'k'.repeat(256) } });
    expect(tooLong.status).toBe(400);
    expect(Object.keys(tooLong.body.error.details.fields)).toEqual(['idempotencyKey']);
  });

  const bad: Array<[string, unknown, string[]]> = [
    ['an unknown type', { type: 'page.exploded', data: {} }, ['type']],
    ['the test type', { type: 'webhook.test', data: {} }, ['type']],
    ['"*" as a type', { type: '*', data: {} }, ['type']],
    ['a missing type', { data: {} }, ['type']],
    ['data as a list', { type: 'page.created', data: [] }, ['data']],
    ['data as a string', { type: 'page.created', data: 'x' }, ['data']],
    ['missing data', { type: 'page.created' }, ['data']],
    ['data over 256 KiB', { type: 'page.created', data: { big: 'x'.repeat(256 * 1024) } }, ['data']],
    ['an unknown field', { type: 'page.created', data: {}, siteId: 'elsewhere' }, ['siteId']],
    ['everything wrong', { kind: 'page.created' }, ['kind', 'type', 'data']],
    ['a list body', [{ type: 'page.created', data: {} }], ['body']],
  ];
  it.each(bad)('rejects %s with 400 naming the fields, storing nothing', async (_name, body, fields) => {
    const before = await t.app.database.collections.events.countDocuments();
    const answer = await api('POST', `/v1/sites/${SITE}/events`, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual([...fields].sort());
    if (!fields.includes('data') || !JSON.stringify(body).includes('xxxx')) {
      // (The size limit is beyond what a schema states; the shape rules are in it.)
      expect(checkRequestBody('post', EVENTS, body).valid).toBe(false);
    }
    expect(await t.app.database.collections.events.countDocuments()).toBe(before);
  });

  it('answers 413, 415 and INVALID_JSON like the other paths', async () => {
    const before = await t.app.database.collections.events.countDocuments();
    const path = `/v1/sites/${SITE}/events`;
    const huge = JSON.stringify({ type: 'page.created', data: { big: 'x'.repeat(1024 * 1024) } });
    expect((await api('POST', path, { rawBody: huge, headers: { 'content-type': 'application/json' } })).status).toBe(413);
    expect((await api('POST', path, { rawBody: 'type=page.created', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const malformed = await api('POST', path, { rawBody: '{"type":', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('INVALID_JSON');
    expect(await t.app.database.collections.events.countDocuments()).toBe(before);
  });

  it('answers 401 without a key and 403 for another site', async () => {
    const key = await t.createKey([OTHER], 'other only');
    const body = { type: 'page.created', data: {} };
    expect((await api('POST', `/v1/sites/${SITE}/events`, { key: null, body })).status).toBe(401);
    const forbidden = await api('POST', `/v1/sites/${SITE}/events`, { key, body });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    expect((await api('POST', `/v1/sites/${OTHER}/events`, { key, body })).status).toBe(202);
  });
});

describe('POST /v1/sites/{siteId}/webhooks/{webhookId}/test', () => {
  it('sends a webhook.test event to that webhook alone', async () => {
    const answer = await api('POST', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/test`);
    expect(answer.status).toBe(202);
    expect(answer.body.data).toMatchObject({ id: expect.stringMatching(/^evt_/), type: 'webhook.test', webhooks: 1 });
    const request = await eventually(() => ok.received().find((r) => r.headers['webhook-id'] === answer.body.data.id), { timeoutMs: 20_000 });
    expect(request.path).toBe('/a');
    expect(request.json).toMatchObject({ id: answer.body.data.id, type: 'webhook.test', siteId: SITE });
    await sleep(200);
    const id = answer.body.data.id;
    expect(ok.received().filter((r) => r.headers['webhook-id'] === id)).toHaveLength(1);
    expect(failing.received().filter((r) => r.headers['webhook-id'] === id)).toHaveLength(0);
    const log = await eventually(async () => {
      const list = (await deliveries(hooks.A.id, '?limit=100')).body.data;
      return list.find((d: any) => d.eventId === answer.body.data.id);
    }, { timeoutMs: 20_000 });
    expect(log).toMatchObject({ trigger: 'test', event: 'webhook.test', success: true, statusCode: 200 });
  });

  it('answers 404 for an unknown webhook and for a webhook of another site; 403 and 401 as everywhere', async () => {
    for (const path of [`/v1/sites/${SITE}/webhooks/${UNKNOWN_WEBHOOK}/test`, `/v1/sites/${SITE}/webhooks/${hooks.other.id}/test`]) {
      const answer = await api('POST', path);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
    const key = await t.createKey([OTHER], 'other only');
    expect((await api('POST', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/test`, { key })).status).toBe(403);
    expect((await api('POST', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/test`, { key: null })).status).toBe(401);
  });
});

describe('GET /v1/sites/{siteId}/webhooks/{webhookId}/deliveries', () => {
  it('logs a success with the documented fields', async () => {
    const list = (await deliveries(hooks.A.id, '?limit=100')).body.data.filter((d: any) => d.trigger === 'event' && d.event === 'page.created');
    expect(list).toHaveLength(3);
    expect(new Set(list.map((d: any) => d.eventId))).toEqual(new Set(published.map((e) => e.id)));
    for (const d of list) {
      expect(d).toMatchObject({
        id: expect.stringMatching(/^dlv_/),
        webhookId: hooks.A.id,
        event: 'page.created',
        url: ok.url('/a'),
        attempt: 1,
        statusCode: 200,
        success: true,
        error: null,
        trigger: 'event',
        responseBody: 'ok',
      });
      expect(d.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(d.deliveredAt)).toBeGreaterThan(Date.parse(beforeFirst));
    }
  });

  it('logs a non-2xx answer and a refused connection as failures, statusCode null without a response', async () => {
    const failed = (await deliveries(hooks.F.id)).body.data.filter((d: any) => d.event === 'page.created');
    expect(failed).toHaveLength(3);
    for (const d of failed) expect(d).toMatchObject({ statusCode: 500, success: false, error: expect.any(String), responseBody: 'boom' });
    const unreachable = (await deliveries(hooks.X.id)).body.data;
    expect(unreachable).toHaveLength(3);
    for (const d of unreachable) expect(d).toMatchObject({ statusCode: null, success: false, error: expect.any(String), responseBody: null });
  });

  it('pages newest first with limit and an opaque cursor until nextCursor is null', async () => {
    const all = (await deliveries(hooks.X.id)).body;
    expect(all.pagination).toEqual({ total: 3, limit: 25, nextCursor: null });
    const first = await deliveries(hooks.X.id, '?limit=2');
    expect(first.body.data).toHaveLength(2);
    expect(first.body.pagination).toMatchObject({ total: 3, limit: 2, nextCursor: expect.any(String) });
    const second = await deliveries(hooks.X.id, `?limit=2&cursor=${encodeURIComponent(first.body.pagination.nextCursor)}`);
    expect(second.body.data).toHaveLength(1);
    expect(second.body.pagination).toEqual({ total: 3, limit: 2, nextCursor: null });
    const paged = [...first.body.data, ...second.body.data].map((d: any) => d.id);
    expect(paged).toEqual(all.data.map((d: any) => d.id));
    expect(paged).toEqual([...paged].sort().reverse()); // newest first
    expect(new Set(paged).size).toBe(3);
  });

  it.each([['0'], ['101'], ['-1'], ['abc'], ['1.5'], [''], ['1e2']])('answers 400 naming limit for limit=%s', async (limit) => {
    const answer = await api('GET', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/deliveries?limit=${limit}`);
    expect(answer.status).toBe(400);
    expect(Object.keys(answer.body.error.details.fields)).toEqual(['limit']);
  });

  it('accepts limit 1 and 100', async () => {
    expect((await deliveries(hooks.A.id, '?limit=1')).body.data).toHaveLength(1);
    expect((await deliveries(hooks.A.id, '?limit=100')).body.pagination.limit).toBe(100);
  });

  it.each([['garbage'], [Buffer.from('evt_01ARZ3NDEKTSV4RRFFQ69G5FAV').toString('base64url')], ['%00']])(
    'answers 400 naming cursor for cursor=%s',
    async (cursor) => {
      const answer = await api('GET', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/deliveries?cursor=${cursor}`);
      expect(answer.status).toBe(400);
      expect(Object.keys(answer.body.error.details.fields)).toEqual(['cursor']);
    },
  );

  it("answers 404 for an unknown webhook or another site's, 403 for another site's key, 401 without a key", async () => {
    for (const path of [`/v1/sites/${SITE}/webhooks/${UNKNOWN_WEBHOOK}/deliveries`, `/v1/sites/${OTHER}/webhooks/${hooks.A.id}/deliveries`]) {
      const answer = await api('GET', path);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
    const key = await t.createKey([OTHER], 'other only');
    expect((await api('GET', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/deliveries`, { key })).status).toBe(403);
    expect((await api('GET', `/v1/sites/${SITE}/webhooks/${hooks.A.id}/deliveries`, { key: null })).status).toBe(401);
  });
});

describe('POST /v1/sites/{siteId}/webhooks/{webhookId}/replay', () => {
  const replay = (webhookId: string, body: unknown, options: { key?: string | null } = {}) =>
    api('POST', `/v1/sites/${SITE}/webhooks/${webhookId}/replay`, { ...options, body });

  it('dryRun answers what would be replayed, oldest first, and schedules nothing', async () => {
    const replaysBefore = await t.app.database.collections.replays.countDocuments();
    const answer = await replay(hooks.X.id, { since: beforeFirst, dryRun: true });
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({
      webhookId: hooks.X.id,
      replayed: 3,
      eventIds: published.map((e) => e.id),
      replayId: null,
      dryRun: true,
    });
    expect(await t.app.database.collections.replays.countDocuments()).toBe(replaysBefore);
  });

  it('until is an exclusive upper bound; since is inclusive', async () => {
    const [e1, e2, e3] = published;
    const window = await replay(hooks.X.id, { since: e1.createdAt, until: e2.createdAt, dryRun: true });
    expect(window.body.data.eventIds).toEqual([e1.id]);
    const fromSecond = await replay(hooks.X.id, { since: e2.createdAt, dryRun: true });
    expect(fromSecond.body.data.eventIds).toEqual([e2.id, e3.id]);
  });

  it('onlyFailed keeps only events whose last attempt to this webhook failed', async () => {
    const failedOnly = await replay(hooks.F.id, { since: beforeFirst, onlyFailed: true, dryRun: true });
    expect(failedOnly.body.data.eventIds).toEqual(expect.arrayContaining(published.map((e) => e.id)));
    const succeeded = await replay(hooks.A.id, { since: beforeFirst, until: new Date(Date.parse(published[2].createdAt) + 1).toISOString(), onlyFailed: true, dryRun: true });
    expect(succeeded.body.data).toMatchObject({ replayed: 0, eventIds: [] });
  });

  it('replays: the events are delivered again with their original ids', async () => {
    const before = ok.received('/a').length;
    const answer = await replay(hooks.A.id, { since: beforeFirst, until: new Date(Date.parse(published[2].createdAt) + 1).toISOString() });
    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({
      webhookId: hooks.A.id,
      replayed: 3,
      eventIds: published.map((e) => e.id),
      replayId: expect.stringMatching(/^rpl_/),
      dryRun: false,
    });
    const ids = published.map((e) => e.id);
    const again = await eventually(() => {
      const replayed = ok.received('/a').slice(before).filter((r) => ids.includes(String(r.headers['webhook-id'])));
      return replayed.length >= 3 ? replayed : undefined;
    }, { timeoutMs: 30_000, what: 'the replayed deliveries' });
    expect(again.map((r) => r.headers['webhook-id'])).toEqual(ids);
    const log = await eventually(async () => {
      const list = (await deliveries(hooks.A.id, '?limit=100')).body.data.filter((d: any) => d.trigger === 'replay');
      return list.length === 3 ? list : undefined;
    }, { timeoutMs: 20_000 });
    for (const d of log) expect(d).toMatchObject({ success: true, trigger: 'replay' });
  });

  const bad: Array<[string, () => unknown, string[]]> = [
    ['a missing since', () => ({}), ['since']],
    ['a malformed since', () => ({ since: 'yesterday' }), ['since']],
    ['a since without a zone', () => ({ since: '2019-08-24T14:15:22' }), ['since']],
    ['a since in the future', () => ({ since: new Date(Date.now() + 3_600_000).toISOString() }), ['since']],
    ['a since before the retention period', () => ({ since: new Date(Date.now() - 31 * 86_400_000).toISOString() }), ['since']],
    ['an until not after since', () => ({ since: beforeFirst, until: beforeFirst }), ['until']],
    ['a malformed until', () => ({ since: beforeFirst, until: 'later' }), ['until']],
    ['a non-boolean onlyFailed', () => ({ since: beforeFirst, onlyFailed: 'yes' }), ['onlyFailed']],
    ['a non-boolean dryRun', () => ({ since: beforeFirst, dryRun: 1 }), ['dryRun']],
    ['an unknown field', () => ({ since: beforeFirst, force: true }), ['force']],
    ['a list body', () => [beforeFirst], ['since']],
  ];
  it.each(bad)('rejects %s with 400 naming the fields', async (_name, body, fields) => {
    const replaysBefore = await t.app.database.collections.replays.countDocuments();
    const answer = await replay(hooks.X.id, body());
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual([...fields].sort());
    expect(await t.app.database.collections.replays.countDocuments()).toBe(replaysBefore);
  });

  it('the documented request schema rejects the shape errors too', () => {
    for (const body of [{}, { since: 'yesterday' }, { since: beforeFirst, onlyFailed: 'yes' }, { since: beforeFirst, force: true }, [beforeFirst]]) {
      expect(checkRequestBody('post', REPLAY, body).valid, JSON.stringify(body)).toBe(false);
    }
  });

  it('answers 409 CONFLICT for a disabled webhook', async () => {
    const disabled = await createWebhook(SITE, { url: ok.url('/disabled'), events: ['*'], active: false });
    const answer = await replay(disabled.id, { since: beforeFirst });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('CONFLICT');
  });

  it('answers 409 CONFLICT while another replay of the webhook is running', async () => {
    const slow = await startReceiver({ fallback: { hang: true } });
    try {
      const hook = await createWebhook(SITE, { url: slow.url('/slow'), events: ['page.created'] });
      // An event to replay that this webhook never received (it was created afterwards).
      const first = await replay(hook.id, { since: beforeFirst });
      expect(first.status).toBe(200);
      expect(first.body.data.replayed).toBeGreaterThanOrEqual(3);
      const second = await replay(hook.id, { since: beforeFirst });
      expect(second.status).toBe(409);
      expect(second.body.error.code).toBe('CONFLICT');
    } finally {
      await slow.stop();
    }
  });

  it("answers 404 for an unknown webhook or another site's, 403 for another site's key, 401 without a key, and 413/415/INVALID_JSON", async () => {
    for (const id of [UNKNOWN_WEBHOOK, hooks.other.id]) {
      const answer = await replay(id, { since: beforeFirst });
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
    const key = await t.createKey([OTHER], 'other only');
    expect((await replay(hooks.A.id, { since: beforeFirst }, { key })).status).toBe(403);
    expect((await replay(hooks.A.id, { since: beforeFirst }, { key: null })).status).toBe(401);
    const path = `/v1/sites/${SITE}/webhooks/${hooks.A.id}/replay`;
    const huge = JSON.stringify({ since: beforeFirst, pad: 'x'.repeat(1024 * 1024) });
    expect((await api('POST', path, { rawBody: huge, headers: { 'content-type': 'application/json' } })).status).toBe(413);
    expect((await api('POST', path, { rawBody: beforeFirst, headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await api('POST', path, { rawBody: '{"since"', headers: { 'content-type': 'application/json' } })).body.error.code).toBe('INVALID_JSON');
  });
});
