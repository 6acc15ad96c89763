/**
 * The host allocator: at load the addon raises glibc malloc's thresholds so that the activations a
 * step frees stay mapped for the next step; MTL_TORCH_MALLOC=system and GLIBC_TUNABLES opt out.
 * Measured by minor page faults of a step-like pattern in child processes, one per setting.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

// Three 8 MiB activations live at once, then all freed: with glibc's defaults the free memory at
// the heap's top usually exceeds its (dynamic) trim threshold and goes back to the kernel, so the
// next round faults its pages in again.
const childScript = `
import * as mt from ${JSON.stringify(path.join(root, 'lib', 'index.ts'))};
const round = () => mt.tidy(() => { const a = mt.zeros([2048, 1024]); const b = a.add(1); const c = b.mul(2); c.sum(); });
for (let i = 0; i < 3; i++) round();
// The median round: V8's own collections fault pages now and then, in either setting.
const faults = [];
for (let i = 0; i < 21; i++) {
  const before = process.resourceUsage().minorPageFault;
  round();
  faults.push(process.resourceUsage().minorPageFault - before);
}
const meanFaults = faults.reduce((x, y) => x + y, 0) / faults.length;
const medianFaults = faults.sort((x, y) => x - y)[10];
console.log(JSON.stringify({ state: mt.hostAllocator(), meanFaults, medianFaults }));
`;

function runChild(env: Record<string, string>): { state: mt.HostAllocatorState; meanFaults: number; medianFaults: number } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === '') delete childEnv[key];
  const out = execFileSync(tsx, ['--eval', childScript], { cwd: root, env: childEnv, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const pagesPerRound = (3 * 2048 * 1024 * 4) / 4096;

describe.runIf(process.platform === 'linux')('host allocator', () => {
  it('is tuned in this process and reports its thresholds', () => {
    expect(mt.hostAllocator()).toEqual({ tuned: true, mmapThreshold: 32 * 2 ** 20, trimThreshold: 256 * 2 ** 20 });
  });

  it('keeps freed activations mapped: a step-like round faults almost none of the pages it touches', () => {
    const tuned = runChild({ MTL_TORCH_MALLOC: '', GLIBC_TUNABLES: '' });
    console.log(`tuned allocator: median ${tuned.medianFaults}, mean ${tuned.meanFaults.toFixed(0)} page faults per round of ${pagesPerRound} pages`);
    expect(tuned.state.tuned).toBe(true);
    expect(tuned.medianFaults).toBeLessThan(64);
    expect(tuned.meanFaults).toBeLessThan(pagesPerRound / 4);
  });

  it('MTL_TORCH_MALLOC=system leaves glibc as it is', () => {
    // glibc's own dynamic thresholds then decide; measured: most rounds fault 4064-6113 pages,
    // though some runs settle. The tuned allocator's median is 0-1.
    const system = runChild({ MTL_TORCH_MALLOC: 'system', GLIBC_TUNABLES: '' });
    expect(system.state).toEqual({ tuned: false, mmapThreshold: 0, trimThreshold: 0, reason: 'MTL_TORCH_MALLOC=system' });
  });

  it('a glibc.malloc tunable set by the user wins', () => {
    const user = runChild({ MTL_TORCH_MALLOC: '', GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1048576' });
    expect(user.state.tuned).toBe(false);
    expect(user.state.reason).toMatch(/GLIBC_TUNABLES/);
  });

  it('releaseHostMemory() gives the memory kept for reuse back to the system', () => {
    // 64 MiB of 8 MiB tensors: each under the mmap threshold, so all of it is heap memory that the
    // tuned allocator keeps after dispose.
    mt.tidy(() => { for (let i = 0; i < 8; i++) mt.ones([2048, 1024]); });
    const kept = process.memoryUsage().rss;
    expect(mt.releaseHostMemory()).toBe(true);
    const released = kept - process.memoryUsage().rss;
    expect(released).toBeGreaterThan(32 * 2 ** 20);
  });
});
