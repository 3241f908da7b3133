// Install step (npm postinstall): fetches the embedded MongoDB's jars from Maven Central and
// compiles its small launcher, so `npm start` and `npm test` work without MONGODB_URI.
// Skips quietly when already done; warns (without failing the install) when no JDK or Maven
// is present, since a real MongoDB given by MONGODB_URI needs neither.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'embedded-db');
const lib = join(dir, 'lib');
const classes = join(dir, 'classes');

function has(command) {
  try {
    execFileSync(command, ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function run(command, args) {
  execFileSync(command, args, { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
}

const haveJars = existsSync(lib) && readdirSync(lib).some((f) => f.startsWith('mongo-java-server-core'));
const haveLauncher = existsSync(join(classes, 'EmbeddedMongo.class'));
if (haveJars && haveLauncher) process.exit(0);

if (!has('java') || !has('javac') || !has('mvn')) {
  console.warn(
    '[embedded-db] JDK 17+ and Maven are needed for the embedded MongoDB; skipped. ' +
      'Install them and run `npm run embedded-db`, or set MONGODB_URI to a real MongoDB.',
  );
  process.exit(0);
}
if (!haveJars) {
  console.log('[embedded-db] fetching mongo-java-server jars from Maven Central');
  run('mvn', ['-q', '-B', '-Dstyle.color=never', 'dependency:copy-dependencies', '-DoutputDirectory=lib']);
}
run('javac', ['-d', 'classes', '-cp', `lib/*`, 'EmbeddedMongo.java']);
console.log('[embedded-db] ready in embedded-db/');
