// Health checks, and what the service answers once its database is gone: 503 from /readyz and a
// masked 500 from the API, both in the error envelope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { contractRequest, type ContractRequest } from '../support/openapi.ts';

let t: TestApp;
let api: ContractRequest;

beforeAll(async () => {
  t = await startTestApp();
  api = contractRequest(t);
});
afterAll(async () => {
  await t?.stop();
});

describe('health', () => {
  it('GET /healthz answers 200 without a key', async () => {
    const answer = await api('GET', '/healthz', { key: null });
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 while the database answers', async () => {
    const answer = await api('GET', '/readyz', { key: null });
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ status: 'ready' });
  });

  it('every answer carries a fresh UUID request id, equal to meta.requestId', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const answer = await api('GET', '/healthz', { key: null });
      ids.add(answer.headers.get('x-request-id')!);
      expect(answer.body.meta.requestId).toBe(answer.headers.get('x-request-id'));
      expect(Math.abs(Date.parse(answer.body.meta.timestamp) - Date.now())).toBeLessThan(10_000);
    }
    expect(ids.size).toBe(5);
  });
});

describe('without a database', () => {
  let t2: TestApp;
  let api2: ContractRequest;
  beforeAll(async () => {
    t2 = await startTestApp();
    api2 = contractRequest(t2);
    // Works first...
    expect((await api2('GET', '/readyz', { key: null })).status).toBe(200);
    expect((await api2('GET', '/v1/sites/site-a/webhooks')).status).toBe(200);
    // ...then the database goes away.
    await t2.app.database.client.close();
  });
  afterAll(async () => {
    await t2?.stop();
  });

  it('GET /readyz answers 503 SERVICE_UNAVAILABLE in the error envelope', async () => {
    const answer = await api2('GET', '/readyz', { key: null, allowServerError: true });
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.any(String) });
  });

  it('GET /healthz still answers 200 (the process runs)', async () => {
    const answer = await api2('GET', '/healthz', { key: null });
    expect(answer.status).toBe(200);
  });

  it('the API answers a masked 500 INTERNAL_ERROR: no driver message, no stack', async () => {
    const answer = await api2('GET', '/v1/sites/site-a/webhooks', { allowServerError: true });
    expect(answer.status).toBe(500);
    expect(answer.body.error).toEqual({ code: 'INTERNAL_ERROR', message: 'An unexpected error occurred', details: {} });
    expect(answer.text).not.toMatch(/mongo|topology|client|stack/i);
    // The cause is in the log for the operator.
    expect(t2.logs.some((line) => line.includes('"request failed"') && line.includes(answer.body.meta.requestId))).toBe(true);
  });
});
