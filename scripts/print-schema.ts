// Prints the GraphQL schema (sorted, from the Pothos builder) to schema.graphql, the committed
// snapshot that test/graphql/schema.test.ts compares against.
//   npm run schema:print                     writes schema.graphql
//   npm run schema:check                     exits 1 when schema.graphql is stale
//   tsx scripts/print-schema.ts --stdout     prints it instead of writing it
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { sortedSchema } from '../src/graphql/schema/index.ts';

const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema.graphql');

const printed = `${printSchema(sortedSchema())}\n`;
const mode = process.argv[2] ?? '--write';

if (mode === '--stdout') {
  process.stdout.write(printed);
} else if (mode === '--check') {
  let committed = '';
  try {
    committed = readFileSync(SCHEMA_FILE, 'utf8');
  } catch {
    // a missing file is stale too
  }
  if (committed === printed) {
    process.stdout.write('schema.graphql is up to date.\n');
  } else {
    process.stderr.write('schema.graphql is stale: run `npm run schema:print` and commit the result.\n');
    process.exitCode = 1;
  }
} else if (mode === '--write') {
  writeFileSync(SCHEMA_FILE, printed);
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
} else {
  process.stderr.write('Usage: tsx scripts/print-schema.ts [--write | --check | --stdout]\n');
  process.exitCode = 2;
}
