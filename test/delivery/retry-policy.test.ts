import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, RetryPolicy, parseSchedule } from '../../src/delivery/retry-policy.ts';

const HOUR = 3_600_000;
const failed500 = { statusCode: 500, retryAfterMs: null };
const noJitter = () => 0.5; // 2·0.5 − 1 = 0 → exactly the scheduled delay

describe('RetryPolicy', () => {
  it('default schedule: at least 8 retries spanning at least 24 h, then gives up', () => {
    const policy = new RetryPolicy();
    expect(policy.maxAttempts).toBe(9);
    const delays: number[] = [];
    for (let attempt = 1; attempt < policy.maxAttempts; attempt++) {
      const d = policy.nextDelayMs(attempt, failed500, noJitter);
      expect(d).not.toBeNull();
      delays.push(d!);
    }
    expect(delays).toEqual([...DEFAULT_RETRY_SCHEDULE]);
    expect(delays.length).toBeGreaterThanOrEqual(8);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(24 * HOUR);
    // Even with the largest negative jitter the retries still span a day.
    const minSpan = delays.reduce((a, b) => a + b * 0.8, 0);
    expect(minSpan).toBeGreaterThanOrEqual(24 * HOUR);
    expect(policy.nextDelayMs(9, failed500, noJitter)).toBeNull();
    expect(policy.nextDelayMs(50, failed500, noJitter)).toBeNull();
  });

  it('applies jitter within delay × [1 − jitter, 1 + jitter]', () => {
    const policy = new RetryPolicy({ schedule: [10_000, 60_000], jitter: 0.2 });
    expect(policy.nextDelayMs(1, failed500, () => 0)).toBe(8_000);
    expect(policy.nextDelayMs(1, failed500, () => 0.5)).toBe(10_000);
    expect(policy.nextDelayMs(1, failed500, () => 0.999999)).toBe(12_000);
    expect(policy.nextDelayMs(2, failed500, () => 0.25)).toBe(54_000);
    for (let i = 0; i < 1000; i++) {
      const d = policy.nextDelayMs(2, failed500)!;
      expect(d).toBeGreaterThanOrEqual(48_000);
      expect(d).toBeLessThanOrEqual(72_000);
    }
    expect(policy.nextDelayMs(3, failed500)).toBeNull();
  });

  it('never goes below 0, and jitter 0 gives the exact schedule', () => {
    expect(new RetryPolicy({ schedule: [1000], jitter: 1 }).nextDelayMs(1, failed500, () => 0)).toBe(0);
    expect(new RetryPolicy({ schedule: [1000], jitter: 0 }).nextDelayMs(1, failed500, () => 0)).toBe(1000);
  });

  it('honours Retry-After on 429 and 503, clamped, replacing the scheduled delay', () => {
    const policy = new RetryPolicy({ schedule: [5000, 60_000], retryAfterMinMs: 1000, retryAfterMaxMs: HOUR });
    expect(policy.nextDelayMs(1, { statusCode: 429, retryAfterMs: 30_000 }, () => 0)).toBe(30_000);
    expect(policy.nextDelayMs(1, { statusCode: 503, retryAfterMs: 120_000 }, () => 0)).toBe(120_000);
    expect(policy.nextDelayMs(1, { statusCode: 429, retryAfterMs: 0 })).toBe(1000);
    expect(policy.nextDelayMs(1, { statusCode: 429, retryAfterMs: 10 * HOUR })).toBe(HOUR);
    // Other statuses ignore it.
    expect(policy.nextDelayMs(1, { statusCode: 500, retryAfterMs: 30_000 }, noJitter)).toBe(5000);
    // It does not grant attempts beyond the schedule.
    expect(policy.nextDelayMs(3, { statusCode: 429, retryAfterMs: 30_000 })).toBeNull();
  });

  it('default Retry-After bounds are 1 s and 24 h', () => {
    const policy = new RetryPolicy();
    expect(policy.nextDelayMs(1, { statusCode: 503, retryAfterMs: 1 })).toBe(1000);
    expect(policy.nextDelayMs(1, { statusCode: 503, retryAfterMs: 100 * HOUR })).toBe(24 * HOUR);
  });

  it('rejects bad options and attempts', () => {
    expect(() => new RetryPolicy({ schedule: [-1] })).toThrow(/schedule/);
    expect(() => new RetryPolicy({ jitter: 1.5 })).toThrow(/jitter/);
    expect(() => new RetryPolicy({ retryAfterMinMs: 10, retryAfterMaxMs: 5 })).toThrow(/retryAfter/);
    expect(() => new RetryPolicy().nextDelayMs(0, failed500)).toThrow(RangeError);
    expect(new RetryPolicy({ schedule: [] }).maxAttempts).toBe(1);
  });
});

describe('parseSchedule', () => {
  it('parses units and spacing', () => {
    expect(parseSchedule('5s,1m,5m,30m,2h')).toEqual([5000, 60_000, 300_000, 1_800_000, 7_200_000]);
    expect(parseSchedule(' 250ms , 1.5h, 1d ,2H')).toEqual([250, 5_400_000, 86_400_000, 7_200_000]);
    expect(parseSchedule('0s')).toEqual([0]);
  });

  it('throws a clear error on bad input', () => {
    expect(() => parseSchedule('')).toThrow(/empty/);
    expect(() => parseSchedule('5s,,1m')).toThrow(/item 2 "" is not a duration/);
    expect(() => parseSchedule('5s,10')).toThrow(/item 2 "10" is not a duration like 30s, 5m or 2h/);
    expect(() => parseSchedule('5x')).toThrow(/units: ms, s, m, h, d/);
    expect(() => parseSchedule('-5s')).toThrow(/item 1/);
    expect(() => parseSchedule('5s;1m')).toThrow(/invalid retry schedule "5s;1m"/);
  });
});
