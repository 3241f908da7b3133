// Keyset pagination on _id (our ids are time-ordered), never skip/offset. One method serves
// GraphQL connections (via resolveCursorConnection) and REST v1 paging.
import type { Collection, Document, Filter, WithId } from 'mongodb';

export interface KeysetPage {
  /** Ids strictly after / before these, in the list's own order. */
  after?: string | undefined;
  before?: string | undefined;
  limit: number;
  /** Read from the end of the list backwards (relay `last`); the caller reverses. */
  inverted?: boolean | undefined;
}

/** order 1: oldest first; -1: newest first. */
export async function findKeysetPage<T extends Document & { _id: string }>(
  collection: Collection<T>,
  filter: Filter<T>,
  order: 1 | -1,
  page: KeysetPage,
): Promise<WithId<T>[]> {
  const bounds: Record<string, string> = {};
  if (page.after !== undefined) bounds[order === 1 ? '$gt' : '$lt'] = page.after;
  if (page.before !== undefined) bounds[order === 1 ? '$lt' : '$gt'] = page.before;
  const query = (Object.keys(bounds).length > 0 ? { $and: [filter, { _id: bounds }] } : filter) as Filter<T>;
  const direction = page.inverted ? -order : order;
  return collection
    .find(query)
    .sort({ _id: direction as 1 | -1 })
    .limit(page.limit)
    .toArray();
}
