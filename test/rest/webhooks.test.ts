// The documented webhook paths of /v1: create, list, get, update, delete, their validation and
// site isolation. Every answer is checked against the OpenAPI document by contractRequest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { checkRequestBody, contractRequest, type ContractRequest } from '../support/openapi.ts';

let t: TestApp;
let api: ContractRequest;

beforeAll(async () => {
  t = await startTestApp();
  api = contractRequest(t);
});
afterAll(async () => {
  await t?.stop();
});

const LIST = '/v1/sites/{siteId}/webhooks';
const ITEM = '/v1/sites/{siteId}/webhooks/{webhookId}';

let siteCounter = 0;
/** A fresh site per test, so tests never see each other's webhooks. */
const newSite = () => `site-${Date.now().toString(36)}-${++siteCounter}`;

async function create(siteId: string, body: Record<string, unknown> = {}, key?: string) {
  const answer = await api('POST', `/v1/sites/${siteId}/webhooks`, {
    key,
    body: { url: 'https://receiver.example.com/hooks', events: ['page.created'], ...body },
  });
  expect(answer.status, answer.text).toBe(201);
  return answer.body.data;
}

const snapshot = () => t.app.database.collections.webhooks.find({}).sort({ _id: 1 }).toArray();

describe('POST /v1/sites/{siteId}/webhooks', () => {
  it('creates a webhook: 201, documented fields, generated whsec_ secret of 32 bytes, createdBy = key name', async () => {
    const site = newSite();
    const key = await t.createKey([site], 'ci-robot');
    const before = Date.now();
    const answer = await api('POST', `/v1/sites/${site}/webhooks`, {
      key,
      body: { url: 'https://receiver.example.com/hooks?x=1', events: ['page.created', 'asset.deleted'] },
    });
    const after = Date.now();
    expect(answer.status).toBe(201);
    const w = answer.body.data;
    expect(w.id).toMatch(/^wh_[0-9A-Z]{26}$/);
    expect(w.url).toBe('https://receiver.example.com/hooks?x=1');
    expect(w.events).toEqual(['page.created', 'asset.deleted']);
    expect(w.active).toBe(true);
    expect(w.createdBy).toBe('ci-robot');
    expect(w.failCount).toBe(0);
    expect(w.lastDeliveredAt).toBeNull();
    expect(w.siteId).toBe(site);
    expect(w.disabledReason).toBeNull();
    expect(Date.parse(w.createdAt)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(w.createdAt)).toBeLessThanOrEqual(after + 5);
    expect(w.updatedAt).toBe(w.createdAt);

    // Standard Webhooks secret: whsec_ + canonical base64 of 32 random bytes.
    expect(w.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const raw = Buffer.from(w.secret.slice('whsec_'.length), 'base64');
    expect(raw.length).toBe(32);
    expect('whsec_' + raw.toString('base64')).toBe(w.secret);

    // Stored as answered.
    const stored = await t.app.database.collections.webhooks.findOne({ _id: w.id });
    expect(stored).toMatchObject({ siteId: site, url: w.url, secret: w.secret, createdBy: 'ci-robot', active: true });
  });

  it('generates a different secret for every webhook', async () => {
    const site = newSite();
    const secrets = new Set<string>();
    for (let i = 0; i < 5; i++) secrets.add((await create(site)).secret);
    expect(secrets.size).toBe(5);
  });

  it('keeps a valid supplied secret and an explicit active: false', async () => {
    const secret = 'whsec_' + Buffer.alloc(24, 7).toString('base64');
    const w = await create(newSite(), { secret, active: false });
    expect(w.secret).toBe(secret);
    expect(w.active).toBe(false);
  });

  it('removes duplicate event types, keeping their first order', async () => {
    const w = await create(newSite(), { events: ['asset.updated', 'page.created', 'asset.updated', 'page.created'] });
    expect(w.events).toEqual(['asset.updated', 'page.created']);
  });

  it('accepts "*" for all events', async () => {
    const w = await create(newSite(), { events: ['*'] });
    expect(w.events).toEqual(['*']);
  });

  it.each([
    ['a port, query and fragment', 'https://receiver.example.com:8443/in?token=abc#x'],
    ['an upper-case scheme', 'HTTPS://receiver.example.com/in'],
    ['an IPv6 host', 'http://[2001:db8::1]:8080/in'],
    ['an internationalised host', 'https://bücher.example/in'],
    ['a percent-encoded space', 'https://receiver.example.com/a%20b'],
  ])('accepts a URL with %s, kept exactly as given', async (_name, url) => {
    expect(checkRequestBody('post', LIST, { url, events: ['*'] }).valid).toBe(true);
    const w = await create(newSite(), { url });
    expect(w.url).toBe(url);
  });

  it('accepts a URL of exactly 2048 characters and plain http', async () => {
    const base = 'http://receiver.example.com/';
    const url = base + 'a'.repeat(2048 - base.length);
    expect(url).toHaveLength(2048);
    expect(checkRequestBody('post', LIST, { url, events: ['page.created'] }).valid).toBe(true);
    const w = await create(newSite(), { url });
    expect(w.url).toBe(url);
  });
});

// Every rule of issue 2 point 5: each bad body answers 400 VALIDATION_ERROR naming exactly the bad
// fields, the documented request schema rejects it too, and nothing is stored.
const VALID = { url: 'https://receiver.example.com/hooks', events: ['page.created'] };
const createCases: Array<[string, unknown, string[]]> = [
  ['an ftp URL', { ...VALID, url: 'ftp://receiver.example.com/hooks' }, ['url']],
  ['a javascript: URL', { ...VALID, url: 'javascript:alert(1)' }, ['url']],
  ['a relative URL', { ...VALID, url: '/hooks' }, ['url']],
  ['a URL without a scheme', { ...VALID, url: 'receiver.example.com/hooks' }, ['url']],
  ['a URL over 2048 characters', { ...VALID, url: 'https://receiver.example.com/' + 'a'.repeat(2021) }, ['url']],
  ['a URL with user:password', { ...VALID, url: 'https://user:pass@receiver.example.com/hooks' }, ['url']],
  ['a URL with a user name', { ...VALID, url: 'https://user@receiver.example.com/hooks' }, ['url']],
  ['an empty URL', { ...VALID, url: '' }, ['url']],
  ['a URL without "//"', { ...VALID, url: 'https:receiver.example.com/hooks' }, ['url']],
  ['a URL with one slash', { ...VALID, url: 'https:/receiver.example.com/hooks' }, ['url']],
  ['a URL with a leading space', { ...VALID, url: ' https://receiver.example.com/hooks' }, ['url']],
  ['a URL with a trailing newline', { ...VALID, url: 'https://receiver.example.com/hooks\n' }, ['url']],
  ['a URL with a tab inside', { ...VALID, url: 'https://receiver.example.com/\thooks' }, ['url']],
  ['a URL with a space in the path', { ...VALID, url: 'https://receiver.example.com/a b' }, ['url']],
  ['a URL with an empty user part', { ...VALID, url: 'https://@receiver.example.com/hooks' }, ['url']],
  ['a URL that is not a string', { ...VALID, url: 42 }, ['url']],
  ['a missing URL', { events: ['page.created'] }, ['url']],
  ['an empty events list', { ...VALID, events: [] }, ['events']],
  ['an unknown event type', { ...VALID, events: ['page.created', 'page.exploded'] }, ['events']],
  ['events that are not a list', { ...VALID, events: 'page.created' }, ['events']],
  ['events with a non-string', { ...VALID, events: ['page.created', 7] }, ['events']],
  ['missing events', { url: VALID.url }, ['events']],
  ['an unknown body field', { ...VALID, color: 'red' }, ['color']],
  ['a "__proto__" body field', JSON.parse(`{"__proto__": {"active": false}, "url": "${VALID.url}", "events": ["page.created"]}`), ['__proto__']],
  ['a "constructor" body field', { ...VALID, constructor: { prototype: {} } }, ['constructor']],
  ['a non-boolean active', { ...VALID, active: 'yes' }, ['active']],
  ['a numeric active', { ...VALID, active: 1 }, ['active']],
  ['a secret without whsec_', { ...VALID, secret: 'not-a-secret' }, ['secret']],
  ['a whsec_ secret that is too short', { ...VALID, secret: 'whsec_' + Buffer.alloc(8).toString('base64') }, ['secret']],
  ['a whsec_ secret that is not base64', { ...VALID, secret: 'whsec_' + '!'.repeat(44) }, ['secret']],
  ['an empty object', {}, ['url', 'events']],
  [
    'several bad fields at once',
    { url: 'ftp://x.example.com', events: [], active: 'no', secret: 'nope', extra: true },
    ['url', 'events', 'active', 'secret', 'extra'],
  ],
  ['an array body', [VALID], ['body']],
  ['a string body', 'hello', ['body']],
  ['a null body', null, ['body']],
];

describe('POST validation', () => {
  it.each(createCases)('rejects %s', async (_name, body, fields) => {
    const site = newSite();
    const answer = await api('POST', `/v1/sites/${site}/webhooks`, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual([...fields].sort());
    for (const field of fields) expect(answer.body.error.details.fields[field]).toEqual(expect.any(String));
    expect(checkRequestBody('post', LIST, body).valid).toBe(false);
    expect(await t.app.database.collections.webhooks.countDocuments({ siteId: site })).toBe(0);
  });

  it('rejects an empty body (no content) as a missing object', async () => {
    const answer = await api('POST', `/v1/sites/${newSite()}/webhooks`, { rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields)).toEqual(['body']);
  });

  it('names each bad field with a reason, never echoing a supplied secret', async () => {
    const secret = 'whsec_' + Buffer.alloc(32, 9).toString('base64');
    const answer = await api('POST', `/v1/sites/${newSite()}/webhooks`, { body: { ...VALID, url: 'ftp://x.example.com', secret } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toEqual({ url: 'must use http or https' });
    expect(answer.text).not.toContain(secret);
  });

  it('rejects an invalid site id with VALIDATION_ERROR naming siteId', async () => {
    const answer = await api('POST', '/v1/sites/-not_a.site!/webhooks', { body: VALID });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { fields: { siteId: expect.any(String) } } });
  });
});

describe('GET /v1/sites/{siteId}/webhooks', () => {
  it("lists all of the site's webhooks, oldest first, without pagination", async () => {
    const site = newSite();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await create(site, { url: `https://receiver.example.com/${i}` })).id);
    await create(newSite()); // another site's webhook must not show up
    const answer = await api('GET', `/v1/sites/${site}/webhooks`);
    expect(answer.status).toBe(200);
    expect(answer.body.data.map((w: { id: string }) => w.id)).toEqual(ids);
    expect(answer.body.data[7].url).toBe('https://receiver.example.com/7');
    expect(answer.body).not.toHaveProperty('pagination');
  });

  it('answers an empty list for a site without webhooks', async () => {
    const answer = await api('GET', `/v1/sites/${newSite()}/webhooks`);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual([]);
  });

  it('returns the same representation as create and get', async () => {
    const site = newSite();
    const created = await create(site, { events: ['*'] });
    const list = await api('GET', `/v1/sites/${site}/webhooks`);
    const one = await api('GET', `/v1/sites/${site}/webhooks/${created.id}`);
    expect(list.body.data).toEqual([created]);
    expect(one.body.data).toEqual(created);
  });
});

describe('GET /v1/sites/{siteId}/webhooks/{webhookId}', () => {
  it('answers the webhook', async () => {
    const site = newSite();
    const created = await create(site, { events: ['page.deleted'] });
    const answer = await api('GET', `/v1/sites/${site}/webhooks/${created.id}`);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual(created);
  });

  it('answers 404 NOT_FOUND for an unknown id and for a malformed one', async () => {
    const site = newSite();
    for (const id of ['wh_01ARZ3NDEKTSV4RRFFQ69G5FAV', 'nope', encodeURIComponent('wh_../../x')]) {
      const answer = await api('GET', `/v1/sites/${site}/webhooks/${id}`);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
  });

  it("answers 404 for another site's webhook, even with a key for all sites", async () => {
    const siteA = newSite();
    const siteB = newSite();
    const a = await create(siteA);
    const answer = await api('GET', `/v1/sites/${siteB}/webhooks/${a.id}`);
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('NOT_FOUND');
    expect(answer.text).not.toContain(a.secret);
  });
});

describe('PATCH /v1/sites/{siteId}/webhooks/{webhookId}', () => {
  it('changes only the given fields and updatedAt', async () => {
    const site = newSite();
    const created = await create(site, { events: ['page.created'] });
    await new Promise((r) => setTimeout(r, 5));
    const secret = 'whsec_' + Buffer.alloc(32, 1).toString('base64');
    const answer = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, {
      body: { url: 'http://other.example.com/in', events: ['asset.created', 'asset.created', 'page.published'], secret },
    });
    expect(answer.status).toBe(200);
    const w = answer.body.data;
    expect(w).toMatchObject({
      id: created.id,
      url: 'http://other.example.com/in',
      events: ['asset.created', 'page.published'],
      secret,
      active: true,
      createdBy: created.createdBy,
      createdAt: created.createdAt,
      failCount: 0,
      lastDeliveredAt: null,
    });
    expect(Date.parse(w.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
    const again = await api('GET', `/v1/sites/${site}/webhooks/${created.id}`);
    expect(again.body.data).toEqual(w);
  });

  it('accepts an empty object (nothing but updatedAt changes)', async () => {
    const site = newSite();
    const created = await create(site);
    const answer = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, { body: {} });
    expect(answer.status).toBe(200);
    const { updatedAt: _a, ...rest } = answer.body.data;
    const { updatedAt: _b, ...before } = created;
    expect(rest).toEqual(before);
  });

  it('accepts a +json content type', async () => {
    const site = newSite();
    const created = await create(site);
    const answer = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, {
      rawBody: JSON.stringify({ url: 'https://merge.example.com/' }),
      headers: { 'content-type': 'application/merge-patch+json; charset=utf-8' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.data.url).toBe('https://merge.example.com/');
  });

  it('disabling sets active false with a reason; re-activating resets failCount and the reason', async () => {
    const site = newSite();
    const created = await create(site);
    const disabled = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, { body: { active: false } });
    expect(disabled.status).toBe(200);
    expect(disabled.body.data.active).toBe(false);
    expect(disabled.body.data.disabledReason).toEqual(expect.any(String));

    // Failures recorded by the delivery engine while it was failing (simulated in the store).
    await t.app.database.collections.webhooks.updateOne({ _id: created.id }, { $set: { failCount: 17 } });
    expect((await api('GET', `/v1/sites/${site}/webhooks/${created.id}`)).body.data.failCount).toBe(17);

    const reactivated = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, { body: { active: true } });
    expect(reactivated.status).toBe(200);
    expect(reactivated.body.data).toMatchObject({ active: true, failCount: 0, disabledReason: null });
    expect((await t.app.database.collections.webhooks.findOne({ _id: created.id }))?.failCount).toBe(0);
  });

  it('re-activates a webhook disabled by the engine (failCount and reason from the store)', async () => {
    const site = newSite();
    const created = await create(site);
    await t.app.database.collections.webhooks.updateOne(
      { _id: created.id },
      { $set: { active: false, failCount: 50, disabledReason: 'failed 50 times in a row' } },
    );
    const seen = await api('GET', `/v1/sites/${site}/webhooks/${created.id}`);
    expect(seen.body.data).toMatchObject({ active: false, failCount: 50, disabledReason: 'failed 50 times in a row' });
    const answer = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, { body: { active: true, url: 'https://fixed.example.com/' } });
    expect(answer.body.data).toMatchObject({ active: true, failCount: 0, disabledReason: null, url: 'https://fixed.example.com/' });
  });

  it('keeps failCount when other fields change', async () => {
    const site = newSite();
    const created = await create(site);
    await t.app.database.collections.webhooks.updateOne({ _id: created.id }, { $set: { failCount: 3 } });
    const answer = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, { body: { events: ['*'] } });
    expect(answer.body.data).toMatchObject({ failCount: 3, events: ['*'] });
  });

  const patchCases: Array<[string, unknown, string[]]> = [
    ['an ftp URL', { url: 'ftp://receiver.example.com/' }, ['url']],
    ['a relative URL', { url: 'hooks/in' }, ['url']],
    ['a URL over 2048 characters', { url: 'https://receiver.example.com/' + 'b'.repeat(2030) }, ['url']],
    ['a URL with user:password', { url: 'http://a:b@receiver.example.com/' }, ['url']],
    ['an empty events list', { events: [] }, ['events']],
    ['an unknown event type', { events: ['webhook.test'] }, ['events']],
    ['an unknown field', { createdBy: 'someone else' }, ['createdBy']],
    ['a read-only field', { failCount: 0 }, ['failCount']],
    ['a non-boolean active', { active: 'false' }, ['active']],
    ['a bad secret', { secret: 'whsec_' }, ['secret']],
    ['a null secret', { secret: null }, ['secret']],
    ['several at once', { url: 'nope', active: null, id: 'wh_x' }, ['url', 'active', 'id']],
    ['an array', [], ['body']],
  ];

  it.each(patchCases)('rejects %s with 400 naming the fields, changing nothing', async (_name, body, fields) => {
    const site = newSite();
    const created = await create(site);
    const before = await snapshot();
    const answer = await api('PATCH', `/v1/sites/${site}/webhooks/${created.id}`, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual([...fields].sort());
    expect(checkRequestBody('patch', ITEM, body).valid).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  it('answers 404 for an unknown webhook and for a webhook of another site', async () => {
    const siteA = newSite();
    const a = await create(siteA);
    const before = await snapshot();
    for (const path of [`/v1/sites/${siteA}/webhooks/wh_01ARZ3NDEKTSV4RRFFQ69G5FAV`, `/v1/sites/${newSite()}/webhooks/${a.id}`]) {
      const answer = await api('PATCH', path, { body: { url: 'https://attacker.example.com/' } });
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('NOT_FOUND');
    }
    // Also for a re-activation, which reads the webhook first.
    const reactivate = await api('PATCH', `/v1/sites/${newSite()}/webhooks/${a.id}`, { body: { active: true } });
    expect(reactivate.status).toBe(404);
    expect(await snapshot()).toEqual(before);
  });
});

describe('DELETE /v1/sites/{siteId}/webhooks/{webhookId}', () => {
  it('deletes: { id, deleted: true }, then 404 everywhere', async () => {
    const site = newSite();
    const keep = await create(site);
    const gone = await create(site);
    const answer = await api('DELETE', `/v1/sites/${site}/webhooks/${gone.id}`);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ id: gone.id, deleted: true });
    expect((await api('GET', `/v1/sites/${site}/webhooks/${gone.id}`)).status).toBe(404);
    expect((await api('DELETE', `/v1/sites/${site}/webhooks/${gone.id}`)).status).toBe(404);
    expect((await api('PATCH', `/v1/sites/${site}/webhooks/${gone.id}`, { body: { active: false } })).status).toBe(404);
    const list = await api('GET', `/v1/sites/${site}/webhooks`);
    expect(list.body.data.map((w: { id: string }) => w.id)).toEqual([keep.id]);
    expect(await t.app.database.collections.webhooks.findOne({ _id: gone.id })).toBeNull();
  });

  it("answers 404 for another site's webhook and keeps it", async () => {
    const siteA = newSite();
    const a = await create(siteA);
    const answer = await api('DELETE', `/v1/sites/${newSite()}/webhooks/${a.id}`);
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('NOT_FOUND');
    expect((await api('GET', `/v1/sites/${siteA}/webhooks/${a.id}`)).status).toBe(200);
  });
});

describe('site isolation', () => {
  it('a key for site A never sees or changes site B, and the other way round', async () => {
    const siteA = newSite();
    const siteB = newSite();
    const keyA = await t.createKey([siteA], 'key A');
    const keyB = await t.createKey([siteB], 'key B');
    const a = await create(siteA, {}, keyA);
    const b = await create(siteB, {}, keyB);
    expect(a.createdBy).toBe('key A');
    expect(b.createdBy).toBe('key B');
    const before = await snapshot();

    for (const [key, own, other, otherWebhook] of [
      [keyA, siteA, siteB, b],
      [keyB, siteB, siteA, a],
    ] as const) {
      // Its own site: only its own webhook.
      const list = await api('GET', `/v1/sites/${own}/webhooks`, { key });
      expect(list.status).toBe(200);
      expect(list.body.data.map((w: { id: string }) => w.id)).toEqual([own === siteA ? a.id : b.id]);

      // The other site by its path: 403 for every operation.
      const attempts: Array<[string, string, unknown]> = [
        ['GET', `/v1/sites/${other}/webhooks`, undefined],
        ['POST', `/v1/sites/${other}/webhooks`, VALID],
        ['GET', `/v1/sites/${other}/webhooks/${otherWebhook.id}`, undefined],
        ['PATCH', `/v1/sites/${other}/webhooks/${otherWebhook.id}`, { active: false }],
        ['DELETE', `/v1/sites/${other}/webhooks/${otherWebhook.id}`, undefined],
      ];
      for (const [method, path, body] of attempts) {
        const answer = await api(method, path, { key, body });
        expect(answer.status, `${method} ${path}`).toBe(403);
        expect(answer.body.error.code).toBe('FORBIDDEN');
        expect(answer.text).not.toContain(otherWebhook.secret);
      }

      // The other site's webhook through its own site's path: 404.
      for (const [method, body] of [['GET', undefined], ['PATCH', { url: 'https://attacker.example.com/' }], ['DELETE', undefined]] as const) {
        const answer = await api(method, `/v1/sites/${own}/webhooks/${otherWebhook.id}`, { key, body });
        expect(answer.status, `${method} own path`).toBe(404);
        expect(answer.body.error.code).toBe('NOT_FOUND');
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a key for several sites works on each of them and no other', async () => {
    const [s1, s2, s3] = [newSite(), newSite(), newSite()];
    const key = await t.createKey([s1, s2], 'two sites');
    await create(s1, {}, key);
    await create(s2, {}, key);
    expect((await api('GET', `/v1/sites/${s1}/webhooks`, { key })).body.data).toHaveLength(1);
    expect((await api('GET', `/v1/sites/${s2}/webhooks`, { key })).body.data).toHaveLength(1);
    expect((await api('GET', `/v1/sites/${s3}/webhooks`, { key })).status).toBe(403);
  });
});
