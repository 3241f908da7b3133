import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.stop();
});

describe('smoke', () => {
  it('creates and lists a webhook', async () => {
    const created = await t.request('POST', '/v1/sites/site-a/webhooks', {
      body: { url: 'https://example.com/hook', events: ['page.created'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.id).toMatch(/^wh_/);
    const list = await t.request('GET', '/v1/sites/site-a/webhooks');
    expect(list.body.data.map((w: { id: string }) => w.id)).toEqual([created.body.data.id]);
  });
});
