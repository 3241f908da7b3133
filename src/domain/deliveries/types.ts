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
