// Every error status of /v1 in its envelope: 401, 403, 404, 405, 413, 415, 400 for malformed JSON;
// rejected requests change nothing; no bad input yields a 500 or a stack trace.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type HttpAnswer, type TestApp } from '../support/app.ts';
import { checkContract, contractRequest, type ContractRequest } from '../support/openapi.ts';

let t: TestApp;
let api: ContractRequest;
let webhookId: string;
const SITE = 'errors-site';
const VALID = { url: 'https://receiver.example.com/hooks', events: ['page.created'] };
const MiB = 1024 * 1024;

beforeAll(async () => {
  t = await startTestApp();
  api = contractRequest(t);
  const created = await api('POST', `/v1/sites/${SITE}/webhooks`, { body: VALID });
  webhookId = created.body.data.id;
});
afterAll(async () => {
  await t?.stop();
});

const snapshot = async () => ({
  webhooks: await t.app.database.collections.webhooks.find({}).sort({ _id: 1 }).toArray(),
});

/** Every documented operation that needs a key, with a body where it takes one. */
const securedRequests = (): Array<[string, string, unknown]> => [
  ['GET', `/v1/sites/${SITE}/webhooks`, undefined],
  ['POST', `/v1/sites/${SITE}/webhooks`, VALID],
  ['GET', `/v1/sites/${SITE}/webhooks/${webhookId}`, undefined],
  ['PATCH', `/v1/sites/${SITE}/webhooks/${webhookId}`, { active: false }],
  ['DELETE', `/v1/sites/${SITE}/webhooks/${webhookId}`, undefined],
];

describe('401 UNAUTHORIZED', () => {
  it('answers 401 without a key, with an unknown key and with an empty key, on every operation', async () => {
    const before = await snapshot();
    for (const key of [null, 'ock_unknown-key-value', '']) {
      for (const [method, path, body] of securedRequests()) {
        const answer = await api(method, path, { key, body });
        expect(answer.status, `${method} ${path} key=${key}`).toBe(401);
        expect(answer.body.error.code).toBe('UNAUTHORIZED');
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('answers 401 once a key is revoked', async () => {
    const { key, apiKey } = await t.app.services.apiKeys.create({ name: 'soon revoked', sites: null });
    expect((await api('GET', `/v1/sites/${SITE}/webhooks`, { key })).status).toBe(200);
    await t.app.services.apiKeys.revoke(apiKey.id);
    const before = await snapshot();
    for (const [method, path, body] of securedRequests()) {
      const answer = await api(method, path, { key, body });
      expect(answer.status, `${method} ${path}`).toBe(401);
      expect(answer.body.error.code).toBe('UNAUTHORIZED');
      expect(answer.body.error.message).toMatch(/revoked/i);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('checks the key before anything else (unknown webhook, bad body, wrong site)', async () => {
    expect((await api('GET', `/v1/sites/${SITE}/webhooks/wh_01ARZ3NDEKTSV4RRFFQ69G5FAV`, { key: null })).status).toBe(401);
    expect((await api('POST', `/v1/sites/${SITE}/webhooks`, { key: null, body: { url: 'nope' } })).status).toBe(401);
    expect(
      (await api('POST', `/v1/sites/${SITE}/webhooks`, { key: null, rawBody: '{oops', headers: { 'content-type': 'application/json' } })).status,
    ).toBe(401);
  });
});

describe('403 FORBIDDEN', () => {
  it('answers 403 for a key used on a site it may not access, on every operation, changing nothing', async () => {
    const key = await t.createKey(['some-other-site'], 'other site key');
    const before = await snapshot();
    for (const [method, path, body] of securedRequests()) {
      const answer = await api(method, path, { key, body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error.code).toBe('FORBIDDEN');
      expect(answer.body.error.details).toEqual({ siteId: SITE });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('404 NOT_FOUND', () => {
  it.each([
    ['/v1'],
    ['/v1/'],
    ['/v1/nothing'],
    ['/v1/sites'],
    ['/v1/sites/a'],
    ['/v1/sites/a/widgets'],
    ['/v1/sites/a/webhooks/wh_1/replay/extra'],
    ['/v1/sites/%E0%A4%A/webhooks'],
    ['/v2/sites/a/webhooks'],
    ['/nothing-here'],
  ])('answers 404 in the error envelope for the unknown path %s', async (path) => {
    const answer = await api('GET', path, { undocumented: 'path' });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('NOT_FOUND');
  });
});

describe('405 METHOD_NOT_ALLOWED', () => {
  it.each([
    ['PUT', () => `/v1/sites/${SITE}/webhooks/${webhookId}`, 'GET, PATCH, DELETE'],
    ['POST', () => `/v1/sites/${SITE}/webhooks/${webhookId}`, 'GET, PATCH, DELETE'],
    ['DELETE', () => `/v1/sites/${SITE}/webhooks`, 'GET, POST'],
    ['PATCH', () => `/v1/sites/${SITE}/webhooks`, 'GET, POST'],
    ['PUT', () => `/v1/sites/${SITE}/webhooks`, 'GET, POST'],
    ['POST', () => '/v1/openapi.json', 'GET'],
  ])('answers 405 to %s %s with an Allow header', async (method, path, allow) => {
    const before = await snapshot();
    const answer = await api(method, path(), { body: VALID, undocumented: 'method' });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe(allow);
    expect(answer.body.error).toMatchObject({ code: 'METHOD_NOT_ALLOWED', details: { allow } });
    expect(await snapshot()).toEqual(before);
  });

  it('answers 405 before authenticating (the method is wrong whoever asks)', async () => {
    const answer = await api('PUT', `/v1/sites/${SITE}/webhooks/${webhookId}`, { key: null, undocumented: 'method' });
    expect(answer.status).toBe(405);
  });
});

describe('413 PAYLOAD_TOO_LARGE', () => {
  const padded = (size: number) => {
    const head = JSON.stringify({ ...VALID, pad: '' });
    return head.slice(0, -2) + 'x'.repeat(size - head.length) + '"}';
  };

  it('answers 413 for a body over 1 MiB and stores nothing', async () => {
    const body = padded(MiB + 1);
    expect(Buffer.byteLength(body)).toBe(MiB + 1);
    const before = await snapshot();
    const answer = await api('POST', `/v1/sites/${SITE}/webhooks`, { rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { limit: MiB } });
    const patch = await api('PATCH', `/v1/sites/${SITE}/webhooks/${webhookId}`, { rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(patch.status).toBe(413);
    expect(await snapshot()).toEqual(before);
  });

  it('reads a body of exactly 1 MiB (then rejects it for its unknown field, not its size)', async () => {
    const body = padded(MiB);
    expect(Buffer.byteLength(body)).toBe(MiB);
    const answer = await api('POST', `/v1/sites/${SITE}/webhooks`, { rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toEqual({ pad: 'unknown field' });
  });

  it('answers 413 for a chunked body (no Content-Length) that grows past 1 MiB', async () => {
    const path = `/v1/sites/${SITE}/webhooks`;
    const answer = await new Promise<HttpAnswer>((resolve, reject) => {
      const url = new URL(t.url + path);
      const req = httpRequest(
        { host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': t.adminKey } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            resolve({ status: res.statusCode ?? 0, headers, text, body: JSON.parse(text) });
          });
        },
      );
      req.on('error', reject);
      const chunk = 'x'.repeat(64 * 1024);
      req.write('{"url":"https://receiver.example.com/","events":["page.created"],"pad":"');
      let i = 0;
      const pump = () => {
        while (i < 20) {
          i++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end('"}');
      };
      pump();
    });
    checkContract('POST', path, answer);
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('415 UNSUPPORTED_MEDIA_TYPE', () => {
  it.each([
    ['text/plain', 'hello'],
    ['text/plain', JSON.stringify(VALID)],
    ['application/x-www-form-urlencoded', 'url=https%3A%2F%2Fx.example.com&events=page.created'],
    ['multipart/form-data; boundary=x', '--x--'],
  ])('answers 415 for a %s body and stores nothing', async (type, body) => {
    const before = await snapshot();
    for (const [method, path] of [
      ['POST', `/v1/sites/${SITE}/webhooks`],
      ['PATCH', `/v1/sites/${SITE}/webhooks/${webhookId}`],
    ] as const) {
      const answer = await api(method, path, { rawBody: body, headers: { 'content-type': type } });
      expect(answer.status, `${method} ${path}`).toBe(415);
      expect(answer.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('answers 415 for a body without a Content-Type', async () => {
    const answer = await api('POST', `/v1/sites/${SITE}/webhooks`, { rawBody: Buffer.from(JSON.stringify(VALID)) });
    expect(answer.status).toBe(415);
    expect(answer.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('400 for malformed JSON', () => {
  it.each([['{"url": '], ['{url: "x"}'], ["{'url': 'x'}"], ['[1,2'], ['{"a":1}}'], ['\u0000']])(
    'answers 400 INVALID_JSON for %j and stores nothing',
    async (raw) => {
      const before = await snapshot();
      for (const [method, path] of [
        ['POST', `/v1/sites/${SITE}/webhooks`],
        ['PATCH', `/v1/sites/${SITE}/webhooks/${webhookId}`],
      ] as const) {
        const answer = await api(method, path, { rawBody: raw, headers: { 'content-type': 'application/json' } });
        expect(answer.status).toBe(400);
        expect(answer.body.error.code).toBe('INVALID_JSON');
      }
      expect(await snapshot()).toEqual(before);
    },
  );
});

describe('hostile and odd input', () => {
  const bodies: unknown[] = [
    JSON.parse('{"__proto__": {"polluted": true}, "url": "https://x.example.com", "events": ["page.created"]}'),
    { ...VALID, constructor: { prototype: { polluted: true } } },
    { url: { $gt: '' }, events: ['page.created'] },
    { url: VALID.url, events: { $in: ['page.created'] } },
    { url: VALID.url, events: [['page.created']] },
    { url: VALID.url, events: Array.from({ length: 10_000 }, () => 'page.nope') },
    { url: 'https://[::1', events: ['page.created'] },
    { url: 'https://exa mple.com/', events: ['page.created'] },
    { url: 'http://', events: ['page.created'] },
    { url: 'https://receiver.example.com/\u0000', events: ['page.created'], active: 'true' },
    { url: VALID.url, events: ['page.created'], secret: 12345 },
    { url: VALID.url, events: ['page.created'], secret: ['whsec_'] },
    123,
    true,
    'a string',
  ];

  it('answers every bad body with a 4xx in the envelope: never a 500, never a stack trace, nothing stored', async () => {
    const before = await snapshot();
    for (const body of bodies) {
      for (const [method, path] of [
        ['POST', `/v1/sites/${SITE}/webhooks`],
        ['PATCH', `/v1/sites/${SITE}/webhooks/${webhookId}`],
      ] as const) {
        // contractRequest already fails on a 5xx or a stack-like body; these pin the status class.
        const answer = await api(method, path, { body });
        expect(answer.status, `${method} ${JSON.stringify(body).slice(0, 80)}`).toBe(400);
        expect(answer.body.error.code).toBe('VALIDATION_ERROR');
        expect(answer.text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['an odd site id', '/v1/sites/%20/webhooks', 400],
    ['a site id that is too long', `/v1/sites/${'s'.repeat(65)}/webhooks`, 400],
    ['a site id with a slash', '/v1/sites/a%2Fb/webhooks', 400],
    ['a NUL in the webhook id', `/v1/sites/${SITE}/webhooks/%00`, 404],
    ['a very long webhook id', `/v1/sites/${SITE}/webhooks/${'w'.repeat(5000)}`, 404],
    ['a query string', `/v1/sites/${SITE}/webhooks?limit=abc&cursor=%00`, 200],
  ])('answers %s without failing', async (_name, path, status) => {
    const answer = await api('GET', path);
    expect(answer.status).toBe(status);
  });
});
