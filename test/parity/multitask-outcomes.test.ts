/**
 * Multi-task options judged by what they change, not by whether they are accepted: a sampler under
 * joint training changes each task's examples per step; DWA with a step window moves λ within one
 * epoch; Δm is the mean of signed relative changes; the diagnostics equal a direct PyTorch
 * computation from the per-task gradients of the same model on the same batches.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { deltaM } from '../../lib/run/run.ts';
import type { RunTask } from '../../lib/run/tasks.ts';
import { featureModel, runPython, syntheticProblem, tempDir } from '../helpers/train.ts';

const TASKS = {
  big: { kind: 'classification', classes: 3 },
  mid: { kind: 'classification', classes: 2 },
  small: { kind: 'regression' },
} as const;

function problem() {
  const p = syntheticProblem(
    4,
    {
      big: { kind: 'classification', classes: 3, rows: 600 },
      mid: { kind: 'classification', classes: 2, rows: 200 },
      small: { kind: 'regression', rows: 50 },
    },
    11,
  );
  return { big: p.toDataset('big', 600), mid: p.toDataset('mid', 200), small: p.toDataset('small', 50) };
}

/** Each step's examples per task, as the step events report them. */
async function examplesPerStep(sampler: mt.Sampler | undefined, steps = 2): Promise<Record<string, number>[]> {
  const data = problem();
  mt.manualSeed(1);
  const trainer = new mt.Trainer(featureModel(4, TASKS), {
    strategy: mt.strategy.joint(),
    sampler,
    batchSize: 20,
    optimizer: mt.optim.adamW({ lr: 1e-3 }),
  });
  const seen: Record<string, number>[] = [];
  await trainer.fit(
    { big: data.big.dataset, mid: data.mid.dataset, small: data.small.dataset },
    {
      steps,
      onProgress: (e) => {
        if (e.kind === 'step') seen.push(e.examples);
      },
    },
  );
  return seen;
}

// 50 rows of the small task at 20 a step: a third step would hold the pass's last 10, so two steps.
describe('a sampler under joint training shares out the step’s K·B = 3·20 = 60 examples', () => {
  it('without a sampler every task gets its batch of 20', async () => {
    expect(await examplesPerStep(undefined)).toEqual(Array(2).fill({ big: 20, mid: 20, small: 20 }));
  });

  it('proportional: 60·(600, 200, 50)/850 = 42.35, 14.12, 3.53 → largest remainder 42, 14, 4', async () => {
    expect(await examplesPerStep(mt.sampler.proportional())).toEqual(Array(2).fill({ big: 42, mid: 14, small: 4 }));
  });

  it('temperature 2: p ∝ √n = 24.49, 14.14, 7.07 → 32.15, 18.56, 9.28 → 32, 19, 9', async () => {
    expect(await examplesPerStep(mt.sampler.temperature(2))).toEqual(Array(2).fill({ big: 32, mid: 19, small: 9 }));
  });

  it('uniform: 20 each; round robin (no distribution) is refused', async () => {
    expect(await examplesPerStep(mt.sampler.uniform())).toEqual(Array(2).fill({ big: 20, mid: 20, small: 20 }));
    await expect(examplesPerStep(mt.sampler.roundRobin())).rejects.toThrow(/cannot share out a joint step's examples/);
  });
});

describe('DWA with a window in steps', () => {
  async function lambdas(window: number): Promise<Record<string, number>[]> {
    const data = problem();
    mt.manualSeed(2);
    // An epoch is the longest task's pass: 600 rows / batch 8 = 75 steps, so all 60 steps are in epoch 0.
    const trainer = new mt.Trainer(featureModel(4, TASKS), {
      weighting: mt.weighting.dwa({ window }),
      batchSize: 8,
      optimizer: mt.optim.adamW({ lr: 1e-2 }),
    });
    const seen: Record<string, number>[] = [];
    await trainer.fit(
      { big: data.big.dataset, mid: data.mid.dataset, small: data.small.dataset },
      {
        steps: 60,
        onProgress: (e) => {
          if (e.kind === 'step') {
            expect(e.epoch).toBe(0);
            seen.push(e.lambdas);
          }
        },
      },
    );
    return seen;
  }

  it('moves λ inside one epoch; per-epoch DWA (window 0) cannot, and says so by staying at 1', async () => {
    const perEpoch = await lambdas(0);
    for (const step of perEpoch) for (const v of Object.values(step)) expect(v).toBe(1);
    const windowed = await lambdas(5);
    // The first two windows have no history (λ = 1); from then on λ follows the loss ratios.
    for (const step of windowed.slice(0, 10)) for (const v of Object.values(step)) expect(v).toBe(1);
    const later = windowed.slice(10).flatMap((step) => Object.values(step));
    expect(Math.max(...later.map((v) => Math.abs(v - 1)))).toBeGreaterThan(0.01);
    // λ sums to K, as DWA's softmax × K does.
    for (const step of windowed) expect(Object.values(step).reduce((a, b) => a + b, 0)).toBeCloseTo(3, 5);
  });
});

describe('Δm (Maninis et al. 2019): mean over tasks of the signed relative change of the main metric, in %', () => {
  it('equals the hand computation', () => {
    const tasks = [
      { name: 'g2p', head: { kind: 'sequence' }, mainMetric: 'per' },
      { name: 'gender', head: { kind: 'classification' }, mainMetric: 'accuracy' },
      { name: 'stress', head: { kind: 'classification' }, mainMetric: 'accuracy' },
    ] as unknown as RunTask[];
    const multiTask = { g2p: { per: 0.18, wer: 0.5 }, gender: { accuracy: 0.84 }, stress: { accuracy: 0.75 } };
    const singleTask = {
      g2p: { g2p: { per: 0.2, wer: 0.55 } },
      gender: { gender: { accuracy: 0.8 } },
      stress: { stress: { accuracy: 0.78 } },
    };
    const result = deltaM(multiTask, singleTask, tasks);
    // g2p: PER is lower-is-better: −(0.18 − 0.20)/0.20 = +0.10; gender: (0.84 − 0.80)/0.80 = +0.05;
    // stress: (0.75 − 0.78)/0.78 = −0.0384615…; Δm = 100·(0.10 + 0.05 − 0.0384615)/3 = 3.71795 %.
    expect(result.deltas.g2p!.delta).toBeCloseTo(0.1, 12);
    expect(result.deltas.gender!.delta).toBeCloseTo(0.05, 12);
    expect(result.deltas.stress!.delta).toBeCloseTo(-0.03 / 0.78, 12);
    expect(result.deltaM).toBeCloseTo(3.717948717948718, 10);
    expect(result.deltas.g2p).toMatchObject({ metric: 'per', direction: 'min', multiTask: 0.18, singleTask: 0.2 });
  });

  it('leaves out tasks without a baseline, and has no Δm when none has one', () => {
    const tasks = [
      { name: 'a', head: { kind: 'classification' }, mainMetric: 'accuracy' },
      { name: 'b', head: { kind: 'classification' }, mainMetric: 'accuracy' },
    ] as unknown as RunTask[];
    const partial = deltaM({ a: { accuracy: 0.9 }, b: { accuracy: 0.5 } }, { a: { a: { accuracy: 0.6 } } }, tasks);
    expect(Object.keys(partial.deltas)).toEqual(['a']);
    expect(partial.deltaM).toBeCloseTo(50, 10);
    expect(deltaM({ a: { accuracy: 0.9 } }, {}, tasks).deltaM).toBeUndefined();
  });
});

describe('diagnostics equal a direct PyTorch computation (the twin, the same weights and batches)', () => {
  it('gradient cosine and lookahead affinity of every task pair', async () => {
    const dir = tempDir('mtl-diagnostics-');
    const rows = { big: 30, mid: 24, small: 18 };
    // Each task's whole (small) data set is its batch, so the shuffled order cannot change it.
    const sets = {
      big: syntheticProblem(4, { big: { kind: 'classification', classes: 3, rows: rows.big } }, 5).toDataset('big', rows.big),
      mid: syntheticProblem(4, { mid: { kind: 'classification', classes: 2, rows: rows.mid } }, 6).toDataset('mid', rows.mid),
      small: syntheticProblem(4, { small: { kind: 'regression', rows: rows.small } }, 7).toDataset('small', rows.small),
    };
    mt.manualSeed(4);
    const model = featureModel(4, TASKS, { layers: 2 });
    await model.save(path.join(dir, 'model'));
    const tensors: Record<string, mt.Tensor> = {};
    for (const [task, d] of Object.entries(sets)) {
      tensors[`${task}.features`] = mt.tensor(Float32Array.from(d.features.flat()), [d.features.length, 1, 4]);
      tensors[`${task}.lengths`] = mt.ones([d.features.length], { dtype: 'int64' });
      tensors[`${task}.targets`] = task === 'small' ? mt.tensor(d.targets) : mt.tensor(d.targets, undefined, { dtype: 'int64' });
    }
    mt.save(path.join(dir, 'data.safetensors'), tensors);
    const lr = 0.05;
    writeFileSync(
      path.join(dir, 'spec.json'),
      JSON.stringify({
        model: path.join(dir, 'model'),
        data: path.join(dir, 'data.safetensors'),
        tasks: ['big', 'mid', 'small'],
        lookaheadRate: lr,
        out: path.join(dir, 'out.json'),
      }),
    );
    runPython('diagnostics.py', [path.join(dir, 'spec.json')]);
    const expected = JSON.parse(readFileSync(path.join(dir, 'out.json'), 'utf8')) as { cosine: number[][]; affinity: number[][] };

    const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr }), batchSize: 64 });
    let measured: mt.TaskDiagnostics | undefined;
    await trainer.fit(
      { big: sets.big.dataset, mid: sets.mid.dataset, small: sets.small.dataset },
      {
        steps: 1,
        diagnosticsEvery: 1,
        onProgress: (e) => {
          if (e.kind === 'step' && e.diagnostics) measured = e.diagnostics;
        },
      },
    );
    expect(measured).toBeDefined();
    expect(measured!.tasks).toEqual(['big', 'mid', 'small']);
    expect(measured!.lookaheadRate).toBe(lr);
    expect(measured!.seconds).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        expect(Math.abs(measured!.cosine[i]![j]! - expected.cosine[i]![j]!), `cosine[${i}][${j}]`).toBeLessThan(1e-5);
        expect(Math.abs(measured!.affinity[i]![j]! - expected.affinity[i]![j]!), `affinity[${i}][${j}]`).toBeLessThan(
          1e-5 + 1e-3 * Math.abs(expected.affinity[i]![j]!),
        );
      }
    }
    // The measurement says something: the tasks' gradients are neither identical nor all orthogonal.
    expect(Math.abs(expected.cosine[0]![1]!)).toBeGreaterThan(1e-3);
    expect(Math.abs(expected.cosine[0]![1]!)).toBeLessThan(0.999);

    // A warm-up's first step has a learning rate of 0: the lookahead takes the base rate instead, and measures the same.
    const warming = await mt.MultiTaskModel.load(path.join(dir, 'model'));
    let atWarmUp: mt.TaskDiagnostics | undefined;
    await new mt.Trainer(warming, {
      optimizer: mt.optim.adamW({ lr }),
      schedule: mt.schedule.warmupLinear({ warmupSteps: 10 }),
      batchSize: 64,
    }).fit(
      { big: sets.big.dataset, mid: sets.mid.dataset, small: sets.small.dataset },
      {
        steps: 1,
        diagnosticsEvery: 1,
        onProgress: (e) => {
          if (e.kind === 'step' && e.diagnostics) atWarmUp = e.diagnostics;
        },
      },
    );
    expect(atWarmUp!.lookaheadRate).toBe(lr);
    expect(atWarmUp!.affinity).toEqual(measured!.affinity);
  }, 120_000);
});
