// The README documents every setting src/config.ts reads and shows a curl example for every
// method and path of the REST contract (src/rest/v1/openapi.json), so neither can drift from
// the code unnoticed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './service-process.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const configSource = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
const variables = [...new Set([...configSource.matchAll(/\benv, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!))];
const openapi = JSON.parse(readFileSync(join(ROOT, 'src', 'rest', 'v1', 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const operations = Object.entries(openapi.paths).flatMap(([path, item]) =>
  Object.keys(item)
    .filter((method) => METHODS.includes(method))
    .map((method) => [method.toUpperCase(), path] as const),
);

describe('README', () => {
  it('found the settings and operations to check', () => {
    expect(variables).toContain('PORT');
    expect(operations.length).toBeGreaterThan(5);
  });

  it.each(variables)('has a configuration table row for %s', (name) => {
    expect(readme, `add a row for ${name} to the configuration table in README.md`).toMatch(
      new RegExp(`^\\| \`${name}\` \\| [^|]+ \\| [^|]+ \\|$`, 'm'),
    );
  });

  it.each(operations)('shows a curl example for %s %s', (method, path) => {
    const example = path.replace('{siteId}', 'my-site').replace('{webhookId}', '$WH');
    const url = new RegExp(`"\\$GW${example.replace(/[$.?]/g, '\\$&')}(\\?[^"]*)?"`);
    const lines = readme.split('\n').filter((line) => line.startsWith('curl ') && url.test(line));
    const matching = lines.filter((line) => (method === 'GET' ? !line.includes(' -X ') : line.includes(` -X ${method} `)));
    expect(matching, `add a curl example for ${method} ${path} to README.md`).not.toEqual([]);
  });
});
