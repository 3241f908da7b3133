// Large replays: at most 10,000 events (exactly 10,000 is fine, 10,001 is a 400 that says how to
// split the window), and a replay of 2,000 events to a slow endpoint does not delay fresh events
// to other webhooks. Events are inserted straight into the collection to keep this fast.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually } from '../support/receiver.ts';
import { HOUR, isoAgo, REPLAY_MUTATION, ReplayHarness, verified, WAIT, webhookIdOf } from './helpers.ts';

// Waits end as soon as their condition holds; the bound only matters on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

let h: ReplayHarness;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

beforeAll(async () => {
  h = await ReplayHarness.start('large', { RETRY_SCHEDULE: '1h' });
});
afterAll(async () => {
  await h?.stop();
});

describe('more than 10,000 events', () => {
  it('answers 400 saying how to split the window; exactly 10,000 is accepted', async () => {
    const site = h.site();
    const webhook = await h.createWebhook(site, 'http://127.0.0.1:9/never-reached', ['page.created']);
    const events = await h.insertEvents(site, 10_001, { endAgoMs: 10 * 60_000, stepMs: 10 });
    // Other types in the same window do not count towards the limit.
    await h.insertEvents(site, 5, { type: 'asset.created', endAgoMs: 5 * 60_000 });
    const since = isoAgo(HOUR);

    const tooMany = await h.replay(site, webhook.id, { since });
    expect(tooMany.status, tooMany.text).toBe(400);
    expect(tooMany.body.error.code).toBe('VALIDATION_ERROR');
    expect(tooMany.body.error.message).toMatch(/10,?000/);
    expect(tooMany.body.error.message).toMatch(/split/i);
    expect(tooMany.body.error.message).toMatch(/since/);
    expect(tooMany.body.error.message).toMatch(/until/);
    expect(tooMany.body.error.details.limit).toBe(10_000);
    expect(Object.keys(tooMany.body.error.details.fields).length).toBeGreaterThan(0);
    // The same through GraphQL, for a dry run.
    const gql = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since, dryRun: true } });
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
    expect(await h.t.app.database.collections.replays.countDocuments({ webhookId: webhook.id })).toBe(0);

    // Split as advised: up to the last event (exclusive), then from it.
    const last = events[events.length - 1]!;
    const first = await h.replay(site, webhook.id, { since, until: last.createdAt.toISOString(), dryRun: true });
    expect(first.status, first.text.slice(0, 500)).toBe(200);
    expect(first.body.data.replayed).toBe(10_000);
    expect(first.body.data.eventIds).toEqual(events.slice(0, 10_000).map((e) => e._id));
    const second = await h.replay(site, webhook.id, { since: last.createdAt.toISOString(), dryRun: true });
    expect(second.body.data.eventIds).toEqual([last._id]);
  }, 60_000);
});

describe('a big replay to a slow endpoint', () => {
  it('does not delay fresh events to other webhooks', async () => {
    const site = h.site();
    const slow = await h.receiver({ fallback: { status: 200, delayMs: 300 } });
    const fast = await h.receiver();
    const slowHook = await h.createWebhook(site, slow.url(), ['page.created']);
    const fastHook = await h.createWebhook(site, fast.url(), ['asset.created']);
    await h.insertEvents(site, 2_000, { endAgoMs: 60_000 });
    /** Publishes the n-th fresh event and answers how long it took to reach its receiver. */
    const freshLatency = async (n: number) => {
      const published = Date.now();
      const event = await h.publish(site, 'asset.created', { n });
      const request = (await fast.waitForRequests(n + 1, WAIT))[n]!;
      expect(webhookIdOf(request)).toBe(event.id);
      verified(fastHook.secret, request);
      return request.at - published;
    };

    // How long a fresh event takes here without a replay (the machine may be busy).
    const baseline = median([await freshLatency(0), await freshLatency(1), await freshLatency(2)]);

    const answer = await h.replay(site, slowHook.id, { since: isoAgo(HOUR) });
    expect(answer.status, answer.text.slice(0, 500)).toBe(200);
    expect(answer.body.data.replayed).toBe(2_000);
    await slow.waitForRequests(10, WAIT);

    // Fresh events to the other webhook arrive promptly while the replay runs: within 1 s (more
    // only if the machine is that slow without a replay). Waiting behind the replay would take
    // minutes: 2,000 requests of 300 ms, 8 at a time.
    const latencies: number[] = [];
    for (let i = 3; i < 8; i++) latencies.push(await freshLatency(i));
    const detail = `latencies ${latencies.join(', ')} ms, baseline ${baseline} ms`;
    expect(median(latencies), detail).toBeLessThan(Math.max(1000, 2 * baseline));
    expect(Math.max(...latencies), detail).toBeLessThan(Math.max(3000, 5 * baseline));

    // The replay was still running all along.
    const replayed = slow.requests.length;
    expect(replayed).toBeLessThan(2_000);
    expect(await h.t.app.database.collections.messages.countDocuments({ replayId: answer.body.data.replayId })).toBeGreaterThan(0);
    // And it goes on, oldest events first (8 in flight at a time, so arrival order may differ
    // within that window), each event once.
    await eventually(() => slow.requests.length > replayed, { timeoutMs: WAIT, what: 'the replay going on' });
    const ids = slow.requests.map(webhookIdOf);
    expect(new Set(ids).size).toBe(ids.length);
    const front = new Set(answer.body.data.eventIds.slice(0, ids.length + 8));
    expect(ids.filter((id) => !front.has(id))).toEqual([]);
  }, 60_000);
});
