// npm run bench: the delivery path's speed, with baselines measured in the same run on the same
// machine and database, so that ratios (not noisy absolute numbers) carry the result.
//
//   ceiling   the Sender alone, no database: what the HTTP side can do at all
//   naive     one Agenda job per delivery (the design DESIGN.md measured at ~100/s), same Sender
//   gateway   the real service: HTTP publish → fan-out → per-webhook jobs → batched sends
//
// Also: latency from "event accepted" (the 202) to the receiver seeing the first attempt, at a
// steady rate; database round trips per delivery (command monitoring); peak memory.
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/app.ts';
import { startEmbeddedMongo } from '../src/db/embedded.ts';
import { Sender } from '../src/delivery/sender.ts';
import { generateSecret } from '../src/delivery/signature.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2500);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 200); // events per second in the latency phase
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const NAIVE_JOBS = Number(process.env.BENCH_NAIVE_JOBS ?? 500);

interface Receiver {
  server: Server;
  url: string;
  /** webhook-id → first arrival time (performance.now()). */
  firstSeen: Map<string, number>;
  count: number;
  onCount?: (n: number) => void;
}

async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { server: createServer(), url: '', firstSeen: new Map(), count: 0 };
  r.server.on('request', (req, res) => {
    const id = String(req.headers['webhook-id']);
    if (!r.firstSeen.has(id)) r.firstSeen.set(id, performance.now());
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end();
      r.count++;
      r.onCount?.(r.count);
    });
  });
  r.server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as { port: number }).port}/hook`;
  return r;
}

function waitForCount(r: Receiver, n: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (r.count >= n) return resolve();
    const timer = setTimeout(() => reject(new Error(`only ${r.count} of ${n} deliveries within ${timeoutMs} ms`)), timeoutMs);
    r.onCount = (c) => {
      if (c >= n) {
        clearTimeout(timer);
        r.onCount = undefined;
        resolve();
      }
    };
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);

async function ceiling(receiver: Receiver, total: number): Promise<number> {
  const sender = new Sender({ timeoutMs: 15_000, allowPrivateDestinations: true, userAgent: 'bench', connections: 16 });
  const secret = generateSecret();
  const body = JSON.stringify({ id: 'x', type: 'page.created', data: { n: 1 } });
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const i = next++;
        await sender.send({ url: receiver.url, msgId: `ceil_${i}`, body, secret });
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await sender.close();
  return total / seconds;
}

async function naive(mongoUri: string, receiver: Receiver): Promise<number> {
  const client = await MongoClient.connect(mongoUri);
  const db = client.db('bench_naive');
  await db.dropDatabase();
  const agenda = new Agenda({ backend: new MongoBackend({ mongo: db }), processEvery: 100, maxConcurrency: 32, defaultConcurrency: 32, lockLimit: 64 });
  const sender = new Sender({ timeoutMs: 15_000, allowPrivateDestinations: true, userAgent: 'bench', connections: 16 });
  const secret = generateSecret();
  agenda.define('naive-delivery', async (job) => {
    const { i } = job.attrs.data as { i: number };
    await sender.send({ url: receiver.url, msgId: `naive_${i}`, body: JSON.stringify({ i }), secret });
  }, { concurrency: 32 });
  await agenda.ready;
  const before = receiver.count;
  const start = performance.now();
  await agenda.start();
  for (let i = 0; i < NAIVE_JOBS; i++) await agenda.now('naive-delivery', { i });
  await waitForCount(receiver, before + NAIVE_JOBS, 120_000);
  const seconds = (performance.now() - start) / 1000;
  await agenda.stop();
  await sender.close();
  await client.close();
  return NAIVE_JOBS / seconds;
}

async function main(): Promise<void> {
  const db = await startEmbeddedMongo({ maxHeapMb: 4096, oplogKeepMs: Number(process.env.BENCH_OPLOG_KEEP_MS ?? 600_000) });
  const receiver = await startReceiver();
  let peakRss = process.memoryUsage().rss;
  const memTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

  console.log(`bench: ${EVENTS} events x ${WEBHOOKS} webhooks; latency at ${RATE} events/s for ${LATENCY_SECONDS} s; naive ${NAIVE_JOBS} jobs`);
  const ceilingRate = await ceiling(receiver, 5000);
  const naiveRate = await naive(db.uri, receiver);

  const app = await createApp(
    loadConfig({
      MONGODB_URI: db.uri,
      MONGODB_DB: 'bench_gateway',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ALLOW_PRIVATE_DESTINATIONS: 'true',
      DELIVERY_BATCH_SIZE: process.env.DELIVERY_BATCH_SIZE ?? '200',
      DELIVERY_PARALLELISM: process.env.DELIVERY_PARALLELISM ?? '16',
      CHANGE_STREAMS: process.env.CHANGE_STREAMS ?? 'auto',
    }),
    { monitorCommands: true, announce: () => undefined, logWrite: () => undefined },
  );
  await app.database.db.dropDatabase();
  await app.start();
  let commands = 0;
  // BENCH_PROFILE=1: where the database time goes, by command and collection.
  const profile = new Map<string, { n: number; ms: number }>();
  const started = new Map<number, string>();
  app.database.client.on('commandStarted', (e) => {
    commands++;
    if (process.env.BENCH_PROFILE) started.set(e.requestId, `${e.commandName} ${String(e.command[e.commandName] ?? '')}`);
  });
  app.database.client.on('commandSucceeded', (e) => {
    const key = started.get(e.requestId);
    if (!key) return;
    started.delete(e.requestId);
    const entry = profile.get(key) ?? { n: 0, ms: 0 };
    entry.n++;
    entry.ms += e.duration;
    profile.set(key, entry);
  });
  const base = `http://127.0.0.1:${app.address!.port}`;
  const { key } = await app.services.apiKeys.create({ name: 'bench', sites: null });
  const api = new Pool(base, { connections: 16 });
  const post = async (path: string, body: unknown) => {
    const res = await api.request({ method: 'POST', path, headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.body.json()) as { data: { id: string } };
    if (res.statusCode >= 300) throw new Error(`publish answered ${res.statusCode}: ${JSON.stringify(json)}`);
    return json.data;
  };
  for (let i = 0; i < WEBHOOKS; i++) await post('/v1/sites/bench/webhooks', { url: receiver.url, events: ['*'] });

  // Throughput: publish everything as fast as 16 connections allow, until all are delivered.
  const target = receiver.count + EVENTS * WEBHOOKS;
  commands = 0;
  const t0 = performance.now();
  let sent = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent < EVENTS) {
        sent++;
        await post('/v1/sites/bench/events', { type: 'page.created', data: { title: 'Hello', body: 'x'.repeat(200) } });
      }
    }),
  );
  const publishSeconds = (performance.now() - t0) / 1000;
  await waitForCount(receiver, target, 300_000);
  const gatewaySeconds = (performance.now() - t0) / 1000;
  const deliveries = EVENTS * WEBHOOKS;
  const gatewayRate = deliveries / gatewaySeconds;
  const roundTrips = commands / deliveries;

  // Latency: a steady rate of single-webhook events; accepted (202 received) → first arrival.
  await app.services.webhooks.create({ keyId: '', name: 'bench', sites: null }, 'latency', { url: receiver.url, events: ['page.updated'] });
  const accepted = new Map<string, number>();
  const interval = 1000 / RATE;
  const latencyStart = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < RATE * LATENCY_SECONDS; i++) {
    const due = latencyStart + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(post('/v1/sites/latency/events', { type: 'page.updated', data: { i } }).then((e) => void accepted.set(e.id, performance.now())));
  }
  await Promise.all(inflight);
  const deadline = Date.now() + 30_000;
  while ([...accepted.keys()].some((id) => !receiver.firstSeen.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const latencies = [...accepted].map(([id, at]) => (receiver.firstSeen.get(id) ?? Infinity) - at).map((ms) => Math.max(0, ms)).sort((a, b) => a - b);
  clearInterval(memTimer);

  console.log('');
  console.log('                         deliveries/s   vs naive   vs ceiling');
  console.log(`ceiling (Sender only)   ${fmt(ceilingRate)}   ${fmt(ceilingRate / naiveRate, 1)}x`);
  console.log(`naive (1 job/delivery)  ${fmt(naiveRate)}   ${fmt(1, 1)}x   ${fmt((naiveRate / ceilingRate) * 100, 1)}%`);
  console.log(`gateway (end to end)    ${fmt(gatewayRate)}   ${fmt(gatewayRate / naiveRate, 1)}x   ${fmt((gatewayRate / ceilingRate) * 100, 1)}%   target >= 1000/s`);
  console.log('');
  console.log(`publish: ${EVENTS} events accepted in ${publishSeconds.toFixed(2)} s (${(EVENTS / publishSeconds).toFixed(0)} events/s over HTTP)`);
  console.log(`database round trips per delivery (publish + fan-out + delivery + log): ${roundTrips.toFixed(2)}`);
  console.log(
    `accepted -> first attempt at ${RATE} events/s: p50 ${pct(latencies, 50).toFixed(1)} ms, p95 ${pct(latencies, 95).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms (target p99 <= 150 ms); ${latencies.filter((l) => !Number.isFinite(l)).length} lost`,
  );
  console.log(`peak RSS of the Node process: ${(peakRss / 1024 / 1024).toFixed(0)} MiB`);
  if (process.env.BENCH_PROFILE) {
    console.log('\ndatabase time by command (all phases after start):');
    for (const [key, v] of [...profile].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) {
      console.log(`  ${key.padEnd(34)} ${String(v.n).padStart(7)} calls ${v.ms.toFixed(0).padStart(8)} ms  ${(v.ms / v.n).toFixed(2)} ms each`);
    }
  }

  await api.close();
  await app.stop();
  receiver.server.close();
  await db.stop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
