// The documented envelopes: { data, meta } on success, { error: { code, message, details }, meta }
// on failure; meta.requestId is also the x-request-id header.
import type { ServerResponse } from 'node:http';
import { AppError, type ErrorCode } from '../../domain/errors.ts';

export interface Meta {
  requestId: string;
  timestamp: string;
}

export interface Pagination {
  total: number;
  limit: number;
  nextCursor: string | null;
}

export const meta = (requestId: string): Meta => ({ requestId, timestamp: new Date().toISOString() });

/** One place that maps error codes to HTTP statuses. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendData(
  res: ServerResponse,
  requestId: string,
  status: number,
  data: unknown,
  pagination?: Pagination,
): void {
  sendJson(res, status, pagination ? { data, meta: meta(requestId), pagination } : { data, meta: meta(requestId) });
}

/** Client mistakes keep their message; anything unexpected is masked as INTERNAL_ERROR. */
export function sendError(res: ServerResponse, requestId: string, error: unknown, headers: Record<string, string> = {}): void {
  const app =
    error instanceof AppError ? error : new AppError('INTERNAL_ERROR', 'An unexpected error occurred', {});
  sendJson(
    res,
    STATUS_BY_CODE[app.code],
    { error: { code: app.code, message: app.message, details: app.details }, meta: meta(requestId) },
    headers,
  );
}
