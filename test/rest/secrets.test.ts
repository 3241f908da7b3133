// Webhook secrets and API keys never reach the log, whichever interface created or changed them,
// including requests that fail. The app logs at debug level here (test/support/app.ts).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { contractRequest, type ContractRequest } from '../support/openapi.ts';

let t: TestApp;
let api: ContractRequest;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'debug' });
  api = contractRequest(t);
});
afterAll(async () => {
  await t?.stop();
});

const newSecret = () => 'whsec_' + randomBytes(32).toString('base64');

/** The whole value, and a long piece of its random part (a truncated or re-encoded leak). */
function expectNotLogged(value: string) {
  const body = value.replace(/^whsec_|^ock_/, '');
  const pieces = [value, body.slice(0, 20), body.slice(-20)];
  for (const line of t.logs) for (const piece of pieces) expect(line, 'a secret reached the log').not.toContain(piece);
}

describe('secrets in logs', () => {
  it('neither webhook secrets nor API keys appear in the log after REST and GraphQL changes', async () => {
    expect(t.app.config.logLevel).toBe('debug');
    const secrets: string[] = [];
    const key = await t.createKey(['secret-site'], 'secret tester');

    // REST: create with a supplied secret, with a generated one, then update the secret.
    const supplied = newSecret();
    secrets.push(supplied);
    const a = await api('POST', '/v1/sites/secret-site/webhooks', {
      key,
      body: { url: 'https://receiver.example.com/a', events: ['*'], secret: supplied },
    });
    expect(a.status).toBe(201);
    expect(a.body.data.secret).toBe(supplied);
    const b = await api('POST', '/v1/sites/secret-site/webhooks', { key, body: { url: 'https://receiver.example.com/b', events: ['*'] } });
    secrets.push(b.body.data.secret);
    const rotated = newSecret();
    secrets.push(rotated);
    const patched = await api('PATCH', `/v1/sites/secret-site/webhooks/${a.body.data.id}`, { key, body: { secret: rotated } });
    expect(patched.body.data.secret).toBe(rotated);
    // A refused request that carries a valid secret.
    const refusedSecret = newSecret();
    secrets.push(refusedSecret);
    const refused = await api('POST', '/v1/sites/secret-site/webhooks', {
      key,
      body: { url: 'ftp://receiver.example.com/', events: ['page.created'], secret: refusedSecret },
    });
    expect(refused.status).toBe(400);

    // GraphQL: create with a secret, rotate it, and a refused mutation carrying one.
    const gqlSecret = newSecret();
    secrets.push(gqlSecret);
    const created = await t.graphql(
      `mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id secret } } }`,
      { input: { siteId: 'secret-site', url: 'https://receiver.example.com/c', events: ['page.created'], secret: gqlSecret } },
      key,
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data.createWebhook.webhook.secret).toBe(gqlSecret);
    const gqlRotated = newSecret();
    secrets.push(gqlRotated);
    const updated = await t.graphql(
      `mutation ($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { secret } } }`,
      { input: { id: created.body.data.createWebhook.webhook.id, secret: gqlRotated } },
      key,
    );
    expect(updated.body.data.updateWebhook.webhook.secret).toBe(gqlRotated);
    const gqlRefusedSecret = newSecret();
    secrets.push(gqlRefusedSecret);
    const gqlRefused = await t.graphql(
      `mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }`,
      { input: { siteId: 'secret-site', url: 'nope', events: ['page.created'], secret: gqlRefusedSecret } },
      key,
    );
    expect(gqlRefused.body.errors![0].extensions.code).toBe('VALIDATION_ERROR');

    // Reads through both interfaces return the secrets (so they did pass through the app)...
    const list = await api('GET', '/v1/sites/secret-site/webhooks', { key });
    expect(list.body.data.map((w: { secret: string }) => w.secret).sort()).toEqual([rotated, b.body.data.secret, gqlRotated].sort());
    const gqlList = await t.graphql(`{ webhooks(siteId: "secret-site") { edges { node { secret } } } }`, {}, key);
    expect(gqlList.body.data.webhooks.edges).toHaveLength(3);

    // ...and none of them, nor the API keys, is in the log.
    expect(t.logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expectNotLogged(secret);
    expectNotLogged(key);
    expectNotLogged(t.adminKey);
  });
});
