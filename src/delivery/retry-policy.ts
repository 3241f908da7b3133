/**
 * When to try a failed delivery again. The one source of retry delays for the
 * delivery jobs (design rule 8).
 *
 * Whether to stop early (a 410 disabling the webhook, a deleted webhook...) is
 * the engine's decision; this policy only answers "how long until the next
 * attempt", or null once the attempts are used up.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export interface RetryPolicyOptions {
  /** Delays in ms after attempt 1, 2, ...; its length + 1 is the number of attempts. */
  schedule: number[];
  /** Each scheduled delay is spread uniformly over delay × [1 - jitter, 1 + jitter]. */
  jitter: number;
  /** A receiver's Retry-After is clamped to at least this. Default 1 s. */
  retryAfterMinMs?: number;
  /** ... and at most this. Default 24 h. */
  retryAfterMaxMs?: number;
}

/** 9 attempts over about 31.6 hours, so a receiver can be down for a full day. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = Object.freeze([
  5 * SECOND,
  1 * MINUTE,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
]);

export interface AttemptOutcome {
  statusCode: number | null;
  retryAfterMs: number | null;
}

export class RetryPolicy {
  /** Total attempts including the first one. */
  readonly maxAttempts: number;
  private readonly schedule: readonly number[];
  private readonly jitter: number;
  private readonly retryAfterMinMs: number;
  private readonly retryAfterMaxMs: number;

  constructor(o: Partial<RetryPolicyOptions> = {}) {
    this.schedule = Object.freeze([...(o.schedule ?? DEFAULT_RETRY_SCHEDULE)]);
    this.jitter = o.jitter ?? 0.2;
    this.retryAfterMinMs = o.retryAfterMinMs ?? SECOND;
    this.retryAfterMaxMs = o.retryAfterMaxMs ?? 24 * HOUR;

    if (this.schedule.some((d) => !Number.isFinite(d) || d < 0)) {
      throw new Error('retry schedule: every delay must be a finite number of ms >= 0');
    }
    if (!(this.jitter >= 0 && this.jitter <= 1)) {
      throw new Error(`retry jitter must be between 0 and 1, got ${this.jitter}`);
    }
    if (!(this.retryAfterMinMs >= 0 && this.retryAfterMinMs <= this.retryAfterMaxMs)) {
      throw new Error('retryAfterMinMs must be >= 0 and <= retryAfterMaxMs');
    }
    this.maxAttempts = this.schedule.length + 1;
  }

  /**
   * Delay in ms before attempt `attempt + 1`, after attempt `attempt` (1-based)
   * failed with `result`; null = no attempts left, give up.
   *
   * A Retry-After on 429/503 replaces the scheduled delay (clamped, no jitter:
   * the receiver asked for that time). It does not grant extra attempts.
   */
  nextDelayMs(attempt: number, result: AttemptOutcome, random: () => number = Math.random): number | null {
    if (!Number.isInteger(attempt) || attempt < 1) {
      throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
    }
    const scheduled = this.schedule[attempt - 1];
    if (scheduled === undefined) return null;

    const { statusCode, retryAfterMs } = result;
    if ((statusCode === 429 || statusCode === 503) && retryAfterMs !== null && Number.isFinite(retryAfterMs)) {
      return Math.round(Math.min(this.retryAfterMaxMs, Math.max(this.retryAfterMinMs, retryAfterMs)));
    }

    // Spread retries so a receiver that comes back is not hit by every
    // backlogged delivery in the same second.
    const factor = 1 + this.jitter * (2 * random() - 1);
    return Math.max(0, Math.round(scheduled * factor));
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: 24 * HOUR };

/**
 * `"5s,1m,5m,30m,2h"` → `[5000, 60000, 300000, 1800000, 7200000]`.
 * Units: ms, s, m, h, d; decimals allowed (`1.5h`); spaces around items ignored.
 * Throws an Error naming the bad item.
 */
export function parseSchedule(text: string): number[] {
  if (text.trim() === '') {
    throw new Error('invalid retry schedule: empty (expected a list like "5s,1m,5m,30m,2h")');
  }
  return text.split(',').map((raw, i) => {
    const item = raw.trim();
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i.exec(item);
    if (!match) {
      throw new Error(
        `invalid retry schedule "${text}": item ${i + 1} ${JSON.stringify(item)} is not a duration like 30s, 5m or 2h (units: ms, s, m, h, d)`,
      );
    }
    const [, amount, unit] = match;
    return Math.round(Number(amount) * UNIT_MS[unit!.toLowerCase()]!);
  });
}
