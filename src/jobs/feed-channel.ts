// Agenda's notification channel on our ChangeFeed: workers hear of new or re-scheduled jobs from
// any process through one change stream on the job collection, and of this process's own jobs at
// once (publish() notifies locally without waiting for the stream).
//
// Why not @agendajs/mongo-backend's MongoChangeStreamNotificationChannel: its stream reads in a
// tight loop when the server does not hold empty reads for maxAwaitTimeMS (the embedded server
// answers at once), which kept a CPU busy in the benchmark. ChangeFeed paces such reads, reopens
// from its resume token when the stream fails or stalls, and notifications of one job name are
// folded together while one is being handled.
import { BaseNotificationChannel, type JobNotification, type JobStateNotification } from 'agenda';
import type { Db, Document } from 'mongodb';
import type { Logger } from '../logger.ts';
import { ChangeFeed } from '../live/feed.ts';
import { AGENDA_COLLECTION } from '../store/database.ts';

export class FeedNotificationChannel extends BaseNotificationChannel {
  private feed: ChangeFeed<Document> | null = null;
  /** Per job name: a notification being handled, and whether another came meanwhile. */
  private readonly busy = new Map<string, { again: JobNotification | null }>();

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly options: { stallMs?: number; idleGapMs?: number } = {},
  ) {
    super({ channelName: 'agenda-feed' });
  }

  async connect(): Promise<void> {
    this.feed = new ChangeFeed(
      'agenda-jobs',
      this.db.collection(AGENDA_COLLECTION),
      [{ $match: { operationType: { $in: ['insert', 'update', 'replace'] } } }],
      (doc) => {
        if (!doc.nextRunAt || doc.disabled) return;
        this.fold({
          jobId: String(doc._id) as never,
          jobName: String(doc.name),
          nextRunAt: new Date(doc.nextRunAt as Date),
          priority: Number(doc.priority ?? 0),
          timestamp: new Date(),
          source: 'changestream',
        });
      },
      this.logger,
      { ...this.options, fullDocument: 'updateLookup' },
    );
    this.feed.start();
    await this.feed.ready;
    this.setState('connected');
  }

  async disconnect(): Promise<void> {
    await this.feed?.stop();
    this.feed = null;
    this.handlers.clear();
    this.stateHandlers.clear();
    this.setState('disconnected');
  }

  async publish(notification: JobNotification): Promise<void> {
    this.fold(notification);
  }

  async publishState(notification: JobStateNotification): Promise<void> {
    await this.notifyStateHandlers(notification);
  }

  /** At most one notification per job name in flight; later ones collapse into one more. */
  private fold(notification: JobNotification): void {
    const current = this.busy.get(notification.jobName);
    if (current) {
      current.again = notification;
      return;
    }
    const slot = { again: null as JobNotification | null };
    this.busy.set(notification.jobName, slot);
    void (async () => {
      let next: JobNotification | null = notification;
      while (next) {
        slot.again = null;
        await this.notifyHandlers(next).catch((error: unknown) => this.emit('error', error));
        next = slot.again;
      }
      this.busy.delete(notification.jobName);
    })();
  }
}
