// A replay's progress as the GraphQL Replay node shows it (status, scheduled, delivered, failed,
// pending) up to COMPLETED with exact counts, and a replay whose webhook is deleted while it
// runs: it stops (CANCELLED), the receiver hears nothing more, nothing fails in the logs.
// One retry 100 ms after a failure (RETRY_SCHEDULE=100ms), one attempt at a time.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, sleep } from '../support/receiver.ts';
import { HOUR, isoAgo, REPLAY_MUTATION, REPLAY_NODE, ReplayHarness, untilAfter, verified, webhookIdOf, WAIT } from './helpers.ts';

const BATCH = 5;
// Waits end as soon as their condition holds; the bound only matters on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

let h: ReplayHarness;

beforeAll(async () => {
  h = await ReplayHarness.start('progress', {
    RETRY_SCHEDULE: '100ms',
    // Retries are picked up by Agenda's poll: keep it short so that they come soon after 100 ms.
    POLL_INTERVAL_MS: '200',
    DELIVERY_PARALLELISM: '1',
    DELIVERY_BATCH_SIZE: String(BATCH),
  });
});
afterAll(async () => {
  await h?.stop();
});

/** Waits until `list` stopped growing for `ms`; answers its length then. */
async function quiet(list: unknown[], ms: number): Promise<number> {
  let length = list.length;
  let since = Date.now();
  return eventually(
    () => {
      if (list.length !== length) [length, since] = [list.length, Date.now()];
      return Date.now() - since >= ms ? length : undefined;
    },
    { timeoutMs: WAIT, what: 'the receiver falling quiet' },
  );
}

interface Progress {
  status: string;
  scheduled: number;
  delivered: number;
  failed: number;
  pending: number;
}

async function readReplay(id: string): Promise<Progress & { cancelledReason: string | null; webhook: { id: string } | null }> {
  const answer = await h.t.graphql(REPLAY_NODE, { id });
  expect(answer.body.errors, answer.text).toBeUndefined();
  const { replay, node } = answer.body.data!;
  // node(id) and replay(id) are the same object.
  expect(node).toEqual({ id, status: replay.status, scheduled: replay.scheduled, delivered: replay.delivered, failed: replay.failed, pending: replay.pending });
  return replay;
}

describe('Replay node progress', () => {
  it('progresses to COMPLETED with scheduled 3, delivered 2, failed 1 when the receiver always refuses one event', async () => {
    const site = h.site();
    // The event whose data says refuse gets 503 on every attempt (and its one retry).
    const receiver = await h.receiver({ fallback: (r) => ({ status: r.json?.data?.refuse ? 503 : 200, delayMs: 30 }) });
    const webhook = await h.createWebhook(site, receiver.url());
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const events = await h.publishMany(site, ['page.created', 'page.created', 'page.created'], (i) => ({ refuse: i === 1 }));
    // First attempts: 3, plus the retry of the refused one.
    await receiver.waitForRequests(4, WAIT);
    await h.waitForLogged(site, webhook.id, 'event', 4);

    const answer = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since } });
    expect(answer.body.errors, answer.text).toBeUndefined();
    const payload = answer.body.data.replayWebhook;
    expect(payload).toMatchObject({ webhookId: webhook.id, replayed: 3, eventIds: events.map((e) => e.id), dryRun: false });
    expect(['SCHEDULING', 'DELIVERING']).toContain(payload.replay.status);
    const id = payload.replay.id as string;

    const seen: Progress[] = [];
    const final = await eventually(
      async () => {
        const p = await readReplay(id);
        seen.push(p);
        return p.status === 'COMPLETED' ? p : undefined;
      },
      { timeoutMs: WAIT, intervalMs: 20, what: 'replay COMPLETED' },
    );
    expect(final).toMatchObject({ status: 'COMPLETED', scheduled: 3, delivered: 2, failed: 1, pending: 0, cancelledReason: null });
    expect(final.webhook).toEqual({ id: webhook.id });
    // Along the way: only known states, counts never going back, never more than scheduled.
    expect(seen.length).toBeGreaterThan(1);
    for (const [i, p] of seen.entries()) {
      expect(['SCHEDULING', 'DELIVERING', 'COMPLETED']).toContain(p.status);
      if (p.status !== 'SCHEDULING') expect(p.delivered + p.failed + p.pending).toBe(p.scheduled);
      if (i > 0) expect(p.delivered).toBeGreaterThanOrEqual(seen[i - 1]!.delivered);
    }
    expect(seen.some((p) => p.status === 'DELIVERING' && p.pending > 0)).toBe(true);

    // The receiver: each event once more in event order, then the refused one's one retry.
    const replayed = (await receiver.waitForRequests(4 + 4, WAIT)).slice(4);
    expect(replayed.map(webhookIdOf)).toEqual([events[0]!.id, events[1]!.id, events[2]!.id, events[1]!.id]);
    for (const r of replayed) verified(webhook.secret, r);
    const logged = await h.waitForLogged(site, webhook.id, 'replay', 4);
    expect(logged.map((d) => [d.eventId, d.attempt, d.success])).toEqual([
      [events[0]!.id, 1, true],
      [events[1]!.id, 1, false],
      [events[2]!.id, 1, true],
      [events[1]!.id, 2, false],
    ]);

    // The job records the end and frees the webhook; the job itself ends without error.
    const replays = h.t.app.database.collections.replays;
    const stored = await eventually(async () => (await replays.findOne({ _id: id, finishedAt: { $ne: null } })) ?? undefined, {
      timeoutMs: WAIT,
      what: 'the replay recorded as finished',
    });
    expect(stored.activeFor).toBeUndefined();
    expect(stored.cancelledReason).toBeNull();
    const job = await eventually(
      async () => (await h.t.app.database.collections.agendaJobs.findOne({ name: 'replay', 'data.replayId': id, nextRunAt: null, lastFinishedAt: { $ne: null } })) ?? undefined,
      { timeoutMs: WAIT, what: 'the replay job done' },
    );
    expect(job.failReason ?? null).toBeNull();
    // Stays COMPLETED, and the webhook is free for the next replay.
    expect(await readReplay(id)).toMatchObject({ status: 'COMPLETED', delivered: 2, failed: 1, pending: 0 });
    const next = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since, onlyFailed: true } });
    expect(next.body.errors, next.text).toBeUndefined();
    expect(next.body.data.replayWebhook.eventIds).toEqual([events[1]!.id]);
  });

  it('is readable only with a key for its site', async () => {
    const site = h.site();
    const webhook = await h.createWebhook(site, 'http://127.0.0.1:9/never-reached');
    const answer = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since: isoAgo(HOUR) } });
    const id = answer.body.data.replayWebhook.replay.id;
    const other = await h.t.createKey([h.site()], 'other');
    const read = await h.t.graphql(REPLAY_NODE, { id }, other);
    expect(read.body.errors, read.text).toBeUndefined();
    expect(read.body.data).toEqual({ replay: null, node: null });
    const own = await h.t.graphql(REPLAY_NODE, { id }, await h.t.createKey([site], 'own'));
    expect(own.body.data.replay.id).toBe(id);
    // An empty window completes at once.
    await eventually(async () => (await readReplay(id)).status === 'COMPLETED', { timeoutMs: WAIT, what: 'empty replay COMPLETED' });
    expect(await readReplay(id)).toMatchObject({ scheduled: 0, delivered: 0, failed: 0, pending: 0 });
  });
});

describe('the replay job run again (after a crash)', () => {
  it('resumes after the last chunk it recorded instead of queuing everything again', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url());
    const events = await h.insertEvents(site, 503, { endAgoMs: 60_000 });
    // As a first run leaves it when it dies after its first chunk of 500 (and those were delivered).
    const id = 'rpl_01M00000000000000000000000';
    const now = new Date();
    await h.t.app.database.collections.replays.insertOne({
      _id: id,
      siteId: site,
      webhookId: webhook.id,
      since: new Date(now.getTime() - HOUR),
      until: now,
      onlyFailed: false,
      eventIds: events.map((e) => e._id),
      createdBy: 'test',
      createdAt: now,
      scheduledAt: null,
      scheduled: 500,
      cancelledReason: null,
      activeFor: webhook.id,
      finishedAt: null,
      scheduledThrough: 500,
    });
    const next = await h.t.app.services.replays.run(id);
    expect(next).toBeInstanceOf(Date);
    const received = await receiver.waitForRequests(3, WAIT);
    expect(received.map(webhookIdOf)).toEqual(events.slice(500).map((e) => e._id));
    const final = await eventually(async () => ((p) => (p.status === 'COMPLETED' ? p : undefined))(await readReplay(id)), {
      timeoutMs: WAIT,
      what: 'resumed replay COMPLETED',
    });
    expect(final).toMatchObject({ scheduled: 503, delivered: 3, pending: 0 });
    await sleep(200);
    expect(receiver.requests).toHaveLength(3);
  });
});

describe('a webhook deleted while its replay runs', () => {
  it('stops the replay: CANCELLED, no further requests, no errors in the logs', async () => {
    const site = h.site();
    const receiver = await h.receiver({ fallback: { status: 200, delayMs: 40 } });
    const webhook = await h.createWebhook(site, receiver.url());
    const events = await h.insertEvents(site, 300, { endAgoMs: 60_000 });

    const answer = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since: isoAgo(HOUR) } });
    expect(answer.body.errors, answer.text).toBeUndefined();
    expect(answer.body.data.replayWebhook.replayed).toBe(events.length);
    const id = answer.body.data.replayWebhook.replay.id as string;

    await receiver.waitForRequests(3, WAIT);
    const deleted = await h.api('DELETE', `/v1/sites/${site}/webhooks/${webhook.id}`);
    expect(deleted.status, deleted.text).toBe(200);
    const atDeletion = receiver.requests.length;

    const final = await eventually(
      async () => {
        const p = await readReplay(id);
        return p.status === 'CANCELLED' && p.pending === 0 ? p : undefined;
      },
      { timeoutMs: WAIT, what: 'replay CANCELLED' },
    );
    expect(final.cancelledReason).toMatch(/deleted/);
    expect(final.webhook).toBeNull();
    expect(final.delivered).toBeLessThan(events.length);

    // What was already in flight when the webhook went may finish (the engine looks at the webhook
    // once a second during a batch, and before each batch: at most BATCH); then nothing arrives.
    const settled = await quiet(receiver.requests, 300);
    expect(settled - atDeletion).toBeLessThanOrEqual(BATCH);
    await sleep(500);
    expect(receiver.requests.length).toBe(settled);
    expect(receiver.requests.map(webhookIdOf)).toEqual(events.slice(0, settled).map((e) => e._id));
    expect(await h.t.app.database.collections.messages.countDocuments({ replayId: id })).toBe(0);

    // The job ended without error, and nothing was logged as an error.
    const jobs = await h.t.app.database.collections.agendaJobs.find({ name: 'replay', 'data.replayId': id }).toArray();
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) expect(job.failReason ?? null).toBeNull();
    expect(h.errorLogs()).toEqual([]);
    // Stays CANCELLED.
    expect((await readReplay(id)).status).toBe('CANCELLED');
  });

  it('stops a replay whose webhook is disabled by a 410 answer: CANCELLED', async () => {
    const site = h.site();
    const receiver = await h.receiver({ script: [{ status: 200 }, { status: 200 }, { status: 410 }], fallback: { status: 200 } });
    const webhook = await h.createWebhook(site, receiver.url());
    const events = await h.insertEvents(site, 20, { endAgoMs: 60_000 });
    const answer = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since: isoAgo(HOUR) } });
    expect(answer.body.errors, answer.text).toBeUndefined();
    const id = answer.body.data.replayWebhook.replay.id as string;
    const final = await eventually(
      async () => {
        const p = await readReplay(id);
        return p.status === 'CANCELLED' && p.pending === 0 ? p : undefined;
      },
      { timeoutMs: WAIT, what: 'replay CANCELLED' },
    );
    expect(final.scheduled).toBe(events.length);
    expect(final.cancelledReason).toMatch(/disabled/);
    // The engine stops at the 410 even within a batch (parallelism 1): nothing after it is sent.
    const settled = await quiet(receiver.requests, 300);
    expect(settled).toBe(3);
    expect(final.delivered).toBe(settled - 1);
    expect(final.failed).toBe(events.length - final.delivered);
    await sleep(300);
    expect(receiver.requests).toHaveLength(settled);
    const webhookNow = await h.api('GET', `/v1/sites/${site}/webhooks/${webhook.id}`);
    expect(webhookNow.body.data).toMatchObject({ active: false });
    expect(h.errorLogs()).toEqual([]);
  });
});
