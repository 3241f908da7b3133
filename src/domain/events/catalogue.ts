// The catalogue of event types a site emits. Webhooks subscribe to names from here, or "*".
export const EVENT_TYPES = [
  { name: 'page.created', description: 'A page was created.' },
  { name: 'page.updated', description: 'A page was changed.' },
  { name: 'page.published', description: 'A page was published.' },
  { name: 'page.unpublished', description: 'A page was taken offline.' },
  { name: 'page.deleted', description: 'A page was deleted.' },
  { name: 'asset.created', description: 'An asset was uploaded.' },
  { name: 'asset.updated', description: 'An asset was changed.' },
  { name: 'asset.deleted', description: 'An asset was deleted.' },
] as const;

export const WILDCARD = '*';
/** Sent by "test webhook" to one endpoint only; not subscribable, not publishable by sites. */
export const TEST_EVENT_TYPE = 'webhook.test';

const NAMES = new Set<string>(EVENT_TYPES.map((t) => t.name));

export function isEventType(name: string): boolean {
  return NAMES.has(name);
}

export function isSubscribable(name: string): boolean {
  return name === WILDCARD || NAMES.has(name);
}
