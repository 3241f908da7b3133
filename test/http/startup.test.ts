// The service as a process, started as `npm start` starts it (`node --import tsx src/main.ts`): the
// embedded database in memory or in a file, the one-time development key, the bootstrap key,
// configuration errors, and a clean stop on SIGTERM that leaves no JVM behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  accepts,
  call,
  isRunning,
  runServiceToExit,
  serviceEnv,
  startService,
  type ServiceProcess,
} from './service-process.ts';

// Each test starts processes (Node, often a JVM too): slow on a loaded machine, never stuck.
vi.setConfig({ testTimeout: 90_000 });

const running: ServiceProcess[] = [];
async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const service = await startService(env);
  running.push(service);
  return service;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
});

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function embeddedPort(service: ServiceProcess): number {
  const line = service.logs().find((l) => l.msg === 'embedded MongoDB started');
  expect(line, 'the log says the embedded MongoDB started').toBeDefined();
  return Number(new URL(String(line!.uri).replace(/^mongodb:/, 'http:')).port);
}

const isJvm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('EmbeddedMongo');
  } catch {
    return false;
  }
};

describe('npm start without MONGODB_URI', () => {
  it('starts the embedded database in memory, prints a working development key, and stops cleanly on SIGTERM', async () => {
    const service = await start(serviceEnv());
    const started = service.logs().find((l) => l.msg === 'embedded MongoDB started');
    expect(started?.data).toMatch(/in memory/);
    const mongoPort = embeddedPort(service);
    expect(await accepts(mongoPort)).toBe(true);

    const key = service.devKey();
    expect(key, `a development key is printed:\n${service.output()}`).toMatch(/^ock_/);
    expect(service.output()).toMatch(/shown only this once/);

    const list = await call(service.url, 'GET', '/v1/sites/x/webhooks', { key: key! });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([]);
    expect((await call(service.url, 'GET', '/v1/sites/x/webhooks')).status).toBe(401);
    expect((await call(service.url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(service.url, 'GET', '/readyz')).status).toBe(200);

    const jvms = service.descendants().filter(isJvm);
    if (process.platform === 'linux') expect(jvms.length).toBe(1);

    const exit = await service.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(service.logs().some((l) => l.msg === 'stopping' && l.signal === 'SIGTERM')).toBe(true);
    expect(await accepts(service.port)).toBe(false);
    expect(await accepts(mongoPort)).toBe(false);
    for (const pid of service.descendants()) expect(isRunning(pid), `process ${pid} is left behind`).toBe(false);
  }, 120_000);

  it('stops cleanly on SIGINT (Ctrl-C) as well', async () => {
    const service = await start(serviceEnv());
    const mongoPort = embeddedPort(service);
    expect(await service.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(await accepts(mongoPort)).toBe(false);
    for (const pid of service.descendants()) expect(isRunning(pid), `process ${pid} is left behind`).toBe(false);
  }, 120_000);
});

describe('configuration errors', () => {
  it.each([
    // [variable, value, whether the message repeats the value (never for a secret or a URI)]
    ['PORT', 'abc', true],
    ['LOG_LEVEL', 'loud', true],
    ['MONGODB_URI', 'http://localhost:27017', false],
    ['BOOTSTRAP_API_KEY', 'short', false],
  ])('%s=%s stops the start with exit code 1 and a message naming the variable', async (name, value, echoed) => {
    const result = await runServiceToExit(serviceEnv({ [name]: value }));
    expect(result.code, result.output).toBe(1);
    expect(result.output).toMatch(new RegExp(`^Cannot start: ${name}: `, 'm'));
    if (echoed) expect(result.output).toContain(value);
    else if (name === 'BOOTSTRAP_API_KEY') expect(result.output).not.toContain(value);
    expect(result.output).not.toMatch(/embedded MongoDB started|listening/);
  }, 60_000);
});

describe('EMBEDDED_DB_PATH', () => {
  it('keeps the data in that file across a restart and says so in the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-data-'));
    tempDirs.push(dir);
    const file = join(dir, 'data.mv');
    const env = serviceEnv({ EMBEDDED_DB_PATH: file });

    const first = await start(env);
    expect(first.logs().find((l) => l.msg === 'embedded MongoDB started')?.data).toContain(file);
    const key = first.devKey();
    expect(key).toMatch(/^ock_/);
    const created = await call(first.url, 'POST', '/v1/sites/site-1/webhooks', {
      key: key!,
      body: { url: 'https://example.com/hook', events: ['page.created'] },
    });
    expect(created.status).toBe(201);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const second = await start(env);
    expect(second.logs().find((l) => l.msg === 'embedded MongoDB started')?.data).toContain(file);
    // The key from the first run is kept too, so no new one is printed.
    expect(second.devKey()).toBeNull();
    const fetched = await call(second.url, 'GET', `/v1/sites/site-1/webhooks/${created.body.data.id}`, { key: key! });
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual(created.body.data);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 120_000);
});

describe('BOOTSTRAP_API_KEY', () => {
  it('makes that key work, prints no development key, and never logs the key', async () => {
    const bootstrap = `boot_${Date.now()}_abcdefghijklmnop`;
    const service = await start(serviceEnv({ BOOTSTRAP_API_KEY: bootstrap }));
    expect(service.devKey()).toBeNull();
    expect(service.output()).not.toMatch(/ock_|development API key/);
    expect(service.logs().some((l) => l.msg === 'bootstrap API key created')).toBe(true);

    const list = await call(service.url, 'GET', '/v1/sites/any-site/webhooks', { key: bootstrap });
    expect(list.status).toBe(200);
    expect((await call(service.url, 'GET', '/v1/sites/any-site/webhooks', { key: `${bootstrap}x` })).status).toBe(401);
    expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(service.output()).not.toContain(bootstrap);
  }, 120_000);
});
