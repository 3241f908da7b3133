// Builds everything once: database, stores, services, delivery engine, Agenda, GraphQL, REST,
// HTTP server. main.ts and the tests both start the service through here, so they run the same
// thing. ROLE decides what starts: api (HTTP), worker (Agenda jobs), or all.
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { startEmbeddedMongo, type EmbeddedMongo } from './db/embedded.ts';
import { connectDatabase, ensureIndexes, type Database } from './store/database.ts';
import { ApiKeyStore } from './store/api-keys.ts';
import { WebhookStore } from './store/webhooks.ts';
import { EventStore } from './store/events.ts';
import { MessageStore } from './store/messages.ts';
import { DeliveryStore } from './store/deliveries.ts';
import { ReplayStore } from './store/replays.ts';
import { ApiKeyService } from './domain/api-keys/service.ts';
import { WebhookService } from './domain/webhooks/service.ts';
import { EventService } from './domain/events/service.ts';
import { DeliveryService } from './domain/deliveries/service.ts';
import { ReplayService } from './domain/replays/service.ts';
import type { Services } from './services.ts';
import { Sender } from './delivery/sender.ts';
import { RetryPolicy } from './delivery/retry-policy.ts';
import { DeliveryEngine } from './delivery/engine.ts';
import { createAgenda, type AgendaSetup } from './jobs/agenda.ts';
import { defineDeliverJob, DeliveryKicker } from './jobs/deliver-webhook.ts';
import { defineSweepJob, scheduleSweep } from './jobs/sweep.ts';
import { defineRetentionJob, RETENTION_JOB } from './jobs/retention.ts';
import { AgendaReplayRunner, defineReplayJob } from './jobs/replay.ts';
import { createGraphQLServer } from './graphql/yoga.ts';
import { createRestHandler } from './rest/v1/router.ts';
import { webhookRoutes } from './rest/v1/webhooks.ts';
import { eventRoutes } from './rest/v1/events.ts';
import { deliveryRoutes } from './rest/v1/deliveries.ts';
import { replayRoutes } from './rest/v1/replays.ts';
import { openApiRoutes } from './rest/v1/openapi.ts';
import { createHttpServer, type HttpServer } from './http/server.ts';
import { attachGraphQLWebSocket, type GraphQLWebSocket } from './http/websocket.ts';
import { LiveResults } from './live/live-results.ts';
import { USER_AGENT } from './version.ts';

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly services: Services;
  readonly engine: DeliveryEngine;
  readonly jobs: AgendaSetup;
  readonly live: LiveResults;
  readonly http: HttpServer | null;
  /** Where the HTTP server listens, once started (role api or all). */
  address: AddressInfo | null;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AppOptions {
  /** Where log lines go (stdout by default); tests capture them. */
  logWrite?: (line: string) => void;
  /** Where the one-time bootstrap key notice goes (stdout by default). */
  announce?: (text: string) => void;
  /** Emit driver command events (the benchmark counts database round trips). */
  monitorCommands?: boolean;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = createLogger(config.logLevel, options.logWrite);
  const announce = options.announce ?? ((text: string) => process.stdout.write(text + '\n'));

  let embedded: EmbeddedMongo | null = null;
  let uri = config.mongodbUri;
  if (uri === undefined) {
    embedded = await startEmbeddedMongo({ dataFile: config.embeddedDbPath, maxHeapMb: config.embeddedDbMaxHeapMb });
    uri = embedded.uri;
    logger.info('embedded MongoDB started', {
      uri,
      data: config.embeddedDbPath ? `kept in the file ${config.embeddedDbPath}` : 'in memory (lost on exit; set EMBEDDED_DB_PATH to keep it)',
    });
  }
  if (config.allowPrivateDestinations) {
    logger.warn('deliveries may go to private and loopback addresses (ALLOW_PRIVATE_DESTINATIONS); do not use this in production');
  }
  const database = await connectDatabase(uri, config.databaseName, { monitorCommands: options.monitorCommands ?? false });
  await ensureIndexes(database.collections);
  const c = database.collections;

  const stores = {
    apiKeys: new ApiKeyStore(c.apiKeys),
    webhooks: new WebhookStore(c.webhooks),
    events: new EventStore(c.events),
    messages: new MessageStore(c.messages),
    deliveries: new DeliveryStore(c.deliveries),
    replays: new ReplayStore(c.replays),
  };

  const d = config.delivery;
  const jobs = await createAgenda(database.db, {
    pollIntervalMs: d.pollIntervalMs,
    maxConcurrency: d.concurrency + 2,
    lockLimit: d.lockLimit + 2,
    lockLifetimeMs: d.lockLifetimeMs,
    useChangeStreams: config.changeStreams === 'auto',
    logger,
  });
  if (!jobs.changeStreams) {
    logger.warn('the database offers no change streams: workers are woken in-process or by polling, and cross-process live results are off');
  }
  const kicker = new DeliveryKicker(c.agendaJobs, jobs.channel);
  const live = new LiveResults(database.db, jobs.changeStreams, logger);

  const apiKeys = new ApiKeyService(stores.apiKeys);
  const webhooks = new WebhookService({
    store: stores.webhooks,
    onChange: async (change) => {
      if (change.kind === 'deleted') {
        // Nothing more goes to a deleted webhook: its queue and its delivery job go too.
        await Promise.all([stores.messages.cancelForWebhook(change.webhook.id), kicker.forget(change.webhook.id)]);
      }
      await live.webhookChanged(change.kind, change.webhook);
    },
  });
  const events = new EventService({ events: stores.events, messages: stores.messages, webhooks: stores.webhooks, waker: kicker });
  const deliveries = new DeliveryService({ deliveries: stores.deliveries, webhooks: stores.webhooks, events: stores.events });
  const replays = new ReplayService({
    ...stores,
    waker: kicker,
    runner: new AgendaReplayRunner(jobs.agenda),
    retentionDays: config.retentionDays,
  });
  const services: Services = { apiKeys, webhooks, events, deliveries, replays };

  const sender = new Sender({ timeoutMs: d.timeoutMs, allowPrivateDestinations: config.allowPrivateDestinations, userAgent: USER_AGENT });
  const engine = new DeliveryEngine(
    {
      ...stores,
      sender,
      retryPolicy: new RetryPolicy({ schedule: [...d.retrySchedule] }),
      logger,
      onAttempts: (attempts) => live.attempts(attempts),
      onWebhookDisabled: (webhook) => live.webhookChanged('disabled', webhook),
    },
    { batchSize: d.batchSize, parallelism: d.parallelism, claimMs: d.lockLifetimeMs, disableAfterFailures: d.disableAfterFailures },
  );
  const runsJobs = config.role !== 'api';
  if (runsJobs) {
    defineDeliverJob(jobs.agenda, engine, kicker, { concurrency: d.concurrency, lockLimit: d.lockLimit, lockLifetimeMs: d.lockLifetimeMs }, logger);
    defineSweepJob(jobs.agenda, { messages: stores.messages, events, kicker, logger });
    defineReplayJob(jobs.agenda, replays, logger);
    defineRetentionJob(jobs.agenda, { ...stores, live, retentionDays: config.retentionDays, logger });
  }

  if (config.bootstrapApiKey) {
    const { created } = await apiKeys.ensureBootstrapKey(config.bootstrapApiKey);
    logger.info(created ? 'bootstrap API key created' : 'bootstrap API key present');
  } else if (embedded && (await apiKeys.list()).length === 0) {
    const { key } = await apiKeys.create({ name: 'development', sites: null });
    announce(
      `\nA development API key with access to all sites was created. It is shown only this once:\n\n    X-Api-Key: ${key}\n`,
    );
  }

  const graphql = createGraphQLServer({ services, live: live.bus, logger });
  const http =
    config.role === 'worker'
      ? null
      : createHttpServer({
          logger,
          graphql,
          rest: createRestHandler(
            [...openApiRoutes(), ...webhookRoutes(webhooks), ...eventRoutes(events), ...deliveryRoutes(deliveries), ...replayRoutes(replays)],
            { apiKeys, logger },
          ),
          ready: () => database.ping(),
        });

  let websocket: GraphQLWebSocket | null = null;
  const app: App = {
    config,
    logger,
    database,
    services,
    engine,
    jobs,
    live,
    http,
    address: null,
    async start() {
      if (runsJobs) {
        await jobs.agenda.start();
        await scheduleSweep(jobs.agenda, d.sweepIntervalMs);
        await jobs.agenda.every('1 hour', RETENTION_JOB);
        logger.info('worker started', { concurrency: d.concurrency, batchSize: d.batchSize, changeStreams: jobs.changeStreams });
      }
      if (http) {
        // Feeds keep retrying by themselves; start-up does not wait forever for a slow database.
        const opened = await Promise.race([
          live.start({ stallMs: config.live.stallMs }).then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), 30_000).unref()),
        ]);
        if (!opened) logger.warn('live result feeds not open yet; they keep retrying');
        websocket = attachGraphQLWebSocket(http.server, { graphql, apiKeys, logger, keepAliveMs: config.live.keepAliveMs });
        app.address = await http.listen(config.port, config.host);
        logger.info('listening', { url: `http://${config.host}:${app.address.port}`, role: config.role });
      }
    },
    async stop() {
      // Subscribers first (a proper close), then HTTP, then the jobs, then the database.
      if (websocket) await websocket.close();
      if (http) await http.close();
      await live.stop();
      // Running deliveries finish their batch and take no other (what is queued stays queued).
      engine.stop();
      if (runsJobs) await jobs.agenda.drain(Math.min(d.timeoutMs + 5000, 30_000)).catch(() => undefined);
      await jobs.agenda.stop(false).catch(() => undefined);
      await jobs.channel.disconnect().catch(() => undefined);
      await sender.close();
      await database.close();
      if (embedded) await embedded.stop();
    },
  };
  return app;
}
