#!/usr/bin/env node
// The one place that decides which libtorch mtl-torch builds against. CMakeLists.txt, binding.gyp,
// the prebuild script and the runtime loader all ask this script, so they never disagree.
//
// Search order: LIBTORCH (a libtorch folder) or Torch_DIR (the folder holding TorchConfig.cmake);
// an installed PyTorch (`python3` on PATH, then /usr/bin/python3) that ships its CMake files;
// Debian's libtorch-dev. MTL_TORCH_ONLY_ENV=1 limits the search to the two variables.
//
// CommonJS so that the loader can require() it synchronously.
//
// Usage: node scripts/find-libtorch.cjs [--json | --cmake-dir | --include | --libdir | --libs |
//        --cxxflags | --rpath | --tag]
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const SYSTEM_LIB_DIRS = new Set(['/usr/lib', '/usr/lib64', '/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu']);

function pythonTorchDir(python) {
  try {
    const out = execFileSync(python, ['-c', 'import torch, torch.utils; print(torch.utils.cmake_prefix_path)'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000,
    }).trim();
    return out ? path.join(out, 'Torch') : null;
  } catch {
    return null;
  }
}

function candidates() {
  const list = [];
  if (process.env.LIBTORCH) list.push({ source: 'LIBTORCH', dir: path.join(process.env.LIBTORCH, 'share', 'cmake', 'Torch') });
  if (process.env.Torch_DIR) list.push({ source: 'Torch_DIR', dir: process.env.Torch_DIR });
  // MTL_TORCH_ONLY_ENV=1: use LIBTORCH / Torch_DIR or nothing (no Python, no system package).
  if (process.env.MTL_TORCH_ONLY_ENV === '1') return list;
  for (const python of ['python3', '/usr/bin/python3']) {
    const dir = pythonTorchDir(python);
    if (dir) list.push({ source: `PyTorch (${python})`, dir });
  }
  for (const dir of ['/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch', '/usr/lib/cmake/Torch']) {
    list.push({ source: 'system libtorch-dev', dir });
  }
  return list;
}

// The headers that compile c10d's NCCL backend (native/core/distributed/backends.cc) against a
// CUDA libtorch: nccl.h and CUDA's runtime headers. PyTorch wheels ship neither; pip's nvidia-*
// packages beside torch have them, and so does a CUDA toolkit. null when either is missing: the
// addon then builds without NCCL and says so when a run asks for it.
function ncclIncludeDirs(prefix) {
  const cudaHome = process.env.CUDA_HOME || process.env.CUDA_PATH || '/usr/local/cuda';
  const nvidia = path.resolve(prefix, '..', 'nvidia');
  const find = (header, dirs) => dirs.find((dir) => dir && existsSync(path.join(dir, header)));
  const nccl = find('nccl.h', [process.env.NCCL_INCLUDE_DIR, path.join(nvidia, 'nccl', 'include'), path.join(cudaHome, 'include'), '/usr/include']);
  const cudart = find('cuda_runtime_api.h', [path.join(cudaHome, 'include'), path.join(nvidia, 'cuda_runtime', 'include'), '/usr/include']);
  return nccl && cudart ? [...new Set([nccl, cudart])] : null;
}

function describe(torchDir, source) {
  const configFile = path.join(torchDir, 'TorchConfig.cmake');
  const config = readFileSync(configFile, 'utf8');
  // A pip/libtorch layout is <prefix>/share/cmake/Torch; Debian's is <libdir>/cmake/Torch with
  // headers under /usr/include.
  const pipLayout = path.basename(path.dirname(path.dirname(torchDir))) === 'share';
  const prefix = pipLayout ? path.resolve(torchDir, '../../..') : '/usr';
  const libdir = pipLayout ? path.join(prefix, 'lib') : path.resolve(torchDir, '../..');
  const includeDirs = [path.join(prefix, 'include'), path.join(prefix, 'include', 'torch', 'csrc', 'api', 'include')];
  const versionHeader = readFileSync(path.join(includeDirs[1], 'torch', 'version.h'), 'utf8');
  const part = (name) => versionHeader.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`))?.[1] ?? '0';
  const version = `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  const cuda = existsSync(path.join(libdir, 'libtorch_cuda.so'));
  const abi = config.match(/_GLIBCXX_USE_CXX11_ABI=(\d)/)?.[1] ?? '1';
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (cuda) libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  const ncclIncludes = cuda ? ncclIncludeDirs(prefix) : null;
  return {
    source,
    torchDir,
    version,
    cuda,
    // The node-gyp build compiles every source with these; CMakeLists.txt adds ncclIncludes to the
    // core library itself.
    includeDirs: ncclIncludes ? [...includeDirs, ...ncclIncludes] : includeDirs,
    ncclIncludes,
    libdir,
    libs,
    cxxflags: [`-D_GLIBCXX_USE_CXX11_ABI=${abi}`, ...(ncclIncludes ? ['-DMTL_WITH_NCCL'] : [])],
    // System folders need no rpath; any other libtorch is found through one that names it.
    rpath: SYSTEM_LIB_DIRS.has(libdir) ? null : libdir,
    tag: `torch${version}-${cuda ? 'cuda' : 'cpu'}`,
  };
}

function findLibtorch() {
  const tried = [];
  for (const { source, dir } of candidates()) {
    tried.push(`${source}: ${dir}`);
    if (existsSync(path.join(dir, 'TorchConfig.cmake'))) return describe(dir, source);
  }
  const error = new Error(
    'mtl-torch: no libtorch found. Looked at:\n  ' + tried.join('\n  ') +
    '\nInstall one of:\n' +
    '  - Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-openmp\n' +
    '  - PyTorch: pip install torch (its bundled libtorch is used, CUDA included)\n' +
    '  - or set LIBTORCH=/path/to/libtorch or Torch_DIR=/path/to/share/cmake/Torch',
  );
  error.code = 'ERR_LIBTORCH_NOT_FOUND';
  throw error;
}

module.exports = { findLibtorch };

const FLAGS = {
  '--json': (found) => JSON.stringify(found, null, 2),
  '--cmake-dir': (found) => found.torchDir,
  '--include': (found) => found.includeDirs.join(' '),
  '--libdir': (found) => found.libdir,
  '--libs': (found) => found.libs.join(' '),
  '--cxxflags': (found) => found.cxxflags.join(' '),
  '--rpath': (found) => (found.rpath ? `-Wl,-rpath,${found.rpath}` : ''),
  '--tag': (found) => found.tag,
};

if (require.main === module) {
  const flag = process.argv[2];
  if (flag !== undefined && !(flag in FLAGS)) {
    console.error(`find-libtorch: unknown flag ${flag} (expected one of ${Object.keys(FLAGS).join(', ')})`);
    process.exit(2);
  }
  let found;
  try {
    found = findLibtorch();
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
  const line = flag === undefined
    ? `libtorch ${found.version} (${found.cuda ? 'CUDA' : 'CPU'}) from ${found.source}: ${found.torchDir}`
    : FLAGS[flag](found);
  process.stdout.write(line + '\n');
}
