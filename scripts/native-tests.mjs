#!/usr/bin/env node
// Builds and runs the core's GoogleTest suite (test/native/, target mtl_core_tests) in the addon's
// CMake build folder: weightings, samplers, strategies and data streams, driven directly and
// compared with the PyTorch oracles. `npm test` runs it before vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const build = path.join(root, 'build');
const fail = (message) => {
  console.error(`mtl-torch native tests: ${message}`);
  process.exit(1);
};

if (!existsSync(path.join(build, 'CMakeCache.txt'))) {
  fail(`no CMake build in ${build}: build the addon first (npm run build:native)`);
}
if (!readFileSync(path.join(build, 'CMakeCache.txt'), 'utf8').includes('GTest_DIR:PATH=/')) {
  fail('GoogleTest was not found when the build was configured: apt-get install libgtest-dev, then npm run build:native');
}
const jobs = String(Math.min(2, availableParallelism()));
const made = spawnSync('cmake', ['--build', build, '--target', 'mtl_core_tests', '--parallel', jobs], { stdio: 'inherit' });
if (made.status !== 0) fail('building mtl_core_tests failed (see above)');
const run = spawnSync(path.join(build, 'mtl_core_tests'), process.argv.slice(2), { stdio: 'inherit', cwd: root });
process.exit(run.status ?? 1);
