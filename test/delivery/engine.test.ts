// The delivery engine's guarantees, driven through the real app on the real database: an attempt
// is claimed atomically before it is sent (two drains, two app instances, two workers: one
// request each), a batch that runs longer than the lock lifetime is not taken over and sent
// again, attempts of removed events are dropped, and retention removes only old data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { eventually, sleep, startReceiver, type Receiver } from '../support/receiver.ts';
import { runRetention } from '../../src/jobs/retention.ts';
import { EventStore } from '../../src/store/events.ts';
import { DeliveryStore } from '../../src/store/deliveries.ts';
import { MessageStore } from '../../src/store/messages.ts';
import { newId } from '../../src/domain/ids.ts';

const apps: TestApp[] = [];
const receivers: Receiver[] = [];
const secrets: string[] = [];

async function app(env: Record<string, string>): Promise<TestApp> {
  const t = await startTestApp(env);
  apps.push(t);
  return t;
}
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

afterAll(async () => {
  // Stop in reverse: instances sharing a database stop before the one that made it.
  for (const t of [...apps].reverse()) await t.stop();
  await Promise.all(receivers.map((r) => r.stop()));
});

async function createWebhook(t: TestApp, site: string, url: string): Promise<string> {
  const webhook = await t.app.services.webhooks.create({ name: 'test', sites: null } as never, site, { url, events: ['*'] });
  secrets.push(webhook.secret);
  return webhook.id;
}

async function publish(t: TestApp, site: string, data: Record<string, unknown> = {}): Promise<string> {
  const res = await t.request('POST', `/v1/sites/${site}/events`, { body: { type: 'page.created', data } });
  expect(res.status, res.text).toBe(202);
  return res.body.data.id;
}

/** Each webhook-id the receiver saw, with how many requests carried it. */
function countsById(r: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of r.requests) {
    const id = String(request.headers['webhook-id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('one request per due attempt (ROLE=api: nobody runs jobs, the test drains)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    // A generous timeout: a slow moment of a busy machine must not turn an answer into a failure.
    const env = { ROLE: 'api', RETRY_SCHEDULE: '1h', DELIVERY_TIMEOUT_MS: '10000' };
    a = await app(env);
    // A second instance on the same database, as a second process would be.
    b = await app({ ...env, MONGODB_DB: a.databaseName });
  });

  it('two concurrent drains of one webhook send each attempt once', async () => {
    const r = await receiver({ fallback: { delayMs: 50 } });
    const webhookId = await createWebhook(a, 'site-drain', r.url());
    for (let round = 0; round < 5; round++) {
      const eventId = await publish(a, 'site-drain', { round });
      const deadline = Date.now() + 5000;
      const results = await Promise.all([a.app.engine.drain(webhookId, deadline), a.app.engine.drain(webhookId, deadline)]);
      expect(results.map((x) => x.attempted).sort()).toEqual([0, 1]);
      expect(countsById(r).get(eventId)).toBe(1);
    }
    expect(r.requests).toHaveLength(5);
    expect(await a.app.database.collections.deliveries.countDocuments({ webhookId })).toBe(5);
    expect(await a.app.database.collections.messages.countDocuments({ webhookId })).toBe(0);
  });

  it('drains from two app instances on one database send each attempt once', async () => {
    const r = await receiver();
    const webhookId = await createWebhook(a, 'site-two-apps', r.url());
    const eventIds: string[] = [];
    for (let i = 0; i < 12; i++) eventIds.push(await publish(a, 'site-two-apps', { i }));
    const deadline = Date.now() + 5000;
    const results = await Promise.all([
      a.app.engine.drain(webhookId, deadline),
      b.app.engine.drain(webhookId, deadline),
      a.app.engine.drain(webhookId, deadline),
      b.app.engine.drain(webhookId, deadline),
    ]);
    expect(results.reduce((sum, x) => sum + x.attempted, 0)).toBe(12);
    expect(r.requests).toHaveLength(12);
    expect([...countsById(r).values()].every((n) => n === 1)).toBe(true);
    expect([...countsById(r).keys()].sort()).toEqual([...eventIds].sort());
    // Once all are done, nothing waits.
    expect(await a.app.engine.drain(webhookId, Date.now() + 1000)).toEqual({ attempted: 0, nextDueAt: null });
  });

  it('a failed attempt waiting for its retry is not sent again by a concurrent drain', async () => {
    const r = await receiver({ fallback: { status: 500 } });
    const webhookId = await createWebhook(a, 'site-retry-race', r.url());
    for (let i = 0; i < 5; i++) await publish(a, 'site-retry-race', { i });
    const deadline = Date.now() + 5000;
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).app.engine.drain(webhookId, deadline)));
    expect(r.requests).toHaveLength(5);
    const queued = await a.app.database.collections.messages.find({ webhookId }).toArray();
    expect(queued).toHaveLength(5);
    for (const m of queued) {
      expect(m.attempt).toBe(2);
      expect(m.dueAt.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    }
    const next = await a.app.engine.drain(webhookId, Date.now() + 1000);
    expect(next.attempted).toBe(0);
    expect(next.nextDueAt!.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(r.requests).toHaveLength(5);
  });

  it('a claim never takes an attempt that another run settled for later in the meantime', async () => {
    // The claim reads candidates, then claims them; here another run settles the candidate as
    // a failed attempt (retry in an hour) exactly between the two steps.
    const c = a.app.database.collections.messages;
    const past = new Date(Date.now() - 1000);
    const id = 'evt_race.wh_race';
    await c.insertOne({ _id: id, siteId: 's', webhookId: 'wh_race', eventId: 'evt_race', eventType: 'page.created', attempt: 1, trigger: 'event', replayId: null, dueAt: past, createdAt: past, claimedUntil: new Date(0), claimToken: null });
    const later = new Date(Date.now() + 3_600_000);
    let interleaved = false;
    const racing = new Proxy(c, {
      get(target, prop) {
        if (prop === 'updateMany' && !interleaved) {
          return async (...args: Parameters<typeof c.updateMany>) => {
            interleaved = true;
            await c.updateOne({ _id: id }, { $set: { attempt: 2, dueAt: later, claimedUntil: new Date(0), claimToken: null } });
            return target.updateMany(...args);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const claimed = await new MessageStore(racing).claimDue('wh_race', new Date(), 10, 'my-token', 30_000);
    expect(interleaved).toBe(true);
    expect(claimed).toEqual([]);
    expect(await c.findOne({ _id: id })).toMatchObject({ attempt: 2, dueAt: later, claimToken: null });
  });

  it('drops an attempt whose event was removed (retention) without a request', async () => {
    const r = await receiver();
    const webhookId = await createWebhook(a, 'site-gone-event', r.url());
    const eventId = await publish(a, 'site-gone-event');
    await a.app.database.collections.events.deleteOne({ _id: eventId });
    const result = await a.app.engine.drain(webhookId, Date.now() + 2000);
    expect(result).toEqual({ attempted: 0, nextDueAt: null });
    expect(await a.app.database.collections.messages.countDocuments({ webhookId })).toBe(0);
    expect(r.requests).toHaveLength(0);
  });
});

describe('a batch that takes longer than the lock lifetime', () => {
  it('is not taken over and sent again while it is still running', async () => {
    // Every answer takes 500 ms and one attempt is in flight at a time, so six queued attempts
    // keep one drain busy for ~3 s, well past the 2 s lock lifetime.
    const env = {
      RETRY_SCHEDULE: '1h',
      DELIVERY_TIMEOUT_MS: '1500',
      DELIVERY_LOCK_LIFETIME_MS: '2000',
      DELIVERY_PARALLELISM: '1',
      POLL_INTERVAL_MS: '100',
      SWEEP_INTERVAL_MS: '200',
    };
    const api = await app({ ...env, ROLE: 'api' });
    const r = await receiver({ fallback: { delayMs: 500 } });
    const webhookId = await createWebhook(api, 'site-slow', r.url());
    const eventIds: string[] = [];
    for (let i = 0; i < 6; i++) eventIds.push(await publish(api, 'site-slow', { i }));
    // Two workers, so that one can take over what it believes abandoned.
    await app({ ...env, ROLE: 'worker', MONGODB_DB: api.databaseName });
    await app({ ...env, ROLE: 'worker', MONGODB_DB: api.databaseName });

    await eventually(async () => (await api.app.database.collections.deliveries.countDocuments({ webhookId })) >= 6, {
      timeoutMs: 20_000,
      what: 'six attempts logged',
    });
    await sleep(700);
    const counts = countsById(r);
    expect([...counts.keys()].sort()).toEqual([...eventIds].sort());
    expect([...counts.entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect(await api.app.database.collections.deliveries.countDocuments({ webhookId })).toBe(6);
    // Every first attempt was settled by the run that made it (a retry may wait if a busy
    // machine turned an answer into a timeout; it is due in an hour).
    expect(await api.app.database.collections.messages.countDocuments({ webhookId, attempt: 1 })).toBe(0);
  });
});

describe('two workers in normal operation', () => {
  it('deliver every event exactly once', async () => {
    const env = { RETRY_SCHEDULE: '1h', POLL_INTERVAL_MS: '200', SWEEP_INTERVAL_MS: '500', DELIVERY_TIMEOUT_MS: '10000' };
    const one = await app(env);
    const two = await app({ ...env, MONGODB_DB: one.databaseName });
    const receiversHere = await Promise.all([receiver(), receiver(), receiver()]);
    for (const r of receiversHere) await createWebhook(one, 'site-two-workers', r.url());
    const eventIds: string[] = [];
    for (let i = 0; i < 15; i++) eventIds.push(await publish(i % 2 ? one : two, 'site-two-workers', { i }));
    for (const r of receiversHere) {
      await r.waitForRequests(15, 20_000);
      await sleep(200);
      expect(r.requests).toHaveLength(15);
      expect([...countsById(r).keys()].sort()).toEqual([...eventIds].sort());
    }
  });
});

describe('retention', () => {
  const DAY = 86_400_000;

  async function seed(t: TestApp, site: string) {
    const c = t.app.database.collections;
    const now = Date.now();
    const at = (daysAgo: number) => new Date(now - daysAgo * DAY);
    const event = (daysAgo: number) => ({
      _id: newId('Event', at(daysAgo).getTime()),
      siteId: site,
      type: 'page.created',
      data: {},
      createdAt: at(daysAgo),
      webhookCount: 0,
      fannedOut: true,
    });
    const delivery = (daysAgo: number, eventId: string) => ({
      _id: newId('Delivery', at(daysAgo).getTime()),
      siteId: site,
      webhookId: 'wh_00000000000000000000000000',
      eventId,
      event: 'page.created',
      url: 'http://example.com/hook',
      attempt: 1,
      statusCode: 200,
      success: true,
      error: null,
      durationMs: 5,
      deliveredAt: at(daysAgo),
      responseBody: null,
      trigger: 'event' as const,
      replayId: null,
    });
    const events = [event(45), event(31), event(29), event(1)];
    await c.events.insertMany(events);
    const deliveries = [delivery(40, events[0]!._id), delivery(30.5, events[1]!._id), delivery(29.5, events[2]!._id), delivery(0, events[3]!._id)];
    await c.deliveries.insertMany(deliveries);
    await c.messages.insertMany([
      { _id: `${events[0]!._id}.wh_old`, siteId: site, webhookId: 'wh_old', eventId: events[0]!._id, eventType: 'page.created', attempt: 9, trigger: 'event', replayId: null, dueAt: at(-1), createdAt: at(45), claimedUntil: new Date(0), claimToken: null },
      { _id: `${events[3]!._id}.wh_new`, siteId: site, webhookId: 'wh_new', eventId: events[3]!._id, eventType: 'page.created', attempt: 2, trigger: 'event', replayId: null, dueAt: at(-1), createdAt: at(1), claimedUntil: new Date(0), claimToken: null },
    ]);
    return { kept: { events: [events[2]!._id, events[3]!._id], deliveries: [deliveries[2]!._id, deliveries[3]!._id], messages: [`${events[3]!._id}.wh_new`] } };
  }

  async function remaining(t: TestApp, site: string) {
    const c = t.app.database.collections;
    const ids = async (docs: Promise<{ _id: string }[]>) => (await docs).map((d) => d._id).sort();
    return {
      events: await ids(c.events.find({ siteId: site }).toArray()),
      deliveries: await ids(c.deliveries.find({ siteId: site }).toArray()),
      messages: await ids(c.messages.find({ siteId: site }).toArray()),
    };
  }

  it('runRetention removes events, attempts and queued attempts older than the period, and keeps the rest', async () => {
    const t = await app({ ROLE: 'api' });
    const { kept } = await seed(t, 'site-retention');
    const c = t.app.database.collections;
    const removed = await runRetention(
      { events: new EventStore(c.events), deliveries: new DeliveryStore(c.deliveries), messages: new MessageStore(c.messages), retentionDays: 30 },
      new Date(),
    );
    expect(removed).toMatchObject({ events: 2, deliveries: 2, messages: 1 });
    expect(await remaining(t, 'site-retention')).toEqual({
      events: [...kept.events].sort(),
      deliveries: [...kept.deliveries].sort(),
      messages: kept.messages,
    });
  });

  it('the Agenda job "retention" does the same with RETENTION_DAYS', async () => {
    const t = await app({ RETENTION_DAYS: '30', RETRY_SCHEDULE: '1h' });
    const { kept } = await seed(t, 'site-retention-job');
    await t.app.jobs.agenda.now('retention');
    const left = await eventually(
      async () => {
        const now = await remaining(t, 'site-retention-job');
        return now.events.length === 2 && now.deliveries.length === 2 ? now : undefined;
      },
      { timeoutMs: 5000, what: 'retention job ran' },
    );
    expect(left.events).toEqual([...kept.events].sort());
    expect(left.deliveries).toEqual([...kept.deliveries].sort());
    const line = await eventually(() =>
      t.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'retention' && l.events === 2),
    );
    expect(line).toMatchObject({ events: 2, deliveries: 2, messages: 1 });
  });
});

describe('logs', () => {
  it('never contain a webhook secret (LOG_LEVEL=debug)', () => {
    expect(secrets.length).toBeGreaterThan(3);
    for (const t of apps) {
      const text = t.logs.join('\n');
      for (const secret of secrets) {
        expect(text.includes(secret)).toBe(false);
        expect(text.includes(secret.slice('whsec_'.length))).toBe(false);
      }
    }
  });
});

describe('deleting a webhook', () => {
  it('removes its queued retries and its delivery job document', async () => {
    const t = await app({ RETRY_SCHEDULE: '1h', POLL_INTERVAL_MS: '200', SWEEP_INTERVAL_MS: '500' });
    const r = await receiver({ fallback: { status: 500 } });
    const site = 'engine-delete';
    const webhookId = await createWebhook(t, site, r.url());
    await publish(t, site);
    await r.waitForRequests(1);
    const c = t.app.database.collections;
    await eventually(async () => (await c.messages.countDocuments({ webhookId, attempt: 2 })) === 1, { what: 'a queued retry' });
    expect(await c.agendaJobs.countDocuments({ 'data.deliveryQueue': webhookId })).toBe(1);

    const deleted = await t.request('DELETE', `/v1/sites/${site}/webhooks/${webhookId}`);
    expect(deleted.status).toBe(200);
    expect(await c.messages.countDocuments({ webhookId })).toBe(0);
    expect(await c.agendaJobs.countDocuments({ 'data.deliveryQueue': webhookId })).toBe(0);
  });
});

describe('a wake-up that arrives while the webhook\'s job is finishing', () => {
  it('is restored after Agenda saves the run, so the attempt goes out without waiting for the sweep', async () => {
    // Poll and sweep far away: only the kick (or its restoration) can start the job.
    const t = await app({ POLL_INTERVAL_MS: '60000', SWEEP_INTERVAL_MS: '60000' });
    const r = await receiver();
    const site = 'engine-restore';
    const webhookId = await createWebhook(t, site, r.url());
    await publish(t, site, { n: 1 });
    await r.waitForRequests(1);
    const c = t.app.database.collections;
    await eventually(async () => (await c.agendaJobs.findOne({ 'data.deliveryQueue': webhookId }))?.lockedAt === null, { what: 'the job to finish' });
    // Simulate the lost race: a kick recorded during the last run (kickedAt after lastRunAt),
    // whose nextRunAt the run's final save overwrote with null; and an attempt queued with it.
    const job = await c.agendaJobs.findOne({ 'data.deliveryQueue': webhookId });
    const event = await publish(t, site, { n: 2 });
    await r.waitForRequests(2);
    expect(job).not.toBeNull();
    await c.agendaJobs.updateOne({ _id: job!._id }, { $set: { nextRunAt: null, kickedAt: new Date(Date.now() + 60_000) } });
    const messages = new MessageStore(c.messages);
    await messages.insertMany([
      { id: `restore-${Date.now()}`, siteId: site, webhookId, eventId: event, eventType: 'page.created', attempt: 1, trigger: 'event', replayId: null, dueAt: new Date(), createdAt: new Date() },
    ]);
    const lastRunAt = (await c.agendaJobs.findOne({ _id: job!._id }))!.lastRunAt as Date;
    await t.app.jobs.agenda.emit('complete:deliver-webhook', { attrs: { _id: job!._id, lastRunAt } } as never);
    await r.waitForRequests(3, 5000);
  });
});

describe('a batch in flight when its webhook is deleted', () => {
  it('stops sending within about a second instead of finishing the batch', async () => {
    // The API process queues 20 attempts while no worker runs, so that they form one batch.
    const t = await app({ ROLE: 'api' });
    const r = await receiver({ fallback: { status: 200, delayMs: 300 } });
    const site = 'engine-halt';
    const webhookId = await createWebhook(t, site, r.url());
    const c = t.app.database.collections;
    for (let i = 0; i < 20; i++) await publish(t, site, { i });
    await app({ ROLE: 'worker', MONGODB_DB: t.databaseName, DELIVERY_PARALLELISM: '1', DELIVERY_BATCH_SIZE: '20', POLL_INTERVAL_MS: '200' });
    await r.waitForRequests(1);
    const deleted = await t.request('DELETE', `/v1/sites/${site}/webhooks/${webhookId}`);
    expect(deleted.status).toBe(200);
    const atDeletion = r.requests.length;
    await sleep(2500);
    // At 300 ms a request and a look at the webhook every second: at most ~4 more, not the 19 left.
    expect(r.requests.length - atDeletion).toBeLessThanOrEqual(5);
    expect(r.requests.length).toBeLessThan(20);
    expect(await c.messages.countDocuments({ webhookId })).toBe(0);
  });
});
