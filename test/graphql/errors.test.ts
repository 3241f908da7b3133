// GraphQL errors carry the same codes as REST in extensions.code (VALIDATION_ERROR with the bad
// fields, UNAUTHORIZED, FORBIDDEN, NOT_FOUND); a key for one site never sees or changes another's
// webhooks; paging arguments are checked; unexpected errors are masked, never a stack trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

let t: TestApp;
let keyA: string;
let keyB: string;
let webhookA: any;
let webhookB: any;

const SITE_A = 'gql-err-a';
const SITE_B = 'gql-err-b';
const UNKNOWN = 'wh_01ARZ3NDEKTSV4RRFFQ69G5FAV';
const STACK_LIKE = /\n\s+at |\bat [^\s]+ \(|node_modules|\.ts:\d+|"stack"/;

const CREATE = `mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id secret } } }`;
const UPDATE = `mutation ($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { id url } } }`;
const DELETE = `mutation ($input: DeleteWebhookInput!) { deleteWebhook(input: $input) { deletedWebhookId } }`;
const LIST = `query ($siteId: ID!, $first: Int, $last: Int, $after: String, $before: String) {
  webhooks(siteId: $siteId, first: $first, last: $last, after: $after, before: $before) { totalCount edges { node { id } } }
}`;

/** Runs an operation expected to fail; returns its single error (and checks nothing leaks). */
async function failing(query: string, variables: Record<string, unknown> = {}, key?: string | null) {
  const answer = await t.graphql(query, variables, key);
  expect(answer.text).not.toMatch(STACK_LIKE);
  expect(answer.body.errors, answer.text).toHaveLength(1);
  const [error] = answer.body.errors!;
  expect(error.message).toEqual(expect.any(String));
  return { error, answer };
}

const snapshot = () => t.app.database.collections.webhooks.find({}).sort({ _id: 1 }).toArray();

beforeAll(async () => {
  t = await startTestApp();
  keyA = await t.createKey([SITE_A], 'key A');
  keyB = await t.createKey([SITE_B], 'key B');
  const input = { url: 'https://receiver.example.com/', events: ['*'] };
  webhookA = (await t.graphql(CREATE, { input: { ...input, siteId: SITE_A } }, keyA)).body.data!.createWebhook.webhook;
  webhookB = (await t.graphql(CREATE, { input: { ...input, siteId: SITE_B } }, keyB)).body.data!.createWebhook.webhook;
  expect(webhookA.id).toMatch(/^wh_/);
  expect(webhookB.id).toMatch(/^wh_/);
});
afterAll(async () => {
  await t?.stop();
});

describe('UNAUTHORIZED', () => {
  it.each([
    ['without a key', null],
    ['with an unknown key', 'ock_unknown'],
    ['with an empty key', ''],
  ])('refuses queries and mutations %s', async (_name, key) => {
    const before = await snapshot();
    for (const [query, variables] of [
      ['{ eventTypes { name } }', {}],
      [LIST, { siteId: SITE_A }],
      [`query ($id: ID!) { webhook(id: $id) { id } }`, { id: webhookA.id }],
      [CREATE, { input: { siteId: SITE_A, url: 'https://x.example.com/', events: ['*'] } }],
      [DELETE, { input: { id: webhookA.id } }],
    ] as const) {
      const { error, answer } = await failing(query, variables, key);
      expect(error.extensions.code).toBe('UNAUTHORIZED');
      expect(answer.status).toBe(401);
      expect(answer.body.data ?? null).toBeNull();
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a revoked key', async () => {
    const { key, apiKey } = await t.app.services.apiKeys.create({ name: 'revoked soon', sites: null });
    expect((await t.graphql('{ eventTypes { name } }', {}, key)).body.errors).toBeUndefined();
    await t.app.services.apiKeys.revoke(apiKey.id);
    const { error } = await failing('{ eventTypes { name } }', {}, key);
    expect(error.extensions.code).toBe('UNAUTHORIZED');
    expect(error.message).toMatch(/revoked/i);
  });
});

describe('VALIDATION_ERROR', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['an ftp URL', { url: 'ftp://x.example.com/' }, ['url']],
    ['a relative URL', { url: '/hooks' }, ['url']],
    ['a URL over 2048 characters', { url: 'https://x.example.com/' + 'a'.repeat(2030) }, ['url']],
    ['a URL with user:password', { url: 'https://u:p@x.example.com/' }, ['url']],
    ['an empty events list', { events: [] }, ['events']],
    ['an unknown event type', { events: ['page.exploded'] }, ['events']],
    ['a bad secret', { secret: 'whsec_nope' }, ['secret']],
    ['several at once', { url: 'nope', events: [], secret: 'x' }, ['url', 'events', 'secret']],
  ])('createWebhook with %s names the fields and stores nothing', async (_name, fields, names) => {
    const before = await snapshot();
    const { error } = await failing(CREATE, {
      input: { siteId: SITE_A, url: 'https://receiver.example.com/', events: ['page.created'], ...fields },
    }, keyA);
    expect(error.extensions.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(error.extensions.details.fields).sort()).toEqual([...names].sort());
    expect(error.path).toEqual(['createWebhook']);
    expect(await snapshot()).toEqual(before);
  });

  it('updateWebhook with bad fields names them and changes nothing', async () => {
    const before = await snapshot();
    const { error } = await failing(UPDATE, { input: { id: webhookA.id, url: 'ftp://x.example.com/', events: ['nope'] } }, keyA);
    expect(error.extensions.code).toBe('VALIDATION_ERROR');
    expect(Object.keys(error.extensions.details.fields).sort()).toEqual(['events', 'url']);
    expect(await snapshot()).toEqual(before);
  });

  it('an invalid site id is a VALIDATION_ERROR naming siteId', async () => {
    const { error } = await failing(LIST, { siteId: '-bad site-' });
    expect(error.extensions).toMatchObject({ code: 'VALIDATION_ERROR', details: { fields: { siteId: expect.any(String) } } });
  });

  it.each([
    ['after', 'garbage'],
    ['before', 'garbage'],
    ['after', 'evt_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
    ['before', ''],
  ])('a bad cursor in %s (%j) is a VALIDATION_ERROR', async (arg, cursor) => {
    const { error } = await failing(LIST, { siteId: SITE_A, first: 2, [arg]: cursor }, keyA);
    expect(error.extensions.code).toBe('VALIDATION_ERROR');
    expect(error.extensions.details.fields).toEqual({ [arg]: expect.any(String) });
  });

  it.each([
    [{ first: -1 }],
    [{ last: -1 }],
  ])('a negative page size %j is a clear VALIDATION_ERROR, not an internal error', async (args) => {
    const { error, answer } = await failing(LIST, { siteId: SITE_A, ...args }, keyA);
    expect(error.extensions.code).toBe('VALIDATION_ERROR');
    expect(error.message).toMatch(/non-negative/);
    expect(answer.body.data).toEqual({ webhooks: null });
  });

  it('a malformed id for node() is a VALIDATION_ERROR', async () => {
    const { error } = await failing(`{ node(id: "not-an-id") { id } }`, {}, keyA);
    expect(error.extensions.code).toBe('VALIDATION_ERROR');
  });

  it('an input of the wrong GraphQL type is refused before any resolver runs', async () => {
    const before = await snapshot();
    const answer = await t.graphql(CREATE, { input: { siteId: SITE_A, url: 42, events: 'page.created', active: 'yes' } }, keyA);
    expect(answer.body.errors?.length).toBeGreaterThan(0);
    expect(answer.body.data ?? null).toBeNull();
    expect(answer.text).not.toMatch(STACK_LIKE);
    expect(answer.body.errors!.map((e: any) => e.extensions?.code)).toEqual(answer.body.errors!.map(() => 'VALIDATION_ERROR'));
    expect(t.logs.some((line) => line.includes('graphql resolver failed'))).toBe(false);
    expect(await snapshot()).toEqual(before);
  });
});

describe('site isolation and NOT_FOUND', () => {
  it("a key for site A sees none of site B's webhooks", async () => {
    const data = (
      await t.graphql(
        `query ($b: ID!, $ids: [ID!]!) { webhook(id: $b) { id secret } node(id: $b) { id } nodes(ids: $ids) { id } }`,
        { b: webhookB.id, ids: [webhookA.id, webhookB.id] },
        keyA,
      )
    ).body;
    expect(data.errors).toBeUndefined();
    expect(data.data).toEqual({ webhook: null, node: null, nodes: [{ id: webhookA.id }, null] });
    // ...while the key for B does see it.
    const own = await t.graphql(`query ($b: ID!) { webhook(id: $b) { id } }`, { b: webhookB.id }, keyB);
    expect(own.body.data.webhook).toEqual({ id: webhookB.id });
  });

  it('webhooks(siteId: B) with a key for A is FORBIDDEN, and so is creating there', async () => {
    const before = await snapshot();
    const list = await failing(LIST, { siteId: SITE_B }, keyA);
    expect(list.error.extensions).toMatchObject({ code: 'FORBIDDEN', details: { siteId: SITE_B } });
    expect(list.error.path).toEqual(['webhooks']);
    const create = await failing(CREATE, { input: { siteId: SITE_B, url: 'https://x.example.com/', events: ['*'] } }, keyA);
    expect(create.error.extensions.code).toBe('FORBIDDEN');
    expect(await snapshot()).toEqual(before);
  });

  it("updating or deleting site B's webhook with a key for A is NOT_FOUND and changes nothing", async () => {
    const before = await snapshot();
    for (const [query, input] of [
      [UPDATE, { id: webhookB.id, url: 'https://attacker.example.com/' }],
      [UPDATE, { id: webhookB.id, active: true }],
      [DELETE, { id: webhookB.id }],
    ] as const) {
      const { error } = await failing(query, { input }, keyA);
      expect(error.extensions.code).toBe('NOT_FOUND');
      expect(JSON.stringify(error)).not.toContain(webhookB.secret);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('updating or deleting an unknown webhook is NOT_FOUND', async () => {
    for (const [query, input] of [
      [UPDATE, { id: UNKNOWN, url: 'https://x.example.com/' }],
      [DELETE, { id: UNKNOWN }],
    ] as const) {
      const { error } = await failing(query, { input });
      expect(error.extensions.code).toBe('NOT_FOUND');
    }
  });

  it('errors of one field leave the other fields of the operation answered', async () => {
    const answer = await t.graphql(
      `query ($b: ID!) { mine: webhooks(siteId: "${SITE_A}") { totalCount } theirs: webhooks(siteId: $b) { totalCount } }`,
      { b: SITE_B },
      keyA,
    );
    expect(answer.body.data).toEqual({ mine: { totalCount: 1 }, theirs: null });
    expect(answer.body.errors!.map((e: any) => [e.path, e.extensions.code])).toEqual([[['theirs'], 'FORBIDDEN']]);
  });
});

describe('unexpected errors are masked', () => {
  let t2: TestApp;
  beforeAll(async () => {
    t2 = await startTestApp();
    expect((await t2.graphql('{ eventTypes { name } }')).body.errors).toBeUndefined();
    await t2.app.database.client.close();
  });
  afterAll(async () => {
    await t2?.stop();
  });

  it('answers INTERNAL_ERROR with a generic message and no stack, and logs the cause', async () => {
    const answer = await t2.graphql(LIST, { siteId: SITE_A });
    expect(answer.text).not.toMatch(STACK_LIKE);
    expect(answer.text).not.toMatch(/mongo|topology|connected/i);
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors![0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_ERROR' } });
    expect(t2.logs.some((line) => line.includes('"level":"error"') && /Mongo/.test(line))).toBe(true);
  });
});
