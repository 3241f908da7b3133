import { AppError } from '../../domain/errors.ts';
import { isIdOf, type IdType } from '../../domain/ids.ts';
import { resolveCursorConnection, type DefaultConnectionArguments } from '@pothos/plugin-relay';

/** Batch loaders must answer one value per id, in order. */
export function inOrder<T extends { id: string }>(ids: readonly string[], items: readonly T[]): (T | null)[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Cursors are the ids of the items themselves; anything else is a client mistake. */
export function checkCursors(type: IdType, args: { after?: string | null; before?: string | null }): void {
  for (const name of ['after', 'before'] as const) {
    const value = args[name];
    if (value != null && !isIdOf(type, value)) {
      throw new AppError('VALIDATION_ERROR', `Invalid cursor in "${name}"`, { fields: { [name]: 'not a cursor of this list' } });
    }
  }
}

/** GraphQL gives null for omitted optional inputs; services want them absent. */
export function withoutNulls<T extends Record<string, unknown>>(input: T): { [K in keyof T]?: Exclude<T[K], null> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) if (value !== null && value !== undefined) out[key] = value;
  return out as { [K in keyof T]?: Exclude<T[K], null> };
}

export interface PageRequest {
  before?: string | undefined;
  after?: string | undefined;
  limit: number;
  inverted: boolean;
}

/**
 * A relay connection over a keyset-paged store method: cursors are item ids, `totalCount` is
 * counted only when asked for.
 */
export async function idConnection<T extends { id: string }>(
  type: IdType,
  args: DefaultConnectionArguments,
  load: (page: PageRequest) => Promise<T[]>,
  count: () => Promise<number>,
) {
  checkCursors(type, args);
  const connection = await resolveCursorConnection(
    { args, toCursor: (item: T) => item.id, defaultSize: 25, maxSize: 100 },
    (page: PageRequest) => load(page),
  );
  return { ...connection, totalCount: count } as typeof connection & { totalCount: () => Promise<number> };
}
