// Event ingestion end to end: fan-out to the matching active webhooks of the site only, input
// validation and access, idempotent publishing (REST header and GraphQL input), and test events.
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually, sleep, startReceiver, type Receiver, type ReceivedRequest } from '../support/receiver.ts';

let t: TestApp;
const receivers: Receiver[] = [];
const secrets: string[] = [];
let SITE = 'site-publish';
let siteSeq = 0;

beforeAll(async () => {
  t = await startTestApp({ RETRY_SCHEDULE: '1h', POLL_INTERVAL_MS: '200', SWEEP_INTERVAL_MS: '500', DELIVERY_TIMEOUT_MS: '2000' });
});
beforeEach(() => {
  SITE = `site-publish-${++siteSeq}`;
});
afterAll(async () => {
  await t?.stop();
  await Promise.all(receivers.map((r) => r.stop()));
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

async function createWebhook(url: string, events: string[] = ['*'], options: { site?: string; active?: boolean } = {}) {
  const body: Record<string, unknown> = { url, events };
  if (options.active !== undefined) body.active = options.active;
  const res = await t.request('POST', `/v1/sites/${options.site ?? SITE}/webhooks`, { body });
  expect(res.status, res.text).toBe(201);
  secrets.push(res.body.data.secret);
  return res.body.data as { id: string; secret: string; url: string; active: boolean };
}

function publishRaw(body: unknown, options: { site?: string; key?: string | null; idempotencyKey?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  return t.request('POST', `/v1/sites/${options.site ?? SITE}/events`, { body, key: options.key, headers });
}

async function publish(type = 'page.created', data: Record<string, unknown> = { pageId: 'p1' }, options: Parameters<typeof publishRaw>[1] = {}) {
  const res = await publishRaw({ type, data }, options);
  expect(res.status, res.text).toBe(202);
  return res;
}

function verify(secret: string, request: ReceivedRequest): any {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
  return new StandardWebhook(secret).verify(request.rawBody, headers);
}

const eventsOfSite = (site: string) => t.app.database.collections.events.countDocuments({ siteId: site });

describe('fan-out', () => {
  it('delivers to exactly the active webhooks of the site subscribed to the type or "*"', async () => {
    const [rCreated, rAll, rAsset, rOtherSite, rInactive, rUpdated] = await Promise.all(Array.from({ length: 6 }, receiver));
    const created = await createWebhook(rCreated!.url(), ['page.created', 'page.deleted']);
    const all = await createWebhook(rAll!.url(), ['*']);
    const asset = await createWebhook(rAsset!.url(), ['asset.created']);
    const updated = await createWebhook(rUpdated!.url(), ['page.updated']);
    await createWebhook(rOtherSite!.url(), ['*'], { site: `${SITE}-other` });
    const inactive = await createWebhook(rInactive!.url(), ['*'], { active: false });
    expect(inactive.active).toBe(false);

    const res = await publish('page.created', { pageId: 'fan' });
    expect(res.body.data.webhooks).toBe(2);
    const eventId = res.body.data.id;
    for (const [r, hook] of [[rCreated!, created], [rAll!, all]] as const) {
      const [request] = await r.waitForRequests(1);
      expect(request!.headers['webhook-id']).toBe(eventId);
      expect(verify(hook.secret, request!).data).toEqual({ pageId: 'fan' });
    }
    await sleep(300);
    for (const r of [rAsset!, rOtherSite!, rInactive!, rUpdated!]) expect(r.requests).toHaveLength(0);
    for (const r of [rCreated!, rAll!]) expect(r.requests).toHaveLength(1);
    // Both attempts settled (written right after the answers) and logged, for those two only.
    await eventually(async () => (await t.app.database.collections.messages.countDocuments({ eventId })) === 0, { what: 'queue emptied' });
    const logged = await t.app.database.collections.deliveries.find({ eventId }).toArray();
    expect(logged.map((d) => d.webhookId).sort()).toEqual([created.id, all.id].sort());

    // Another type reaches the others.
    const second = await publish('page.updated', {});
    expect(second.body.data.webhooks).toBe(2);
    await rUpdated!.waitForRequests(1);
    await rAll!.waitForRequests(2);
    expect(asset.id).toBeTruthy();
  });

  it('answers 202 with webhooks 0 when nobody subscribed', async () => {
    const res = await publish('asset.deleted', { assetId: 'a1' });
    expect(res.body.data).toEqual({ id: expect.stringMatching(/^evt_/), type: 'asset.deleted', createdAt: expect.any(String), webhooks: 0 });
    expect(res.body.meta.requestId).toBeTruthy();
  });
});

describe('client-chosen secrets', () => {
  it('a secret given at creation (GraphQL) signs the deliveries', async () => {
    const r = await receiver();
    const secret = `whsec_${Buffer.from('a-secret-the-client-chose-1234567').toString('base64')}`;
    secrets.push(secret);
    const created = await t.graphql(
      'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id secret } } }',
      { input: { siteId: SITE, url: r.url(), events: ['page.deleted'], secret } },
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data.createWebhook.webhook.secret).toBe(secret);
    const res = await publish('page.deleted', { pageId: 'gone' });
    const [request] = await r.waitForRequests(1);
    expect(verify(secret, request!)).toMatchObject({ id: res.body.data.id, type: 'page.deleted' });
  });
});

describe('validation and access', () => {
  it.each([
    ['an unknown type', { type: 'page.exploded', data: {} }, 'type'],
    ['the test type', { type: 'webhook.test', data: {} }, 'type'],
    ['a missing type', { data: {} }, 'type'],
    ['array data', { type: 'page.created', data: [1] }, 'data'],
    ['string data', { type: 'page.created', data: 'x' }, 'data'],
    ['null data', { type: 'page.created', data: null }, 'data'],
    ['missing data', { type: 'page.created' }, 'data'],
    ['data over 256 KiB', { type: 'page.created', data: { blob: 'x'.repeat(256 * 1024) } }, 'data'],
    ['an unknown field', { type: 'page.created', data: {}, extra: 1 }, 'extra'],
  ])('rejects %s with 400 VALIDATION_ERROR', async (_what, body, field) => {
    const res = await publishRaw(body);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.details.fields).toHaveProperty(field);
    expect(await eventsOfSite(SITE)).toBe(0);
  });

  it('accepts data of exactly 256 KiB serialized', async () => {
    const filler = 256 * 1024 - JSON.stringify({ blob: '' }).length;
    const res = await publishRaw({ type: 'page.created', data: { blob: 'x'.repeat(filler) } });
    expect(res.status, res.text).toBe(202);
  });

  it('rejects a body that is not an object, and an over-long idempotency key', async () => {
    expect((await publishRaw([1, 2])).status).toBe(400);
    const long = await publishRaw({ type: 'page.created', data: {} }, { idempotencyKey: 'k'.repeat(256) });
    expect(long.status).toBe(400);
    expect(long.body.error.code).toBe('VALIDATION_ERROR');
    expect(await eventsOfSite(SITE)).toBe(0);
  });

  it('answers 401 without a valid key and 403 for a key of another site', async () => {
    const body = { type: 'page.created', data: {} };
    const none = await publishRaw(body, { key: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const bad = await publishRaw(body, { key: 'ock_not-a-real-key' });
    expect(bad.status).toBe(401);
    const other = await t.createKey([`${SITE}-other`]);
    const forbidden = await publishRaw(body, { key: other });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    expect(await eventsOfSite(SITE)).toBe(0);
    const own = await t.createKey([SITE]);
    expect((await publishRaw(body, { key: own })).status).toBe(202);
  });

  it('maps the same rules to GraphQL error codes', async () => {
    const mutation = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
    const bad = await t.graphql(mutation, { input: { siteId: SITE, type: 'nope', data: {} } });
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
    const arr = await t.graphql(mutation, { input: { siteId: SITE, type: 'page.created', data: [1] } });
    expect(arr.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
    const other = await t.createKey([`${SITE}-other`]);
    const forbidden = await t.graphql(mutation, { input: { siteId: SITE, type: 'page.created', data: {} } }, other);
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await eventsOfSite(SITE)).toBe(0);
  });
});

describe('idempotent publish', () => {
  it('REST: the same Idempotency-Key answers the first result and delivers once', async () => {
    const r = await receiver();
    await createWebhook(r.url());
    const first = await publish('page.created', { n: 1 }, { idempotencyKey: 'key-1' });
    const second = await publish('page.created', { n: 1 }, { idempotencyKey: 'key-1' });
    expect(second.status).toBe(202);
    expect(second.body.data).toEqual(first.body.data);
    expect(second.body.data.webhooks).toBe(1);
    await r.waitForRequests(1);
    await sleep(300);
    expect(r.requests).toHaveLength(1);
    expect(await eventsOfSite(SITE)).toBe(1);

    // A different key is a different event.
    const third = await publish('page.created', { n: 1 }, { idempotencyKey: 'key-2' });
    expect(third.body.data.id).not.toBe(first.body.data.id);
    await r.waitForRequests(2);
  });

  it('REST: the same key with a different request is refused with 409 and delivers nothing more', async () => {
    const r = await receiver();
    await createWebhook(r.url());
    const first = await publish('page.created', { n: 1 }, { idempotencyKey: 'key-reused' });
    const otherData = await publishRaw({ type: 'page.created', data: { n: 2 } }, { idempotencyKey: 'key-reused' });
    expect(otherData.status).toBe(409);
    expect(otherData.body.error.code).toBe('CONFLICT');
    expect(otherData.body.error.details.eventId).toBe(first.body.data.id);
    const otherType = await publishRaw({ type: 'page.updated', data: { n: 1 } }, { idempotencyKey: 'key-reused' });
    expect(otherType.status).toBe(409);
    await r.waitForRequests(1);
    await sleep(300);
    expect(r.requests).toHaveLength(1);
    expect(await eventsOfSite(SITE)).toBe(1);
  });

  it('REST: concurrent publishes with one key make one event and one delivery', async () => {
    const r = await receiver();
    await createWebhook(r.url());
    const answers = await Promise.all(Array.from({ length: 6 }, () => publishRaw({ type: 'page.created', data: {} }, { idempotencyKey: 'race' })));
    for (const a of answers) expect(a.status, a.text).toBe(202);
    expect(new Set(answers.map((a) => a.body.data.id)).size).toBe(1);
    await r.waitForRequests(1);
    await sleep(300);
    expect(r.requests).toHaveLength(1);
    expect(await eventsOfSite(SITE)).toBe(1);
  });

  it('keys are per site: the same key on two sites makes two events', async () => {
    const [a, b] = await Promise.all([receiver(), receiver()]);
    const siteB = `${SITE}-b`;
    await createWebhook(a!.url());
    await createWebhook(b!.url(), ['*'], { site: siteB });
    const onA = await publish('page.created', {}, { idempotencyKey: 'shared' });
    const onB = await publish('page.created', {}, { site: siteB, idempotencyKey: 'shared' });
    expect(onA.body.data.id).not.toBe(onB.body.data.id);
    expect((await a!.waitForRequests(1))[0]!.headers['webhook-id']).toBe(onA.body.data.id);
    expect((await b!.waitForRequests(1))[0]!.headers['webhook-id']).toBe(onB.body.data.id);
  });

  it('GraphQL: idempotencyKey answers duplicate: true with the same event, shared with REST', async () => {
    const r = await receiver();
    await createWebhook(r.url());
    const mutation = `mutation($input: PublishEventInput!) {
      publishEvent(input: $input) { event { id type siteId data } webhooks duplicate }
    }`;
    const input = { siteId: SITE, type: 'page.published', data: { slug: '/x' }, idempotencyKey: 'gql-1' };
    const first = await t.graphql(mutation, { input });
    expect(first.body.errors).toBeUndefined();
    const second = await t.graphql(mutation, { input });
    expect(second.body.errors).toBeUndefined();
    const p1 = first.body.data.publishEvent;
    const p2 = second.body.data.publishEvent;
    expect(p1).toMatchObject({ duplicate: false, webhooks: 1, event: { type: 'page.published', siteId: SITE, data: { slug: '/x' } } });
    expect(p2).toEqual({ ...p1, duplicate: true });
    const viaRest = await publish('page.published', { slug: '/x' }, { idempotencyKey: 'gql-1' });
    expect(viaRest.body.data.id).toBe(p1.event.id);
    await r.waitForRequests(1);
    await sleep(300);
    expect(r.requests).toHaveLength(1);
  });
});

describe('test events', () => {
  it('REST: delivers webhook.test to that webhook alone', async () => {
    const [target, bystander] = await Promise.all([receiver(), receiver()]);
    const hook = await createWebhook(target.url(), ['page.created']);
    await createWebhook(bystander.url(), ['*']);
    const res = await t.request('POST', `/v1/sites/${SITE}/webhooks/${hook.id}/test`);
    expect(res.status, res.text).toBe(202);
    expect(res.body.data).toMatchObject({ type: 'webhook.test', webhooks: 1 });
    const [request] = await target.waitForRequests(1);
    expect(request!.headers['webhook-id']).toBe(res.body.data.id);
    const payload = verify(hook.secret, request!);
    expect(payload).toMatchObject({ id: res.body.data.id, type: 'webhook.test', siteId: SITE, data: { webhookId: hook.id } });
    const log = await eventually(async () => {
      const list = await t.request('GET', `/v1/sites/${SITE}/webhooks/${hook.id}/deliveries`);
      return list.body.data.length === 1 ? list.body.data : undefined;
    });
    expect(log[0]).toMatchObject({ event: 'webhook.test', eventId: res.body.data.id, success: true, attempt: 1 });
    await sleep(300);
    expect(bystander.requests).toHaveLength(0);

    const unknown = await t.request('POST', `/v1/sites/${SITE}/webhooks/wh_00000000000000000000000000/test`);
    expect(unknown.status).toBe(404);
    const otherSite = await t.request('POST', `/v1/sites/${SITE}-other/webhooks/${hook.id}/test`);
    expect(otherSite.status).toBe(404);
  });

  it('refuses a test event to a disabled webhook with 409, in REST and GraphQL', async () => {
    const r = await receiver();
    const hook = await createWebhook(r.url(), ['*'], { active: false });
    const rest = await t.request('POST', `/v1/sites/${SITE}/webhooks/${hook.id}/test`);
    expect(rest.status).toBe(409);
    expect(rest.body.error.code).toBe('CONFLICT');
    const gql = await t.graphql('mutation ($id: ID!) { sendTestEvent(id: $id) { event { id } } }', { id: hook.id });
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    await sleep(300);
    expect(r.requests).toHaveLength(0);
  });

  it('GraphQL: sendTestEvent(id) delivers to that webhook alone', async () => {
    const [target, bystander] = await Promise.all([receiver(), receiver()]);
    const hook = await createWebhook(target.url(), ['asset.created']);
    await createWebhook(bystander.url(), ['*']);
    const res = await t.graphql('mutation($id: ID!) { sendTestEvent(id: $id) { event { id type siteId } } }', { id: hook.id });
    expect(res.body.errors).toBeUndefined();
    const event = res.body.data.sendTestEvent.event;
    expect(event).toMatchObject({ type: 'webhook.test', siteId: SITE });
    const [request] = await target.waitForRequests(1);
    expect(verify(hook.secret, request!)).toMatchObject({ id: event.id, type: 'webhook.test' });
    await sleep(300);
    expect(bystander.requests).toHaveLength(0);

    const missing = await t.graphql('mutation { sendTestEvent(id: "wh_00000000000000000000000000") { event { id } } }');
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('logs', () => {
  it('never contain a webhook secret (LOG_LEVEL=debug)', () => {
    const text = t.logs.join('\n');
    expect(t.logs.some((l) => l.includes('"level":"debug"'))).toBe(true);
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(text.includes(secret)).toBe(false);
      expect(text.includes(secret.slice('whsec_'.length))).toBe(false);
    }
  });
});
