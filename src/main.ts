// Reads the configuration, builds the app, starts its roles and stops cleanly on SIGINT/SIGTERM.
import { ConfigError, loadConfig } from './config.ts';
import { createApp, type App } from './app.ts';
import { EmbeddedMongoUnavailable } from './db/embedded.ts';

async function main(): Promise<void> {
  let app: App;
  try {
    app = await createApp(loadConfig());
  } catch (error) {
    if (error instanceof ConfigError || error instanceof EmbeddedMongoUnavailable) {
      process.stderr.write(`Cannot start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info('stopping', { signal });
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    await app.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await app.start();
}

main().catch((error: unknown) => {
  process.stderr.write(`Fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
