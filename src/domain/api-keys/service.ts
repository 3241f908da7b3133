// API keys: created once and shown once, stored only as a SHA-256 hash, compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId } from '../ids.ts';
import { forbidden, unauthorized, validationError } from '../errors.ts';
import { SITE_ID } from '../validation.ts';
import type { ApiKeyStore, ApiKeyRecord } from '../../store/api-keys.ts';
import type { ApiKey, Principal } from './types.ts';

const KEY_PREFIX = 'ock_';
/** lastUsedAt is written at most this often per key, so reads don't each cost a write. */
const TOUCH_INTERVAL_MS = 60_000;

export const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

const publicView = ({ hash: _hash, ...key }: ApiKeyRecord): ApiKey => key;

export function canAccessSite(principal: Principal, siteId: string): boolean {
  return principal.sites === null || principal.sites.includes(siteId);
}

export function assertSiteAccess(principal: Principal, siteId: string): void {
  if (!canAccessSite(principal, siteId)) throw forbidden(siteId);
}

/**
 * A key that authenticated is trusted this long without asking the database again, so a busy
 * client costs no round trip per request. Revoking through this process takes effect at once;
 * through another process (the CLI, another API process) within this time.
 */
export const AUTH_CACHE_MS = 1000;
const AUTH_CACHE_SIZE = 1000;

export class ApiKeyService {
  private readonly recent = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly store: ApiKeyStore) {}

  async create(input: { name: string; sites: string[] | null }): Promise<{ key: string; apiKey: ApiKey }> {
    return this.createWithValue(`${KEY_PREFIX}${randomBytes(32).toString('base64url')}`, input);
  }

  private async createWithValue(key: string, input: { name: string; sites: string[] | null }) {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 100) throw validationError({ name: 'must be 1-100 characters' });
    if (input.sites !== null) {
      if (input.sites.length === 0) throw validationError({ sites: 'must name at least one site, or be omitted for all sites' });
      const bad = input.sites.filter((s) => !SITE_ID.test(s));
      if (bad.length > 0) throw validationError({ sites: `invalid site ids: ${bad.join(', ')}` });
    }
    const record: ApiKeyRecord = {
      id: newId('ApiKey'),
      name,
      hash: hashKey(key),
      prefix: key.slice(0, KEY_PREFIX.length + 4),
      sites: input.sites === null ? null : [...new Set(input.sites)],
      createdAt: new Date(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.insert(record);
    return { key, apiKey: publicView(record) };
  }

  /** Makes sure a key with exactly this value and access to all sites exists (for automation). */
  async ensureBootstrapKey(value: string): Promise<{ created: boolean }> {
    const existing = await this.store.findByHash(hashKey(value));
    if (existing && existing.revokedAt === null) return { created: false };
    if (existing) {
      throw new Error('BOOTSTRAP_API_KEY names a key that was revoked; choose a new value');
    }
    try {
      await this.createWithValue(value, { name: 'bootstrap', sites: null });
      return { created: true };
    } catch (error) {
      // Another process created it at the same moment (unique hash index).
      if ((error as { code?: number }).code === 11000) return { created: false };
      throw error;
    }
  }

  async authenticate(key: string | null | undefined): Promise<Principal> {
    if (!key) throw unauthorized();
    const hash = hashKey(key);
    const cached = this.recent.get(hash);
    if (cached && cached.until > Date.now()) return cached.principal;
    const record = await this.store.findByHash(hash);
    // The lookup is by hash; the comparison below is constant-time over equal-length digests.
    if (!record || !timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      throw unauthorized('Unknown API key');
    }
    if (record.revokedAt !== null) throw unauthorized('This API key was revoked');
    const now = new Date();
    if (record.lastUsedAt === null || now.getTime() - record.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      await this.store.touch(record.id, now);
    }
    const principal: Principal = { keyId: record.id, name: record.name, sites: record.sites };
    if (this.recent.size >= AUTH_CACHE_SIZE) this.recent.clear();
    this.recent.set(hash, { principal, until: Date.now() + AUTH_CACHE_MS });
    return principal;
  }

  async list(): Promise<ApiKey[]> {
    return (await this.store.list()).map(publicView);
  }

  async revoke(id: string): Promise<ApiKey | null> {
    const record = await this.store.revoke(id, new Date());
    if (record) this.recent.delete(record.hash);
    return record ? publicView(record) : null;
  }
}
