// Typed in-process pub/sub for live results. What is published is plain data (never driver
// objects); across processes it arrives through MongoDB change streams (live/feed.ts).
import { createPubSub, type PubSub } from 'graphql-yoga';
import type { Delivery } from '../domain/deliveries/types.ts';
import type { Webhook } from '../domain/webhooks/types.ts';

export type WebhookChangeKind = 'created' | 'updated' | 'disabled' | 'deleted';

/** A webhook as it is after the change; `deletedAt` is set on deletions. */
export type LiveWebhook = Webhook & { deletedAt: Date | null; change: WebhookChangeKind };

export type LiveTopics = {
  /** Routed by site id. */
  delivery: [siteId: string, delivery: Delivery];
  webhook: [siteId: string, webhook: LiveWebhook];
};

export type LiveBus = PubSub<LiveTopics>;

export const createLiveBus = (): LiveBus => createPubSub<LiveTopics>();
