// Prebuilt addons: their names, which one fits the libtorch found, and the messages when none does.
// Used by the install script, the prebuild script and the runtime loader (lib/native.ts), so the
// three never disagree. CommonJS so that the loader can require() it synchronously.
//
// A prebuild is prebuilds/<platform>-<arch>/mtl_torch.napi<N>-<libtorch tag>.node, e.g.
//   prebuilds/linux-x64/mtl_torch.napi8-torch1.13.0-cxx11abi1-cpu.node      (Debian 12's libtorch)
//   prebuilds/linux-x64/mtl_torch.napi8-torch2.4.1-cxx11abi0-cuda12.1.node  (a PyTorch wheel's)
// platform and arch are Node's process.platform / process.arch; napi<N> the Node-API version the
// addon was compiled for (package.json binary.napi_versions); the libtorch tag comes from
// scripts/find-libtorch.cjs (version, C++11 ABI flag, CPU or CUDA with its version). A prebuild is
// used only when its libtorch tag equals the libtorch found and this Node offers its N-API version.
//
// Prebuilds have one RUNPATH, $ORIGIN/libtorch: linkLibtorch() points that link at the libtorch
// found (it is absent when libtorch lives in the system's library folders).
'use strict';
const { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const NAPI_VERSION = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).binary.napi_versions[0];
const PLATFORM_DIR = `${process.platform}-${process.arch}`;
const NAME = /^mtl_torch\.napi(\d+)-torch(\d+\.\d+\.\d+)-cxx11abi([01])-(cpu|cuda([\d.]+|unknown))\.node$/;

function prebuildsRoot() {
  // MTL_TORCH_PREBUILDS names another prebuilds folder (tests, relocated installs).
  return process.env.MTL_TORCH_PREBUILDS || path.join(root, 'prebuilds');
}

function prebuildDir() {
  return path.join(prebuildsRoot(), PLATFORM_DIR);
}

function prebuildName(found) {
  return `mtl_torch.napi${NAPI_VERSION}-${found.tag}.node`;
}

function parseName(file) {
  const m = path.basename(file).match(NAME);
  if (!m) return null;
  return {
    napi: Number(m[1]),
    version: m[2],
    abi: Number(m[3]),
    cuda: m[4] !== 'cpu',
    cudaVersion: m[5] ?? null,
    tag: m[0].slice('mtl_torch.'.length, -'.node'.length),
  };
}

function describeTorch(t) {
  return `libtorch ${t.version}, C++11 ABI ${t.abi}, ${t.cuda ? `CUDA ${t.cudaVersion ?? 'unknown'}` : 'CPU'}`;
}

// Why a prebuild does not fit the libtorch found (empty when it fits).
function mismatches(prebuild, found, napiRuntime = Number(process.versions.napi)) {
  const reasons = [];
  if (prebuild.version !== found.version) reasons.push(`built for libtorch ${prebuild.version}, found ${found.version}`);
  if (prebuild.abi !== found.abi) reasons.push(`built with _GLIBCXX_USE_CXX11_ABI=${prebuild.abi}, libtorch has ${found.abi}`);
  if (prebuild.cuda !== found.cuda)
    reasons.push(`built for ${prebuild.cuda ? 'CUDA' : 'CPU'} libtorch, found ${found.cuda ? 'CUDA' : 'CPU'}`);
  else if (prebuild.cuda && (prebuild.cudaVersion !== found.cudaVersion || found.cudaVersion === null)) {
    reasons.push(`built for CUDA ${prebuild.cudaVersion}, libtorch has CUDA ${found.cudaVersion ?? '(version unknown)'}`);
  }
  if (prebuild.napi > napiRuntime) reasons.push(`needs N-API ${prebuild.napi}, this Node has ${napiRuntime}`);
  return reasons;
}

/**
 * The prebuild for the libtorch found, and every other one shipped with why it does not fit.
 * Returns { dir, match: path | null, shipped: [{ file, tag, reasons }] } (shipped includes the match,
 * with no reasons). Names that are not prebuilds of this package are listed with their reason too.
 */
function selectPrebuild(found, dir = prebuildDir()) {
  const shipped = [];
  let match = null;
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.node'))
        .sort()
    : [];
  for (const file of files) {
    const parsed = parseName(file);
    if (!parsed) {
      shipped.push({ file, tag: '?', reasons: ['not a prebuild name this version of mtl-torch reads'] });
      continue;
    }
    const reasons = mismatches(parsed, found);
    shipped.push({ file, tag: parsed.tag, reasons });
    // Among fitting ones (they differ only in N-API version), the newest N-API this Node offers.
    if (reasons.length === 0 && (match === null || parsed.napi > parseName(match).napi)) match = path.join(dir, file);
  }
  return { dir, match, shipped };
}

function shippedList(shipped) {
  if (shipped.length === 0) return '  (none)';
  return shipped.map((s) => `  ${s.tag}${s.reasons.length ? `: ${s.reasons.join('; ')}` : ' (fits)'}`).join('\n');
}

/**
 * Points <dir>/libtorch (the prebuilds' RUNPATH) at the libtorch found, or removes it when that
 * libtorch is in a system folder (the dynamic linker's default search finds it). Returns what it did.
 */
function linkLibtorch(dir, found) {
  const link = path.join(dir, 'libtorch');
  let current = null;
  try {
    if (lstatSync(link).isSymbolicLink()) current = readlinkSync(link);
    else throw new Error(`mtl-torch: ${link} should be a link to libtorch's library folder; remove it`);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  if (current === (found.rpath ?? null)) return current ? `libtorch link: ${link} -> ${current}` : 'libtorch from the system folders';
  try {
    if (found.rpath) {
      // A new link renamed over the old one: processes loading at the same time never see none.
      mkdirSync(dir, { recursive: true });
      const fresh = `${link}.${process.pid}`;
      rmSync(fresh, { force: true });
      symlinkSync(found.rpath, fresh);
      renameSync(fresh, link);
    } else {
      rmSync(link, { force: true });
    }
  } catch (error) {
    throw new Error(
      `mtl-torch: cannot ${found.rpath ? `point ${link} at ${found.rpath}` : `remove ${link}`} ` +
        `(${error.code ?? error.message}); the prebuilt addon finds libtorch through that link`,
    );
  }
  return found.rpath ? `libtorch link: ${link} -> ${found.rpath}` : 'libtorch from the system folders';
}

/** The one command that builds the addon from source in this installation. */
function buildCommand() {
  return `node ${path.join(root, 'scripts', 'install.mjs')} --from-source`;
}

/** When no libtorch was found: what is shipped, and what happens once one is installed. */
function noLibtorchMessage(dir = prebuildDir()) {
  const tags = existsSync(dir)
    ? readdirSync(dir)
        .map(parseName)
        .filter(Boolean)
        .map((p) => p.tag)
    : [];
  return (
    `  prebuilds shipped in ${dir}: ${tags.join(', ') || '(none)'}\n` +
    '  Once libtorch is installed, the prebuild whose tag equals it is used; for any other libtorch, build from source:\n' +
    `    ${buildCommand()}`
  );
}

/** The error when no prebuild fits: the libtorch found, the tags shipped, and how to build from source. */
function noPrebuildMessage(found, selection, why) {
  return (
    `mtl-torch: ${why}\n` +
    `  libtorch found: ${describeTorch(found)}, from ${found.source} (${found.torchDir}); tag ${found.tag}\n` +
    `  prebuilds shipped in ${selection.dir}:\n${shippedList(selection.shipped).replace(/^/gm, '  ')}\n` +
    '  Build the addon from source (needs CMake and a C++17 compiler; Debian: apt-get install cmake ninja-build g++):\n' +
    `    ${buildCommand()}`
  );
}

module.exports = {
  buildCommand,
  noPrebuildMessage,
  noLibtorchMessage,
  NAPI_VERSION,
  PLATFORM_DIR,
  prebuildsRoot,
  prebuildDir,
  prebuildName,
  parseName,
  describeTorch,
  mismatches,
  selectPrebuild,
  shippedList,
  linkLibtorch,
};
