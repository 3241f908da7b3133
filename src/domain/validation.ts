// Small shared validators for request input. Each collects field errors so that one response
// names every bad field.
import { validationError, type FieldErrors } from './errors.ts';

export const SITE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertSiteId(siteId: string): void {
  if (!SITE_ID.test(siteId)) {
    throw validationError({ siteId: 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit' });
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws VALIDATION_ERROR naming every key of `body` not in `allowed`. */
export function rejectUnknownFields(body: Record<string, unknown>, allowed: readonly string[], errors: FieldErrors): void {
  for (const key of Object.keys(body)) {
    // defineProperty, not assignment: `errors["__proto__"] = ...` would set no field at all.
    if (!allowed.includes(key)) Object.defineProperty(errors, key, { value: 'unknown field', enumerable: true, writable: true, configurable: true });
  }
}

export function throwIfAny(errors: FieldErrors): void {
  if (Object.keys(errors).length > 0) throw validationError(errors);
}

export function parseDateTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  // RFC 3339 / ISO 8601 date-time with an explicit zone.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(value)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
