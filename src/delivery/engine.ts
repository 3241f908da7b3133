// Delivers one webhook's due attempts in batches: claim (atomically), send through the one
// Sender, record every attempt, then schedule retries by the retry policy. Agenda runs this per
// webhook (jobs/deliver-webhook.ts), so a slow endpoint only holds up itself.
import { randomUUID } from 'node:crypto';
import type { Delivery, Message } from '../domain/deliveries/types.ts';
import { eventPayload, type Event } from '../domain/events/types.ts';
import { newId } from '../domain/ids.ts';
import type { Webhook } from '../domain/webhooks/types.ts';
import type { Logger } from '../logger.ts';
import type { DeliveryStore } from '../store/deliveries.ts';
import type { EventStore } from '../store/events.ts';
import type { MessageOutcome, MessageStore } from '../store/messages.ts';
import type { WebhookStore } from '../store/webhooks.ts';
import type { RetryPolicy } from './retry-policy.ts';
import type { Sender, SendResult } from './sender.ts';

export interface EngineOptions {
  batchSize: number;
  /** Attempts of one webhook in flight at once. */
  parallelism: number;
  /** How long a claim holds before another worker may take the attempt over. */
  claimMs: number;
  /** Consecutive failures after which the webhook is disabled. */
  disableAfterFailures: number;
}

export interface EngineDeps {
  webhooks: WebhookStore;
  events: EventStore;
  messages: MessageStore;
  deliveries: DeliveryStore;
  sender: Sender;
  retryPolicy: RetryPolicy;
  logger: Logger;
  /** Called after attempts were written (live results). */
  onAttempts?: (deliveries: Delivery[]) => void;
  /** Called after the engine disabled a webhook. */
  onWebhookDisabled?: (webhook: Webhook) => Promise<void> | void;
}

export interface DrainResult {
  attempted: number;
  /** When this webhook next has an attempt due; null when none is waiting. */
  nextDueAt: Date | null;
}

export class DeliveryEngine {
  private stopping = false;

  constructor(
    private readonly deps: EngineDeps,
    private readonly options: EngineOptions,
  ) {}

  /**
   * Sends due attempts of one webhook until none is due or `deadline` passes; `heartbeat` runs
   * between batches (the job extends its lock there).
   */
  async drain(webhookId: string, deadline: number, heartbeat?: () => Promise<void>): Promise<DrainResult> {
    let attempted = 0;
    while (!this.stopping && Date.now() < deadline) {
      const token = randomUUID();
      const now = new Date();
      const batch = await this.deps.messages.claimDue(webhookId, now, this.options.batchSize, token, this.options.claimMs);
      if (batch.length === 0) break;
      const webhook = await this.deps.webhooks.findByIdAnySite(webhookId);
      if (!webhook || !webhook.active) {
        // Deleted or disabled: pending attempts stop without further requests.
        const dropped = await this.deps.messages.cancelForWebhook(webhookId);
        this.deps.logger.info('attempts dropped for an inactive webhook', { webhookId, dropped, deleted: !webhook });
        return { attempted, nextDueAt: null };
      }
      const halt = { reason: null as string | null };
      const watch = async () => {
        // While a long batch runs: stop sending once the webhook was deleted or disabled.
        const current = await this.deps.webhooks.findByIdAnySite(webhookId);
        if (!current || !current.active) halt.reason = current ? 'disabled' : 'deleted';
      };
      attempted += await this.keepingClaims(token, heartbeat, watch, () => this.deliverBatch(webhook, batch, token, halt));
      if (heartbeat) await heartbeat();
    }
    return { attempted, nextDueAt: await this.deps.messages.nextDueAt(webhookId) };
  }

  /**
   * Takes no new batch from now on (shutdown): the batch in flight is sent and recorded, what is
   * still queued stays for the next worker.
   */
  stop(): void {
    this.stopping = true;
  }

  /**
   * Runs `work` while renewing our claims and the job's lock every third of the claim time, and
   * running `watch` every second. A batch can take far longer than one request (a slow receiver,
   * `batchSize / parallelism` timeouts in a row); without renewal its claims and the job lock
   * expire midway, another run takes over the attempts not yet sent, and they go out twice.
   */
  private async keepingClaims<T>(
    token: string,
    heartbeat: (() => Promise<void>) | undefined,
    watch: () => Promise<void>,
    work: () => Promise<T>,
  ): Promise<T> {
    const claimMs = this.options.claimMs;
    const renewEvery = Math.max(100, Math.floor(claimMs / 3));
    let renewedAt = Date.now();
    let ticking: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      ticking = ticking
        .then(async () => {
          await watch();
          if (Date.now() - renewedAt >= renewEvery) {
            renewedAt = Date.now();
            await this.deps.messages.extendClaim(token, new Date(renewedAt + claimMs));
            if (heartbeat) await heartbeat();
          }
        })
        .catch((error: unknown) => {
          this.deps.logger.warn('could not renew a delivery claim', { error: error instanceof Error ? error.message : String(error) });
        });
    }, Math.min(1000, renewEvery));
    try {
      return await work();
    } finally {
      clearInterval(timer);
      await ticking;
    }
  }

  private async deliverBatch(webhook: Webhook, batch: Message[], token: string, halt: { reason: string | null }): Promise<number> {
    const events = new Map((await this.deps.events.findManyAnySite([...new Set(batch.map((m) => m.eventId))])).map((e) => [e.id, e]));
    const missing = batch.filter((m) => !events.has(m.eventId));
    if (missing.length > 0) {
      // Removed by retention while waiting: nothing left to deliver.
      await this.deps.messages.cancelIds(missing.map((m) => m.id));
    }
    const sendable = batch.filter((m) => events.has(m.eventId));
    const bodies = new Map<string, string>();
    const results = await this.sendAll(sendable, halt, (message) => {
      const event = events.get(message.eventId)!;
      let body = bodies.get(event.id);
      if (body === undefined) bodies.set(event.id, (body = eventPayload(event)));
      return this.deps.sender.send({ url: webhook.url, msgId: event.id, body, secret: webhook.secret });
    });
    const sent = sendable.filter((_, i) => results[i] !== undefined);
    const unsent = sendable.filter((_, i) => results[i] === undefined);
    if (unsent.length > 0) {
      // Halted midway: give the rest back unchanged (dropped next round if the webhook is gone).
      await this.deps.messages.settle(
        token,
        unsent.map((m) => ({ kind: 'retry', id: m.id, attempt: m.attempt, dueAt: m.dueAt })),
      );
    }
    await this.record(webhook, sent, results.filter((r) => r !== undefined), events, token);
    return sent.length;
  }

  /**
   * Sends in claim order (oldest first) with at most `parallelism` in flight; starts no new send
   * once halted (a 410 Gone, or the webhook deleted or disabled meanwhile). Unsent ones stay
   * undefined in the answer.
   */
  private async sendAll(
    messages: Message[],
    halt: { reason: string | null },
    send: (m: Message) => Promise<SendResult>,
  ): Promise<({ result: SendResult; at: Date } | undefined)[]> {
    const results = new Array<{ result: SendResult; at: Date } | undefined>(messages.length).fill(undefined);
    let next = 0;
    const lane = async () => {
      while (next < messages.length && halt.reason === null) {
        const index = next++;
        const result = await send(messages[index]!);
        results[index] = { result, at: new Date() };
        if (result.gone) halt.reason = 'gone';
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.parallelism, messages.length) }, lane));
    return results;
  }

  private async record(
    webhook: Webhook,
    messages: Message[],
    results: { result: SendResult; at: Date }[],
    events: Map<string, Event>,
    token: string,
  ): Promise<void> {
    const deliveries: Delivery[] = [];
    const outcomes: MessageOutcome[] = [];
    let gone = false;
    messages.forEach((message, i) => {
      const { result, at } = results[i]!;
      deliveries.push({
        id: newId('Delivery', at.getTime()),
        siteId: message.siteId,
        webhookId: webhook.id,
        eventId: message.eventId,
        event: events.get(message.eventId)!.type,
        url: webhook.url,
        attempt: message.attempt,
        statusCode: result.statusCode,
        success: result.success,
        error: result.error,
        durationMs: Math.round(result.durationMs),
        deliveredAt: at,
        responseBody: result.responseBody,
        trigger: message.trigger,
        replayId: message.replayId,
      });
      if (result.gone) gone = true;
      const delay = result.success || result.gone ? null : this.deps.retryPolicy.nextDelayMs(message.attempt, result);
      outcomes.push(
        delay === null
          ? { kind: 'done', id: message.id }
          : { kind: 'retry', id: message.id, attempt: message.attempt + 1, dueAt: new Date(at.getTime() + delay) },
      );
    });
    // Log first, then the queue: a crash in between repeats an attempt rather than losing it.
    await this.deps.deliveries.insertMany(deliveries);
    await this.deps.messages.settle(token, outcomes);
    await this.updateWebhook(webhook, deliveries, gone);
    this.deps.onAttempts?.(deliveries);
  }

  /** failCount counts consecutive failures; a success resets it and sets lastDeliveredAt. */
  private async updateWebhook(webhook: Webhook, deliveries: Delivery[], gone: boolean): Promise<void> {
    const ordered = [...deliveries].sort((a, b) => a.deliveredAt.getTime() - b.deliveredAt.getTime());
    let lastSuccess = -1;
    ordered.forEach((d, i) => {
      if (d.success) lastSuccess = i;
    });
    const failuresAfter = ordered.length - 1 - lastSuccess;
    const store = this.deps.webhooks;
    let updated: Webhook | null;
    if (lastSuccess >= 0) {
      updated = await store.recordOutcome(webhook.siteId, webhook.id, {
        resetFailCountTo: failuresAfter,
        lastDeliveredAt: ordered[lastSuccess]!.deliveredAt,
      });
    } else {
      updated = await store.recordOutcome(webhook.siteId, webhook.id, { addFailures: failuresAfter });
    }
    if (!updated || !updated.active) return;
    let reason: string | null = null;
    if (gone) reason = 'the receiver answered 410 Gone';
    else if (updated.failCount >= this.options.disableAfterFailures) {
      reason = `${updated.failCount} consecutive failed attempts`;
    }
    if (reason) {
      const disabled = await store.disable(webhook.siteId, webhook.id, reason);
      if (disabled) {
        await this.deps.messages.cancelForWebhook(webhook.id);
        this.deps.logger.warn('webhook disabled', { webhookId: webhook.id, siteId: webhook.siteId, reason });
        await this.deps.onWebhookDisabled?.(disabled);
      }
    }
  }
}
