// GET /v1/openapi.json: the /v1 contract as an OpenAPI 3.1 document (the file beside this one).
import { readFileSync } from 'node:fs';
import type { Route } from './router.ts';

export const OPENAPI_PATH = new URL('./openapi.json', import.meta.url);

export function loadOpenApiDocument(): Record<string, unknown> {
  return JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Record<string, unknown>;
}

export function openApiRoutes(): Route[] {
  const document = loadOpenApiDocument();
  return [{ method: 'GET', path: '/v1/openapi.json', public: true, raw: true, handle: async () => ({ data: document }) }];
}
