// API keys from the command line: `npm run keys -- create --name NAME [--sites a,b]`, `list`,
// `revoke ID`. It uses the same configuration, store and service as the server, so a key made
// here is exactly like one made by the service. The key itself is printed once, at creation;
// only its SHA-256 hash is stored.
//
// Exit codes: 0 done, 1 failure (configuration, database, unknown key id), 2 bad arguments.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { EmbeddedMongoUnavailable, startEmbeddedMongo, type EmbeddedMongo } from '../db/embedded.ts';
import { connectDatabase, ensureIndexes, type Database } from '../store/database.ts';
import { ApiKeyStore } from '../store/api-keys.ts';
import { ApiKeyService } from '../domain/api-keys/service.ts';
import type { ApiKey } from '../domain/api-keys/types.ts';
import { AppError } from '../domain/errors.ts';

const USAGE = `Usage: npm run keys -- <command>

Commands:
  create --name NAME [--sites a,b]   create a key (all sites unless --sites is given);
                                      the key is printed once and never shown again
  list                               list keys (never the keys themselves)
  revoke ID                          revoke the key with this id (key_...)

The database is the one the service uses: MONGODB_URI (and MONGODB_DB), or, when MONGODB_URI
is unset, the embedded database file EMBEDDED_DB_PATH (stop the service first).
`;

/** A failure with the exit code to leave with. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

const usageError = (message: string) => new CliError(message, 2, true);

type Command =
  | { kind: 'help' }
  | { kind: 'create'; name: string; sites: string[] | null }
  | { kind: 'list' }
  | { kind: 'revoke'; id: string };

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined) throw usageError('No command given.');
  if (command === 'help' || command === '--help' || command === '-h') return { kind: 'help' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: command === 'create' ? { name: { type: 'string' }, sites: { type: 'string' } } : {},
    });
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  switch (command) {
    case 'create': {
      if (positionals.length > 0) throw usageError(`Unexpected argument: ${positionals[0]}`);
      const name = typeof values.name === 'string' ? values.name.trim() : '';
      if (name === '') throw usageError('create needs --name NAME.');
      let sites: string[] | null = null;
      if (values.sites !== undefined) {
        sites = String(values.sites)
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        if (sites.length === 0) throw usageError('--sites needs at least one site id (omit it for all sites).');
      }
      return { kind: 'create', name, sites };
    }
    case 'list':
      if (positionals.length > 0) throw usageError(`Unexpected argument: ${positionals[0]}`);
      return { kind: 'list' };
    case 'revoke':
      if (positionals.length !== 1) throw usageError('revoke needs exactly one key id.');
      return { kind: 'revoke', id: positionals[0]! };
    default:
      throw usageError(`Unknown command: ${command}`);
  }
}

interface Connection {
  service: ApiKeyService;
  close(): Promise<void>;
}

async function connect(config: Config, err: (text: string) => void): Promise<Connection> {
  let embedded: EmbeddedMongo | null = null;
  let uri = config.mongodbUri;
  if (uri === undefined) {
    const file = config.embeddedDbPath;
    if (file === undefined) {
      throw new CliError(
        'MONGODB_URI is not set. The keys CLI needs the database the service uses: set MONGODB_URI ' +
          '(and MONGODB_DB if the database is not named in it), or EMBEDDED_DB_PATH for the embedded ' +
          "database's file. The default embedded database lives in the service's memory only; " +
          'while it runs, its printed development key is the way in.',
        1,
      );
    }
    err(
      `Using the embedded database in the file ${file}. It can be opened by one process at a time: ` +
        'stop the service first.\n',
    );
    try {
      embedded = await startEmbeddedMongo({ dataFile: file, maxHeapMb: config.embeddedDbMaxHeapMb });
    } catch (error) {
      if (error instanceof EmbeddedMongoUnavailable) throw new CliError(error.message, 1);
      const message = (error as Error).message;
      const reason = /file is locked/i.test(message)
        ? 'It is in use by another process, most likely the running service: stop the service first ' +
          "(the file can't be opened by two processes at once), then run this again."
        : `If the service is running on it, stop it first (the file can't be opened by two processes at once).\n${message}`;
      throw new CliError(`Could not open the embedded database file ${file}. ${reason}`, 1);
    }
    uri = embedded.uri;
  }
  let database: Database | undefined;
  try {
    database = await connectDatabase(uri, config.databaseName);
    await ensureIndexes(database.collections);
  } catch (error) {
    await database?.close().catch(() => undefined);
    await embedded?.stop();
    throw new CliError(`Could not connect to MongoDB: ${(error as Error).message}`, 1);
  }
  const connected = database;
  return {
    service: new ApiKeyService(new ApiKeyStore(connected.collections.apiKeys)),
    async close() {
      await connected.close();
      await embedded?.stop();
    },
  };
}

const when = (date: Date | null) => (date ? date.toISOString() : '-');
const sitesText = (sites: string[] | null) => (sites === null ? 'all' : sites.join(','));

export function formatTable(keys: readonly ApiKey[]): string {
  const header = ['ID', 'NAME', 'PREFIX', 'SITES', 'CREATED', 'LAST USED', 'REVOKED'];
  const rows = keys.map((k) => [k.id, k.name, k.prefix, sitesText(k.sites), when(k.createdAt), when(k.lastUsedAt), when(k.revokedAt)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

async function execute(command: Exclude<Command, { kind: 'help' }>, service: ApiKeyService, out: (text: string) => void) {
  switch (command.kind) {
    case 'create': {
      const { key, apiKey } = await service.create({ name: command.name, sites: command.sites });
      out(
        `Created API key ${apiKey.id}\n` +
          `  name:  ${apiKey.name}\n` +
          `  sites: ${sitesText(apiKey.sites)}\n\n` +
          `    ${key}\n\n` +
          'Copy it now: it will not be shown again (only its hash is stored).\n' +
          'Send it in the X-Api-Key header.\n',
      );
      return;
    }
    case 'list': {
      const keys = await service.list();
      out(keys.length === 0 ? 'No API keys.\n' : formatTable(keys));
      return;
    }
    case 'revoke': {
      const revoked = await service.revoke(command.id);
      if (!revoked) throw new CliError(`No API key with id ${command.id}.`, 1);
      out(`Revoked API key ${revoked.id} (${revoked.name}) at ${when(revoked.revokedAt)}.\n`);
      return;
    }
  }
}

export async function run(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
  out: (text: string) => void = (text) => process.stdout.write(text),
  err: (text: string) => void = (text) => process.stderr.write(text),
): Promise<number> {
  try {
    const command = parseCommand(argv);
    if (command.kind === 'help') {
      out(USAGE);
      return 0;
    }
    let config: Config;
    try {
      config = loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(`Invalid configuration: ${error.message}`, 1);
      throw error;
    }
    const connection = await connect(config, err);
    try {
      await execute(command, connection.service, out);
    } finally {
      await connection.close();
    }
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      err(`${error.message}\n`);
      if (error.showUsage) err(`\n${USAGE}`);
      return error.exitCode;
    }
    if (error instanceof AppError && error.code === 'VALIDATION_ERROR') {
      const fields = (error.details.fields ?? {}) as Record<string, string>;
      const detail = Object.entries(fields).map(([field, problem]) => `  ${field}: ${problem}`);
      err(`${error.message}\n${detail.join('\n')}\n\n${USAGE}`);
      return 2;
    }
    err(`Failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  process.exitCode = await run(process.argv.slice(2));
}
