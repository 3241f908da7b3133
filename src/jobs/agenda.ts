// Agenda on our MongoDB: the scheduler, locker and distributor of all background work. Workers
// are woken through MongoDB change streams where the database offers them (a replica set, or the
// embedded server), else through Agenda's in-process channel plus the polling interval.
import { Agenda, InMemoryNotificationChannel, type NotificationChannel } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { FeedNotificationChannel } from './feed-channel.ts';
import type { Db } from 'mongodb';
import { hostname } from 'node:os';
import { AGENDA_COLLECTION } from '../store/database.ts';
import type { Logger } from '../logger.ts';

/** Opens a change stream and reads from it once: true when the database offers change streams. */
export async function supportsChangeStreams(db: Db): Promise<boolean> {
  const stream = db.collection(AGENDA_COLLECTION).watch([], { maxAwaitTimeMS: 1 });
  try {
    await stream.tryNext();
    return true;
  } catch {
    return false;
  } finally {
    await stream.close().catch(() => undefined);
  }
}

export interface AgendaSetup {
  agenda: Agenda;
  channel: NotificationChannel;
  changeStreams: boolean;
}

export async function createAgenda(
  db: Db,
  options: { pollIntervalMs: number; maxConcurrency: number; lockLimit: number; lockLifetimeMs: number; useChangeStreams: boolean; logger: Logger },
): Promise<AgendaSetup> {
  const changeStreams = options.useChangeStreams && (await supportsChangeStreams(db));
  const channel: NotificationChannel = changeStreams
    ? new FeedNotificationChannel(db, options.logger, { idleGapMs: 100 })
    : new InMemoryNotificationChannel();
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: db, collection: AGENDA_COLLECTION }),
    notificationChannel: channel,
    name: `${hostname()}:${process.pid}`,
    processEvery: options.pollIntervalMs,
    maxConcurrency: options.maxConcurrency,
    lockLimit: options.lockLimit,
    defaultLockLifetime: options.lockLifetimeMs,
  });
  agenda.on('error', (error: Error) => options.logger.error('agenda error', { error: error.message }));
  await agenda.ready;
  return { agenda, channel, changeStreams };
}
