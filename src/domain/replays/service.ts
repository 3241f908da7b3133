// Replay: re-deliver a webhook's past events. The request validates, selects the events and
// answers at once; the "replay" Agenda job then queues one attempt per event, in event order,
// on the same delivery path (same headers, same webhook-id, same retry policy).
import { assertSiteAccess, canAccessSite } from '../api-keys/service.ts';
import type { Principal } from '../api-keys/types.ts';
import { AppError, conflict, notFound, validationError, type FieldErrors } from '../errors.ts';
import { EVENT_TYPES, WILDCARD } from '../events/catalogue.ts';
import { newId } from '../ids.ts';
import { assertSiteId, isPlainObject, parseDateTime, rejectUnknownFields, throwIfAny } from '../validation.ts';
import { firstAttempt, messageId } from '../deliveries/types.ts';
import type { DeliveryWaker } from '../events/service.ts';
import type { Webhook } from '../webhooks/types.ts';
import type { Replay, ReplayProgress } from './types.ts';
import type { DeliveryStore } from '../../store/deliveries.ts';
import type { EventStore } from '../../store/events.ts';
import type { MessageStore } from '../../store/messages.ts';
import type { ReplayRecord, ReplayStore } from '../../store/replays.ts';
import type { WebhookStore } from '../../store/webhooks.ts';

export const MAX_REPLAY_EVENTS = 10_000;
const CHUNK = 500;
/** How often the job looks at a replay that is still delivering: 1 s at first, at most 1 min. */
const CHECK_MIN_MS = 1000;
const CHECK_MAX_MS = 60_000;

export interface ReplayRequest {
  since: Date;
  until: Date;
  onlyFailed: boolean;
  dryRun: boolean;
}

export interface ReplayAnswer {
  webhookId: string;
  eventIds: string[];
  replay: Replay | null;
  dryRun: boolean;
}

/** Starts the replay job (jobs/replay.ts); an interface so that domain code needs no Agenda. */
export interface ReplayRunner {
  start(replayId: string): Promise<void>;
}

export interface ReplayServiceDeps {
  replays: ReplayStore;
  webhooks: WebhookStore;
  events: EventStore;
  deliveries: DeliveryStore;
  messages: MessageStore;
  waker: DeliveryWaker;
  runner: ReplayRunner;
  retentionDays: number;
}

export class ReplayService {
  constructor(private readonly deps: ReplayServiceDeps) {}

  async replay(principal: Principal, siteId: string, webhookId: string, body: unknown): Promise<ReplayAnswer> {
    assertSiteId(siteId);
    assertSiteAccess(principal, siteId);
    const now = new Date();
    const request = this.parse(body, now);
    const webhook = await this.deps.webhooks.findById(siteId, webhookId);
    if (!webhook) throw notFound('Webhook', webhookId);
    if (!webhook.active) {
      throw conflict('The webhook is disabled; re-activate it before replaying', { webhookId, disabledReason: webhook.disabledReason });
    }
    const eventIds = await this.select(webhook, request);
    if (request.dryRun) return { webhookId, eventIds, replay: null, dryRun: true };

    const replay: Replay = {
      id: newId('Replay', now.getTime()),
      siteId,
      webhookId,
      since: request.since,
      until: request.until,
      onlyFailed: request.onlyFailed,
      eventIds,
      createdBy: principal.name,
      createdAt: now,
      scheduledAt: null,
      scheduled: 0,
      cancelledReason: null,
    };
    if (!(await this.deps.replays.insertActive(replay))) {
      const active = await this.deps.replays.findActive(webhookId);
      if (active && !(await this.isFinished(active))) {
        throw conflict('Another replay of this webhook is still running', { webhookId, replayId: active.id });
      }
      if (active) await this.deps.replays.release(active.id);
      if (!(await this.deps.replays.insertActive(replay))) {
        throw conflict('Another replay of this webhook is still running', { webhookId });
      }
    }
    try {
      await this.deps.runner.start(replay.id);
    } catch (error) {
      // Never started: it must not hold the webhook against every later replay.
      await this.deps.replays.finish(replay.id, new Date(), 'the replay job could not be started', true).catch(() => undefined);
      throw error;
    }
    return { webhookId, eventIds, replay, dryRun: false };
  }

  /** A replay holds its webhook until it queued everything and each event was tried once. */
  private async isFinished(replay: ReplayRecord): Promise<boolean> {
    if (replay.cancelledReason || replay.finishedAt) return true;
    if (!replay.scheduledAt) return false;
    return (await this.deps.messages.countForReplay(replay.id, true)) === 0;
  }

  private parse(body: unknown, now: Date): ReplayRequest {
    if (!isPlainObject(body)) throw validationError({ since: 'is required: an ISO 8601 date-time' });
    const errors: FieldErrors = {};
    rejectUnknownFields(body, ['since', 'until', 'onlyFailed', 'dryRun'], errors);
    const since = parseDateTime(body.since);
    if (body.since === undefined) errors.since = 'is required: an ISO 8601 date-time';
    else if (!since) errors.since = 'must be an ISO 8601 date-time with a zone, e.g. 2019-08-24T14:15:22Z';
    else if (since > now) errors.since = 'must not be in the future';
    else if (since.getTime() < now.getTime() - this.deps.retentionDays * 86_400_000) {
      errors.since = `must be within the retention period of ${this.deps.retentionDays} days`;
    }
    let until = now;
    if (body.until !== undefined && body.until !== null) {
      const parsed = parseDateTime(body.until);
      if (!parsed) errors.until = 'must be an ISO 8601 date-time with a zone';
      else if (since && parsed <= since) errors.until = 'must be after since';
      else until = parsed;
    }
    for (const flag of ['onlyFailed', 'dryRun'] as const) {
      if (body[flag] !== undefined && body[flag] !== null && typeof body[flag] !== 'boolean') errors[flag] = 'must be true or false';
    }
    throwIfAny(errors);
    return { since: since!, until, onlyFailed: body.onlyFailed === true, dryRun: body.dryRun === true };
  }

  /** The site's events in [since, until) that the webhook subscribes to, oldest first. */
  private async select(webhook: Webhook, request: ReplayRequest): Promise<string[]> {
    const types = webhook.events.includes(WILDCARD) ? EVENT_TYPES.map((t) => t.name) : webhook.events;
    const events = await this.deps.events.findInWindow(webhook.siteId, types, request.since, request.until, MAX_REPLAY_EVENTS + 1);
    if (events.length > MAX_REPLAY_EVENTS) {
      throw new AppError(
        'VALIDATION_ERROR',
        `The window holds more than ${MAX_REPLAY_EVENTS} events; split it into smaller windows with since and until`,
        { fields: { until: `narrow the window to at most ${MAX_REPLAY_EVENTS} events` }, limit: MAX_REPLAY_EVENTS },
      );
    }
    let ids = events.map((e) => e.id);
    if (request.onlyFailed) {
      const outcomes = await this.deps.deliveries.lastOutcomes(webhook.id, ids);
      ids = ids.filter((id) => outcomes.get(id) !== true);
    }
    return ids;
  }

  /**
   * The job's work, one run at a time: queue the attempts (first run), then look at the replay
   * until it ends, recording that end. Answers when to look again, or null once it ended.
   */
  async run(replayId: string, now = new Date()): Promise<Date | null> {
    let replay = await this.deps.replays.findById(replayId);
    if (!replay || replay.finishedAt) return null;
    if (!replay.scheduledAt) {
      await this.schedule(replay);
      replay = await this.deps.replays.findById(replayId);
      if (!replay || replay.finishedAt) return null;
    }
    const { status, webhookGone } = await this.measure(replay);
    if (status === 'completed' || status === 'cancelled') {
      const reason = status === 'cancelled' ? (replay.cancelledReason ?? webhookGone ?? 'the webhook went away') : null;
      if (reason) await this.dropQueued(replay);
      await this.deps.replays.finish(replay.id, new Date(), reason);
      return null;
    }
    const age = now.getTime() - replay.createdAt.getTime();
    return new Date(now.getTime() + Math.min(CHECK_MAX_MS, Math.max(CHECK_MIN_MS, age / 10)));
  }

  /** Queues the attempts in event order, in chunks, stopping if the webhook goes. */
  private async schedule(replay: ReplayRecord): Promise<void> {
    // A job run again after a crash resumes after the last chunk it recorded; attempt ids are
    // per replay, so a chunk queued twice is queued once.
    for (let offset = replay.scheduledThrough; offset < replay.eventIds.length; offset += CHUNK) {
      const webhook = await this.deps.webhooks.findById(replay.siteId, replay.webhookId);
      if (!webhook || !webhook.active) {
        await this.deps.replays.finishScheduling(replay.id, new Date(), webhook ? 'the webhook was disabled' : 'the webhook was deleted');
        return;
      }
      const chunk = replay.eventIds.slice(offset, offset + CHUNK);
      const events = new Map((await this.deps.events.findManyAnySite(chunk)).map((e) => [e.id, e]));
      const now = new Date();
      const messages = chunk
        .filter((id) => events.has(id))
        .map((id) => firstAttempt(events.get(id)!, webhook.id, 'replay', replay.id, now));
      await this.deps.messages.insertMany(messages);
      await this.deps.replays.addScheduled(replay.id, messages.length, offset + chunk.length);
      await this.deps.waker.kick([webhook.id], now);
    }
    await this.deps.replays.finishScheduling(replay.id, new Date(), null);
  }

  /** A cancelled replay's attempts still queued are dropped (the engine would only drop them when due). */
  private async dropQueued(replay: Replay): Promise<void> {
    for (let offset = 0; offset < replay.eventIds.length; offset += CHUNK) {
      const ids = replay.eventIds.slice(offset, offset + CHUNK).map((id) => messageId(id, replay.webhookId, replay.id));
      await this.deps.messages.cancelIds(ids);
    }
  }

  /**
   * Where a replay stands. Counts stay consistent while attempts are being recorded (an attempt
   * is logged a moment before it leaves the queue, so it may be seen in both for a moment):
   * delivered + failed + pending = scheduled.
   * A replay whose webhook was deleted or disabled before everything was delivered is cancelled.
   */
  private async measure(replay: ReplayRecord): Promise<ReplayProgress & { webhookGone: string | null }> {
    // One after the other, in this order: the webhook first (it is disabled or deleted only after
    // the attempts that led to it were logged), then the queue, then the log (an attempt is
    // logged before it leaves the queue), so that no attempt is missed between the reads.
    const webhook = replay.finishedAt ? null : await this.deps.webhooks.findById(replay.siteId, replay.webhookId);
    const queued = await this.deps.messages.countForReplay(replay.id);
    const delivered = await this.deps.deliveries.countSucceededForReplay(replay.id);
    const scheduled = replay.scheduled;
    const pending = replay.scheduledAt ? Math.max(0, Math.min(queued, scheduled - delivered)) : queued;
    const failed = replay.scheduledAt ? Math.max(0, scheduled - delivered - pending) : 0;
    const webhookGone = replay.finishedAt ? null : !webhook ? 'the webhook was deleted' : !webhook.active ? 'the webhook was disabled' : null;
    const settled = replay.scheduledAt !== null && pending === 0;
    if (replay.cancelledReason || (webhookGone && !(settled && delivered >= scheduled))) {
      // Nothing more will be delivered: what is not delivered is given up.
      return { status: 'cancelled', scheduled, delivered, failed: Math.max(0, scheduled - delivered), pending: 0, webhookGone };
    }
    if (replay.finishedAt || settled) return { status: 'completed', scheduled, delivered, failed, pending: 0, webhookGone };
    return { status: replay.scheduledAt ? 'delivering' : 'scheduling', scheduled, delivered, failed, pending, webhookGone };
  }

  /** Progress, and why it was cancelled (known at once, recorded by the job a moment later). */
  async progress(replay: Replay): Promise<ReplayProgress & { cancelledReason: string | null }> {
    // Replays come from this service's store (findMany), with their bookkeeping.
    const record = isRecord(replay) ? replay : ((await this.deps.replays.findById(replay.id)) ?? { ...replay, finishedAt: null, scheduledThrough: 0 });
    const { webhookGone, ...progress } = await this.measure(record);
    const cancelledReason = progress.status === 'cancelled' ? (record.cancelledReason ?? webhookGone) : null;
    return { ...progress, cancelledReason };
  }

  async findMany(principal: Principal, ids: readonly string[]): Promise<Replay[]> {
    return (await this.deps.replays.findManyAnySite(ids)).filter((r) => canAccessSite(principal, r.siteId));
  }
}

const isRecord = (replay: Replay): replay is ReplayRecord => 'finishedAt' in replay && 'scheduledThrough' in replay;
