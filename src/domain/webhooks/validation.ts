import { isSubscribable, WILDCARD } from '../events/catalogue.ts';
import type { FieldErrors } from '../errors.ts';
import { isPlainObject, rejectUnknownFields, throwIfAny } from '../validation.ts';
import { isValidSecret } from '../../delivery/signature.ts';
import type { CreateWebhookInput, UpdateWebhookInput } from './types.ts';
import { validationError } from '../errors.ts';

export const MAX_URL_LENGTH = 2048;
/**
 * The URL as written: scheme, "//", a host first, no whitespace or control characters. The
 * WHATWG parser alone would also accept (and silently repair) "https:x.example.com",
 * " https://x.example.com" or a tab inside, which would then be stored as given.
 */
const ABSOLUTE_HTTP_URL = /^https?:\/\/[^\u0000-\u0020\u007f/?#@\\][^\u0000-\u0020\u007f]*$/i;

function checkUrl(value: unknown, errors: FieldErrors): string | undefined {
  if (typeof value !== 'string' || value.length === 0) {
    errors.url = 'must be an absolute http or https URL';
    return undefined;
  }
  if (value.length > MAX_URL_LENGTH) {
    errors.url = `must be at most ${MAX_URL_LENGTH} characters`;
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    errors.url = 'must be an absolute http or https URL';
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    errors.url = 'must use http or https';
  } else if (url.username !== '' || url.password !== '') {
    errors.url = 'must not contain a user name or password';
  } else if (url.hostname === '') {
    errors.url = 'must name a host';
  } else if (!ABSOLUTE_HTTP_URL.test(value)) {
    errors.url = 'must be an absolute http or https URL without spaces or control characters';
  } else {
    return value;
  }
  return undefined;
}

function checkEvents(value: unknown, errors: FieldErrors): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    errors.events = 'must be a non-empty list of event types or "*"';
    return undefined;
  }
  const unknown = value.filter((e) => typeof e !== 'string' || !isSubscribable(e));
  if (unknown.length > 0) {
    errors.events = `unknown event types: ${unknown.map((e) => JSON.stringify(e)).join(', ')}`;
    return undefined;
  }
  const unique = [...new Set(value as string[])];
  // "*" already means all; keeping others beside it would only mislead.
  return unique.includes(WILDCARD) ? [WILDCARD] : unique;
}

function checkSecret(value: unknown, errors: FieldErrors): string | undefined {
  if (typeof value !== 'string' || !isValidSecret(value)) {
    errors.secret = 'must be "whsec_" followed by base64 of 24 to 64 random bytes';
    return undefined;
  }
  return value;
}

function checkActive(value: unknown, errors: FieldErrors): boolean | undefined {
  if (typeof value !== 'boolean') {
    errors.active = 'must be true or false';
    return undefined;
  }
  return value;
}

export function parseCreateWebhook(body: unknown): CreateWebhookInput {
  if (!isPlainObject(body)) throw validationError({ body: 'must be a JSON object' });
  const errors: FieldErrors = {};
  rejectUnknownFields(body, ['url', 'events', 'secret', 'active'], errors);
  const url = checkUrl(body.url, errors);
  const events = checkEvents(body.events, errors);
  const secret = body.secret === undefined || body.secret === null ? undefined : checkSecret(body.secret, errors);
  const active = body.active === undefined ? undefined : checkActive(body.active, errors);
  throwIfAny(errors);
  return { url: url!, events: events!, secret, active };
}

export function parseUpdateWebhook(body: unknown): UpdateWebhookInput {
  if (!isPlainObject(body)) throw validationError({ body: 'must be a JSON object' });
  const errors: FieldErrors = {};
  rejectUnknownFields(body, ['url', 'events', 'secret', 'active'], errors);
  const input: UpdateWebhookInput = {};
  if (body.url !== undefined) input.url = checkUrl(body.url, errors);
  if (body.events !== undefined) input.events = checkEvents(body.events, errors);
  if (body.secret !== undefined) input.secret = checkSecret(body.secret, errors);
  if (body.active !== undefined) input.active = checkActive(body.active, errors);
  throwIfAny(errors);
  return input;
}
