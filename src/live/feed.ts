// Follows one collection through a MongoDB change stream, filtered on the server, and hands each
// new document to `onDocument`. It survives a lost connection: when the stream errors, or a read
// stalls (the server paused past the driver's timeouts), it reopens from its last resume token,
// so nothing written meanwhile is lost.
import { Timestamp, type Collection, type Document, type ResumeToken } from 'mongodb';
import type { Logger } from '../logger.ts';

export interface FeedOptions {
  /** A read that takes longer than this counts as a lost connection. */
  stallMs?: number;
  /** How long the server waits for new changes per read. */
  maxAwaitMs?: number;
  /**
   * Pause after an empty read that came back early: a server that does not hold empty reads
   * (the embedded one) would otherwise be asked again at once, in a tight loop.
   */
  idleGapMs?: number;
  /** 'updateLookup' to receive the whole document of updates as well. */
  fullDocument?: 'default' | 'updateLookup';
}

class Stalled extends Error {}

export class ChangeFeed<T extends Document> {
  private running = false;
  private token: ResumeToken | undefined;
  /**
   * Where to reopen while no resume token is known yet: when the stream was first opened. A real
   * MongoDB hands out a resume token with every answer, even an empty one; a server that does not
   * (the embedded one) leaves us without one until the first change, and reopening "from now"
   * would lose what was written while no stream was open.
   */
  private openedAt: Timestamp | undefined;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Times the stream was reopened after a failure (for tests and logs). */
  reopened = 0;
  private readyResolve!: () => void;
  /** Resolves once the stream is open and following. */
  readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));

  constructor(
    private readonly name: string,
    private readonly collection: Collection<T>,
    private readonly pipeline: Document[],
    private readonly onDocument: (doc: T) => void,
    private readonly logger: Logger,
    private readonly options: FeedOptions = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const stallMs = this.options.stallMs ?? 15_000;
    const maxAwaitMs = this.options.maxAwaitMs ?? 500;
    const idleGapMs = this.options.idleGapMs ?? 25;
    let backoff = 100;
    while (this.running) {
      const resumeFrom = this.token
        ? { resumeAfter: this.token }
        : this.openedAt
          ? { startAtOperationTime: this.openedAt }
          : {};
      // Whole seconds, rounded down: a reopen may also bring changes made in the second before the
      // first open (never seen by this feed), but skips none.
      this.openedAt ??= new Timestamp({ t: Math.floor(Date.now() / 1000), i: 0 });
      const stream = this.collection.watch(this.pipeline, {
        fullDocument: this.options.fullDocument ?? 'default',
        maxAwaitTimeMS: maxAwaitMs,
        ...resumeFrom,
      });
      try {
        while (this.running) {
          const readStarted = Date.now();
          const change = await this.withStall(stream.tryNext(), stallMs);
          if (!change && Date.now() - readStarted < maxAwaitMs / 2) await this.sleep(idleGapMs);
          if (change) {
            this.token = change._id;
            const doc = (change as { fullDocument?: T }).fullDocument;
            if (doc) this.onDocument(doc);
          } else if (stream.resumeToken) {
            this.token = stream.resumeToken;
          }
          this.readyResolve();
          backoff = 100;
        }
      } catch (error) {
        if (!this.running) break;
        this.reopened++;
        const code = (error as { code?: number }).code;
        if (code === 286 || code === 280) {
          // The resume point left the oplog (ChangeStreamHistoryLost / fatal): follow from now on.
          this.logger.error('change stream history lost; live results written meanwhile are not replayed', { feed: this.name });
          this.token = undefined;
          this.openedAt = new Timestamp({ t: Math.floor(Date.now() / 1000), i: 0 });
        }
        this.logger.warn('change stream lost; reopening from its resume token', {
          feed: this.name,
          reason: error instanceof Stalled ? 'stalled' : (error as Error).message,
        });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      } finally {
        // A stalled read may never settle: close without waiting for it.
        void stream.close().catch(() => undefined);
      }
    }
  }

  private withStall<R>(promise: Promise<R>, ms: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Stalled(`no answer within ${ms} ms`)), ms);
      const stopWaiting = () => {
        clearTimeout(timer);
        reject(new Stalled('stopping'));
      };
      this.wake = stopWaiting;
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
