// Records (or, with --check, verifies) a hash of everything the UI build
// reads, in dist/.source-hash. CI runs `--check`: a committed dist that was
// not rebuilt after a source change fails the test suite.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const inputs = ['index.html', 'package.json', 'package-lock.json', 'tsconfig.json', 'vite.config.ts', 'src'];

function files(p) {
  const full = join(root, p);
  if (statSync(full).isDirectory()) return readdirSync(full).sort().flatMap((f) => files(join(p, f)));
  return [p];
}

const hash = createHash('sha256');
for (const f of inputs.flatMap(files)) {
  hash.update(relative(root, join(root, f)).replaceAll('\\', '/'));
  hash.update('\0');
  hash.update(readFileSync(join(root, f)));
  hash.update('\0');
}
const digest = hash.digest('hex');
const stampFile = join(root, 'dist', '.source-hash');
if (process.argv.includes('--check')) {
  let recorded = '';
  try {
    recorded = readFileSync(stampFile, 'utf8').trim();
  } catch {}
  if (recorded !== digest) {
    console.error(`ui/dist is stale: built from ${recorded || 'nothing'}, sources are ${digest}. Run: (cd ui && npm ci && npm run build)`);
    process.exit(1);
  }
  console.log(`ui/dist matches its sources (${digest.slice(0, 12)})`);
} else {
  writeFileSync(stampFile, digest + '\n');
  console.log(`ui/dist/.source-hash ${digest.slice(0, 12)}`);
}
