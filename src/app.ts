// Builds everything once: database, stores, services, GraphQL, REST, HTTP server. main.ts and
// the tests both start the service through here, so they run the same thing.
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { startEmbeddedMongo, type EmbeddedMongo } from './db/embedded.ts';
import { connectDatabase, ensureIndexes, type Database } from './store/database.ts';
import { ApiKeyStore } from './store/api-keys.ts';
import { WebhookStore } from './store/webhooks.ts';
import { ApiKeyService } from './domain/api-keys/service.ts';
import { WebhookService } from './domain/webhooks/service.ts';
import type { Services } from './services.ts';
import { createGraphQLServer } from './graphql/yoga.ts';
import { createRestHandler } from './rest/v1/router.ts';
import { webhookRoutes } from './rest/v1/webhooks.ts';
import { openApiRoutes } from './rest/v1/openapi.ts';
import { createHttpServer, type HttpServer } from './http/server.ts';

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly services: Services;
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
  const database = await connectDatabase(uri, config.databaseName);
  await ensureIndexes(database.collections);

  const apiKeys = new ApiKeyService(new ApiKeyStore(database.collections.apiKeys));
  const webhooks = new WebhookService({ store: new WebhookStore(database.collections.webhooks) });
  const services: Services = { apiKeys, webhooks };

  if (config.bootstrapApiKey) {
    const { created } = await apiKeys.ensureBootstrapKey(config.bootstrapApiKey);
    logger.info(created ? 'bootstrap API key created' : 'bootstrap API key present');
  } else if (embedded && (await apiKeys.list()).length === 0) {
    const { key } = await apiKeys.create({ name: 'development', sites: null });
    announce(
      `\nA development API key with access to all sites was created. It is shown only this once:\n\n    X-Api-Key: ${key}\n`,
    );
  }

  const http =
    config.role === 'worker'
      ? null
      : createHttpServer({
          logger,
          graphql: createGraphQLServer({ services, logger }),
          rest: createRestHandler([...openApiRoutes(), ...webhookRoutes(webhooks)], { apiKeys, logger }),
          ready: () => database.ping(),
        });

  const app: App = {
    config,
    logger,
    database,
    services,
    http,
    address: null,
    async start() {
      if (http) {
        app.address = await http.listen(config.port, config.host);
        logger.info('listening', { url: `http://${config.host}:${app.address.port}`, role: config.role });
      }
    },
    async stop() {
      if (http) await http.close();
      await database.close();
      if (embedded) await embedded.stop();
    },
  };
  return app;
}
