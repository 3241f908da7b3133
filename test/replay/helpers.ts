// Shared helpers of the replay suites: a test app with its receivers, webhooks and events made
// through the documented REST paths (every answer checked against the OpenAPI document), events
// inserted directly for the large windows, and signature checks with the standardwebhooks package.
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { newId } from '../../src/domain/ids.ts';
import type { EventDoc } from '../../src/store/events.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { contractRequest, type ContractRequest } from '../support/openapi.ts';
import { eventually, startReceiver, type Receiver, type ReceivedRequest, type ReceiverOptions } from '../support/receiver.ts';

export interface Published {
  id: string;
  type: string;
  createdAt: string;
  webhooks: number;
}

export interface CreatedWebhook {
  id: string;
  secret: string;
  url: string;
  events: string[];
}

/** One app under test, the REST client that checks the contract, and what the test started. */
export class ReplayHarness {
  readonly receivers: Receiver[] = [];
  private siteSeq = 0;

  private constructor(
    readonly t: TestApp,
    readonly api: ContractRequest,
    private readonly prefix: string,
  ) {}

  static async start(prefix: string, env: Record<string, string>): Promise<ReplayHarness> {
    const t = await startTestApp(env);
    return new ReplayHarness(t, contractRequest(t), prefix);
  }

  /** A fresh site, so that a test never sees another test's events or webhooks. */
  site(): string {
    return `${this.prefix}-${Date.now().toString(36)}-${++this.siteSeq}`;
  }

  async receiver(options: ReceiverOptions = {}): Promise<Receiver> {
    const r = await startReceiver(options);
    this.receivers.push(r);
    return r;
  }

  async createWebhook(site: string, url: string, events: string[] = ['page.created']): Promise<CreatedWebhook> {
    const res = await this.api('POST', `/v1/sites/${site}/webhooks`, { body: { url, events } });
    expect(res.status, res.text).toBe(201);
    return res.body.data;
  }

  async setActive(site: string, webhookId: string, active: boolean): Promise<void> {
    const res = await this.api('PATCH', `/v1/sites/${site}/webhooks/${webhookId}`, { body: { active } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.active).toBe(active);
  }

  async publish(site: string, type = 'page.created', data: Record<string, unknown> = {}): Promise<Published> {
    const res = await this.api('POST', `/v1/sites/${site}/events`, { body: { type, data } });
    expect(res.status, res.text).toBe(202);
    return res.body.data;
  }

  /** Publishes one after the other, each in a later millisecond than the one before. */
  async publishMany(site: string, types: string[], data: (i: number) => Record<string, unknown> = (i) => ({ n: i })): Promise<Published[]> {
    const out: Published[] = [];
    for (const [i, type] of types.entries()) {
      const last = out[out.length - 1];
      if (last) await untilAfter(Date.parse(last.createdAt));
      out.push(await this.publish(site, type, data(i)));
    }
    return out;
  }

  replay(site: string, webhookId: string, body: unknown, key?: string | null) {
    return this.api('POST', `/v1/sites/${site}/webhooks/${webhookId}/replay`, { body, key });
  }

  async deliveries(site: string, webhookId: string): Promise<any[]> {
    const res = await this.api('GET', `/v1/sites/${site}/webhooks/${webhookId}/deliveries?limit=100`);
    expect(res.status, res.text).toBe(200);
    return res.body.data;
  }

  /** Waits until the webhook's log holds `count` attempts with this trigger; oldest first. */
  async waitForLogged(site: string, webhookId: string, trigger: string, count: number, timeoutMs = WAIT): Promise<any[]> {
    const list = await eventually(
      async () => {
        const found = (await this.deliveries(site, webhookId)).filter((d) => d.trigger === trigger);
        return found.length >= count ? found : undefined;
      },
      { timeoutMs, what: `${count} logged ${trigger} attempt(s) of ${webhookId}` },
    );
    return [...list].reverse();
  }

  /**
   * Inserts `count` events of a site straight into the events collection (their fan-out marked
   * done, so the sweep leaves them alone), `stepMs` apart ending `endAgoMs` before now; oldest first.
   */
  async insertEvents(site: string, count: number, options: { type?: string; endAgoMs?: number; stepMs?: number } = {}): Promise<EventDoc[]> {
    const { type = 'page.created', endAgoMs = 60_000, stepMs = 1 } = options;
    const end = Date.now() - endAgoMs;
    const docs: EventDoc[] = Array.from({ length: count }, (_, i) => {
      const at = end - (count - 1 - i) * stepMs;
      return { _id: newId('Event', at), siteId: site, type, data: { n: i }, createdAt: new Date(at), webhookCount: 0, fannedOut: true };
    });
    for (let i = 0; i < docs.length; i += 5000) {
      await this.t.app.database.collections.events.insertMany(docs.slice(i, i + 5000), { ordered: false });
    }
    return docs;
  }

  /** A webhook's replays, and its replay attempts still queued or logged. */
  async replayFootprint(webhookId: string): Promise<{ queued: number; logged: number; replays: number }> {
    const c = this.t.app.database.collections;
    return {
      queued: await c.messages.countDocuments({ webhookId, trigger: 'replay' }),
      logged: await c.deliveries.countDocuments({ webhookId, trigger: 'replay' }),
      replays: await c.replays.countDocuments({ webhookId }),
    };
  }

  /** Log lines at level error, or any mention of an unhandled failure. */
  errorLogs(): string[] {
    return this.t.logs.filter((line) => /"level":"error"|unhandled|uncaught/i.test(line));
  }

  async stop(): Promise<void> {
    // Receivers first: held or slow requests would otherwise keep the app's drain waiting.
    await Promise.all(this.receivers.map((r) => r.stop().catch(() => undefined)));
    await this.t.stop();
  }
}

/** Resolves once Date.now() is past `ms` (a millisecond boundary, not a fixed sleep). */
export async function untilAfter(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Verifies a received request exactly as a receiver would; returns the verified payload. */
export function verified(secret: string, request: ReceivedRequest): any {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
  return new StandardWebhook(secret).verify(request.rawBody, headers);
}

export const webhookIdOf = (request: ReceivedRequest) => String(request.headers['webhook-id']);

/** Oldest first, as the service orders a window: by createdAt, then by id. */
export const inEventOrder = <T extends { id: string; createdAt: string }>(events: T[]): T[] =>
  [...events].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** How long a wait may take before a test fails (the machine may be busy; waits end early). */
export const WAIT = 15_000;

export const isoAgo = (ms: number) => new Date(Date.now() - ms).toISOString();
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** GraphQL documents of the replay API. */
export const REPLAY_MUTATION = /* GraphQL */ `
  mutation Replay($input: ReplayWebhookInput!) {
    replayWebhook(input: $input) {
      webhookId
      replayed
      eventIds
      dryRun
      replay { id status scheduled delivered failed pending webhookId eventIds onlyFailed since until }
    }
  }
`;

export const REPLAY_NODE = /* GraphQL */ `
  query ReplayNode($id: ID!) {
    replay(id: $id) { id status scheduled delivered failed pending cancelledReason webhook { id } }
    node(id: $id) { id ... on Replay { status scheduled delivered failed pending } }
  }
`;
