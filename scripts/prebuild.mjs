#!/usr/bin/env node
// Makes prebuilds/<platform>-<arch>/mtl_torch.napi.<torch tag>.node with prebuildify (through
// binding.gyp). It builds in a temporary copy of the sources so that the working build/ folder
// stays as it is; the binary's rpath names libtorch's folder, never the temporary one.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { tag } = require('./find-libtorch.cjs').findLibtorch();

const work = mkdtempSync(path.join(tmpdir(), 'mtl-torch-prebuild-'));
try {
  for (const item of ['package.json', 'binding.gyp', 'native', 'scripts']) cpSync(path.join(root, item), path.join(work, item), { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'));
  const prebuildify = require.resolve('prebuildify/bin.js');
  // node-gyp must not download headers: point it at this Node's own install prefix when npm has not.
  const env = { ...process.env };
  const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && existsSync(path.join(nodePrefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = nodePrefix;
  execFileSync(process.execPath, [prebuildify, '--napi', '--strip'], { cwd: work, stdio: 'inherit', env });
  const platformDir = `${process.platform}-${process.arch}`;
  const built = readdirSync(path.join(work, 'prebuilds', platformDir)).filter((f) => f.endsWith('.node'));
  if (built.length !== 1) throw new Error(`prebuildify produced ${built.length} binaries: ${built.join(', ')}`);
  const outDir = path.join(root, 'prebuilds', platformDir);
  mkdirSync(outDir, { recursive: true });
  const target = path.join(outDir, `mtl_torch.napi.${tag}.node`);
  copyFileSync(path.join(work, "prebuilds", platformDir, built[0]), target);
  console.log(`prebuild: ${path.relative(root, target)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
