/**
 * The caching host allocator: freed CPU tensor blocks of 64 KiB and more are kept by size class
 * and reused, so a step-like pattern stops page-faulting; its limit, the opt-out and the release
 * work. Page faults are counted in child processes, one per setting.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

// Three 8 MiB activations live at once, then all freed, 21 times: through glibc most rounds fault
// their pages in again (measured 2000-6000 of 6144 pages per round); from the cache, none.
const childScript = `
import * as mt from ${JSON.stringify(path.join(root, 'lib', 'index.ts'))};
const round = () => mt.tidy(() => { const a = mt.zeros([2048, 1024]); const b = a.add(1); const c = b.mul(2); c.sum(); });
for (let i = 0; i < 3; i++) round();
const faults = [];
for (let i = 0; i < 21; i++) {
  const before = process.resourceUsage().minorPageFault;
  round();
  faults.push(process.resourceUsage().minorPageFault - before);
}
const meanFaults = faults.reduce((x, y) => x + y, 0) / faults.length;
console.log(JSON.stringify({ state: mt.hostAllocator(), meanFaults }));
`;

function runChild(env: Record<string, string | undefined>): { state: mt.HostAllocatorState; meanFaults: number } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  const out = execFileSync(tsx, ['--eval', childScript], { cwd: root, env: childEnv, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const pagesPerRound = (3 * 2048 * 1024 * 4) / 4096;

// scripts/asan/run.sh turns the cache off in the test processes (ASan must see every free), so the
// tests of this process's own cache do not apply there; the child processes still test it.
const cacheOffHere = process.env.MTL_TORCH_MALLOC === 'system';

describe('host allocator', () => {
  it.skipIf(cacheOffHere)('serves this process, with the default 2 GiB limit', () => {
    const state = mt.hostAllocator();
    expect(state.caching).toBe(true);
    expect(state.cacheLimit).toBe(2048 * 2 ** 20);
    expect(state.reason).toBeUndefined();
  });

  it('reuses freed blocks: a step-like round faults almost none of the pages it touches', () => {
    const cached = runChild({ MTL_TORCH_MALLOC: undefined, MTL_TORCH_HOST_CACHE_MB: undefined });
    console.log(
      `caching allocator: ${cached.meanFaults.toFixed(0)} page faults per round of ${pagesPerRound} pages; ` +
        `${cached.state.hits} hits, ${cached.state.misses} misses`,
    );
    expect(cached.state.caching).toBe(true);
    expect(cached.meanFaults).toBeLessThan(pagesPerRound / 20);
    // Every 8 MiB block after the first round comes from the cache.
    expect(cached.state.hits).toBeGreaterThanOrEqual(3 * 23);
    expect(cached.state.misses).toBeLessThanOrEqual(3 + 8);
  });

  it('MTL_TORCH_MALLOC=system and MTL_TORCH_HOST_CACHE_MB=0 turn it off; a small limit sends the excess back', () => {
    const system = runChild({ MTL_TORCH_MALLOC: 'system', MTL_TORCH_HOST_CACHE_MB: undefined });
    expect(system.state).toMatchObject({ caching: false, reason: 'MTL_TORCH_MALLOC=system' });
    const zero = runChild({ MTL_TORCH_MALLOC: undefined, MTL_TORCH_HOST_CACHE_MB: '0' });
    expect(zero.state).toMatchObject({ caching: false, reason: 'MTL_TORCH_HOST_CACHE_MB=0' });
    // 20 MiB holds two of the three 8 MiB blocks: the third is freed, the cache stays under its limit.
    const small = runChild({ MTL_TORCH_MALLOC: undefined, MTL_TORCH_HOST_CACHE_MB: '20' });
    expect(small.state.caching).toBe(true);
    expect(small.state.cacheLimit).toBe(20 * 2 ** 20);
    expect(small.state.cachedBytes).toBeLessThanOrEqual(20 * 2 ** 20);
    expect(small.state.cachedBytes).toBe(2 * 8 * 2 ** 20);
  });

  it.skipIf(cacheOffHere)('sizes within a size class share blocks (a batch a little longer reuses the last one)', () => {
    mt.releaseHostMemory();
    mt.tidy(() => {
      mt.zeros([1000, 100]);
    }); // 400,000 bytes: the class of 2^18 · 1.75 = 458,752
    const before = mt.hostAllocator();
    mt.tidy(() => {
      mt.zeros([1100, 100]);
    }); // 440,000 bytes: the same class
    const after = mt.hostAllocator();
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(0);
  });

  it.skipIf(cacheOffHere)('releaseHostMemory() gives the kept blocks back to the system', () => {
    mt.tidy(() => {
      for (let i = 0; i < 8; i++) mt.ones([2048, 1024]);
    });
    const kept = mt.hostAllocator().cachedBytes;
    expect(kept).toBeGreaterThanOrEqual(64 * 2 ** 20);
    const rss = process.memoryUsage().rss;
    expect(mt.releaseHostMemory()).toBe(kept);
    expect(mt.hostAllocator().cachedBytes).toBe(0);
    expect(rss - process.memoryUsage().rss).toBeGreaterThan(32 * 2 ** 20);
  });

  it.runIf(cacheOffHere)('MTL_TORCH_MALLOC=system in this process: the cache is off and says why', () => {
    expect(mt.hostAllocator()).toMatchObject({ caching: false, reason: 'MTL_TORCH_MALLOC=system' });
  });

  it('tensors from the cache hold correct, independent data', () => {
    const a = mt.full([300, 300], 3);
    a.dispose();
    const b = mt.arange(0, 90_000).reshape([300, 300]);
    const c = mt.full([300, 300], 3);
    expect(b.sum().item()).toBe((90_000 * 89_999) / 2);
    expect(c.sum().item()).toBe(3 * 90_000);
    b.dispose();
    c.dispose();
  });
});
