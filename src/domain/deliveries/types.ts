export type Trigger = 'event' | 'test' | 'replay';

/** One finished attempt: the delivery log. */
export interface Delivery {
  id: string;
  siteId: string;
  webhookId: string;
  eventId: string;
  /** The event type. */
  event: string;
  url: string;
  attempt: number;
  statusCode: number | null;
  success: boolean;
  error: string | null;
  durationMs: number;
  deliveredAt: Date;
  /** First KiB of the receiver's answer. */
  responseBody: string | null;
  trigger: Trigger;
  replayId: string | null;
}

/** An attempt waiting to be made (the queue); removed once delivered or given up. */
export interface Message {
  id: string;
  siteId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  /** Number of the next attempt (1 for the first). */
  attempt: number;
  trigger: Trigger;
  replayId: string | null;
  dueAt: Date;
  createdAt: Date;
}

/** Deterministic per (event, webhook[, replay]), so that a repeated fan-out queues nothing new. */
export const messageId = (eventId: string, webhookId: string, replayId?: string | null) =>
  replayId ? `${eventId}.${webhookId}.${replayId}` : `${eventId}.${webhookId}`;

/** The first attempt of delivering an event to a webhook, due now. */
export function firstAttempt(
  event: { id: string; siteId: string; type: string },
  webhookId: string,
  trigger: Trigger,
  replayId: string | null,
  now: Date,
): Message {
  return {
    id: messageId(event.id, webhookId, replayId),
    siteId: event.siteId,
    webhookId,
    eventId: event.id,
    eventType: event.type,
    attempt: 1,
    trigger,
    replayId,
    dueAt: now,
    createdAt: now,
  };
}
