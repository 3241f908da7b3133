// The one reader of process.env: every setting is parsed and validated here at start, and a bad
// value stops the process with a message naming the variable.
import { parseSchedule } from './delivery/retry-policy.ts';

export type Role = 'api' | 'worker' | 'all';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly mongodbUri: string | undefined;
  readonly databaseName: string;
  readonly embeddedDbPath: string | undefined;
  readonly embeddedDbMaxHeapMb: number;
  readonly bootstrapApiKey: string | undefined;
  readonly logLevel: LogLevel;
  readonly role: Role;
  readonly allowPrivateDestinations: boolean;
  /** auto: use change streams when the database offers them; off: never (single process). */
  readonly changeStreams: 'auto' | 'off';
  readonly delivery: {
    readonly timeoutMs: number;
    readonly retrySchedule: readonly number[];
    readonly disableAfterFailures: number;
    readonly batchSize: number;
    readonly concurrency: number;
    readonly parallelism: number;
    readonly lockLifetimeMs: number;
    readonly lockLimit: number;
    readonly pollIntervalMs: number;
    readonly sweepIntervalMs: number;
  };
  readonly retentionDays: number;
  readonly live: {
    /** Ping interval of idle WebSocket clients. */
    readonly keepAliveMs: number;
    /** A change stream read taking longer than this counts as a lost connection. */
    readonly stallMs: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function databaseNameFrom(uri: string | undefined, env: Env): string {
  const explicit = text(env, 'MONGODB_DB');
  if (explicit) return explicit;
  if (uri) {
    const path = uri.replace(/^mongodb(\+srv)?:\/\/[^/]*/, '').replace(/^\//, '').split('?')[0];
    if (path) return decodeURIComponent(path);
  }
  return 'optimocms_webhooks';
}

export const DEFAULT_RETRY_SCHEDULE = '5s,1m,5m,30m,2h,5h,10h,14h';

export function loadConfig(env: Env = process.env): Config {
  const mongodbUri = text(env, 'MONGODB_URI');
  if (mongodbUri !== undefined && !/^mongodb(\+srv)?:\/\//.test(mongodbUri)) {
    throw new ConfigError('MONGODB_URI', 'must start with mongodb:// or mongodb+srv://');
  }
  const bootstrapApiKey = text(env, 'BOOTSTRAP_API_KEY');
  if (bootstrapApiKey !== undefined && bootstrapApiKey.length < 16) {
    throw new ConfigError('BOOTSTRAP_API_KEY', 'must be at least 16 characters long');
  }
  let retrySchedule: number[];
  try {
    retrySchedule = parseSchedule(text(env, 'RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE);
  } catch (error) {
    throw new ConfigError('RETRY_SCHEDULE', (error as Error).message);
  }
  const timeoutMs = integer(env, 'DELIVERY_TIMEOUT_MS', 15_000, 100, 300_000);
  const config: Config = {
    port: integer(env, 'PORT', 4000, 0, 65_535),
    host: text(env, 'HOST') ?? '0.0.0.0',
    mongodbUri,
    databaseName: databaseNameFrom(mongodbUri, env),
    embeddedDbPath: text(env, 'EMBEDDED_DB_PATH'),
    embeddedDbMaxHeapMb: integer(env, 'EMBEDDED_DB_MAX_HEAP_MB', 1024, 64, 65_536),
    bootstrapApiKey,
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    role: oneOf(env, 'ROLE', ['api', 'worker', 'all'] as const, 'all'),
    // Off by default against a real database; the embedded (development) database turns it on.
    allowPrivateDestinations: boolean(env, 'ALLOW_PRIVATE_DESTINATIONS', mongodbUri === undefined),
    changeStreams: oneOf(env, 'CHANGE_STREAMS', ['auto', 'off'] as const, 'auto'),
    delivery: {
      timeoutMs,
      retrySchedule,
      disableAfterFailures: integer(env, 'DISABLE_AFTER_FAILURES', 50, 1, 1_000_000),
      batchSize: integer(env, 'DELIVERY_BATCH_SIZE', 100, 1, 1000),
      concurrency: integer(env, 'DELIVERY_CONCURRENCY', 32, 1, 1000),
      parallelism: integer(env, 'DELIVERY_PARALLELISM', 8, 1, 256),
      lockLifetimeMs: integer(env, 'DELIVERY_LOCK_LIFETIME_MS', timeoutMs * 2, 1000, 3_600_000),
      lockLimit: integer(env, 'DELIVERY_LOCK_LIMIT', 64, 1, 10_000),
      pollIntervalMs: integer(env, 'POLL_INTERVAL_MS', 1000, 50, 3_600_000),
      sweepIntervalMs: integer(env, 'SWEEP_INTERVAL_MS', 5000, 200, 3_600_000),
    },
    retentionDays: integer(env, 'RETENTION_DAYS', 30, 1, 3650),
    live: {
      keepAliveMs: integer(env, 'WS_KEEPALIVE_MS', 12_000, 100, 600_000),
      stallMs: integer(env, 'LIVE_STALL_MS', 15_000, 500, 600_000),
    },
  };
  return Object.freeze({ ...config, delivery: Object.freeze({ ...config.delivery }), live: Object.freeze({ ...config.live }) });
}
