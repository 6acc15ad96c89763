// Runs every `npm run bench:*` script of package.json at its smoke size (MTL_TORCH_BENCH_SMOKE=1,
// scripts/bench/common.ts), one after another, and fails if any exits non-zero: a benchmark that
// breaks fails CI (.ci/run). A new bench:* script is picked up without touching this file; one that
// does not read the smoke switch shows up here by its time. Prints each script's seconds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const names = Object.keys(scripts).filter((name) => name.startsWith('bench:'));
if (names.length === 0) throw new Error('bench smoke: package.json has no bench:* scripts');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const times = [];
const failed = [];
for (const name of names) {
  const started = process.hrtime.bigint();
  console.log(`bench smoke: npm run ${name}`);
  const run = spawnSync(npm, ['run', '--silent', name], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MTL_TORCH_BENCH_SMOKE: '1' },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  times.push(`${seconds.toFixed(1).padStart(6)} s  ${name}${run.status === 0 ? '' : `  FAILED (${run.signal ?? `exit ${run.status}`})`}`);
  if (run.status !== 0) failed.push(name);
}
console.log(`bench smoke: ${names.length} scripts\n${times.map((t) => `  ${t}`).join('\n')}`);
if (failed.length > 0) {
  console.error(`bench smoke: failed: ${failed.join(', ')}`);
  process.exit(1);
}
