// A small router for the documented /v1 paths: path matching, 405 with Allow for a wrong method
// on a known path, authentication, then one handler per route.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/api-keys/types.ts';
import type { ApiKeyService } from '../../domain/api-keys/service.ts';
import type { Logger } from '../../logger.ts';
import { readJsonBody } from './body.ts';
import { sendData, sendError, sendJson, type Pagination } from './envelope.ts';

export interface RestRequest {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly principal: Principal;
  /** Parses the JSON body (415 / 413 / 400 as documented). */
  body(): Promise<unknown>;
}

export interface RestResult {
  status?: number;
  data: unknown;
  pagination?: Pagination;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  path: string;
  /** Routes that need no API key (the OpenAPI document). */
  public?: boolean;
  handle(request: RestRequest): Promise<RestResult>;
  /** Raw answer instead of the envelope (the OpenAPI document). */
  raw?: boolean;
}

interface CompiledRoute extends Route {
  segments: string[];
}

function match(segments: string[], parts: string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (segment.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return null;
      }
      if (value === '') return null;
      params[segment.slice(1)] = value;
    } else if (segment !== part) {
      return null;
    }
  }
  return params;
}

export function createRestHandler(routes: Route[], deps: { apiKeys: ApiKeyService; logger: Logger }) {
  const compiled: CompiledRoute[] = routes.map((r) => ({ ...r, segments: r.path.split('/').filter(Boolean) }));

  return async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const parts = url.pathname.split('/').filter(Boolean);
      const candidates = compiled
        .map((route) => ({ route, params: match(route.segments, parts) }))
        .filter((c): c is { route: CompiledRoute; params: Record<string, string> } => c.params !== null);
      if (candidates.length === 0) {
        throw new AppError('NOT_FOUND', `No such path: ${url.pathname}`, { path: url.pathname });
      }
      const found = candidates.find((c) => c.route.method === req.method);
      if (!found) {
        const allow = [...new Set(candidates.map((c) => c.route.method))].join(', ');
        req.resume();
        sendError(
          res,
          requestId,
          new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`, { allow }),
          { allow },
        );
        return;
      }
      const { route, params } = found;
      const principal = route.public
        ? ({ keyId: '', name: '', sites: [] } satisfies Principal)
        : await deps.apiKeys.authenticate(headerValue(req.headers['x-api-key']));
      const result = await route.handle({
        req,
        requestId,
        params,
        query: url.searchParams,
        principal,
        body: () => readJsonBody(req),
      });
      if (route.raw) sendJson(res, result.status ?? 200, result.data);
      else sendData(res, requestId, result.status ?? 200, result.data, result.pagination);
    } catch (error) {
      if (!(error instanceof AppError)) {
        deps.logger.error('request failed', { requestId, method: req.method, path: req.url, error });
      }
      if (!req.complete) req.resume();
      sendError(res, requestId, error);
    }
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
