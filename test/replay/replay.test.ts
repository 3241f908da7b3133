// Replay through the documented REST path (and its GraphQL twin): after an outage each missed
// event arrives once more, in event order, signed, with its original webhook-id and logged as a
// replay; the documented request and answer; exact window edges; event-type filtering;
// onlyFailed; dryRun; every error status. Retries are an hour away (RETRY_SCHEDULE=1h), so only
// first attempts and replays reach the receivers; one attempt at a time keeps arrival order.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENT_TYPES } from '../../src/domain/events/catalogue.ts';
import { sleep } from '../support/receiver.ts';
import {
  DAY,
  HOUR,
  inEventOrder,
  isoAgo,
  REPLAY_MUTATION,
  ReplayHarness,
  untilAfter,
  verified,
  webhookIdOf,
  type Published,
  WAIT,
} from './helpers.ts';

// Waits end as soon as their condition holds; the bound only matters on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

let h: ReplayHarness;

beforeAll(async () => {
  h = await ReplayHarness.start('replay', { RETRY_SCHEDULE: '1h', DELIVERY_PARALLELISM: '1', RETENTION_DAYS: '1' });
});
afterAll(async () => {
  await h?.stop();
});

const ALL_TYPES = EVENT_TYPES.map((t) => t.name);

describe('replay after an outage', () => {
  it('delivers each missed event once more, in event order, signed, with the original webhook-id, logged as trigger "replay"', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url(), ['*']);

    // Before the outage: delivered.
    const before = await h.publish(site, 'page.created', { phase: 'before' });
    await receiver.waitForRequests(1, WAIT);
    await untilAfter(Date.parse(before.createdAt));
    const outageStart = new Date().toISOString();

    // The outage: every attempt answers 503, and the retries are an hour away.
    receiver.setFallback({ status: 503, body: 'down for maintenance' });
    const missed = await h.publishMany(site, ['page.created', 'asset.created', 'page.updated', 'asset.deleted', 'page.published']);
    const failedAttempts = await receiver.waitForRequests(1 + missed.length, WAIT);
    expect(failedAttempts.slice(1).map(webhookIdOf)).toEqual(missed.map((e) => e.id));

    // Recovered: replay the window of the outage.
    receiver.setFallback({ status: 204, body: '' });
    const answer = await h.replay(site, webhook.id, { since: outageStart });
    expect(answer.status, answer.text).toBe(200);
    const expectedIds = inEventOrder(missed).map((e) => e.id);
    expect(answer.body.data.eventIds).toEqual(expectedIds);
    expect(answer.body.data.replayed).toBe(missed.length);

    const all = await receiver.waitForRequests(1 + 2 * missed.length, WAIT);
    const replayed = all.slice(1 + missed.length);
    // In event order, each once, under the original event id, signed with the webhook's secret,
    // and byte for byte the payload of the original attempt.
    expect(replayed.map(webhookIdOf)).toEqual(expectedIds);
    for (const request of replayed) {
      const payload = verified(webhook.secret, request);
      expect(payload.id).toBe(webhookIdOf(request));
      expect(payload.siteId).toBe(site);
      const original = failedAttempts.find((r) => webhookIdOf(r) === webhookIdOf(request))!;
      expect(request.rawBody).toBe(original.rawBody);
      expect(request.headers['webhook-id']).toBe(original.headers['webhook-id']);
    }

    // The log: first attempts as "event" (503), the replays as "replay" (204), one per event.
    const logged = await h.waitForLogged(site, webhook.id, 'replay', missed.length);
    expect(logged.map((d) => d.eventId)).toEqual(expectedIds);
    for (const d of logged) expect(d).toMatchObject({ trigger: 'replay', success: true, statusCode: 204, attempt: 1, webhookId: webhook.id });
    const log = await h.deliveries(site, webhook.id);
    expect(log.filter((d) => d.trigger === 'event' && !d.success).map((d) => d.eventId).sort()).toEqual([...expectedIds].sort());
    expect(log.filter((d) => d.trigger === 'event' && d.success).map((d) => d.eventId)).toEqual([before.id]);

    // Nothing more arrives: no duplicate of any replayed event.
    await sleep(300);
    expect(receiver.requests).toHaveLength(1 + 2 * missed.length);
  });
});

describe('the documented request and answer', () => {
  it('POST .../replay with {since} answers 200 {data:{webhookId, replayed, eventIds}, meta}, oldest first', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url(), ['page.created']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const events = await h.publishMany(site, ['page.created', 'page.created', 'page.created']);
    await receiver.waitForRequests(3, WAIT);

    const answer = await h.replay(site, webhook.id, { since });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(answer.body).sort()).toEqual(['data', 'meta']);
    const data = answer.body.data;
    // The documented fields, plus the two documented additions and nothing else.
    expect(Object.keys(data).sort()).toEqual(['dryRun', 'eventIds', 'replayId', 'replayed', 'webhookId']);
    expect(data.webhookId).toBe(webhook.id);
    expect(data.eventIds).toEqual(events.map((e) => e.id));
    expect(data.replayed).toBe(3);
    expect(data.dryRun).toBe(false);
    expect(data.replayId).toMatch(/^rpl_[0-9A-Z]{26}$/);
    expect(answer.body.meta.requestId).toBe(answer.headers.get('x-request-id'));
    expect(Math.abs(Date.parse(answer.body.meta.timestamp) - Date.now())).toBeLessThan(60_000);

    const stored = await h.t.app.database.collections.replays.findOne({ _id: data.replayId });
    expect(stored).toMatchObject({ siteId: site, webhookId: webhook.id, eventIds: data.eventIds, onlyFailed: false });
    expect(stored!.since.toISOString()).toBe(since);

    const again = await receiver.waitForRequests(6, WAIT);
    expect(again.slice(3).map(webhookIdOf)).toEqual(data.eventIds);
  });

  it('answers replayed 0 and an empty list for a window without events', async () => {
    const site = h.site();
    const webhook = await h.createWebhook(site, 'https://receiver.example.com/hooks');
    const answer = await h.replay(site, webhook.id, { since: isoAgo(HOUR) });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data).toMatchObject({ webhookId: webhook.id, replayed: 0, eventIds: [] });
  });
});

describe('window bounds', () => {
  let site: string;
  let webhookId: string;
  let e: Published[];

  beforeAll(async () => {
    site = h.site();
    webhookId = (await h.createWebhook(site, 'http://127.0.0.1:9/never-reached', ['page.created'])).id;
    // Turned off while publishing, so no attempt is made; re-activated for the replays.
    await h.setActive(site, webhookId, false);
    e = await h.publishMany(site, ['page.created', 'page.created', 'page.created', 'page.created']);
    await h.setActive(site, webhookId, true);
  });

  const ids = async (body: Record<string, unknown>) => {
    const answer = await h.replay(site, webhookId, { ...body, dryRun: true });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data.replayed).toBe(answer.body.data.eventIds.length);
    return answer.body.data.eventIds as string[];
  };

  it('includes an event created exactly at since', async () => {
    expect(await ids({ since: e[1]!.createdAt })).toEqual([e[1]!.id, e[2]!.id, e[3]!.id]);
    expect(await ids({ since: e[0]!.createdAt })).toEqual(e.map((x) => x.id));
    // One millisecond later leaves it out.
    expect(await ids({ since: new Date(Date.parse(e[1]!.createdAt) + 1).toISOString() })).toEqual([e[2]!.id, e[3]!.id]);
  });

  it('excludes an event created exactly at until', async () => {
    expect(await ids({ since: e[0]!.createdAt, until: e[2]!.createdAt })).toEqual([e[0]!.id, e[1]!.id]);
    // One millisecond later takes it in.
    expect(await ids({ since: e[0]!.createdAt, until: new Date(Date.parse(e[2]!.createdAt) + 1).toISOString() })).toEqual([
      e[0]!.id,
      e[1]!.id,
      e[2]!.id,
    ]);
    // A window of one millisecond holds exactly the event of that millisecond.
    expect(await ids({ since: e[3]!.createdAt, until: new Date(Date.parse(e[3]!.createdAt) + 1).toISOString() })).toEqual([e[3]!.id]);
  });

  it('accepts other zone offsets and fractions for the same instants', async () => {
    const at = new Date(e[1]!.createdAt);
    // The same instant written at +02:00.
    const shifted = new Date(at.getTime() + 2 * HOUR).toISOString().replace('Z', '+02:00');
    expect(await ids({ since: shifted, until: e[3]!.createdAt })).toEqual([e[1]!.id, e[2]!.id]);
  });
});

describe('event-type filtering', () => {
  it('replays to a page.created webhook only its page.created events', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url(), ['page.created']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const events = await h.publishMany(site, ['asset.created', 'page.created', 'asset.deleted', 'page.updated', 'page.created', 'asset.updated']);
    const pages = events.filter((x) => x.type === 'page.created');
    await receiver.waitForRequests(pages.length, WAIT);

    const answer = await h.replay(site, webhook.id, { since });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data.eventIds).toEqual(pages.map((x) => x.id));
    const received = await receiver.waitForRequests(2 * pages.length, WAIT);
    expect(received.slice(pages.length).map((r) => verified(webhook.secret, r).type)).toEqual(['page.created', 'page.created']);
    await sleep(200);
    expect(receiver.requests).toHaveLength(2 * pages.length);
  });

  it('replays to a "*" webhook every catalogue type, never webhook.test events', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url(), ['*']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const first = await h.publishMany(site, ALL_TYPES.slice(0, 4));
    const test = await h.api('POST', `/v1/sites/${site}/webhooks/${webhook.id}/test`);
    expect(test.status, test.text).toBe(202);
    expect(test.body.data.type).toBe('webhook.test');
    await untilAfter(Date.parse(test.body.data.createdAt));
    const rest = await h.publishMany(site, ALL_TYPES.slice(4));
    await receiver.waitForRequests(ALL_TYPES.length + 1, WAIT);

    const answer = await h.replay(site, webhook.id, { since });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data.eventIds).toEqual([...first, ...rest].map((x) => x.id));
    expect(answer.body.data.eventIds).not.toContain(test.body.data.id);
    const received = await receiver.waitForRequests(2 * ALL_TYPES.length + 1, WAIT);
    expect(received.slice(ALL_TYPES.length + 1).map((r) => verified(webhook.secret, r).type)).toEqual(ALL_TYPES);
  });

  it('leaves out other sites\' events', async () => {
    const site = h.site();
    const other = h.site();
    const webhook = await h.createWebhook(site, 'http://127.0.0.1:9/never-reached', ['*']);
    await h.setActive(site, webhook.id, false);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const mine = await h.publish(site, 'page.created');
    await h.publish(other, 'page.created');
    await h.setActive(site, webhook.id, true);
    const answer = await h.replay(site, webhook.id, { since, dryRun: true });
    expect(answer.body.data.eventIds).toEqual([mine.id]);
  });
});

describe('onlyFailed', () => {
  it('skips events delivered successfully; keeps failed ones and ones that never reached the webhook', async () => {
    const site = h.site();
    // Events whose data says fail are refused with 503.
    const receiver = await h.receiver({ fallback: (r) => (r.json?.data?.fail ? { status: 503 } : { status: 200 }) });
    const webhook = await h.createWebhook(site, receiver.url(), ['page.created']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const [ok1, failed1] = await h.publishMany(site, ['page.created', 'page.created'], (i) => ({ fail: i === 1 }));
    await receiver.waitForRequests(2, WAIT);
    // Published while the webhook was off: it never reached it.
    await h.setActive(site, webhook.id, false);
    const unseen = await h.publish(site, 'page.created', { fail: false });
    await h.setActive(site, webhook.id, true);
    await untilAfter(Date.parse(unseen.createdAt));
    const [failed2, ok2] = await h.publishMany(site, ['page.created', 'page.created'], (i) => ({ fail: i === 0 }));
    await receiver.waitForRequests(4, WAIT);
    await h.waitForLogged(site, webhook.id, 'event', 4);

    const all = await h.replay(site, webhook.id, { since, dryRun: true });
    expect(all.body.data.eventIds).toEqual([ok1!.id, failed1!.id, unseen.id, failed2!.id, ok2!.id]);

    const answer = await h.replay(site, webhook.id, { since, onlyFailed: true });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data.eventIds).toEqual([failed1!.id, unseen.id, failed2!.id]);
    expect(answer.body.data.replayed).toBe(3);

    // Those arrive; the receiver now refuses nothing.
    receiver.setFallback({ status: 200 });
    const received = await receiver.waitForRequests(7, WAIT);
    expect(received.slice(4).map(webhookIdOf)).toEqual([failed1!.id, unseen.id, failed2!.id]);
    await h.waitForLogged(site, webhook.id, 'replay', 3);

    // Now that every event's last attempt succeeded, onlyFailed finds nothing.
    const after = await h.replay(site, webhook.id, { since, onlyFailed: true, dryRun: true });
    expect(after.body.data).toMatchObject({ replayed: 0, eventIds: [] });
  });

  it('counts the newest attempt: an event that failed first and then was replayed successfully is skipped', async () => {
    const site = h.site();
    const receiver = await h.receiver({ fallback: { status: 500 } });
    const webhook = await h.createWebhook(site, receiver.url(), ['page.created']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const [a, b] = await h.publishMany(site, ['page.created', 'page.created']);
    await h.waitForLogged(site, webhook.id, 'event', 2);
    receiver.setFallback({ status: 200 });
    expect((await h.replay(site, webhook.id, { since, until: b!.createdAt })).status).toBe(200);
    await h.waitForLogged(site, webhook.id, 'replay', 1);
    const answer = await h.replay(site, webhook.id, { since, onlyFailed: true, dryRun: true });
    expect(answer.body.data.eventIds).toEqual([b!.id]);
    expect(answer.body.data.eventIds).not.toContain(a!.id);
  });
});

describe('dryRun', () => {
  it('answers the list with replayId null and schedules nothing', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url(), ['page.created']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const events = await h.publishMany(site, ['page.created', 'page.created']);
    await receiver.waitForRequests(2, WAIT);
    await h.waitForLogged(site, webhook.id, 'event', 2);
    const footprint = await h.replayFootprint(webhook.id);
    const jobsBefore = await h.t.app.database.collections.agendaJobs.countDocuments({ name: 'replay' });

    const answer = await h.replay(site, webhook.id, { since, dryRun: true });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data).toEqual({ webhookId: webhook.id, replayed: 2, eventIds: events.map((e) => e.id), replayId: null, dryRun: true });

    await sleep(300);
    expect(receiver.requests).toHaveLength(2);
    expect(await h.replayFootprint(webhook.id)).toEqual(footprint);
    expect(await h.t.app.database.collections.messages.countDocuments({ webhookId: webhook.id })).toBe(0);
    expect(await h.t.app.database.collections.agendaJobs.countDocuments({ name: 'replay' })).toBe(jobsBefore);

    // A dry run holds nothing: a real replay right after it is accepted.
    const real = await h.replay(site, webhook.id, { since, dryRun: false });
    expect(real.status, real.text).toBe(200);
    expect(real.body.data.replayId).toMatch(/^rpl_/);
    await receiver.waitForRequests(4, WAIT);
  });
});

describe('errors', () => {
  let site: string;
  let webhookId: string;

  beforeAll(async () => {
    site = h.site();
    webhookId = (await h.createWebhook(site, 'http://127.0.0.1:9/never-reached', ['page.created'])).id;
  });

  const expectError = (answer: { status: number; body: any; text: string }, status: number, code: string) => {
    expect(answer.status, answer.text).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(typeof answer.body.error.message).toBe('string');
    expect(answer.body.meta.requestId).toBeTruthy();
  };

  const ago = (ms: number) => isoAgo(ms);
  it.each<[string, () => unknown, string]>([
    ['since missing', () => ({}), 'since'],
    ['no body at all', () => undefined, 'since'],
    ['a body that is not an object', () => ['2024-01-01T10:00:00Z'], 'since'],
    ['since null', () => ({ since: null }), 'since'],
    ['since not a date', () => ({ since: 'yesterday' }), 'since'],
    ['since a date without time', () => ({ since: '2024-01-01' }), 'since'],
    ['since without a zone', () => ({ since: '2024-01-01T10:00:00' }), 'since'],
    ['since a number', () => ({ since: 1_700_000_000_000 }), 'since'],
    ['since an impossible date', () => ({ since: '2024-02-31T10:00:00Z' }), 'since'],
    ['since in the future', () => ({ since: new Date(Date.now() + HOUR).toISOString() }), 'since'],
    ['since before the retention period (1 day)', () => ({ since: ago(2 * DAY) }), 'since'],
    ['until equal to since', () => ((at) => ({ since: at, until: at }))(ago(HOUR)), 'until'],
    ['until before since', () => ({ since: ago(HOUR), until: ago(2 * HOUR) }), 'until'],
    ['until malformed', () => ({ since: ago(HOUR), until: 'tomorrow' }), 'until'],
    ['an unknown field', () => ({ since: ago(HOUR), webhookId: 'wh_x' }), 'webhookId'],
    ['dryRun not a boolean', () => ({ since: ago(HOUR), dryRun: 'true' }), 'dryRun'],
    ['onlyFailed not a boolean', () => ({ since: ago(HOUR), onlyFailed: 1 }), 'onlyFailed'],
  ])('400 VALIDATION_ERROR: %s', async (_name, body, field) => {
    const answer = await h.replay(site, webhookId, body());
    expectError(answer, 400, 'VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields)).toContain(field);
    expect(await h.replayFootprint(webhookId)).toEqual({ queued: 0, logged: 0, replays: 0 });
  });

  it('400 VALIDATION_ERROR naming every bad field at once', async () => {
    const answer = await h.replay(site, webhookId, { since: 'x', until: 'y', dryRun: 'no', extra: true });
    expectError(answer, 400, 'VALIDATION_ERROR');
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual(['dryRun', 'extra', 'since', 'until']);
  });

  it('400 INVALID_JSON for a malformed body', async () => {
    const answer = await h.api('POST', `/v1/sites/${site}/webhooks/${webhookId}/replay`, {
      rawBody: '{"since":',
      headers: { 'content-type': 'application/json' },
    });
    expectError(answer, 400, 'INVALID_JSON');
  });

  it('accepts since exactly at the start of the retention period (one day minus a minute)', async () => {
    const answer = await h.replay(site, webhookId, { since: isoAgo(DAY - 60_000), dryRun: true });
    expect(answer.status, answer.text).toBe(200);
  });

  it('404 NOT_FOUND for an unknown webhook, a malformed id, and a webhook of another site', async () => {
    const body = { since: isoAgo(HOUR) };
    expectError(await h.replay(site, 'wh_01J0000000000000000000000Z', body), 404, 'NOT_FOUND');
    expectError(await h.replay(site, 'not-a-webhook', body), 404, 'NOT_FOUND');
    const otherSite = h.site();
    expectError(await h.replay(otherSite, webhookId, body), 404, 'NOT_FOUND');
    // With a key of the other site only, too.
    const key = await h.t.createKey([otherSite], 'other site');
    expectError(await h.replay(otherSite, webhookId, body, key), 404, 'NOT_FOUND');
  });

  it('409 CONFLICT for a disabled webhook', async () => {
    const s = h.site();
    const w = await h.createWebhook(s, 'http://127.0.0.1:9/never-reached');
    await h.setActive(s, w.id, false);
    const answer = await h.replay(s, w.id, { since: isoAgo(HOUR) });
    expectError(answer, 409, 'CONFLICT');
    expect(answer.body.error.details.webhookId).toBe(w.id);
    // A dry run is refused the same way.
    expectError(await h.replay(s, w.id, { since: isoAgo(HOUR), dryRun: true }), 409, 'CONFLICT');
    // Re-activated, it is accepted.
    await h.setActive(s, w.id, true);
    expect((await h.replay(s, w.id, { since: isoAgo(HOUR) })).status).toBe(200);
  });

  it('409 CONFLICT for a second replay while the first still runs; accepted again once it finished', async () => {
    const s = h.site();
    const receiver = await h.receiver();
    const w = await h.createWebhook(s, receiver.url());
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const events = await h.publishMany(s, Array(5).fill('page.created'));
    await receiver.waitForRequests(5, WAIT);

    // The receiver now holds every request open: the first replay cannot finish.
    receiver.setFallback({ hang: true });
    const first = await h.replay(s, w.id, { since });
    expect(first.status, first.text).toBe(200);
    await receiver.waitForRequests(6, WAIT);

    const second = await h.replay(s, w.id, { since });
    expectError(second, 409, 'CONFLICT');
    expect(second.body.error.details).toMatchObject({ webhookId: w.id, replayId: first.body.data.replayId });
    // Also for another window, onlyFailed, and through GraphQL.
    expectError(await h.replay(s, w.id, { since: events[3]!.createdAt, onlyFailed: true }), 409, 'CONFLICT');
    const gql = await h.t.graphql(REPLAY_MUTATION, { input: { id: w.id, since } });
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    // A dry run only reads: allowed meanwhile.
    expect((await h.replay(s, w.id, { since, dryRun: true })).status).toBe(200);
    // Other webhooks are not held.
    const w2 = await h.createWebhook(s, 'http://127.0.0.1:9/never-reached');
    expect((await h.replay(s, w2.id, { since, dryRun: false })).status).toBe(200);

    // Let the first one finish; then a new replay is accepted.
    receiver.setFallback({ status: 200 });
    receiver.release({ status: 200 });
    await receiver.waitForRequests(10, WAIT);
    await h.waitForLogged(s, w.id, 'replay', 5);
    const third = await h.replay(s, w.id, { since });
    expect(third.status, third.text).toBe(200);
    expect(third.body.data.replayId).not.toBe(first.body.data.replayId);
    await receiver.waitForRequests(15, WAIT);
  });

  it('only one of two simultaneous replays of a webhook is accepted', async () => {
    const s = h.site();
    const receiver = await h.receiver({ fallback: { hang: true } });
    const w = await h.createWebhook(s, receiver.url());
    await h.setActive(s, w.id, false);
    await h.publishMany(s, ['page.created', 'page.created']);
    await h.setActive(s, w.id, true);
    const answers = await Promise.all(Array.from({ length: 4 }, () => h.replay(s, w.id, { since: isoAgo(HOUR) })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409]);
    expect(await h.t.app.database.collections.replays.countDocuments({ webhookId: w.id })).toBe(1);
    receiver.setFallback({ status: 200 });
    receiver.release({ status: 200 });
    await h.waitForLogged(s, w.id, 'replay', 2);
  });

  it('401 without a key or with an unknown key; 403 with a key of another site', async () => {
    const body = { since: isoAgo(HOUR) };
    expectError(await h.replay(site, webhookId, body, null), 401, 'UNAUTHORIZED');
    expectError(await h.replay(site, webhookId, body, 'ock_not-a-key'), 401, 'UNAUTHORIZED');
    const otherKey = await h.t.createKey([h.site()], 'someone else');
    const forbidden = await h.replay(site, webhookId, body, otherKey);
    expectError(forbidden, 403, 'FORBIDDEN');
    // A key of this site may.
    const ownKey = await h.t.createKey([site], 'owner');
    expect((await h.replay(site, webhookId, { ...body, dryRun: true }, ownKey)).status).toBe(200);
  });
});

describe('GraphQL replayWebhook', () => {
  it('answers what REST answers, with the Replay node for a real replay', async () => {
    const site = h.site();
    const receiver = await h.receiver();
    const webhook = await h.createWebhook(site, receiver.url(), ['page.created', 'asset.created']);
    const since = new Date().toISOString();
    await untilAfter(Date.parse(since));
    const events = await h.publishMany(site, ['page.created', 'asset.deleted', 'asset.created', 'page.created']);
    const wanted = events.filter((e) => e.type !== 'asset.deleted');
    await receiver.waitForRequests(3, WAIT);
    await h.waitForLogged(site, webhook.id, 'event', 3);
    const until = events[3]!.createdAt;

    const rest = await h.replay(site, webhook.id, { since, until, dryRun: true });
    const dry = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since, until, dryRun: true } });
    expect(dry.body.errors).toBeUndefined();
    expect(dry.body.data.replayWebhook).toEqual({
      webhookId: webhook.id,
      replayed: rest.body.data.replayed,
      eventIds: rest.body.data.eventIds,
      dryRun: true,
      replay: null,
    });
    expect(rest.body.data.eventIds).toEqual(wanted.slice(0, 2).map((e) => e.id));

    const real = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, since, onlyFailed: false } });
    expect(real.body.errors).toBeUndefined();
    const payload = real.body.data.replayWebhook;
    expect(payload).toMatchObject({ webhookId: webhook.id, replayed: 3, eventIds: wanted.map((e) => e.id), dryRun: false });
    expect(payload.replay).toMatchObject({ webhookId: webhook.id, eventIds: wanted.map((e) => e.id), onlyFailed: false, since });
    expect(payload.replay.id).toMatch(/^rpl_/);
    const received = await receiver.waitForRequests(6, WAIT);
    expect(received.slice(3).map(webhookIdOf)).toEqual(wanted.map((e) => e.id));
  });

  it('answers the REST error codes in extensions.code', async () => {
    const site = h.site();
    const webhook = await h.createWebhook(site, 'http://127.0.0.1:9/never-reached');
    const code = async (input: Record<string, unknown>, key?: string | null) => {
      const answer = await h.t.graphql(REPLAY_MUTATION, { input: { id: webhook.id, ...input } }, key);
      expect(answer.body.errors, answer.text).toBeDefined();
      expect(answer.body.data?.replayWebhook ?? null).toBeNull();
      return answer.body.errors![0].extensions.code;
    };
    expect(await code({ since: new Date(Date.now() + HOUR).toISOString() })).toBe('VALIDATION_ERROR');
    expect(await code({ since: isoAgo(2 * DAY) })).toBe('VALIDATION_ERROR');
    const since = isoAgo(HOUR);
    expect(await code({ since, until: since })).toBe('VALIDATION_ERROR');
    expect(await code({ since: 'yesterday' })).toBe('VALIDATION_ERROR');
    expect(await code({ id: 'wh_01J0000000000000000000000Z', since })).toBe('NOT_FOUND');
    // A webhook the key may not see is absent to it.
    expect(await code({ since }, await h.t.createKey([h.site()], 'other'))).toBe('NOT_FOUND');
    expect(await code({ since }, null)).toBe('UNAUTHORIZED');
    await h.setActive(site, webhook.id, false);
    expect(await code({ since })).toBe('CONFLICT');
    expect(await h.replayFootprint(webhook.id)).toEqual({ queued: 0, logged: 0, replays: 0 });
  });
});

describe('the OpenAPI document', () => {
  it('documents the additions to the replay body', async () => {
    const res = await h.api('GET', '/v1/openapi.json', { key: null });
    const schema = res.body.components.schemas.ReplayRequest;
    expect(schema.required).toEqual(['since']);
    expect(Object.keys(schema.properties).sort()).toEqual(['dryRun', 'onlyFailed', 'since', 'until']);
  });
});
