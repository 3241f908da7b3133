// Webhooks over GraphQL: the webhooks connection (filters, totalCount, cursor paging both ways),
// webhook(id), node/nodes with the same ids as REST, eventTypes, and the relay mutations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/domain/events/catalogue.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { contractRequest, type ContractRequest } from '../support/openapi.ts';

let t: TestApp;
let rest: ContractRequest;

beforeAll(async () => {
  t = await startTestApp();
  rest = contractRequest(t);
});
afterAll(async () => {
  await t?.stop();
});

const STACK_LIKE = /\n\s+at |node_modules|\.ts:\d+/;

/** Runs an operation that must succeed: no errors, no stack-like text. */
async function gql<T = any>(query: string, variables: Record<string, unknown> = {}, key?: string | null): Promise<T> {
  const answer = await t.graphql(query, variables, key);
  expect(answer.text).not.toMatch(STACK_LIKE);
  expect(answer.body.errors, answer.text).toBeUndefined();
  expect(answer.status).toBe(200);
  return answer.body.data as T;
}

const WEBHOOK_FIELDS = 'id siteId url events secret active createdBy createdAt updatedAt failCount lastDeliveredAt disabledReason';

const CREATE = `mutation ($input: CreateWebhookInput!) {
  createWebhook(input: $input) { clientMutationId webhook { ${WEBHOOK_FIELDS} } }
}`;
const UPDATE = `mutation ($input: UpdateWebhookInput!) {
  updateWebhook(input: $input) { clientMutationId webhook { ${WEBHOOK_FIELDS} } }
}`;
const DELETE = `mutation ($input: DeleteWebhookInput!) {
  deleteWebhook(input: $input) { clientMutationId deletedWebhookId deleted }
}`;
const PAGE = `query ($siteId: ID!, $first: Int, $after: String, $last: Int, $before: String, $active: Boolean, $event: String) {
  webhooks(siteId: $siteId, first: $first, after: $after, last: $last, before: $before, active: $active, event: $event) {
    totalCount
    edges { cursor node { id url active events } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

async function createWebhook(input: Record<string, unknown>, key?: string) {
  const data = await gql(CREATE, { input: { url: 'https://receiver.example.com/hook', events: ['page.created'], ...input } }, key);
  return data.createWebhook.webhook;
}

describe('createWebhook', () => {
  it('creates a webhook with the documented fields; clientMutationId is echoed', async () => {
    const key = await t.createKey(['gql-create'], 'graphql robot');
    const data = await gql(
      CREATE,
      {
        input: {
          clientMutationId: 'm-1',
          siteId: 'gql-create',
          url: 'https://receiver.example.com/in',
          events: ['page.published', 'page.published', 'asset.deleted'],
        },
      },
      key,
    );
    expect(data.createWebhook.clientMutationId).toBe('m-1');
    const w = data.createWebhook.webhook;
    expect(w).toMatchObject({
      id: expect.stringMatching(/^wh_[0-9A-Z]{26}$/),
      siteId: 'gql-create',
      url: 'https://receiver.example.com/in',
      events: ['page.published', 'asset.deleted'],
      active: true,
      createdBy: 'graphql robot',
      failCount: 0,
      lastDeliveredAt: null,
      disabledReason: null,
    });
    expect(w.secret).toMatch(/^whsec_/);
    expect(Buffer.from(w.secret.slice(6), 'base64')).toHaveLength(32);
    expect(new Date(w.createdAt).toISOString()).toBe(w.createdAt);

    // The same webhook, under the same id and field names, through REST.
    const viaRest = await rest('GET', `/v1/sites/gql-create/webhooks/${w.id}`, { key });
    expect(viaRest.body.data).toEqual(w);
  });

  it('keeps a supplied secret and active: false', async () => {
    const secret = 'whsec_' + Buffer.alloc(32, 5).toString('base64');
    const w = await createWebhook({ siteId: 'gql-create', secret, active: false });
    expect(w).toMatchObject({ secret, active: false });
  });
});

describe('webhook(id), node(id), nodes(ids)', () => {
  it('find a webhook by the id REST uses', async () => {
    const created = await rest('POST', '/v1/sites/gql-nodes/webhooks', { body: { url: 'https://receiver.example.com/n', events: ['*'] } });
    const id = created.body.data.id;
    const data = await gql(
      `query ($id: ID!) {
        webhook(id: $id) { id url events createdBy }
        node(id: $id) { __typename id ... on Webhook { url secret } }
      }`,
      { id },
    );
    expect(data.webhook).toEqual({ id, url: 'https://receiver.example.com/n', events: ['*'], createdBy: 'admin' });
    expect(data.node).toEqual({ __typename: 'Webhook', id, url: 'https://receiver.example.com/n', secret: created.body.data.secret });
  });

  it('nodes(ids) answers in order, null for unknown ids', async () => {
    const a = await createWebhook({ siteId: 'gql-nodes', url: 'https://a.example.com/' });
    const b = await createWebhook({ siteId: 'gql-nodes', url: 'https://b.example.com/' });
    const unknown = 'wh_01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const data = await gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Webhook { url } } }`, { ids: [b.id, unknown, a.id] });
    expect(data.nodes).toEqual([{ id: b.id, url: 'https://b.example.com/' }, null, { id: a.id, url: 'https://a.example.com/' }]);
  });

  it('webhook(id) is null for an unknown or deleted id', async () => {
    const w = await createWebhook({ siteId: 'gql-nodes' });
    await gql(DELETE, { input: { id: w.id } });
    const data = await gql(`query ($a: ID!, $b: ID!) { a: webhook(id: $a) { id } b: webhook(id: $b) { id } }`, {
      a: w.id,
      b: 'wh_01ARZ3NDEKTSV4RRFFQ69G5FAV',
    });
    expect(data).toEqual({ a: null, b: null });
  });
});

describe('eventTypes', () => {
  it('lists the catalogue with descriptions', async () => {
    const data = await gql(`{ eventTypes { name description } }`);
    expect(data.eventTypes).toEqual(EVENT_TYPES.map((e) => ({ name: e.name, description: e.description })));
    expect(data.eventTypes.map((e: { name: string }) => e.name)).toEqual(
      expect.arrayContaining(['page.created', 'page.updated', 'page.published', 'page.unpublished', 'page.deleted', 'asset.created', 'asset.updated', 'asset.deleted']),
    );
  });
});

describe('webhooks(siteId, first/after/last/before)', () => {
  const SITE = 'gql-paging';
  const ids: string[] = [];
  type Page = { totalCount: number; edges: { cursor: string; node: { id: string } }[]; pageInfo: any };
  const page = async (args: Record<string, unknown>): Promise<Page> => (await gql(PAGE, { siteId: SITE, ...args })).webhooks;
  const idsOf = (p: Page) => p.edges.map((e) => e.node.id);

  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      ids.push((await createWebhook({ siteId: SITE, url: `https://receiver.example.com/${i}` })).id);
      await new Promise((r) => setTimeout(r, 2));
    }
    // Another site's webhooks never show up.
    await createWebhook({ siteId: `${SITE}-other` });
  });

  it('lists oldest first, in creation order, like REST', async () => {
    const all = await page({});
    expect(all.totalCount).toBe(7);
    expect(idsOf(all)).toEqual(ids);
    const viaRest = await rest('GET', `/v1/sites/${SITE}/webhooks`);
    expect(viaRest.body.data.map((w: { id: string }) => w.id)).toEqual(ids);
  });

  it('pages forward across several pages', async () => {
    const p1 = await page({ first: 3 });
    expect(idsOf(p1)).toEqual(ids.slice(0, 3));
    expect(p1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(p1.pageInfo.startCursor).toBe(p1.edges[0]!.cursor);
    expect(p1.pageInfo.endCursor).toBe(p1.edges[2]!.cursor);
    expect(p1.totalCount).toBe(7);

    const p2 = await page({ first: 3, after: p1.pageInfo.endCursor });
    expect(idsOf(p2)).toEqual(ids.slice(3, 6));
    expect(p2.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(p2.totalCount).toBe(7);

    const p3 = await page({ first: 3, after: p2.pageInfo.endCursor });
    expect(idsOf(p3)).toEqual(ids.slice(6));
    expect(p3.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });

    const past = await page({ first: 3, after: p3.pageInfo.endCursor });
    expect(idsOf(past)).toEqual([]);
    expect(past.pageInfo.hasNextPage).toBe(false);
  });

  it('pages backward across several pages', async () => {
    const p1 = await page({ last: 3 });
    expect(idsOf(p1)).toEqual(ids.slice(4, 7));
    expect(p1.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    const p2 = await page({ last: 3, before: p1.pageInfo.startCursor });
    expect(idsOf(p2)).toEqual(ids.slice(1, 4));
    expect(p2.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });

    const p3 = await page({ last: 3, before: p2.pageInfo.startCursor });
    expect(idsOf(p3)).toEqual(ids.slice(0, 1));
    expect(p3.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    expect(p3.totalCount).toBe(7);
  });

  it('gives the same order and cursors on every read (stable)', async () => {
    const a = await page({ first: 7 });
    const b = await page({ first: 7 });
    expect(a).toEqual(b);
    expect(a.edges.map((e) => e.cursor)).toEqual(ids); // cursors are the ids themselves
  });

  it('pages between two cursors', async () => {
    const between = await page({ first: 10, after: ids[1], before: ids[5] });
    expect(idsOf(between)).toEqual(ids.slice(2, 5));
  });

  it('clamps first: 1000 to 100 items', async () => {
    const site = 'gql-big';
    const principal = { keyId: '', name: 'bulk', sites: null };
    for (let i = 0; i < 101; i++) {
      await t.app.services.webhooks.create(principal, site, { url: `https://receiver.example.com/${i}`, events: ['*'] });
    }
    const big = (await gql(PAGE, { siteId: site, first: 1000 })).webhooks;
    expect(big.edges).toHaveLength(100);
    expect(big.totalCount).toBe(101);
    expect(big.pageInfo.hasNextPage).toBe(true);
    const rest2 = (await gql(PAGE, { siteId: site, first: 1000, after: big.pageInfo.endCursor })).webhooks;
    expect(rest2.edges).toHaveLength(1);
    const defaulted = (await gql(PAGE, { siteId: site })).webhooks;
    expect(defaulted.edges).toHaveLength(25);
  });
});

describe('webhooks filters', () => {
  const SITE = 'gql-filters';
  let pages: any;
  let assets: any;
  let everything: any;
  let off: any;

  beforeAll(async () => {
    pages = await createWebhook({ siteId: SITE, events: ['page.created', 'page.deleted'] });
    assets = await createWebhook({ siteId: SITE, events: ['asset.created'] });
    everything = await createWebhook({ siteId: SITE, events: ['*'] });
    off = await createWebhook({ siteId: SITE, events: ['asset.created'], active: false });
  });

  it('active filters by state, with totalCount of the filtered list', async () => {
    const on = (await gql(PAGE, { siteId: SITE, active: true })).webhooks;
    expect(on.edges.map((e: any) => e.node.id)).toEqual([pages.id, assets.id, everything.id]);
    expect(on.totalCount).toBe(3);
    const inactive = (await gql(PAGE, { siteId: SITE, active: false })).webhooks;
    expect(inactive.edges.map((e: any) => e.node.id)).toEqual([off.id]);
    expect(inactive.totalCount).toBe(1);
  });

  it('event filters to webhooks receiving that type (including "*")', async () => {
    const asset = (await gql(PAGE, { siteId: SITE, event: 'asset.created' })).webhooks;
    expect(asset.edges.map((e: any) => e.node.id)).toEqual([assets.id, everything.id, off.id]);
    expect(asset.totalCount).toBe(3);
    const both = (await gql(PAGE, { siteId: SITE, event: 'asset.created', active: true, first: 1 })).webhooks;
    expect(both.edges.map((e: any) => e.node.id)).toEqual([assets.id]);
    expect(both.totalCount).toBe(2);
    expect(both.pageInfo.hasNextPage).toBe(true);
  });
});

describe('updateWebhook', () => {
  it('changes the given fields; clientMutationId is echoed', async () => {
    const w = await createWebhook({ siteId: 'gql-update' });
    const secret = 'whsec_' + Buffer.alloc(32, 3).toString('base64');
    const data = await gql(UPDATE, {
      input: { clientMutationId: 'u-7', id: w.id, url: 'http://changed.example.com/x', events: ['*'], secret },
    });
    expect(data.updateWebhook.clientMutationId).toBe('u-7');
    expect(data.updateWebhook.webhook).toMatchObject({
      id: w.id,
      url: 'http://changed.example.com/x',
      events: ['*'],
      secret,
      active: true,
      createdAt: w.createdAt,
      createdBy: w.createdBy,
    });
    const viaRest = await rest('GET', `/v1/sites/gql-update/webhooks/${w.id}`);
    expect(viaRest.body.data).toEqual(data.updateWebhook.webhook);
  });

  it('leaves out null fields (they mean "unchanged")', async () => {
    const w = await createWebhook({ siteId: 'gql-update', url: 'https://keep.example.com/' });
    const data = await gql(UPDATE, { input: { id: w.id, url: null, events: null, active: null, secret: null } });
    const { updatedAt: _a, ...after } = data.updateWebhook.webhook;
    const { updatedAt: _b, ...before } = w;
    expect(after).toEqual(before);
  });

  it('re-activating resets failCount; disabling keeps a reason', async () => {
    const w = await createWebhook({ siteId: 'gql-update' });
    const disabled = await gql(UPDATE, { input: { id: w.id, active: false } });
    expect(disabled.updateWebhook.webhook).toMatchObject({ active: false, disabledReason: expect.any(String) });
    await t.app.database.collections.webhooks.updateOne({ _id: w.id }, { $set: { failCount: 9 } });
    const seen = await gql(`query ($id: ID!) { webhook(id: $id) { failCount } }`, { id: w.id });
    expect(seen.webhook.failCount).toBe(9);
    const again = await gql(UPDATE, { input: { id: w.id, active: true } });
    expect(again.updateWebhook.webhook).toMatchObject({ active: true, failCount: 0, disabledReason: null });
  });
});

describe('deleteWebhook', () => {
  it('deletes; clientMutationId is echoed; gone from both interfaces', async () => {
    const w = await createWebhook({ siteId: 'gql-delete' });
    const data = await gql(DELETE, { input: { id: w.id, clientMutationId: 'd-1' } });
    expect(data.deleteWebhook).toEqual({ clientMutationId: 'd-1', deletedWebhookId: w.id, deleted: true });
    expect((await gql(`query ($id: ID!) { node(id: $id) { id } }`, { id: w.id })).node).toBeNull();
    expect((await rest('GET', `/v1/sites/gql-delete/webhooks/${w.id}`)).status).toBe(404);
    expect((await gql(PAGE, { siteId: 'gql-delete' })).webhooks.totalCount).toBe(0);
  });
});

describe('webhooks(event:) filter', () => {
  it('rejects an event type outside the catalogue with VALIDATION_ERROR', async () => {
    const t = await startTestApp();
    try {
      const answer = await t.graphql('{ webhooks(siteId: "site-x", event: "nonsense") { totalCount } }');
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
      expect(answer.body.errors?.[0]?.extensions?.details?.fields?.event).toBeTruthy();
    } finally {
      await t.stop();
    }
  });
});
