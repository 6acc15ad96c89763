/**
 * What the side-by-side benchmarks share: the median, and how the PyTorch side is spawned.
 *
 * mtl-torch tunes glibc malloc at load (mt.hostAllocator(): freed activations stay mapped for
 * reuse); a plain Python process keeps glibc's defaults. The benchmarks run PyTorch both ways, as
 * users get it and with the same allocator thresholds (GLIBC_TUNABLES), so a ratio never hides
 * where it comes from.
 */
import { spawnSync } from 'node:child_process';
import * as mt from '../../lib/index.ts';

export const python = process.env.MTL_REFERENCE_PYTHON ?? '/usr/bin/python3';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** 'default': glibc as Python gets it; 'tuned': the thresholds mtl-torch set in this process. */
export type PythonAllocator = 'default' | 'tuned';

export function pythonEnvironment(allocator: PythonAllocator): NodeJS.ProcessEnv {
  if (allocator === 'default') return process.env;
  const state = mt.hostAllocator();
  if (!state.tuned) throw new Error(`mtl-torch left malloc alone here (${state.reason}): there is no tuned setting to copy`);
  return { ...process.env, GLIBC_TUNABLES: `glibc.malloc.mmap_threshold=${state.mmapThreshold}:glibc.malloc.trim_threshold=${state.trimThreshold}` };
}

/** Runs a PyTorch-side script with one JSON argument; returns the JSON of its last output line. */
export function runPython<T>(script: string, config: unknown, allocator: PythonAllocator = 'default'): T {
  const run = spawnSync(python, [script, JSON.stringify(config)], { encoding: 'utf8', env: pythonEnvironment(allocator), maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`${python} ${script} failed (status ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}
