// The OpenAPI document itself: served at GET /v1/openapi.json, faithful to the documented API
// (the seed), consistent with the code (catalogue, error codes, statuses), complete (every error
// status each path can answer), and strict enough that the contract check catches drift.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, TEST_EVENT_TYPE, WILDCARD } from '../../src/domain/events/catalogue.ts';
import { STATUS_BY_CODE } from '../../src/rest/v1/envelope.ts';
import { OPENAPI_PATH } from '../../src/rest/v1/openapi.ts';
import { startTestApp, type HttpAnswer, type TestApp } from '../support/app.ts';
import {
  checkContract,
  checkRequestBody,
  contractRequest,
  HTTP_METHODS,
  openApiDocument as doc,
  resolve,
  validatorAt,
  type ContractRequest,
} from '../support/openapi.ts';

let t: TestApp;
let api: ContractRequest;

beforeAll(async () => {
  t = await startTestApp();
  api = contractRequest(t);
});
afterAll(async () => {
  await t?.stop();
});

type Json = Record<string, any>;

/** The documented API (shared/seed): paths, and the fields of each shape. */
const SEED = {
  operations: [
    'GET /v1/sites/{siteId}/webhooks',
    'POST /v1/sites/{siteId}/webhooks',
    'GET /v1/sites/{siteId}/webhooks/{webhookId}',
    'PATCH /v1/sites/{siteId}/webhooks/{webhookId}',
    'DELETE /v1/sites/{siteId}/webhooks/{webhookId}',
    'POST /v1/sites/{siteId}/webhooks/{webhookId}/replay',
    'GET /v1/sites/{siteId}/webhooks/{webhookId}/deliveries',
  ],
  webhook: ['id', 'url', 'events', 'secret', 'active', 'createdBy', 'createdAt', 'failCount', 'lastDeliveredAt'],
  delivery: ['id', 'eventId', 'webhookId', 'event', 'url', 'attempt', 'statusCode', 'success', 'error', 'durationMs', 'deliveredAt'],
  meta: ['requestId', 'timestamp'],
  error: ['code', 'message', 'details'],
  pagination: ['total', 'limit', 'nextCursor'],
  deleted: ['id', 'deleted'],
  replayResult: ['webhookId', 'replayed', 'eventIds'],
};

/** Documented beyond the seed: issue 3 (events, test event) and the health checks and this document. */
const ADDITIONS = [
  'POST /v1/sites/{siteId}/events',
  'POST /v1/sites/{siteId}/webhooks/{webhookId}/test',
  'GET /v1/openapi.json',
  'GET /healthz',
  'GET /readyz',
];

const schema = (name: string): Json => doc.components.schemas[name];
const operations = (): Array<{ name: string; template: string; method: string; op: Json; item: Json }> =>
  Object.entries(doc.paths as Json).flatMap(([template, item]) =>
    HTTP_METHODS.filter((m) => item[m]).map((m) => ({ name: `${m.toUpperCase()} ${template}`, template, method: m, op: item[m], item })),
  );
const isPublic = (op: Json) => Array.isArray(op.security) && op.security.length === 0;
const pathParams = (template: string) => [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/** The error codes an error response may carry, read from its envelope schema. */
function codesOf(response: Json): string[] {
  const ref = response.content['application/json'].schema.$ref as string;
  const envelope = schema(ref.split('/').pop()!);
  const code = envelope.allOf[1].properties.error.properties.code;
  return code.const ? [code.const] : code.enum;
}

describe('GET /v1/openapi.json', () => {
  it('serves the document in the repository, without a key', async () => {
    const answer = await api('GET', '/v1/openapi.json', { key: null });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.body).toEqual(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')));
    expect(answer.body.openapi).toBe('3.1.0');
  });

  it('is public: a bad key does not matter', async () => {
    const answer = await api('GET', '/v1/openapi.json', { key: 'ock_not-a-key' });
    expect(answer.status).toBe(200);
  });
});

describe('the document is faithful to the documented API', () => {
  it('has every documented path and method', () => {
    const names = operations().map((o) => o.name);
    for (const op of SEED.operations) expect(names).toContain(op);
  });

  it('describes exactly the additions agreed on, and nothing else under /v1', () => {
    expect(operations().map((o) => o.name).sort()).toEqual([...SEED.operations, ...ADDITIONS].sort());
  });

  it('requires every documented field, and keeps the envelopes closed but the data open', () => {
    const required = (name: string) => schema(name).required as string[];
    for (const field of SEED.webhook) expect(required('Webhook')).toContain(field);
    for (const field of SEED.delivery) expect(required('Delivery')).toContain(field);
    for (const field of SEED.replayResult) expect(required('ReplayResult')).toContain(field);
    for (const field of SEED.deleted) expect(required('WebhookDeleted')).toContain(field);
    expect(required('Meta').sort()).toEqual([...SEED.meta].sort());
    expect(required('Error').sort()).toEqual([...SEED.error].sort());
    expect(required('Pagination').sort()).toEqual([...SEED.pagination].sort());
    expect(required('WebhookCreate').sort()).toEqual(['events', 'url']);
    expect(required('ReplayRequest')).toEqual(['since']);

    for (const closed of ['Meta', 'Error', 'ErrorEnvelope', 'Pagination', 'WebhookEnvelope', 'WebhookListEnvelope', 'DeliveryPageEnvelope', 'ReplayEnvelope']) {
      expect(schema(closed).additionalProperties, closed).toBe(false);
    }
    for (const open of ['Webhook', 'Delivery', 'ReplayResult', 'WebhookDeleted', 'EventAccepted']) {
      expect(schema(open).additionalProperties, open).toBe(true);
    }
    for (const body of ['WebhookCreate', 'WebhookUpdate', 'ReplayRequest', 'EventPublish']) {
      expect(schema(body).additionalProperties, body).toBe(false);
    }
    // The webhook list is not paged (as documented); the delivery log is.
    expect(schema('WebhookListEnvelope').required).toEqual(['data', 'meta']);
    expect(schema('DeliveryPageEnvelope').required).toEqual(['data', 'meta', 'pagination']);
  });

  it('types the nullable documented fields as documented', () => {
    const w = schema('Webhook').properties;
    expect(w.lastDeliveredAt).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(w.createdAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(w.failCount.type).toBe('integer');
    const d = schema('Delivery').properties;
    expect(d.statusCode.type).toEqual(['integer', 'null']);
    expect(d.error.type).toEqual(['string', 'null']);
    expect(d.success.type).toBe('boolean');
    expect(d.attempt.type).toBe('integer');
    expect(schema('Pagination').properties.nextCursor.type).toEqual(['string', 'null']);
  });

  it('pages the delivery log with limit (default 25, at most 100) and cursor', () => {
    const params = (doc.paths['/v1/sites/{siteId}/webhooks/{webhookId}/deliveries'].get.parameters as Json[]).map(
      (p) => resolve(p, '').value,
    );
    expect(params.find((p) => p.name === 'limit')).toMatchObject({ in: 'query', schema: { type: 'integer', default: 25, maximum: 100, minimum: 1 } });
    expect(params.find((p) => p.name === 'cursor')).toMatchObject({ in: 'query', schema: { type: 'string' } });
  });

  it('authenticates with the X-Api-Key header everywhere but the document and the health checks', () => {
    expect(doc.components.securitySchemes.ApiKeyAuth).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }));
    expect(doc.security).toEqual([{ ApiKeyAuth: [] }]);
    const publicOps = operations().filter((o) => isPublic(o.op)).map((o) => o.name).sort();
    expect(publicOps).toEqual(['GET /healthz', 'GET /readyz', 'GET /v1/openapi.json']);
  });
});

describe('the document agrees with the code', () => {
  const names = EVENT_TYPES.map((e) => e.name);

  it('lists the event catalogue', () => {
    expect(schema('EventType').enum).toEqual(names);
    expect(schema('EventSelector').enum).toEqual([...names, WILDCARD]);
    expect(schema('Delivery').properties.event.enum).toEqual([...names, TEST_EVENT_TYPE]);
    expect(schema('TestEventAccepted').properties.type.const).toBe(TEST_EVENT_TYPE);
  });

  it('lists every error code, each answered with the status the code maps to', () => {
    expect([...schema('ErrorCode').enum].sort()).toEqual(Object.keys(STATUS_BY_CODE).sort());
    for (const { name, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (Number(status) < 400) continue;
        for (const code of codesOf(resolve(response, '').value)) {
          expect(STATUS_BY_CODE[code as keyof typeof STATUS_BY_CODE], `${name} ${status} ${code}`).toBe(Number(status));
        }
      }
    }
    const notAllowed = resolve(doc['x-unknown-path'], '').value;
    expect(codesOf(notAllowed)).toEqual(['NOT_FOUND']);
  });
});

describe('the document is complete and consistent', () => {
  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\//);
      expect(() => resolve({ $ref: ref }, ''), ref).not.toThrow();
    }
  });

  it('compiles every schema under ajv strict mode, and the examples validate', () => {
    for (const [name, s] of Object.entries(doc.components.schemas as Json)) {
      const validate = validatorAt(`#/components/schemas/${name}`);
      for (const example of (s.examples as unknown[] | undefined) ?? []) expect(validate(example), `${name} example`).toBe(true);
    }
  });

  it('gives every operation a unique operationId, a summary and a tag', () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { name, op } of operations()) {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.summary, name).toEqual(expect.any(String));
      expect(op.tags?.length, name).toBeGreaterThan(0);
    }
  });

  it('declares every path parameter, required, exactly once', () => {
    for (const { name, template, op, item } of operations()) {
      const declared = [...(item.parameters ?? []), ...(op.parameters ?? [])]
        .map((p: Json) => resolve(p, '').value)
        .filter((p: Json) => p.in === 'path');
      expect(declared.map((p: Json) => p.name).sort(), name).toEqual(pathParams(template).sort());
      for (const p of declared) expect(p.required, `${name} ${p.name}`).toBe(true);
    }
  });

  it('documents every error status each operation can answer', () => {
    for (const { name, template, op } of operations()) {
      const statuses = Object.keys(op.responses);
      if (!isPublic(op)) {
        expect(statuses, name).toEqual(expect.arrayContaining(['401', '403', '500']));
      }
      if (template.includes('{siteId}')) expect(statuses, name).toContain('400');
      if (template.includes('{webhookId}')) expect(statuses, name).toContain('404');
      if (op.requestBody) {
        expect(statuses, name).toEqual(expect.arrayContaining(['400', '413', '415']));
        expect(codesOf(resolve(op.responses['400'], '').value).sort(), name).toEqual(['INVALID_JSON', 'VALIDATION_ERROR']);
        expect(op.requestBody.required, name).toBe(true);
      }
      if (name.endsWith('/replay') || name.endsWith('/events')) expect(statuses, name).toContain('409');
      // Exactly one success status per operation.
      expect(statuses.filter((s) => s.startsWith('2')), name).toHaveLength(1);
    }
  });

  it('documents the 405 of every /v1 path and the 404 of unknown paths', () => {
    for (const [template, item] of Object.entries(doc.paths as Json)) {
      if (!template.startsWith('/v1/')) continue;
      const response = resolve(item['x-method-not-allowed'], '').value;
      expect(codesOf(response), template).toEqual(['METHOD_NOT_ALLOWED']);
      expect(Object.keys(response.headers)).toContain('Allow');
    }
    expect(codesOf(resolve(doc['x-unknown-path'], '').value)).toEqual(['NOT_FOUND']);
  });

  it('documents X-Request-Id and a JSON body on every response', () => {
    for (const { name, op } of operations()) {
      for (const [status, r] of Object.entries(op.responses as Json)) {
        const response = resolve(r, '').value;
        expect(Object.keys(response.headers ?? {}), `${name} ${status}`).toContain('X-Request-Id');
        expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual(['application/json']);
      }
    }
  });

  it('request schemas accept the documented examples and reject what the server rejects', () => {
    expect(checkRequestBody('post', '/v1/sites/{siteId}/webhooks', { url: 'http://example.com', events: ['page.created'] }).valid).toBe(true);
    expect(checkRequestBody('patch', '/v1/sites/{siteId}/webhooks/{webhookId}', {}).valid).toBe(true);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/webhooks/{webhookId}/replay', { since: '2019-08-24T14:15:22Z' }).valid).toBe(true);
    expect(
      checkRequestBody('post', '/v1/sites/{siteId}/webhooks/{webhookId}/replay', {
        since: '2019-08-24T14:15:22Z',
        until: '2019-08-25T00:00:00Z',
        onlyFailed: true,
        dryRun: true,
      }).valid,
    ).toBe(true);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/webhooks/{webhookId}/replay', {}).valid).toBe(false);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/webhooks/{webhookId}/replay', { since: 'yesterday' }).valid).toBe(false);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/webhooks/{webhookId}/replay', { since: '2019-08-24T14:15:22Z', force: true }).valid).toBe(false);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/events', { type: 'page.created', data: {} }).valid).toBe(true);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/events', { type: 'webhook.test', data: {} }).valid).toBe(false);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/events', { type: '*', data: {} }).valid).toBe(false);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/events', { type: 'page.created', data: [] }).valid).toBe(false);
    expect(checkRequestBody('post', '/v1/sites/{siteId}/events', { type: 'page.created', data: {}, extra: 1 }).valid).toBe(false);
  });
});

describe('every documented operation is served', () => {
  // Without a key, a served operation answers 401 (authentication comes before anything else);
  // an unserved one would answer 404 "No such path".
  it.each(operations().map((o) => [o.name, o] as const))('%s', async (_name, { template, method, op }) => {
    const path = template.replace('{siteId}', 'served-site').replace('{webhookId}', 'wh_01ARZ3NDEKTSV4RRFFQ69G5FAV');
    const answer = await api(method.toUpperCase(), path, { key: null, body: op.requestBody ? {} : undefined });
    expect(answer.status).toBe(isPublic(op) ? 200 : 401);
  });
});

describe('the contract check catches drift', () => {
  let webhook: HttpAnswer;
  let list: HttpAnswer;
  const path = () => `/v1/sites/drift-site/webhooks/${webhook.body.data.id}`;

  beforeAll(async () => {
    await api('POST', '/v1/sites/drift-site/webhooks', { body: { url: 'https://example.com/', events: ['*'] } });
    list = await api('GET', '/v1/sites/drift-site/webhooks');
    webhook = await api('GET', `/v1/sites/drift-site/webhooks/${list.body.data[0].id}`);
  });

  /** A copy of a real answer, changed. */
  const changed = (answer: HttpAnswer, change: (body: Json, headers: Headers) => void, status = answer.status): HttpAnswer => {
    const body = structuredClone(answer.body);
    const headers = new Headers(answer.headers);
    change(body, headers);
    return { status, headers, body, text: JSON.stringify(body) };
  };

  it('passes the real answers', () => {
    expect(() => checkContract('GET', path(), webhook)).not.toThrow();
    expect(() => checkContract('GET', '/v1/sites/drift-site/webhooks', list)).not.toThrow();
    expect(() => checkContract('GET', path(), changed(webhook, (b) => (b.data.newField = 1)))).not.toThrow();
  });

  it.each<[string, (b: Json, h: Headers) => void]>([
    ['a documented field missing', (b) => delete b.data.lastDeliveredAt],
    ['a documented field renamed', (b) => ((b.data.failures = b.data.failCount), delete b.data.failCount)],
    ['an addition missing', (b) => delete b.data.updatedAt],
    ['lastDeliveredAt as a number', (b) => (b.data.lastDeliveredAt = 0)],
    ['lastDeliveredAt not a date-time', (b) => (b.data.lastDeliveredAt = 'yesterday')],
    ['failCount as a string', (b) => (b.data.failCount = '0')],
    ['failCount negative', (b) => (b.data.failCount = -1)],
    ['active as a string', (b) => (b.data.active = 'true')],
    ['an id without its prefix', (b) => (b.data.id = b.data.id.slice(3))],
    ['a secret without whsec_', (b) => (b.data.secret = b.data.secret.slice(6))],
    ['an unknown event type', (b) => (b.data.events = ['page.exploded'])],
    ['an extra envelope field', (b) => (b.extra = true)],
    ['a pagination object on the unpaged answer', (b) => (b.pagination = { total: 1, limit: 25, nextCursor: null })],
    ['an extra meta field', (b) => (b.meta.server = 'x')],
    ['meta missing', (b) => delete b.meta],
    ['data missing', (b) => delete b.data],
    ['a requestId that is not a UUID', (b, h) => ((b.meta.requestId = 'abc'), h.set('x-request-id', 'abc'))],
    ['meta.requestId differing from the header', (b) => (b.meta.requestId = crypto.randomUUID())],
    ['no x-request-id header', (_b, h) => h.delete('x-request-id')],
    ['a timestamp that is not a date-time', (b) => (b.meta.timestamp = 'now')],
  ])('fails on %s', (_name, change) => {
    expect(() => checkContract('GET', path(), changed(webhook, change))).toThrow(/ContractViolation|does not match|header|request/);
  });

  it('fails on an undocumented status, path or method', () => {
    expect(() => checkContract('GET', path(), changed(webhook, () => {}, 418))).toThrow(/status 418 is not documented/);
    expect(() => checkContract('GET', path(), changed(webhook, () => {}, 201))).toThrow(/status 201 is not documented/);
    expect(() => checkContract('GET', '/v1/sites/a/widgets', webhook)).toThrow(/not in the OpenAPI document/);
    expect(() => checkContract('PUT', path(), webhook)).toThrow(/PUT is not documented/);
    expect(() => checkContract('GET', path(), webhook, { undocumented: 'method' })).toThrow(/is documented/);
  });

  it('fails on a 404 answer with a success body, an error body with a success status, or a wrong error code', async () => {
    const notFound = await api('GET', '/v1/sites/drift-site/webhooks/wh_01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(notFound.status).toBe(404);
    expect(() => checkContract('GET', path(), changed(webhook, () => {}, 404))).toThrow(/does not match/);
    expect(() => checkContract('GET', path(), changed(notFound, () => {}, 200))).toThrow(/does not match/);
    expect(() => checkContract('GET', path(), changed(notFound, (b) => (b.error.code = 'FORBIDDEN')))).toThrow(/does not match/);
    expect(() => checkContract('GET', path(), changed(notFound, (b) => (b.error.code = 'NOT_FOUND_ERROR')))).toThrow(/does not match/);
    expect(() => checkContract('GET', path(), changed(notFound, (b) => delete b.error.details))).toThrow(/does not match/);
    expect(() => checkContract('GET', path(), changed(notFound, (b) => (b.error.stack = 'x')))).toThrow(/does not match/);
  });

  it('fails on a stack trace in an error body, and on a 500 unless the test allows it', async () => {
    const notFound = await api('GET', '/v1/sites/drift-site/webhooks/wh_01ARZ3NDEKTSV4RRFFQ69G5FAV');
    const withStack = changed(notFound, (b) => (b.error.message = 'boom\n    at handle (/work/main/src/rest/v1/router.ts:10:5)'));
    expect(() => checkContract('GET', path(), withStack)).toThrow(/stack trace/);
    const internal = changed(notFound, (b) => ((b.error.code = 'INTERNAL_ERROR'), (b.error.details = {})), 500);
    expect(() => checkContract('GET', path(), internal)).toThrow(/server error/);
    expect(() => checkContract('GET', path(), internal, { allowServerError: true })).not.toThrow();
  });

  it('fails on a 405 whose Allow header differs from the documented methods, and on a VALIDATION_ERROR without fields', async () => {
    const answer = await api('PUT', path(), { undocumented: 'method' });
    expect(answer.headers.get('allow')).toBe('GET, PATCH, DELETE');
    const wrongAllow = changed(answer, (_b, h) => h.set('allow', 'GET, PUT'));
    expect(() => checkContract('PUT', path(), wrongAllow, { undocumented: 'method' })).toThrow(/Allow header/);
    const noAllow = changed(answer, (_b, h) => h.delete('allow'));
    expect(() => checkContract('PUT', path(), noAllow, { undocumented: 'method' })).toThrow(/Allow/);

    const invalid = await api('POST', '/v1/sites/drift-site/webhooks', { body: { url: 'nope', events: ['*'] } });
    expect(invalid.status).toBe(400);
    const noFields = changed(invalid, (b) => (b.error.details = {}));
    expect(() => checkContract('POST', '/v1/sites/drift-site/webhooks', noFields)).toThrow(/does not match/);
  });

  it('fails on delivery-log drift (statusCode as a string, pagination without nextCursor)', () => {
    const delivery = {
      id: 'dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV',
      eventId: 'evt_01ARZ3NDEKTSV4RRFFQ69G5FAV',
      webhookId: 'wh_01ARZ3NDEKTSV4RRFFQ69G5FAV',
      event: 'page.created',
      url: 'https://example.com/',
      attempt: 1,
      statusCode: 200,
      success: true,
      error: null,
      durationMs: 12,
      deliveredAt: '2019-08-24T14:15:22.000Z',
      trigger: 'event',
      responseBody: 'ok',
    };
    const page = {
      data: [delivery, { ...delivery, attempt: 2, statusCode: null, success: false, error: 'timeout', responseBody: null, trigger: 'replay' }],
      meta: webhook.body.meta,
      pagination: { total: 2, limit: 25, nextCursor: null },
    };
    const target = '/v1/sites/drift-site/webhooks/wh_01ARZ3NDEKTSV4RRFFQ69G5FAV/deliveries';
    const answer: HttpAnswer = { status: 200, headers: new Headers(webhook.headers), body: page, text: JSON.stringify(page) };
    expect(() => checkContract('GET', target, answer)).not.toThrow();
    for (const change of [
      (b: Json) => (b.data[0].statusCode = '200'),
      (b: Json) => (b.data[0].attempt = 0),
      (b: Json) => delete b.data[0].error,
      (b: Json) => (b.data[0].trigger = 'manual'),
      (b: Json) => delete b.pagination.nextCursor,
      (b: Json) => (b.pagination.limit = 101),
      (b: Json) => delete b.pagination,
    ]) {
      expect(() => checkContract('GET', target, changed(answer, change))).toThrow(/does not match/);
    }
  });
});

describe('every REST test goes through the contract check', () => {
  it('no test file under test/rest calls t.request directly', () => {
    const dir = new URL('./', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts'));
    expect(files).toContain('webhooks.test.ts');
    const offenders = files
      .filter((f) => /\bt2?\.request\s*\(|\.request\s*\(\s*['"`]/.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
