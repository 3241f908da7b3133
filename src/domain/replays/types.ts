export type ReplayStatus = 'scheduling' | 'delivering' | 'completed' | 'cancelled';

export interface Replay {
  id: string;
  siteId: string;
  webhookId: string;
  since: Date;
  until: Date;
  onlyFailed: boolean;
  /** The events to re-deliver, oldest first (at most MAX_REPLAY_EVENTS). */
  eventIds: string[];
  createdBy: string;
  createdAt: Date;
  /** Set once the replay job has queued every attempt (or stopped). */
  scheduledAt: Date | null;
  /** Attempts queued by the job so far. */
  scheduled: number;
  /** Set when it stopped early (webhook deleted or disabled). */
  cancelledReason: string | null;
}

export interface ReplayProgress {
  status: ReplayStatus;
  scheduled: number;
  /** Events re-delivered successfully. */
  delivered: number;
  /** Events whose re-delivery was given up. */
  failed: number;
  /** Events still waiting for a (re)try. */
  pending: number;
}
