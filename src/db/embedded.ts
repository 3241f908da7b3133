// Starts the embedded MongoDB (mongo-java-server, see embedded-db/) as a child JVM on a free port.
// The JVM exits when our end of its stdin closes, so it never outlives this process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';

export const EMBEDDED_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'embedded-db');

export interface EmbeddedMongo {
  readonly uri: string;
  readonly pid: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export class EmbeddedMongoUnavailable extends Error {}

function checkInstalled(): void {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.error || java.status !== 0) {
    throw new EmbeddedMongoUnavailable(
      'The embedded MongoDB needs a Java runtime (JDK 17 or newer) and none was found. ' +
        'Install one (for example `apt-get install openjdk-17-jdk-headless maven`, then `npm run embedded-db`), ' +
        'or set MONGODB_URI to a real MongoDB.',
    );
  }
  const lib = join(EMBEDDED_DIR, 'lib');
  const ready =
    existsSync(join(EMBEDDED_DIR, 'classes', 'EmbeddedMongo.class')) &&
    existsSync(lib) &&
    readdirSync(lib).some((f) => f.startsWith('mongo-java-server-core'));
  if (!ready) {
    throw new EmbeddedMongoUnavailable(
      'The embedded MongoDB is not installed: run `npm run embedded-db` (needs a JDK and Maven), ' +
        'or set MONGODB_URI to a real MongoDB.',
    );
  }
}

/**
 * The embedded server's oplog is an ordinary, uncapped collection that every change stream read
 * scans: left alone it grows without bound in memory and each read gets slower. Entries older
 * than this are removed (a change stream away for longer cannot resume).
 */
export const OPLOG_KEEP_MS = 10 * 60_000;
const OPLOG_TRIM_EVERY_MS = 10_000;

export async function startEmbeddedMongo(
  options: { dataFile?: string | undefined; maxHeapMb?: number; port?: number; oplogKeepMs?: number } = {},
): Promise<EmbeddedMongo> {
  checkInstalled();
  const classpath = [join(EMBEDDED_DIR, 'lib', '*'), join(EMBEDDED_DIR, 'classes')].join(':');
  const child = spawn(
    'java',
    [
      `-Xmx${options.maxHeapMb ?? 1024}m`,
      '-cp',
      classpath,
      'EmbeddedMongo',
      options.dataFile ? resolve(options.dataFile) : '',
      String(options.port ?? 0),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const address = await new Promise<string>((resolveReady, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('embedded MongoDB did not start within 30 s')), 30_000);
    lines.on('line', (line) => {
      const match = /^READY (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolveReady(match[1]!);
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded MongoDB exited with code ${code}: ${stderr.trim()}`));
    });
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const uri = `mongodb://${address}/`;
  const trimmer = await startOplogTrimmer(uri, options.oplogKeepMs ?? OPLOG_KEEP_MS);
  return {
    uri,
    pid: child.pid!,
    process: child,
    async stop() {
      await trimmer.stop();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function startOplogTrimmer(uri: string, keepMs: number): Promise<{ stop(): Promise<void> }> {
  const client = new MongoClient(uri, { appName: 'embedded-oplog-trimmer', maxPoolSize: 1 });
  await client.connect();
  const oplog = client.db('local').collection<{ wall: Date }>('oplog.rs');
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = oplog.deleteMany({ wall: { $lt: new Date(Date.now() - keepMs) } }).catch(() => undefined);
  }, Math.min(OPLOG_TRIM_EVERY_MS, Math.max(1000, keepMs / 2)));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await client.close().catch(() => undefined);
    },
  };
}
