// Runs the real service as a child process (`node --import tsx src/main.ts`, what `npm start`
// runs), by default as a worker (ROLE=worker) on the test's MongoDB and database, and reads its
// JSON log lines. Tests kill it with any signal (SIGKILL for a crash) and await its exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Settings of src/config.ts that must not leak in from the environment running the tests. */
const SERVICE_VARIABLES =
  /^(PORT|HOST|MONGODB_.*|EMBEDDED_DB_.*|BOOTSTRAP_API_KEY|LOG_LEVEL|ROLE|ALLOW_PRIVATE_DESTINATIONS|RETRY_SCHEDULE|DELIVERY_.*|DISABLE_AFTER_FAILURES|POLL_INTERVAL_MS|SWEEP_INTERVAL_MS|RETENTION_DAYS)$/;

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  logs(): LogLine[];
  /** Resolves with the first log line matching, or rejects after `timeoutMs` or on exit. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends the signal (default SIGKILL) unless the process already exited; resolves on exit. */
  kill(signal?: NodeJS.Signals): Promise<WorkerExit>;
  readonly exited: Promise<WorkerExit>;
  readonly running: boolean;
}

/** The JSON log lines of a service's output (other lines skipped). */
export function parseLogs(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line, or not a log line
    }
  }
  return lines;
}

const live = new Set<WorkerProcess>();
// Insurance against orphans: whatever happens to the test, no worker outlives this process.
process.once('exit', () => {
  for (const worker of live) if (worker.running) worker.child.kill('SIGKILL');
});

/**
 * Starts `src/main.ts` with the test runner's environment minus the service's settings, plus
 * ROLE=worker, LOG_LEVEL=debug and `env` (which must carry MONGODB_URI and MONGODB_DB).
 * Resolves once the process logged "worker started" (or "listening" for ROLE=api).
 */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 20_000): Promise<WorkerProcess> {
  if (!env.MONGODB_URI || !env.MONGODB_DB) throw new Error('startWorkerProcess: MONGODB_URI and MONGODB_DB are required');
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !SERVICE_VARIABLES.test(name)) childEnv[name] = value;
  }
  Object.assign(childEnv, { ROLE: 'worker', LOG_LEVEL: 'debug', PORT: '0', HOST: '127.0.0.1' }, env);

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitedValue: WorkerExit | null = null;
  const exited = new Promise<WorkerExit>((done) =>
    child.once('exit', (code, signal) => {
      exitedValue = { code, signal };
      done(exitedValue);
    }),
  );

  const waitForLog = (match: (line: LogLine) => boolean, waitMs = 10_000) =>
    new Promise<LogLine>((resolveLine, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const found = parseLogs(output).find(match);
        if (found) {
          clearInterval(poll);
          resolveLine(found);
        } else if (exitedValue) {
          clearInterval(poll);
          reject(new Error(`the process exited (${JSON.stringify(exitedValue)}) before the log line:\n${output}`));
        } else if (Date.now() - started > waitMs) {
          clearInterval(poll);
          reject(new Error(`no such log line within ${waitMs} ms:\n${output}`));
        }
      }, 20);
    });

  const worker: WorkerProcess = {
    child,
    pid: child.pid!,
    output: () => output,
    logs: () => parseLogs(output),
    waitForLog,
    exited,
    get running() {
      return exitedValue === null;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (exitedValue === null) child.kill(signal);
      const exit = await exited;
      live.delete(worker);
      return exit;
    },
  };
  live.add(worker);
  const ready = (childEnv.ROLE ?? 'worker') === 'api' ? 'listening' : 'worker started';
  try {
    await waitForLog((line) => line.msg === ready, timeoutMs);
  } catch (error) {
    await worker.kill('SIGKILL');
    throw error;
  }
  return worker;
}

/** Kills every worker process started here that still runs (for afterAll). */
export async function killAllWorkerProcesses(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  await Promise.all([...live].map((w) => w.kill(signal)));
}
