// The committed schema.graphql is the printed Pothos schema; changing the schema without
// reprinting it fails here. The schema is printed by the same script as `npm run schema:print`,
// in a process of its own (plain Node module resolution, one copy of graphql).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STALE = 'schema.graphql is stale: run `npm run schema:print` and commit the result';

describe('schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:print` after changing it)', async () => {
    const { stdout: printed } = await promisify(execFile)(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/print-schema.ts', '--stdout'],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(printed).toMatch(/^type Query \{/m);
    let committed: string;
    try {
      committed = readFileSync(join(ROOT, 'schema.graphql'), 'utf8');
    } catch {
      throw new Error('schema.graphql is missing: run `npm run schema:print` and commit it.');
    }
    // On a mismatch the diff shows what changed, and the message says what to do.
    expect(committed, STALE).toBe(printed);
  });
});
