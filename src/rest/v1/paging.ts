// REST paging as documented: `limit` (default 25, at most 100) and an opaque `cursor`; answers
// carry `pagination: { total, limit, nextCursor }`, nextCursor null on the last page.
import { validationError } from '../../domain/errors.ts';
import { isIdOf, type IdType } from '../../domain/ids.ts';
import type { KeysetPage } from '../../store/paging.ts';
import type { Pagination } from './envelope.ts';

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 100;

export function parsePaging(query: URLSearchParams, type: IdType): { limit: number; after: string | undefined } {
  const rawLimit = query.get('limit');
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== null) {
    if (!/^\d+$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > MAX_LIMIT) {
      throw validationError({ limit: `must be a whole number from 1 to ${MAX_LIMIT}` });
    }
    limit = Number(rawLimit);
  }
  const cursor = query.get('cursor');
  let after: string | undefined;
  if (cursor !== null && cursor !== '') {
    after = Buffer.from(cursor, 'base64url').toString('utf8');
    if (!isIdOf(type, after)) throw validationError({ cursor: 'is not a cursor of this list' });
  }
  return { limit, after };
}

/** Loads one more than asked to learn whether a next page exists. */
export async function pageOf<T extends { id: string }>(
  paging: { limit: number; after: string | undefined },
  load: (page: KeysetPage) => Promise<T[]>,
  count: () => Promise<number>,
): Promise<{ items: T[]; pagination: Pagination }> {
  const [rows, total] = await Promise.all([load({ after: paging.after, limit: paging.limit + 1 }), count()]);
  const items = rows.slice(0, paging.limit);
  const nextCursor = rows.length > paging.limit ? Buffer.from(items[items.length - 1]!.id, 'utf8').toString('base64url') : null;
  return { items, pagination: { total, limit: paging.limit, nextCursor } };
}
