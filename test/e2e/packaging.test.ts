// Prebuilt addons: a prebuild is used only when its tag equals the libtorch found (version, C++11
// ABI, CPU/CUDA), both by the install script and by the loader; otherwise install says what it found,
// what is shipped, and how to build from source. Each case runs scripts/install.mjs (or the loader)
// in a child process with the compiler hidden, against a throwaway copy of the package's scripts.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageWithoutLocalBuild } from '../helpers/no-local-build.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const prebuilds = require('../../scripts/prebuilds.cjs');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
// A binary that loads here: were the loader to try a foreign-tagged copy of it, that copy would load.
const addon = path.join(root, 'build', 'Release', 'mtl_torch.node');

const found = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'find-libtorch.cjs'), '--json'], { encoding: 'utf8' }));
const knownTorch = { MTL_TORCH_ONLY_ENV: '1', Torch_DIR: found.torchDir, LIBTORCH: '' };
const napi = prebuilds.NAPI_VERSION;
const otherVersion = found.version === '2.4.1' ? '2.5.0' : '2.4.1';
const flavour = found.cuda ? `cuda${found.cudaVersion}` : 'cpu';
const foreign = {
  version: `mtl_torch.napi${napi}-torch${otherVersion}-cxx11abi${found.abi}-${flavour}.node`,
  abi: `mtl_torch.napi${napi}-torch${found.version}-cxx11abi${1 - found.abi}-${flavour}.node`,
};
const fitting = `mtl_torch.napi${napi}-${found.tag}.node`;

// No compiler and no CMake: a PATH holding only node, CC/CXX that cannot run.
const bin = mkdtempSync(path.join(tmpdir(), 'mtl-nocc-'));
symlinkSync(process.execPath, path.join(bin, 'node'));
const noCompiler = { PATH: bin, CC: '/bin/false', CXX: '/bin/false' };

/** A copy of the package's install machinery with the given prebuilds (copies of a loadable addon). */
function fakePackage(files: string[], options: { checkout?: boolean } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-pkg-'));
  cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  mkdirSync(path.join(dir, 'scripts'));
  for (const script of ['install.mjs', 'find-libtorch.cjs', 'prebuilds.cjs'])
    cpSync(path.join(root, 'scripts', script), path.join(dir, 'scripts', script));
  const platformDir = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(platformDir, { recursive: true });
  for (const file of files) copyFileSync(addon, path.join(platformDir, file));
  if (options.checkout) mkdirSync(path.join(dir, '.git'));
  return { dir, platformDir };
}

function install(dir: string, env: Record<string, string>) {
  return spawnSync(process.execPath, [path.join(dir, 'scripts', 'install.mjs')], {
    cwd: dir,
    env: { ...process.env, ...knownTorch, ...noCompiler, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('prebuild tags', () => {
  it('name the libtorch version, the C++11 ABI flag and CPU/CUDA with its version', () => {
    expect(found.tag).toBe(`torch${found.version}-cxx11abi${found.abi}-${flavour}`);
    expect(found.abiFrom).toBeTruthy();
    expect(prebuilds.prebuildName(found)).toBe(fitting);
    expect(prebuilds.parseName('mtl_torch.napi8-torch2.4.1-cxx11abi0-cuda12.1.node')).toEqual({
      napi: 8,
      version: '2.4.1',
      abi: 0,
      cuda: true,
      cudaVersion: '12.1',
      tag: 'napi8-torch2.4.1-cxx11abi0-cuda12.1',
    });
    expect(prebuilds.parseName('mtl_torch.napi.torch1.13.0-cpu.node')).toBeNull();
  });

  it('fit only the same libtorch version, ABI, CUDA version and an N-API this Node has', () => {
    const cuda = { version: '2.4.1', abi: 0, cuda: true, cudaVersion: '12.1' };
    const parse = (tag: string) => prebuilds.parseName(`mtl_torch.${tag}.node`);
    expect(prebuilds.mismatches(parse('napi8-torch2.4.1-cxx11abi0-cuda12.1'), cuda, 9)).toEqual([]);
    expect(prebuilds.mismatches(parse('napi8-torch2.4.1-cxx11abi0-cuda11.8'), cuda, 9)).toEqual([
      'built for CUDA 11.8, libtorch has CUDA 12.1',
    ]);
    expect(prebuilds.mismatches(parse('napi8-torch2.4.1-cxx11abi0-cpu'), cuda, 9)).toEqual(['built for CPU libtorch, found CUDA']);
    expect(prebuilds.mismatches(parse('napi8-torch2.4.0-cxx11abi1-cuda12.1'), cuda, 9)).toEqual([
      'built for libtorch 2.4.0, found 2.4.1',
      'built with _GLIBCXX_USE_CXX11_ABI=1, libtorch has 0',
    ]);
    expect(prebuilds.mismatches(parse('napi10-torch2.4.1-cxx11abi0-cuda12.1'), cuda, 9)).toEqual(['needs N-API 10, this Node has 9']);
    // A CUDA libtorch whose CUDA version is unknown fits no CUDA prebuild.
    expect(prebuilds.mismatches(parse('napi8-torch2.4.1-cxx11abi0-cuda12.1'), { ...cuda, cudaVersion: null }, 9)).toHaveLength(1);
  });
});

describe('install', () => {
  it('skips prebuilds with a foreign libtorch version or ABI, with a message, and without a compiler explains what to do', () => {
    const { dir } = fakePackage([foreign.version, foreign.abi]);
    const result = install(dir, {});
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`skipping prebuild ${foreign.version}: built for libtorch ${otherVersion}, found ${found.version}`);
    expect(result.stdout).toContain(
      `skipping prebuild ${foreign.abi}: built with _GLIBCXX_USE_CXX11_ABI=${1 - found.abi}, libtorch has ${found.abi}`,
    );
    // The error names the libtorch found, the tags shipped, and the one command that builds from source.
    expect(result.stderr).toContain(
      'no prebuilt addon fits the libtorch found, and it cannot be built here: missing cmake and a C++ compiler (CXX=/bin/false does not run)',
    );
    expect(result.stderr).toContain(`libtorch found: libtorch ${found.version}, C++11 ABI ${found.abi}`);
    expect(result.stderr).toContain(`tag ${found.tag}`);
    expect(result.stderr).toContain(`napi${napi}-torch${otherVersion}-cxx11abi${found.abi}-${flavour}: built for libtorch ${otherVersion}`);
    expect(result.stderr).toContain(`napi${napi}-torch${found.version}-cxx11abi${1 - found.abi}-${flavour}: built with`);
    expect(result.stderr).toContain(`node ${path.join(dir, 'scripts', 'install.mjs')} --from-source`);
    expect(existsSync(path.join(dir, 'build'))).toBe(false);
  });

  it('uses the prebuild whose tag fits, with no compiler, and records it for the loader', () => {
    const { dir } = fakePackage([foreign.version, fitting, foreign.abi]);
    const result = install(dir, {});
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`using prebuilt ${path.join('prebuilds', `${process.platform}-${process.arch}`, fitting)}`);
    expect(result.stdout).toContain('nothing to compile');
    const record = JSON.parse(readFileSync(path.join(dir, 'build', 'selected-prebuild.json'), 'utf8'));
    expect(record).toMatchObject({ file: fitting, tag: found.tag, torchDir: found.torchDir });
  });

  it('in a git checkout builds its own sources instead of using a prebuild', () => {
    const { dir } = fakePackage([fitting], { checkout: true });
    const result = install(dir, {});
    expect(result.status).toBe(1);
    expect(result.stdout).not.toContain('using prebuilt');
    expect(result.stderr).toContain('cannot build the addon from source: missing cmake');
  });

  it('without libtorch lists what was searched and what to install', () => {
    const { dir } = fakePackage([fitting]);
    const result = install(dir, { LIBTORCH: '/nonexistent/libtorch', Torch_DIR: '/nonexistent/cmake/Torch' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('mtl-torch: no libtorch found. Searched, in order:');
    expect(result.stderr).toContain('LIBTORCH: /nonexistent/libtorch/share/cmake/Torch (no TorchConfig.cmake)');
    expect(result.stderr).toContain('Torch_DIR: /nonexistent/cmake/Torch (no TorchConfig.cmake)');
    expect(result.stderr).toContain('PyTorch and system folders: not searched (MTL_TORCH_ONLY_ENV=1)');
    expect(result.stderr).toContain('apt-get install libtorch-dev libopenblas0-openmp');
    expect(result.stderr).toContain('pip install torch');
    expect(result.stderr).toContain(
      `prebuilds shipped in ${path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`)}: napi${napi}-${found.tag}`,
    );
  });
});

describe('loader', () => {
  // The package without build/: the loader there falls through to the prebuilds.
  const withoutBuild = packageWithoutLocalBuild();
  afterAll(() => withoutBuild.remove());
  function load(prebuildsDir: string, env: Record<string, string> = {}) {
    return spawnSync(tsx, ['-e', "import * as mt from './lib/index.ts'; console.log(JSON.stringify(mt.tensor([1, 2]).add(1).toArray()))"], {
      cwd: withoutBuild.dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ...knownTorch, MTL_TORCH_PREBUILDS: prebuildsDir, ...env },
    });
  }

  it('without libtorch lists what was searched and the tags shipped', () => {
    const { dir } = fakePackage([fitting]);
    const result = load(path.join(dir, 'prebuilds'), { Torch_DIR: '/nonexistent/cmake/Torch' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('no libtorch found. Searched, in order:');
    expect(result.stderr).toContain('Torch_DIR: /nonexistent/cmake/Torch (no TorchConfig.cmake)');
    expect(result.stderr).toContain(`: napi${napi}-${found.tag}`);
    expect(result.stderr).toContain('scripts/install.mjs --from-source');
  });

  it('never loads a prebuild of another libtorch, even one that would load', () => {
    const { dir } = fakePackage([foreign.version, foreign.abi]);
    const result = load(path.join(dir, 'prebuilds'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('no prebuilt addon fits the libtorch found');
    expect(result.stderr).toContain(`libtorch found: libtorch ${found.version}`);
    expect(result.stderr).toContain(`napi${napi}-torch${otherVersion}-cxx11abi${found.abi}-${flavour}: built for libtorch ${otherVersion}`);
    expect(result.stderr).toContain(`${path.join(root, 'scripts', 'install.mjs')} --from-source`);
  });

  it('loads the prebuild whose tag fits among foreign ones', () => {
    const { dir } = fakePackage([foreign.version, fitting, foreign.abi]);
    const result = load(path.join(dir, 'prebuilds'));
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('[2,3]');
  });
});

describe("libtorch link (the prebuilds' RUNPATH $ORIGIN/libtorch)", () => {
  it('points at a libtorch outside the system folders and is removed for a system one', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-link-'));
    const link = path.join(dir, 'libtorch');
    expect(prebuilds.linkLibtorch(dir, { rpath: '/opt/libtorch/lib' })).toBe(`libtorch link: ${link} -> /opt/libtorch/lib`);
    expect(readlinkSync(link)).toBe('/opt/libtorch/lib');
    prebuilds.linkLibtorch(dir, { rpath: '/other/torch/lib' });
    expect(readlinkSync(link)).toBe('/other/torch/lib');
    expect(prebuilds.linkLibtorch(dir, { rpath: null })).toBe('libtorch from the system folders');
    expect(() => lstatSync(link)).toThrow(/ENOENT/);
    writeFileSync(link, 'a file');
    expect(() => prebuilds.linkLibtorch(dir, { rpath: null })).toThrow(/should be a link/);
  });
});
