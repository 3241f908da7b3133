// Domain errors carry a stable code. REST maps codes to statuses in one place (rest/v1/errors.ts);
// GraphQL exposes the same code in extensions.code. Anything else is unexpected and masked.
export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'INVALID_JSON'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_ERROR';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export type FieldErrors = Record<string, string>;

export function validationError(fields: FieldErrors, message?: string): AppError {
  const names = Object.keys(fields);
  return new AppError(
    'VALIDATION_ERROR',
    message ?? `Invalid ${names.length === 1 ? 'field' : 'fields'}: ${names.join(', ')}`,
    { fields },
  );
}

export const notFound = (what: string, id: string) =>
  new AppError('NOT_FOUND', `${what} ${id} not found`, { id });
export const unauthorized = (message = 'A valid X-Api-Key header is required') =>
  new AppError('UNAUTHORIZED', message);
export const forbidden = (siteId: string) =>
  new AppError('FORBIDDEN', `This API key may not access site ${siteId}`, { siteId });
export const conflict = (message: string, details: Record<string, unknown> = {}) =>
  new AppError('CONFLICT', message, details);
