// One embedded MongoDB for the whole run (unless MONGODB_URI is given); each test file uses a
// database of its own on it, so files never see each other's data.
import type { TestProject } from 'vitest/node';
import { startEmbeddedMongo, type EmbeddedMongo } from '../../src/db/embedded.ts';

let embedded: EmbeddedMongo | null = null;

export async function setup(project: TestProject): Promise<void> {
  let uri = process.env.MONGODB_URI;
  if (!uri) {
    embedded = await startEmbeddedMongo({ maxHeapMb: 2048 });
    uri = embedded.uri;
  }
  project.provide('mongoUri', uri);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
  }
}
