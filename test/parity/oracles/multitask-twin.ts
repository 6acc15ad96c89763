/**
 * Running the PyTorch twin (python/multitask_twin.py, through test/parity/oracles/multitask_twin_jobs.py) on saved mtl-torch models: the
 * jobs of a test file go to ONE Python process, each job writing its results as safetensors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import * as mt from '../../../lib/index.ts';

import { PYTHON } from '../../helpers/reference.ts';

export { PYTHON };
const SCRIPT = fileURLToPath(new URL('./multitask_twin_jobs.py', import.meta.url));

export interface TwinJob {
  model: string;
  inputs: string;
  output: string;
  tasks?: string[];
  grads?: boolean;
  generate?: { task: string; beamSize?: number; maxLength?: number; lengthPenalty?: number }[];
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs every job in one Python process and returns each job's results by name. */
export function runTwin(jobs: TwinJob[], dir: string): Record<string, mt.Tensor>[] {
  const jobsFile = path.join(dir, 'jobs.json');
  writeFileSync(jobsFile, JSON.stringify(jobs));
  execFileSync(PYTHON, [SCRIPT, jobsFile], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1' } });
  return jobs.map((job) => mt.load(job.output));
}

/** Replaces every parameter with seeded N(0, scale²) values, so that zero-initialised parts
 * (adapter up-projections, LoRA B) take part in the comparison too. */
export function randomizeWeights(model: mt.MultiTaskModel, seed: number, scale = 0.3): void {
  mt.manualSeed(seed);
  const fresh: Record<string, mt.Tensor> = {};
  for (const [name, p] of model.namedParameters()) fresh[name] = mt.randn(p.shape).mul(scale);
  model.loadStateDict(fresh, { strict: false });
}

/** Worst |a - e| / (1 + |e|) within tol (the fp32 parity rule of the nn tests). */
export function expectClose(actual: mt.Tensor | undefined | null, expected: mt.Tensor | undefined, tol: number, label: string): void {
  expect(actual, `${label}: missing here`).toBeTruthy();
  expect(expected, `${label}: missing in the twin`).toBeTruthy();
  expect(actual!.shape, `${label}: shape`).toEqual(expected!.shape);
  const a = actual!.float().dataSync() as Float32Array;
  const e = expected!.float().dataSync() as Float32Array;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < e.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) / (1 + Math.abs(e[i]!));
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  expect(worst, `${label}: worst relative error ${worst} at ${at} (${a[at]} vs ${e[at]})`).toBeLessThanOrEqual(tol);
}

/** Token ids (B, L) right-padded with 0 after each row's length, ids in [3, vocab). */
export function paddedInputs(
  lengths: number[],
  maxLength: number,
  vocab: number,
  seed: number,
): { inputIds: mt.Tensor; lengths: mt.Tensor } {
  mt.manualSeed(seed);
  const ids = mt.randint(3, vocab, [lengths.length, maxLength]).dataSync() as BigInt64Array;
  const data: number[][] = lengths.map((len, b) =>
    Array.from({ length: maxLength }, (_, i) => (i < len ? Number(ids[b * maxLength + i]) : 0)),
  );
  return { inputIds: mt.tensor(data, { dtype: 'int64' }), lengths: mt.tensor(lengths, { dtype: 'int64' }) };
}
