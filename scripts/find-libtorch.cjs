#!/usr/bin/env node
// The one place that decides which libtorch mtl-torch builds against and loads with. CMakeLists.txt,
// the install script, the prebuild script and the runtime loader all ask this script, so they never
// disagree.
//
// Search order: LIBTORCH (a libtorch folder) or Torch_DIR (the folder holding TorchConfig.cmake);
// an installed PyTorch (`python3` on PATH, then /usr/bin/python3) that ships its CMake files;
// Debian's libtorch-dev. MTL_TORCH_ONLY_ENV=1 limits the search to the two variables.
//
// What it reports about the libtorch found decides binary compatibility, and makes the `tag` that
// names a prebuilt addon (see scripts/prebuilds.cjs):
//   version  TORCH_VERSION_{MAJOR,MINOR,PATCH} of torch/version.h
//   abi      _GLIBCXX_USE_CXX11_ABI: TorchConfig.cmake's TORCH_CXX_FLAGS, else PyTorch's
//            torch._C._GLIBCXX_USE_CXX11_ABI, else whether libc10.so's symbols name std::__cxx11
//   cuda     libtorch_cuda.so next to libtorch.so; its CUDA version from PyTorch's torch/version.py
//            (torch.version.cuda) or a libtorch archive's build-version (2.4.1+cu121)
//
// CommonJS so that the loader can require() it synchronously.
//
// Usage: node scripts/find-libtorch.cjs [--json | --cmake-dir | --tag]
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const SYSTEM_LIB_DIRS = new Set(['/usr/lib', '/usr/lib64', '/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu']);

// Where an interpreter's torch package is, without importing it (importing takes seconds).
const PYTHON_FIND = "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')";
// What an imported torch says about its C++ ABI (only asked when TorchConfig.cmake does not say).
const PYTHON_ABI = 'import torch; print(int(bool(torch._C._GLIBCXX_USE_CXX11_ABI)))';

function runPython(python, code) {
  try {
    return { out: execFileSync(python, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 }).trim() };
  } catch (error) {
    return { error: error.code === 'ENOENT' ? 'not installed' : 'failed to run' };
  }
}

function candidates() {
  const list = [];
  const env = (name, dir) =>
    list.push(process.env[name] ? { source: name, dir: dir(process.env[name]) } : { source: name, skip: 'not set' });
  env('LIBTORCH', (value) => path.join(value, 'share', 'cmake', 'Torch'));
  env('Torch_DIR', (value) => value);
  // MTL_TORCH_ONLY_ENV=1: use LIBTORCH / Torch_DIR or nothing (no Python, no system package).
  if (process.env.MTL_TORCH_ONLY_ENV === '1') {
    list.push({ source: 'PyTorch and system folders', skip: 'not searched (MTL_TORCH_ONLY_ENV=1)' });
    return list;
  }
  for (const python of ['python3', '/usr/bin/python3']) {
    const source = `PyTorch (${python})`;
    // Evaluated only when the ones before did not match, so a LIBTORCH user never starts Python.
    list.push({
      source,
      lazy: () => {
        const { out, error } = runPython(python, PYTHON_FIND);
        if (error || !out) return { skip: error ?? 'no torch module' };
        // torch.utils.cmake_prefix_path is <torch>/share/cmake
        return { dir: path.join(out, 'share', 'cmake', 'Torch'), python };
      },
    });
  }
  for (const dir of ['/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch', '/usr/lib/cmake/Torch']) {
    list.push({ source: 'system libtorch-dev', dir });
  }
  return list;
}

// "12.1" from torch/version.py (`cuda: Optional[str] = '12.1'`) or a libtorch archive's
// build-version (`2.4.1+cu121`); null when neither says.
function cudaVersionFromFiles(prefix) {
  const versionPy = path.join(prefix, 'version.py');
  if (existsSync(versionPy)) {
    const m = readFileSync(versionPy, 'utf8').match(/^cuda\s*(?::[^=]*)?=\s*['"]([\d.]+)['"]/m);
    if (m) return m[1];
  }
  const buildVersion = path.join(prefix, 'build-version');
  if (existsSync(buildVersion)) {
    const m = readFileSync(buildVersion, 'utf8').match(/\+cu(\d+)(\d)\b/);
    if (m) return `${m[1]}.${m[2]}`;
  }
  return null;
}

// The C++11 ABI flag of libtorch; `from` says which evidence decided it.
function detectAbi(config, libdir, python) {
  const m = config.match(/TORCH_CXX_FLAGS\s+"[^"]*-D_GLIBCXX_USE_CXX11_ABI=([01])/);
  if (m) return { abi: Number(m[1]), from: 'TorchConfig.cmake TORCH_CXX_FLAGS' };
  if (python) {
    const { out } = runPython(python, PYTHON_ABI);
    if (out === '0' || out === '1') return { abi: Number(out), from: `torch._C._GLIBCXX_USE_CXX11_ABI (${python})` };
  }
  const c10 = path.join(libdir, 'libc10.so');
  if (existsSync(c10)) {
    // Every libtorch exports std::string-taking functions: their mangled names say which ABI.
    return { abi: readFileSync(c10).includes('St7__cxx11') ? 1 : 0, from: 'libc10.so symbols' };
  }
  throw new Error(`mtl-torch: cannot tell the C++ ABI of the libtorch in ${libdir} (no TORCH_CXX_FLAGS, no libc10.so)`);
}

// The headers that compile c10d's NCCL backend (native/core/distributed/backends.cc) against a
// CUDA libtorch: nccl.h and CUDA's runtime headers. PyTorch wheels ship neither; pip's nvidia-*
// packages beside torch have them, and so does a CUDA toolkit. null when either is missing: the
// addon then builds without NCCL and says so when a run asks for it.
function ncclIncludeDirs(prefix) {
  const cudaHome = process.env.CUDA_HOME || process.env.CUDA_PATH || '/usr/local/cuda';
  const nvidia = path.resolve(prefix, '..', 'nvidia');
  const find = (header, dirs) => dirs.find((dir) => dir && existsSync(path.join(dir, header)));
  const nccl = find('nccl.h', [
    process.env.NCCL_INCLUDE_DIR,
    path.join(nvidia, 'nccl', 'include'),
    path.join(cudaHome, 'include'),
    '/usr/include',
  ]);
  const cudart = find('cuda_runtime_api.h', [path.join(cudaHome, 'include'), path.join(nvidia, 'cuda_runtime', 'include'), '/usr/include']);
  return nccl && cudart ? [...new Set([nccl, cudart])] : null;
}

/**
 * Describes the libtorch whose TorchConfig.cmake is in torchDir. Reads files only, unless
 * TorchConfig.cmake does not state the ABI and the PyTorch it came from (python) can be asked.
 */
function describe(torchDir, source = 'given folder', python = undefined) {
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
  const cudaVersion = cuda && pipLayout ? cudaVersionFromFiles(prefix) : null;
  const { abi, from: abiFrom } = detectAbi(config, libdir, python);
  const flavour = cuda ? `cuda${cudaVersion ?? 'unknown'}` : 'cpu';
  const ncclIncludes = cuda ? ncclIncludeDirs(prefix) : null;
  return {
    source,
    torchDir,
    version,
    abi,
    abiFrom,
    cuda,
    cudaVersion,
    includeDirs,
    // nccl.h and CUDA's headers, when a CUDA libtorch has them beside it: CMakeLists.txt compiles
    // c10d's NCCL backend with them (native/core/distributed/backends.cc).
    ncclIncludes,
    libdir,
    cxxflags: [`-D_GLIBCXX_USE_CXX11_ABI=${abi}`],
    // System folders need no rpath; any other libtorch is found through one that names it.
    rpath: SYSTEM_LIB_DIRS.has(libdir) ? null : libdir,
    // What a prebuilt addon must have been built against to load with this libtorch.
    tag: `torch${version}-cxx11abi${abi}-${flavour}`,
  };
}

function findLibtorch() {
  const searched = [];
  for (const candidate of candidates()) {
    const { source } = candidate;
    const { dir, skip, python } = candidate.lazy ? candidate.lazy() : candidate;
    if (skip) {
      searched.push(`${source}: ${skip}`);
      continue;
    }
    if (existsSync(path.join(dir, 'TorchConfig.cmake'))) return describe(dir, source, python);
    searched.push(`${source}: ${dir} (no TorchConfig.cmake)`);
  }
  const error = new Error(
    'mtl-torch: no libtorch found. Searched, in order:\n  ' +
      searched.join('\n  ') +
      '\nInstall one of:\n' +
      '  - Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-openmp\n' +
      '  - PyTorch: pip install torch (its bundled libtorch is used, CUDA included)\n' +
      '  - or set LIBTORCH=/path/to/libtorch or Torch_DIR=/path/to/share/cmake/Torch',
  );
  error.code = 'ERR_LIBTORCH_NOT_FOUND';
  error.searched = searched;
  throw error;
}

module.exports = { findLibtorch, describe, SYSTEM_LIB_DIRS };

const FLAGS = {
  '--json': (found) => JSON.stringify(found, null, 2),
  '--cmake-dir': (found) => found.torchDir,
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
  const line =
    flag === undefined
      ? `libtorch ${found.version} (${found.cuda ? `CUDA ${found.cudaVersion ?? '(version unknown)'}` : 'CPU'}, C++11 ABI ${found.abi}) ` +
        `from ${found.source}: ${found.torchDir}\ntag: ${found.tag}`
      : FLAGS[flag](found);
  process.stdout.write(line + '\n');
}
