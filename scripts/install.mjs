#!/usr/bin/env node
// npm install hook: use a prebuilt binary that matches the installed libtorch, else build the addon
// with cmake-js (Ninja when present). `--from-source` always builds; MTL_TORCH_SKIP_BUILD=1 skips.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

if (process.env.MTL_TORCH_SKIP_BUILD) {
  console.log('mtl-torch: MTL_TORCH_SKIP_BUILD is set, not building the addon');
  process.exit(0);
}

let found;
try {
  found = require('./find-libtorch.cjs').findLibtorch();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
console.log(`mtl-torch: libtorch ${found.version} (${found.cuda ? 'CUDA' : 'CPU'}) from ${found.source}`);

const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const fromSource = process.argv.includes('--from-source');
const prebuild = !fromSource && existsSync(prebuildDir) && readdirSync(prebuildDir).find((f) => f.includes(`.${found.tag}.`) && f.endsWith('.node'));
if (prebuild) {
  const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(prebuildDir, prebuild))})`], { stdio: 'inherit' });
  if (check.status === 0) {
    // Recorded so that loading the package need not search for libtorch again (it may start Python).
    mkdirSync(path.join(root, 'build'), { recursive: true });
    writeFileSync(path.join(root, 'build', 'selected-prebuild.json'), JSON.stringify({ file: prebuild, tag: found.tag }) + '\n');
    console.log(`mtl-torch: using prebuilt ${prebuild}`);
    process.exit(0);
  }
  console.log(`mtl-torch: prebuilt ${prebuild} does not load here; building from source`);
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'compile', '--CDCMAKE_BUILD_TYPE=Release', '--parallel', String(availableParallelism())];
try {
  execFileSync('ninja', ['--version'], { stdio: 'ignore' });
  args.push('-G', 'Ninja');
} catch {
  // no Ninja: CMake's default generator
}
const started = Date.now();
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('mtl-torch: building the native addon failed (see above). It needs CMake, a C++17 compiler and libtorch.');
  process.exit(result.status ?? 1);
}
console.log(`mtl-torch: addon built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
