#!/usr/bin/env node
// Makes the prebuilt addon for the libtorch found:
//   prebuilds/<platform>-<arch>/mtl_torch.napi<N>-torch<version>-cxx11abi<0|1>-<cpu|cuda<version>>.node
// (the tag is explained in scripts/prebuilds.cjs). It comes from the CMake build, the only build
// system: the mtl_torch_prebuild target links the objects of the local build again, with the single
// RUNPATH $ORIGIN/libtorch, so making it after `npm ci` costs a link, not a compile.
//
// The binary is stripped and shipped only when it proves its tag:
//   - RUNPATH exactly $ORIGIN/libtorch, no RPATH: no folder of the build machine;
//   - ldd (with the libtorch link in place) resolves every library, libtorch's own from the libtorch found;
//   - libtorch_cuda.so is linked exactly when the tag says CUDA;
//   - it references std::__cxx11 symbols exactly when the tag says C++11 ABI 1;
//   - loaded in a fresh Node it reports that libtorch version and Node-API version, and computes.
//
// Usage: node scripts/prebuild.mjs [--skip-build]  (--skip-build: package build/prebuild as it is)
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { findLibtorch } = require('./find-libtorch.cjs');
const prebuilds = require('./prebuilds.cjs');

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

const found = findLibtorch();
if (found.cuda && !found.cudaVersion)
  fail(`the CUDA version of ${found.torchDir} is unknown (no torch/version.py or build-version), so no tag can name it`);
const name = prebuilds.prebuildName(found);
console.log(`prebuild: ${prebuilds.describeTorch(found)} from ${found.source}; making ${name}`);

const started = Date.now();
if (!process.argv.includes('--skip-build')) {
  const build = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'install.mjs'), '--from-source', '--target', 'mtl_torch_prebuild'],
    { cwd: root, stdio: 'inherit' },
  );
  if (build.status !== 0) fail('the CMake build failed');
}
const built = path.join(root, 'build', 'prebuild', 'mtl_torch.node');
if (!existsSync(built)) fail(`${built} is missing (build the mtl_torch_prebuild target)`);
const configured = JSON.parse(readFileSync(path.join(root, 'build', 'libtorch.json'), 'utf8'));
if (configured.tag !== found.tag) fail(`build/ is configured for ${configured.tag}, not ${found.tag}`);

const work = mkdtempSync(path.join(tmpdir(), 'mtl-torch-prebuild-'));
try {
  const candidate = path.join(work, name);
  copyFileSync(built, candidate);
  execFileSync('strip', ['--strip-unneeded', candidate]);

  // RUNPATH: only the link, never a folder of this machine.
  const dynamic = execFileSync('readelf', ['-d', candidate], { encoding: 'utf8' });
  const entries = (kind) => [...dynamic.matchAll(new RegExp(`\\(${kind}\\)\\s+.*\\[(.*)\\]`, 'g'))].map((m) => m[1]);
  const needed = entries('NEEDED');
  const runpath = entries('RUNPATH');
  if (entries('RPATH').length) fail(`it has an RPATH (${entries('RPATH').join(', ')}); only RUNPATH $ORIGIN/libtorch is allowed`);
  if (runpath.length !== 1 || runpath[0] !== '$ORIGIN/libtorch')
    fail(`RUNPATH is ${JSON.stringify(runpath)}, expected ["$ORIGIN/libtorch"]`);
  if (needed.some((lib) => lib.startsWith('libtorch_cuda.so')) !== found.cuda)
    fail(`libtorch_cuda.so is ${found.cuda ? 'not ' : ''}linked, but the tag says ${found.cuda ? 'CUDA' : 'CPU'}`);

  // Every library resolves, libtorch's own from the libtorch found.
  prebuilds.linkLibtorch(work, found);
  const ldd = execFileSync('ldd', [candidate], { encoding: 'utf8' });
  const missing = ldd.split('\n').filter((line) => line.includes('not found'));
  if (missing.length) fail(`ldd cannot resolve:\n${missing.join('\n')}`);
  const libdir = realpathSync(found.libdir);
  const torchLibs = [...ldd.matchAll(/^\s*(lib(?:torch|torch_cpu|torch_cuda|c10|c10_cuda)\.so\S*) => (\S+)/gm)];
  if (!torchLibs.some(([, lib]) => lib.startsWith('libc10.so'))) fail(`ldd shows no libc10:\n${ldd}`);
  for (const [, lib, file] of torchLibs) {
    if (realpathSync(path.dirname(file)) !== libdir) fail(`${lib} resolves to ${file}, not into ${found.libdir}`);
  }

  // The C++ ABI, read from the symbols the addon imports.
  const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', candidate], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const cxx11 = undefinedSymbols.includes('__cxx11') ? 1 : 0;
  if (cxx11 !== found.abi) fail(`its symbols say _GLIBCXX_USE_CXX11_ABI=${cxx11}, the tag says ${found.abi}`);

  // It loads, reports the libtorch and Node-API versions of its tag, and computes.
  const code = `const a = require(${JSON.stringify(candidate)}); const info = a.runtimeInfo();
    const t = a.fromData(new Float32Array([1, 2, 3]), [3]); const sum = a.item(a.ops.sum(t));
    console.log(JSON.stringify({ ...info, sum }));`;
  const loaded = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (loaded.status !== 0) fail(`it does not load:\n${loaded.stderr}`);
  const info = JSON.parse(loaded.stdout.trim().split('\n').pop());
  if (!String(info.torch).startsWith(found.version)) fail(`it reports libtorch ${info.torch}, the tag says ${found.version}`);
  if (info.napiVersion !== prebuilds.NAPI_VERSION)
    fail(`it was compiled for N-API ${info.napiVersion}, package.json says ${prebuilds.NAPI_VERSION}`);
  if (info.sum !== 6) fail(`1 + 2 + 3 gave ${info.sum}`);

  const outDir = path.join(root, 'prebuilds', prebuilds.PLATFORM_DIR);
  mkdirSync(outDir, { recursive: true });
  const target = path.join(outDir, name);
  copyFileSync(candidate, target);
  const bytes = statSync(target).size;
  const sha256 = createHash('sha256').update(readFileSync(target)).digest('hex');
  console.log(
    `prebuild: ${path.relative(root, target)} (${(bytes / 1e6).toFixed(1)} MB, sha256 ${sha256.slice(0, 16)}…) in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  console.log(
    `prebuild: NEEDED ${needed.join(' ')}; RUNPATH $ORIGIN/libtorch; C++11 ABI ${cxx11}; loads with libtorch ${info.torch} from ${found.libdir}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
