// Runs the service as a real child process, `node --import tsx src/main.ts` (what `npm start`
// runs, and the container's command), and reads its output: the JSON log lines, the one-time
// development key, the listening URL.
//
// Not through the `tsx` command: it forwards SIGTERM to its child and, when the child does not
// confirm within 30 ms (a loaded machine), kills it with SIGKILL and exits 143, so a test of the
// clean shutdown would measure tsx's timing instead of the service.
import { parseLogs, type LogLine } from '../support/worker-process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The command line that runs a TypeScript entry point of ours. */
export const tsxCommand = (script: string, ...args: string[]) => [process.execPath, ['--import', 'tsx', script, ...args]] as const;

/**
 * Every variable src/config.ts reads (found in its source, so new settings are covered too):
 * none of them may leak in from the environment running the tests.
 */
const CONFIG_VARIABLES = new Set(
  [...readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8').matchAll(/\benv, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!),
);

/** The test runner's environment without any of the service's settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !CONFIG_VARIABLES.has(name) && !/^(MONGODB_|EMBEDDED_DB_)/.test(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Defaults for a service under test: loopback, a free port, a small embedded heap. */
export const serviceEnv = (extra: Record<string, string | undefined> = {}) =>
  cleanEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', EMBEDDED_DB_MAX_HEAP_MB: '256', ...extra });

export type { LogLine };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** http://127.0.0.1:PORT, from the "listening" log line. */
  readonly url: string;
  readonly port: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  logs(): LogLine[];
  /** The development key printed at start, if any. */
  devKey(): string | null;
  /** Ids of the processes below the service (the embedded MongoDB's JVM), seen while it runs. */
  descendants(): number[];
  /** Sends a signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  readonly exited: Promise<Exit>;
}


export const DEV_KEY = /X-Api-Key: (ock_[A-Za-z0-9_-]+)/;

function spawnService(env: Record<string, string>) {
  const [command, args] = tsxCommand('src/main.ts');
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return { child, output: () => output, exited };
}

/** Runs the service until it exits on its own (for a start that must fail). */
export async function runServiceToExit(env: Record<string, string>, timeoutMs = 45_000): Promise<Exit & { output: string }> {
  const { child, output, exited } = spawnService(env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, output: output() };
}

/** Starts the service and waits until it logs that it listens. */
export async function startService(env: Record<string, string>, timeoutMs = 45_000): Promise<ServiceProcess> {
  const { child, output, exited } = spawnService(env);
  const url = await new Promise<string>((ready, fail) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const listening = parseLogs(output()).find((l) => l.msg === 'listening');
      if (listening) {
        clearInterval(poll);
        ready(String(listening.url));
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(poll);
        fail(new Error(`the service exited before listening:\n${output()}`));
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        child.kill('SIGKILL');
        fail(new Error(`the service did not listen within ${timeoutMs} ms:\n${output()}`));
      }
    }, 50);
  });
  const port = Number(new URL(url).port);
  const seen = new Set<number>(childrenOf(child.pid!, true));
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    output,
    logs: () => parseLogs(output()),
    devKey: () => DEV_KEY.exec(output())?.[1] ?? null,
    descendants: () => {
      for (const pid of childrenOf(child.pid!, true)) seen.add(pid);
      return [...seen];
    },
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      for (const pid of childrenOf(child.pid!, true)) seen.add(pid);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Child process ids of `pid` (recursively), from /proc; empty where there is no /proc. */
export function childrenOf(pid: number, recursive = false): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const parents = new Map<number, number>();
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        if (recursive) walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** Whether a process with this id is still running (not gone, not a zombie). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      answer(true);
    });
    socket.once('error', () => answer(false));
    socket.once('timeout', () => {
      socket.destroy();
      answer(false);
    });
  });
}

/** A small HTTP client for a service process. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.key) headers['x-api-key'] = options.key;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}
