// REST helpers and subscription documents for the live-results tests. They talk to any running
// API (an in-process test app or a child process) by its base URL and an API key.
import { expect } from 'vitest';

export interface Api {
  /** http://127.0.0.1:PORT */
  url: string;
  key: string;
}

export async function rest(api: Api, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = { 'x-api-key': api.key };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(api.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text };
}

export async function createWebhook(api: Api, site: string, url: string, events: string[] = ['*']) {
  const res = await rest(api, 'POST', `/v1/sites/${site}/webhooks`, { url, events });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; url: string; siteId: string };
}

export async function updateWebhook(api: Api, site: string, id: string, patch: Record<string, unknown>) {
  const res = await rest(api, 'PATCH', `/v1/sites/${site}/webhooks/${id}`, patch);
  expect(res.status, res.text).toBe(200);
  return res.body.data as { id: string; url: string; events: string[] };
}

export async function deleteWebhook(api: Api, site: string, id: string): Promise<void> {
  const res = await rest(api, 'DELETE', `/v1/sites/${site}/webhooks/${id}`);
  expect(res.status, res.text).toBe(200);
}

export async function publish(api: Api, site: string, type = 'page.created', data: Record<string, unknown> = { pageId: 'p1' }) {
  const res = await rest(api, 'POST', `/v1/sites/${site}/events`, { type, data });
  expect(res.status, res.text).toBe(202);
  return res.body.data as { id: string; type: string; webhooks: number };
}

/** Every field of a Delivery, with its webhook and event resolved. */
export const DELIVERY_ATTEMPTED = /* GraphQL */ `
  subscription Attempts($siteId: ID!, $webhookId: ID, $success: Boolean) {
    deliveryAttempted(siteId: $siteId, webhookId: $webhookId, success: $success) {
      id eventId webhookId event url attempt statusCode success error durationMs deliveredAt trigger
      webhook { id }
      sourceEvent { id type }
    }
  }
`;

export const WEBHOOK_CHANGED = /* GraphQL */ `
  subscription Changes($siteId: ID!) {
    webhookChanged(siteId: $siteId) { id siteId url events active disabledReason change deletedAt }
  }
`;

/** The deliveryAttempted payloads of a feed's results (asserting each carried no errors). */
export function attempts(values: any[]): any[] {
  return values.map((v) => {
    expect(v.errors, JSON.stringify(v.errors)).toBeUndefined();
    return v.data.deliveryAttempted;
  });
}

export function changes(values: any[]): any[] {
  return values.map((v) => {
    expect(v.errors, JSON.stringify(v.errors)).toBeUndefined();
    return v.data.webhookChanged;
  });
}
