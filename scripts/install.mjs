#!/usr/bin/env node
// npm install hook. Uses the prebuilt addon whose tag equals the libtorch found (no compiler
// needed), else builds the addon from source with cmake-js (Ninja when present).
//
//   --from-source            always build (`npm run build:native` in a checkout)
//   --target <name>          build that CMake target (scripts/prebuild.mjs builds mtl_torch_prebuild)
//   MTL_TORCH_SKIP_BUILD=1   do nothing
//
// A git checkout builds its own sources: a prebuild made earlier from other sources must not stand in
// for them. The loader (lib/native.ts) makes the same choice at load time, so a package installed
// with install scripts disabled still finds its prebuild.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { findLibtorch } = require('./find-libtorch.cjs');
const prebuilds = require('./prebuilds.cjs');

if (process.env.MTL_TORCH_SKIP_BUILD) {
  console.log('mtl-torch: MTL_TORCH_SKIP_BUILD is set, not building the addon');
  process.exit(0);
}

const args = process.argv.slice(2);
const fromSource = args.includes('--from-source');
const target = args.includes('--target') ? args[args.indexOf('--target') + 1] : null;
const checkout = existsSync(path.join(root, '.git'));

let found;
try {
  found = findLibtorch();
} catch (error) {
  console.error(error.message);
  console.error(prebuilds.noLibtorchMessage());
  console.error('mtl-torch: the addon needs libtorch both to load and to build; install one of the above, then reinstall mtl-torch.');
  process.exit(1);
}
console.log(`mtl-torch: ${prebuilds.describeTorch(found)} from ${found.source} (${found.torchDir}); tag ${found.tag}`);

// Loads the addon in a child process (a failed dlopen must not end this one) and checks that it is
// linked against the libtorch found.
function loadsHere(file) {
  const code = `const a = require(${JSON.stringify(file)}); const info = a.runtimeInfo();
    if (!String(info.torch).startsWith(${JSON.stringify(found.version)})) throw new Error('it reports libtorch ' + info.torch);
    const t = a.fromData(new Float32Array([1, 2]), [2]); if (a.item(a.ops.sum(t)) !== 3) throw new Error('1 + 2 != 3');`;
  const result = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  return {
    ok: result.status === 0,
    error:
      (result.stderr || '')
        .trim()
        .split('\n')
        .filter((l) => /Error|error/.test(l))
        .pop() ?? result.stderr,
  };
}

let selection = { dir: prebuilds.prebuildDir(), match: null, shipped: [] };
let loadFailure = null;
if (!fromSource && !checkout) {
  selection = prebuilds.selectPrebuild(found);
  for (const s of selection.shipped) {
    if (s.reasons.length) console.log(`mtl-torch: skipping prebuild ${s.file}: ${s.reasons.join('; ')}`);
  }
  if (selection.match) {
    const linked = prebuilds.linkLibtorch(selection.dir, found);
    const check = loadsHere(selection.match);
    if (check.ok) {
      // Recorded so that loading the package need not search for libtorch again (it may start Python).
      mkdirSync(path.join(root, 'build'), { recursive: true });
      writeFileSync(
        path.join(root, 'build', 'selected-prebuild.json'),
        JSON.stringify({ file: path.basename(selection.match), tag: found.tag, torchDir: found.torchDir, source: found.source }) + '\n',
      );
      console.log(`mtl-torch: using prebuilt ${path.relative(root, selection.match)} (${linked}); nothing to compile`);
      process.exit(0);
    }
    loadFailure = `the prebuilt addon for ${found.tag} does not load here (${check.error})`;
    console.log(`mtl-torch: ${loadFailure}; building from source`);
  }
}

// Building from source needs CMake and a C++ compiler; say so before cmake-js fails obscurely.
function runs(command) {
  const [file, ...rest] = command.trim().split(/\s+/);
  const result = spawnSync(file, [...rest, '--version'], { stdio: 'ignore' });
  return result.status === 0;
}
const compiler = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
const missing = [];
if (!runs('cmake')) missing.push('cmake');
if (!compiler.some(runs))
  missing.push(process.env.CXX ? `a C++ compiler (CXX=${process.env.CXX} does not run)` : 'a C++ compiler (c++, g++ or clang++)');
if (missing.length) {
  const why =
    fromSource || checkout
      ? `cannot build the addon from source: missing ${missing.join(' and ')}`
      : `${loadFailure ?? 'no prebuilt addon fits the libtorch found'}, and it cannot be built here: missing ${missing.join(' and ')}`;
  console.error(prebuilds.noPrebuildMessage(found, selection, why));
  process.exit(1);
}

// A build folder configured for another libtorch is reconfigured (its stale objects recompile).
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const common = ['--CDCMAKE_BUILD_TYPE=Release', '--parallel', String(availableParallelism())];
if (runs('ninja')) common.push('-G', 'Ninja');
const configured = path.join(root, 'build', 'libtorch.json');
if (existsSync(configured)) {
  const before = JSON.parse(readFileSync(configured, 'utf8'));
  if (before.tag !== found.tag || before.torchDir !== found.torchDir) {
    console.log(`mtl-torch: build/ was configured for ${before.tag} (${before.torchDir}); reconfiguring for ${found.tag}`);
    const reconfigure = spawnSync(process.execPath, [cmakeJs, 'configure', ...common], { cwd: root, stdio: 'inherit' });
    if (reconfigure.status !== 0) process.exit(reconfigure.status ?? 1);
  }
}
const started = Date.now();
const result = spawnSync(process.execPath, [cmakeJs, 'compile', ...common, ...(target ? ['--target', target] : [])], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error('mtl-torch: building the native addon failed (see above). It needs CMake, a C++17 compiler and libtorch.');
  process.exit(result.status ?? 1);
}
console.log(`mtl-torch: addon${target ? ` (${target})` : ''} built from source in ${((Date.now() - started) / 1000).toFixed(0)} s`);
