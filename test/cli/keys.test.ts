// The API keys CLI as a real child process (`node --import tsx src/cli/keys.ts`, as `npm run keys`)
// against the test run's MongoDB, checked through the real service and the database itself.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { AUTH_CACHE_MS } from '../../src/domain/api-keys/service.ts';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { startTestApp, uniqueDatabaseName, type TestApp } from '../support/app.ts';
import { sleep } from '../support/receiver.ts';
import { ROOT, call, cleanEnv, serviceEnv, startService, tsxCommand } from '../http/service-process.ts';
import { run } from '../../src/cli/keys.ts';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return new Promise((done, fail) => {
    const [command, commandArgs] = tsxCommand('src/cli/keys.ts', ...args);
    const child = spawn(command, commandArgs, {
      cwd: ROOT,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

// Each test starts processes (Node, often a JVM too): slow on a loaded machine, never stuck.
vi.setConfig({ testTimeout: 90_000 });

const KEY = /^ {4}(ock_[A-Za-z0-9_-]{43})$/m;
const KEY_ID = /Created API key (key_[0-9A-Z]+)/;

const databaseName = uniqueDatabaseName();
const dbEnv = () => ({ MONGODB_URI: inject('mongoUri'), MONGODB_DB: databaseName });
const cli = (...args: string[]) => runCli(args, dbEnv());

let t: TestApp;
let mongo: MongoClient;
beforeAll(async () => {
  t = await startTestApp({ MONGODB_DB: databaseName });
  mongo = await MongoClient.connect(inject('mongoUri'));
});
afterAll(async () => {
  await mongo?.close();
  await t?.stop();
});

async function createKey(...args: string[]): Promise<{ key: string; id: string; result: CliResult }> {
  const result = await cli('create', ...args);
  expect(result.code, result.stderr).toBe(0);
  const key = KEY.exec(result.stdout)?.[1];
  const id = KEY_ID.exec(result.stdout)?.[1];
  expect(key, result.stdout).toBeDefined();
  expect(id, result.stdout).toBeDefined();
  return { key: key!, id: id!, result };
}

describe('keys create', () => {
  it('prints a new key once, with a warning, its id, name and sites; the key works for every site', async () => {
    const { key, id, result } = await createKey('--name', 'deploy bot');
    expect(result.stdout).toMatch(/will not be shown again/);
    expect(result.stdout).toMatch(/name: +deploy bot/);
    expect(result.stdout).toMatch(/sites: +all/);
    expect(result.stdout.split(key).length - 1, 'the key is printed exactly once').toBe(1);
    expect(id).toMatch(/^key_/);

    expect((await t.request('GET', '/v1/sites/x/webhooks', { key })).status).toBe(200);
    expect((await t.request('GET', '/v1/sites/another-site/webhooks', { key })).status).toBe(200);
    const created = await t.request('POST', '/v1/sites/x/webhooks', {
      key,
      body: { url: 'https://example.com/hook', events: ['*'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.createdBy).toBe('deploy bot');
  });

  it('stores only the SHA-256 hash of the key, never the key', async () => {
    const { key, id } = await createKey('--name', 'hash check');
    const docs = await mongo.db(databaseName).collection('api_keys').find({}).toArray();
    const doc = docs.find((d) => d._id === (id as unknown));
    expect(doc).toBeDefined();
    expect(doc!.hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(JSON.stringify(docs)).not.toContain(key);
    expect(JSON.stringify(docs)).not.toContain(key.slice(8));
  });

  it('--sites restricts the key to those sites', async () => {
    const { key, result } = await createKey('--name', 'two sites', '--sites', 'a,b');
    expect(result.stdout).toMatch(/sites: +a,b/);
    expect((await t.request('GET', '/v1/sites/a/webhooks', { key })).status).toBe(200);
    expect((await t.request('GET', '/v1/sites/b/webhooks', { key })).status).toBe(200);
    const other = await t.request('GET', '/v1/sites/c/webhooks', { key });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('FORBIDDEN');
  });

  it('accepts --name=NAME and --sites=a form', async () => {
    const { key, result } = await createKey('--name=equals form', '--sites=only-this');
    expect(result.stdout).toMatch(/name: +equals form/);
    expect((await t.request('GET', '/v1/sites/only-this/webhooks', { key })).status).toBe(200);
    expect((await t.request('GET', '/v1/sites/x/webhooks', { key })).status).toBe(403);
  });
});

describe('keys list', () => {
  it('prints a table of keys without the keys or their hashes', async () => {
    const { key, id } = await createKey('--name', 'listed', '--sites', 'a,b');
    await t.request('GET', '/v1/sites/a/webhooks', { key }); // sets lastUsedAt
    const result = await cli('list');
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID +NAME +PREFIX +SITES +CREATED +LAST USED +REVOKED$/);
    const row = rows.find((r) => r.startsWith(id));
    expect(row, result.stdout).toBeDefined();
    const prefix = key.slice(0, 8);
    expect(row).toMatch(new RegExp(`^${id} +listed +${prefix} +a,b +\\d{4}-\\d\\d-\\d\\dT\\S+Z +\\d{4}-\\d\\d-\\d\\dT\\S+Z +-$`));
    expect(rows.some((r) => / admin +ock_\S{4} +all /.test(r))).toBe(true);
    expect(result.stdout).not.toContain(key);
    expect(result.stdout).not.toContain(createHash('sha256').update(key).digest('hex'));
  });
});

describe('keys revoke', () => {
  it('revokes a key: it answers 401 from then on, and list shows when', async () => {
    const { key, id } = await createKey('--name', 'to revoke');
    expect((await t.request('GET', '/v1/sites/x/webhooks', { key })).status).toBe(200);

    const result = await cli('revoke', id);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Revoked API key ${id}`);

    // The service trusts a key that authenticated for AUTH_CACHE_MS; a revocation from another
    // process (this CLI) takes effect within that time.
    await sleep(AUTH_CACHE_MS + 100);
    const denied = await t.request('GET', '/v1/sites/x/webhooks', { key });
    expect(denied.status).toBe(401);
    expect(denied.body.error.code).toBe('UNAUTHORIZED');
    const doc = await mongo.db(databaseName).collection('api_keys').findOne({ _id: id as never });
    expect(doc!.revokedAt).toBeInstanceOf(Date);

    const list = await cli('list');
    const row = list.stdout.split('\n').find((r) => r.startsWith(id));
    expect(row).toMatch(/\d{4}-\d\d-\d\dT\S+Z$/);
  });

  it('fails with exit code 1 for an unknown id', async () => {
    const result = await cli('revoke', 'key_DOESNOTEXIST');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No API key with id key_DOESNOTEXIST');
  });
});

describe('bad arguments', () => {
  // Argument errors are decided before any database is touched; most cases run the CLI's entry
  // function in this process (fast), and two run it as a real process for the exit code.
  async function runInProcess(args: string[]): Promise<CliResult> {
    let stdout = '';
    let stderr = '';
    const code = await run(args, {}, (text) => (stdout += text), (text) => (stderr += text));
    return { code, stdout, stderr };
  }

  it.each([
    [[]],
    [['frobnicate']],
    [['create']],
    [['create', '--name']],
    [['create', '--name', '   ']],
    [['create', '--name', 'x', '--sites', ',']],
    [['create', '--name', 'x', '--colour', 'red']],
    [['create', '--name', 'x', 'extra']],
    [['list', 'extra']],
    [['list', '--name', 'x']],
    [['revoke']],
    [['revoke', 'a', 'b']],
  ])('%j prints the usage on stderr and exits 2', async (args) => {
    const result = await runInProcess(args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('Usage: npm run keys -- <command>');
    expect(result.stdout).toBe('');
  });

  it.each([[['create', '--name']], [['frobnicate']]])('as a process, %j exits with code 2 and the usage on stderr', async (args) => {
    const result = await cli(...args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('Usage: npm run keys -- <command>');
    expect(result.stdout).toBe('');
  });

  it('an invalid site id is rejected with exit code 2, naming the field', async () => {
    const result = await cli('create', '--name', 'x', '--sites', 'ok,not a site!');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/sites: invalid site ids: not a site!/);
    expect(result.stdout).not.toMatch(/ock_/);
  });

  it('help prints the usage on stdout and exits 0', async () => {
    const result = await runInProcess(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: npm run keys -- <command>');
  });
});

describe('which database', () => {
  it('without MONGODB_URI or EMBEDDED_DB_PATH it exits 1 and says what to set', async () => {
    const result = await runCli(['list'], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/MONGODB_URI is not set/);
    expect(result.stderr).toMatch(/EMBEDDED_DB_PATH/);
  });

  it('a bad configuration value exits 1 naming the variable', async () => {
    const result = await runCli(['list'], { MONGODB_URI: 'postgres://nope' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/MONGODB_URI: must start with mongodb:\/\//);
  });

  it('with EMBEDDED_DB_PATH it works on that file while the service is stopped, and refuses while it runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
    try {
      const file = join(dir, 'data');
      const env = { EMBEDDED_DB_PATH: file, EMBEDDED_DB_MAX_HEAP_MB: '256' };
      const created = await runCli(['create', '--name', 'offline', '--sites', 'site-1'], env);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stderr).toMatch(/stop the service first/);
      const key = KEY.exec(created.stdout)![1]!;

      const service = await startService(serviceEnv(env));
      try {
        // The file already holds a key, so the service prints no development key.
        expect(service.devKey()).toBeNull();
        expect((await call(service.url, 'GET', '/v1/sites/site-1/webhooks', { key })).status).toBe(200);
        expect((await call(service.url, 'GET', '/v1/sites/site-2/webhooks', { key })).status).toBe(403);

        const busy = await runCli(['list'], env);
        expect(busy.code).toBe(1);
        expect(busy.stderr).toMatch(/in use by another process.*stop the service first/s);
      } finally {
        expect(await service.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      }
      const list = await runCli(['list'], env);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/offline +ock_\S{4} +site-1 /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
