// Starts the real service (the same createApp as `npm start`) on a free loopback port against
// the test run's MongoDB, in a database of its own, and gives tests small HTTP clients for it.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';

export interface HttpAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestApp {
  app: App;
  /** http://127.0.0.1:PORT */
  url: string;
  mongoUri: string;
  databaseName: string;
  /** Every log line the app wrote. */
  logs: string[];
  /** A key with access to all sites. */
  adminKey: string;
  createKey(sites?: string[] | null, name?: string): Promise<string>;
  request<T = any>(
    method: string,
    path: string,
    options?: { key?: string | null; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> },
  ): Promise<HttpAnswer<T>>;
  graphql<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<HttpAnswer<{ data?: T; errors?: any[] }>>;
  stop(): Promise<void>;
}

export function testEnv(databaseName: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    MONGODB_URI: inject('mongoUri'),
    MONGODB_DB: databaseName,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    ALLOW_PRIVATE_DESTINATIONS: 'true',
    ...env,
  };
}

export const uniqueDatabaseName = () => `test_${randomBytes(6).toString('hex')}`;

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const databaseName = env.MONGODB_DB ?? uniqueDatabaseName();
  const logs: string[] = [];
  const config = loadConfig(testEnv(databaseName, env));
  const app = await createApp(config, { logWrite: (line) => logs.push(line), announce: (text) => logs.push(text) });
  await app.start();
  const url = app.address ? `http://127.0.0.1:${app.address.port}` : '';

  async function createKey(sites: string[] | null = null, name = 'test key'): Promise<string> {
    return (await app.services.apiKeys.create({ name, sites })).key;
  }
  const adminKey = await createKey(null, 'admin');

  async function request(
    method: string,
    path: string,
    options: { key?: string | null; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? adminKey : options.key;
    if (key !== null) headers['x-api-key'] = key;
    let body: string | Buffer | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(url + path, { method, headers, body: body as BodyInit | undefined });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  return {
    app,
    url,
    mongoUri: inject('mongoUri'),
    databaseName,
    logs,
    adminKey,
    createKey,
    request,
    graphql: (query, variables = {}, key) => request('POST', '/graphql', { key, body: { query, variables } }),
    async stop() {
      await app.stop();
    },
  };
}
