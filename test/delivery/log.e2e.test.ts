// The delivery log as clients read it: REST paging exactly as documented (newest first, limit,
// opaque cursor, total, nextCursor null on the last page, 400s and 404s) and the GraphQL
// connection on Webhook.deliveries with its filters, links and node lookup. The log is filled by
// real deliveries: 7 events to one receiver whose first two answers are 500 (so 9 attempts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually, startReceiver, type Receiver } from '../support/receiver.ts';

const SITE = 'site-log';
let t: TestApp;
let r: Receiver;
let other: Receiver;
let hook: { id: string; url: string; secret: string };
let otherHook: { id: string; secret: string };
const eventIds: string[] = [];
const path = () => `/v1/sites/${SITE}/webhooks/${hook.id}/deliveries`;

beforeAll(async () => {
  t = await startTestApp({
    RETRY_SCHEDULE: '200ms,200ms,200ms',
    POLL_INTERVAL_MS: '200',
    SWEEP_INTERVAL_MS: '500',
    DELIVERY_TIMEOUT_MS: '2000',
  });
  r = await startReceiver({ script: [{ status: 500 }, { status: 500 }] });
  other = await startReceiver();
  const created = await t.request('POST', `/v1/sites/${SITE}/webhooks`, { body: { url: r.url(), events: ['page.created', 'page.updated'] } });
  hook = created.body.data;
  // Another webhook of the same site, with attempts of its own that must not show up.
  otherHook = (await t.request('POST', `/v1/sites/${SITE}/webhooks`, { body: { url: other.url(), events: ['asset.created'] } })).body.data;
  for (let i = 0; i < 7; i++) {
    const type = i % 2 === 0 ? 'page.created' : 'page.updated';
    const res = await t.request('POST', `/v1/sites/${SITE}/events`, { body: { type, data: { i } } });
    expect(res.status).toBe(202);
    eventIds.push(res.body.data.id);
  }
  await t.request('POST', `/v1/sites/${SITE}/events`, { body: { type: 'asset.created', data: {} } });
  await other.waitForRequests(1);
  // 7 events, of which two needed a second attempt.
  await eventually(async () => (await t.app.database.collections.deliveries.countDocuments({ webhookId: hook.id })) === 9, {
    timeoutMs: 8000,
    what: '9 attempts logged',
  });
  await eventually(async () => (await t.app.database.collections.messages.countDocuments({ webhookId: hook.id })) === 0);
});

afterAll(async () => {
  await t?.stop();
  await r?.stop();
  await other?.stop();
});

async function page(query: string) {
  const res = await t.request('GET', `${path()}${query}`);
  expect(res.status, res.text).toBe(200);
  return res.body as { data: any[]; pagination: { total: number; limit: number; nextCursor: string | null }; meta: any };
}

async function allAtOnce(): Promise<any[]> {
  return (await page('?limit=100')).data;
}

describe('REST GET /v1/sites/{siteId}/webhooks/{webhookId}/deliveries', () => {
  it('lists every attempt newest first with the documented fields', async () => {
    const all = await allAtOnce();
    expect(all).toHaveLength(9);
    const ids = all.map((d) => d.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    for (let i = 1; i < all.length; i++) expect(Date.parse(all[i - 1].deliveredAt)).toBeGreaterThanOrEqual(Date.parse(all[i].deliveredAt));
    for (const d of all) {
      for (const field of ['id', 'eventId', 'webhookId', 'event', 'url', 'attempt', 'statusCode', 'success', 'error', 'durationMs', 'deliveredAt']) {
        expect(d).toHaveProperty(field);
      }
      expect(d.webhookId).toBe(hook.id);
      expect(d.url).toBe(hook.url);
      expect(eventIds).toContain(d.eventId);
    }
    const failed = all.filter((d) => !d.success);
    expect(failed).toHaveLength(2);
    expect(failed.every((d) => d.statusCode === 500 && d.attempt === 1 && d.error === 'HTTP 500')).toBe(true);
    const second = all.filter((d) => d.attempt === 2);
    expect(second.map((d) => d.eventId).sort()).toEqual(failed.map((d) => d.eventId).sort());
    expect(second.every((d) => d.success)).toBe(true);
    // Each event's retry is newer than its first attempt.
    for (const retry of second) {
      const first = all.find((d) => d.eventId === retry.eventId && d.attempt === 1);
      expect(retry.id > first.id).toBe(true);
    }
    expect(new Set(all.map((d) => d.eventId)).size).toBe(7);
  });

  it('defaults to limit 25', async () => {
    const res = await page('');
    expect(res.pagination).toEqual({ total: 9, limit: 25, nextCursor: null });
  });

  it('pages forward with limit 3: stable, no duplicates or gaps, nextCursor null at the end', async () => {
    const all = await allAtOnce();
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    let pages = 0;
    do {
      const res = await page(`?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.pagination.total).toBe(9);
      expect(res.pagination.limit).toBe(3);
      sizes.push(res.data.length);
      seen.push(...res.data.map((d) => d.id));
      cursor = res.pagination.nextCursor;
      if (++pages > 10) throw new Error('paging does not end');
    } while (cursor !== null);
    expect(sizes).toEqual([3, 3, 3]);
    expect(seen).toEqual(all.map((d) => d.id));

    // Reading the same page twice answers the same.
    const p1 = await page('?limit=3');
    const again = await page('?limit=3');
    expect(again.data).toEqual(p1.data);
    expect(again.pagination).toEqual(p1.pagination);
  });

  it('keeps later pages stable when a new attempt is logged while paging', async () => {
    const before = await allAtOnce();
    const p1 = await page('?limit=4');
    const extra = await t.request('POST', `/v1/sites/${SITE}/events`, { body: { type: 'page.created', data: { late: true } } });
    await eventually(async () => (await page('?limit=1')).data[0]?.eventId === extra.body.data.id, { what: 'new attempt logged' });
    const p2 = await page(`?limit=4&cursor=${p1.pagination.nextCursor}`);
    const p3 = await page(`?limit=4&cursor=${p2.pagination.nextCursor}`);
    expect(p2.pagination.total).toBe(10);
    expect(p3.pagination.nextCursor).toBeNull();
    expect([...p1.data, ...p2.data, ...p3.data].map((d) => d.id)).toEqual(before.map((d) => d.id));
  });

  it.each(['0', '101', 'abc', '-1', '2.5'])('rejects limit=%j with 400', async (limit) => {
    const res = await t.request('GET', `${path()}?limit=${limit}`);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('accepts limit 1 and 100', async () => {
    expect((await page('?limit=1')).data).toHaveLength(1);
    expect((await page('?limit=100')).pagination.limit).toBe(100);
  });

  it('rejects a cursor that is not one of this list', async () => {
    for (const cursor of ['garbage!!', Buffer.from(eventIds[0]!).toString('base64url'), Buffer.from('dlv_nope').toString('base64url')]) {
      const res = await t.request('GET', `${path()}?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, `${cursor}: ${res.text}`).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
  });

  it('answers 404 for an unknown webhook or one of another site, 401/403 as usual', async () => {
    const unknown = await t.request('GET', `/v1/sites/${SITE}/webhooks/wh_00000000000000000000000000/deliveries`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    const elsewhere = await t.request('GET', `/v1/sites/${SITE}-other/webhooks/${hook.id}/deliveries`);
    expect(elsewhere.status).toBe(404);
    expect((await t.request('GET', path(), { key: null })).status).toBe(401);
    const key = await t.createKey(['some-other-site']);
    const forbidden = await t.request('GET', path(), { key });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
  });
});

describe('GraphQL Webhook.deliveries', () => {
  const query = `query($id: ID!, $first: Int, $after: String, $success: Boolean, $event: String) {
    webhook(id: $id) {
      deliveries(first: $first, after: $after, success: $success, event: $event) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node {
          id eventId webhookId event url attempt statusCode success error durationMs deliveredAt
          webhook { id } sourceEvent { id type }
        } }
      }
    }
  }`;

  async function connection(variables: Record<string, unknown>) {
    const res = await t.graphql(query, { id: hook.id, ...variables });
    expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
    return res.body.data.webhook.deliveries;
  }

  it('pages forward in the same order as REST, with links to the webhook and the event', async () => {
    const all = (await allAtOnce()).map((d) => d.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const c: any = await connection({ first: 4, after });
      expect(c.totalCount).toBe(all.length);
      for (const { node } of c.edges) {
        expect(node.webhook).toEqual({ id: hook.id });
        expect(node.sourceEvent.id).toBe(node.eventId);
        expect(node.sourceEvent.type).toBe(node.event);
        expect(node.webhookId).toBe(hook.id);
      }
      seen.push(...c.edges.map((e: any) => e.node.id));
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
  });

  it('pages backward with last/before in the same order', async () => {
    const all = (await allAtOnce()).map((d) => d.id);
    const res = await t.graphql(
      `query($id: ID!, $last: Int, $before: String) {
        webhook(id: $id) { deliveries(last: $last, before: $before) { pageInfo { hasPreviousPage startCursor } edges { node { id } } } }
      }`,
      { id: hook.id, last: 3 },
    );
    expect(res.body.errors).toBeUndefined();
    const tail = res.body.data.webhook.deliveries;
    expect(tail.edges.map((e: any) => e.node.id)).toEqual(all.slice(-3));
    expect(tail.pageInfo.hasPreviousPage).toBe(true);
    const before = await t.graphql(
      `query($id: ID!, $last: Int, $before: String) {
        webhook(id: $id) { deliveries(last: $last, before: $before) { edges { node { id } } } }
      }`,
      { id: hook.id, last: 2, before: tail.pageInfo.startCursor },
    );
    expect(before.body.data.webhook.deliveries.edges.map((e: any) => e.node.id)).toEqual(all.slice(-5, -3));
  });

  it('filters by success and by event type', async () => {
    const failed = await connection({ first: 10, success: false });
    expect(failed.totalCount).toBe(2);
    expect(failed.edges.map((e: any) => e.node.success)).toEqual([false, false]);
    expect(failed.edges.every((e: any) => e.node.statusCode === 500 && e.node.error === 'HTTP 500')).toBe(true);
    const ok = await connection({ first: 100, success: true });
    expect(ok.totalCount).toBe((await allAtOnce()).length - 2);
    const updated = await connection({ first: 100, event: 'page.updated' });
    expect(updated.edges.length).toBeGreaterThan(0);
    expect(updated.edges.every((e: any) => e.node.event === 'page.updated')).toBe(true);
    expect(updated.totalCount).toBe(updated.edges.length);
  });

  it('rejects a foreign cursor', async () => {
    const res = await t.graphql(query, { id: hook.id, first: 2, after: eventIds[0] });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
  });

  it('resolves node(id: "dlv_...") and the Event node with its deliveries', async () => {
    const [latest] = await allAtOnce();
    const res = await t.graphql(
      `query($id: ID!, $eventId: ID!) {
        node(id: $id) { id ... on Delivery { attempt success eventId webhookId } }
        event(id: $eventId) { id type deliveries { totalCount edges { node { id webhookId } } } }
      }`,
      { id: latest.id, eventId: eventIds[0] },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.node).toEqual({ id: latest.id, attempt: latest.attempt, success: latest.success, eventId: latest.eventId, webhookId: hook.id });
    const event = res.body.data.event;
    expect(event.id).toBe(eventIds[0]);
    expect(event.deliveries.totalCount).toBeGreaterThanOrEqual(1);
    expect(event.deliveries.edges.every((e: any) => e.node.webhookId === hook.id)).toBe(true);

    // A key of another site sees nothing.
    const key = await t.createKey(['some-other-site']);
    const hidden = await t.graphql('query($id: ID!) { node(id: $id) { id } }', { id: latest.id }, key);
    expect(hidden.body.data?.node ?? null).toBeNull();
  });

  it('never logs a webhook secret (LOG_LEVEL=debug)', () => {
    const text = t.logs.join('\n');
    for (const secret of [hook.secret, otherHook.secret]) {
      expect(text.includes(secret)).toBe(false);
      expect(text.includes(secret.slice('whsec_'.length))).toBe(false);
    }
  });
});
