#!/usr/bin/env node
// `npm run pack:release`: the tarball that would be published. Makes the prebuild for the libtorch
// found (scripts/prebuild.mjs), keeps any other prebuilds already in prebuilds/ (e.g. a CUDA one made
// by scripts/gpu/check.sh), runs `npm pack` (whose `prepare` builds dist/), and checks the contents:
// what README promises is there, tests, fixtures and benchmarks are not.
//
// Usage: node scripts/pack-release.mjs [--skip-prebuild] [--json FILE]  (FILE gets the summary)
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const prebuilds = require('./prebuilds.cjs');
const { findLibtorch } = require('./find-libtorch.cjs');
const args = process.argv.slice(2);

function fail(message) {
  console.error(`pack:release: ${message}`);
  process.exit(1);
}

if (!args.includes('--skip-prebuild')) {
  const made = spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (made.status !== 0) fail('making the prebuild failed');
}

// The libtorch links (and anything else that is not a prebuild) are this machine's, not the package's.
const prebuildsDir = path.join(root, 'prebuilds');
const tags = [];
for (const platform of readdirSync(prebuildsDir)) {
  for (const file of readdirSync(path.join(prebuildsDir, platform))) {
    const full = path.join(prebuildsDir, platform, file);
    if (lstatSync(full).isSymbolicLink()) {
      rmSync(full);
      continue;
    }
    if (!prebuilds.parseName(file)) fail(`${path.relative(root, full)} is not a prebuild name scripts/prebuilds.cjs reads; remove it`);
    tags.push(`${platform}/${file}`);
  }
}
const expected = `${prebuilds.PLATFORM_DIR}/${prebuilds.prebuildName(findLibtorch())}`;
if (!tags.includes(expected)) fail(`no prebuild for this machine's libtorch (${expected})`);
console.log(`pack:release: prebuilds\n  ${tags.join('\n  ')}`);

// dist/ is rebuilt by npm pack's `prepare` (npm run build:ts); start it empty so no file of a removed
// module ships.
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
)[0];
const files = packed.files.map((f) => f.path);
const must = [
  'package.json',
  'README.md',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/cli.js',
  'dist/native.js',
  'configs/phonetics-demo.json',
  'examples/support-tickets/run.json',
  'examples/support-tickets/train.csv',
  'scripts/install.mjs',
  'scripts/find-libtorch.cjs',
  'scripts/prebuilds.cjs',
  'python/multitask_twin.py',
  'python/safetensors_io.py',
  'CMakeLists.txt',
  'native/addon.cc',
  ...tags.map((t) => `prebuilds/${t}`),
];
const absent = must.filter((f) => !files.includes(f));
if (absent.length) fail(`${packed.filename} lacks ${absent.join(', ')}`);
const forbidden = files.filter(
  (f) =>
    /^(test|lib|scripts\/bench|scripts\/gpu|\.ci)\//.test(f) ||
    /\.test\.|fixtures\//.test(f) ||
    (f.endsWith('.ts') && !f.endsWith('.d.ts')),
);
if (forbidden.length) fail(`${packed.filename} carries what users do not need: ${forbidden.slice(0, 10).join(', ')}`);
// dist/ must run as plain JavaScript: no import of a .ts file survives the TypeScript build.
const tsImports = spawnSync('grep', ['-rlE', `(from|import\\() *['"][^'"]+\\.ts['"]`, path.join(root, 'dist'), '--include=*.js'], {
  encoding: 'utf8',
}).stdout.trim();
if (tsImports) fail(`dist/ still imports .ts files: ${tsImports}`);

const byFolder = {};
for (const f of packed.files) {
  const key = f.path.startsWith('prebuilds/') ? f.path : f.path.split('/')[0];
  byFolder[key] = (byFolder[key] ?? 0) + f.size;
}
const summary = {
  filename: packed.filename,
  size: packed.size,
  unpackedSize: packed.unpackedSize,
  entryCount: packed.entryCount,
  prebuilds: tags,
  bytesByPart: byFolder,
};
console.log(
  `pack:release: ${packed.filename}: ${(packed.size / 1e6).toFixed(2)} MB packed, ${(packed.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${packed.entryCount} files`,
);
for (const [part, bytes] of Object.entries(byFolder).sort((a, b) => b[1] - a[1]))
  console.log(`  ${(bytes / 1e3).toFixed(0).padStart(7)} kB  ${part}`);
const jsonAt = args.indexOf('--json');
if (jsonAt >= 0) writeFileSync(args[jsonAt + 1], JSON.stringify(summary, null, 2) + '\n');
