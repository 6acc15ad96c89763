#!/usr/bin/env node
// npm run build:asan: the addon (and the core's gtest binary) with AddressSanitizer + UBSan, in
// build-asan/ (never build/): `cmake-js configure --out build-asan -DMTL_SANITIZE=ON`, then a build
// with MTL_TORCH_BUILD_JOBS parallel jobs (default 1: CI machines and shared boxes stay usable).
// scripts/asan/run.sh runs the unit and fuzz suites against it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const jobs = process.env.MTL_TORCH_BUILD_JOBS ?? '1';
const ninja = spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;

function run(file, args) {
  const result = spawnSync(file, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run(process.execPath, [
  cmakeJs,
  'configure',
  '--out',
  'build-asan',
  '--CDCMAKE_BUILD_TYPE=RelWithDebInfo',
  '--CDMTL_SANITIZE=ON',
  ...(ninja ? ['-G', 'Ninja'] : []),
]);
run('cmake', ['--build', 'build-asan', '--parallel', jobs, '--target', 'mtl_torch']);
console.log('mtl-torch: sanitized addon in build-asan/Release/mtl_torch.node; run scripts/asan/run.sh');
