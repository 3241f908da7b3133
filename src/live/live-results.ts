// Live results: every finished attempt and every webhook change reaches the subscribers of every
// API process. With change streams, each API process follows the deliveries collection (the
// attempt documents themselves: no extra write on the delivery path) and a small feed of webhook
// changes. Without change streams, a single process publishes in-process.
import type { Collection, Db } from 'mongodb';
import type { Delivery } from '../domain/deliveries/types.ts';
import type { Webhook } from '../domain/webhooks/types.ts';
import type { Logger } from '../logger.ts';
import type { DeliveryDoc } from '../store/deliveries.ts';
import { WEBHOOK_CHANGES_COLLECTION } from '../store/database.ts';
import { createLiveBus, type LiveBus, type LiveWebhook, type WebhookChangeKind } from './bus.ts';
import { ChangeFeed } from './feed.ts';

export { WEBHOOK_CHANGES_COLLECTION } from '../store/database.ts';

interface WebhookChangeDoc {
  siteId: string;
  webhook: LiveWebhook;
  at: Date;
}

const deliveryFromDoc = ({ _id, ...rest }: DeliveryDoc): Delivery => ({ id: _id, ...rest });

export class LiveResults {
  readonly bus: LiveBus = createLiveBus();
  private readonly feeds: ChangeFeed<any>[] = [];
  private readonly changes: Collection<WebhookChangeDoc>;

  constructor(
    private readonly db: Db,
    /** Results cross processes through change streams. */
    readonly crossProcess: boolean,
    private readonly logger: Logger,
  ) {
    this.changes = db.collection<WebhookChangeDoc>(WEBHOOK_CHANGES_COLLECTION);
  }

  /** The engine wrote these attempts. */
  attempts(deliveries: Delivery[]): void {
    if (this.crossProcess) return; // the feed of the deliveries collection carries them
    for (const d of deliveries) this.bus.publish('delivery', d.siteId, d);
  }

  /** A webhook was written (created, updated, disabled, deleted). */
  async webhookChanged(kind: WebhookChangeKind, webhook: Webhook): Promise<void> {
    const live: LiveWebhook = { ...webhook, change: kind, deletedAt: kind === 'deleted' ? new Date() : null };
    if (!this.crossProcess) {
      this.bus.publish('webhook', webhook.siteId, live);
      return;
    }
    try {
      await this.changes.insertOne({ siteId: webhook.siteId, webhook: live, at: new Date() });
    } catch (error) {
      // The change itself is written; only its live notice is lost.
      this.logger.error('could not publish a webhook change', { webhookId: webhook.id, error: (error as Error).message });
    }
  }

  /** API processes follow the feeds; resolves once they are open. */
  async start(options: { stallMs?: number; idleGapMs?: number } = {}): Promise<void> {
    if (!this.crossProcess) return;
    // Live results tolerate a tenth of a second; fewer reads spare the database.
    options = { idleGapMs: 100, ...options };
    const deliveries = new ChangeFeed<DeliveryDoc>(
      'deliveries',
      this.db.collection<DeliveryDoc>('deliveries'),
      [{ $match: { operationType: 'insert' } }],
      (doc) => this.bus.publish('delivery', doc.siteId, deliveryFromDoc(doc)),
      this.logger,
      options,
    );
    const webhooks = new ChangeFeed<WebhookChangeDoc>(
      WEBHOOK_CHANGES_COLLECTION,
      this.changes,
      [{ $match: { operationType: 'insert' } }],
      (doc) => this.bus.publish('webhook', doc.siteId, doc.webhook),
      this.logger,
      options,
    );
    this.feeds.push(deliveries, webhooks);
    for (const feed of this.feeds) feed.start();
    await Promise.all(this.feeds.map((f) => f.ready));
  }

  get reopened(): number {
    return this.feeds.reduce((n, f) => n + f.reopened, 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.feeds.map((f) => f.stop()));
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return (await this.changes.deleteMany({ at: { $lt: cutoff } })).deletedCount;
  }
}
