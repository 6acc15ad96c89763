/**
 * The fuzz test (issue #15): seeded, 20,000 calls over tensors, ops, nn blocks, models, data sets,
 * trainer options, fits, save/load, model folders and checkpoints, in batches of child processes
 * (test/processes/fuzz/run.ts). No crash, no hang, no error that is not a TorchError, and every class of bad
 * input refused. Longer runs: `npm run fuzz -- --calls 500000`; MTL_TORCH_FUZZ_CALLS and
 * MTL_TORCH_FUZZ_SEED change this test's.
 */
import { describe, expect, it } from 'vitest';
import { fuzz } from './fuzz/run.ts';

const CALLS = Number(process.env.MTL_TORCH_FUZZ_CALLS ?? 20_000);
const SEED = Number(process.env.MTL_TORCH_FUZZ_SEED ?? 1);

describe('fuzz', () => {
  it(`${CALLS} seeded calls: no crash, no hang, only TorchErrors, no bad input accepted`, async () => {
    const summary = await fuzz({ calls: CALLS, seed: SEED, batchCalls: 2000, jobs: 2 });
    console.log(
      `fuzz: ${summary.calls} calls in ${summary.batches} batches, ${summary.seconds} s; accepted ${summary.accepted}, refused ${JSON.stringify(summary.refused)}`,
    );
    expect(summary.crashes).toEqual([]);
    expect(summary.hangs).toEqual([]);
    expect(summary.escaped).toEqual({});
    expect(summary.acceptedBad).toEqual({});
    expect(summary.calls).toBe(CALLS);
  }, 1_800_000);
});
