/**
 * The trainer drives the real multi-task model (mt.multitask) through the same TrainableModel
 * interface as the reference model: a joint PCGrad run (per-task gradients of the shared encoder)
 * lowers both tasks' losses, evaluation reports metrics, and the busy flag guards the model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { rng, sharesInputs } from '../helpers/train.ts';

function tokenTasks(rows: number, seed: number) {
  const random = rng(seed);
  const inputIds = Array.from({ length: rows }, () =>
    Array.from({ length: 3 + Math.floor(random() * 5) }, () => 1 + Math.floor(random() * 11)),
  );
  // parity: is token 5 present; count: how many tokens are > 6 (a regression target)
  const parity = Dataset.fromArrays({
    inputIds,
    targets: inputIds.map((r) => (r.includes(5) ? 1 : 0)),
    targetKind: 'classification',
    vocabSize: 12,
  });
  const count = Dataset.fromArrays({
    inputIds,
    targets: inputIds.map((r) => r.filter((t) => t > 6).length),
    targetKind: 'regression',
    vocabSize: 12,
  });
  return { parity, count };
}

describe('mt.Trainer on mt.multitask', () => {
  it('joint × PCGrad trains the shared encoder and both heads', async () => {
    mt.manualSeed(0);
    const model = mt.multitask({
      input: { vocabSize: 12, maxLength: 8 },
      encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 },
      sharing: mt.sharing.sharedEncoder(),
      tasks: { parity: mt.tasks.classification({ classes: 2, decoderLayers: 1 }), count: mt.tasks.regression() },
    });
    const sets = tokenTasks(256, 1);
    const trainer = new mt.Trainer(model, { weighting: mt.weighting.pcgrad(), optimizer: mt.optim.adamW({ lr: 3e-3 }), batchSize: 32 });
    const history = await trainer.fit(sets, { epochs: 6 });
    const first = history.epochHistory[0]!.losses;
    const last = history.epochHistory.at(-1)!.losses;
    expect(last.parity!).toBeLessThan(first.parity!);
    expect(last.count!).toBeLessThan(first.count!);
    const metrics = await trainer.evaluate(sets);
    expect(metrics.parity!.accuracy).toBeGreaterThan(0.5);
    expect(Number.isFinite(metrics.count!.mse)).toBe(true);
    const running = trainer.fit(sets, { steps: 50 });
    await expect(new mt.Trainer(model).fit(sets, { steps: 1 })).rejects.toMatchObject({ code: 'ERR_MODEL_BUSY' });
    await running;
  });
});

describe('tasks that share inputs (Dataset.withTargets)', () => {
  const spec = () => ({
    input: { vocabSize: 12, maxLength: 8 },
    encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 },
    sharing: mt.sharing.sharedEncoder(),
    tasks: { parity: mt.tasks.classification({ classes: 2, decoderLayers: 1 }), count: mt.tasks.regression() },
  });
  function sharedSets(rows: number, seed: number) {
    const { parity, count: separateCount } = tokenTasks(rows, seed);
    const counts = Array.from(separateCount.tensors().targets!.dataSync() as Float32Array);
    separateCount.dispose();
    return { parity, count: parity.withTargets({ targets: counts, targetKind: 'regression' }) };
  }

  it('a derived data set holds the same inputs and its own targets', () => {
    const { parity, count } = sharedSets(40, 3);
    const a = parity.batch([0, 5, 7]);
    const b = count.batch([0, 5, 7]);
    expect(b.inputIds.toArray()).toEqual(a.inputIds.toArray());
    expect(b.lengths.toArray()).toEqual(a.lengths.toArray());
    expect(count.targetKind).toBe('regression');
    expect(count.size).toBe(parity.size);
    expect(count.padId).toBe(parity.padId);
    expect(b.targets!.dtype).toBe('float32');
  });

  // That fit then draws the same rows for both tasks and encodes each batch once:
  // test/native/model_test.cc (DataSetsSharingInputsAreEncodedOncePerStep).
  it('withTargets data sets share their inputs, and fit trains on them', async () => {
    mt.manualSeed(0);
    const shared = mt.multitask(spec());
    const sets = sharedSets(96, 4);
    expect(sharesInputs(sets.parity, sets.count)).toBe(true);
    await new mt.Trainer(shared, { batchSize: 16 }).fit(sets, { steps: 5 });

    mt.manualSeed(0);
    const separate = mt.multitask(spec());
    const separateSets = tokenTasks(96, 4);
    expect(sharesInputs(separateSets.parity, separateSets.count)).toBe(false);
    await new mt.Trainer(separate, { batchSize: 16 }).fit(separateSets, { steps: 5 });
  });

  it('training on shared inputs learns both tasks and resumes exactly from a checkpoint', async () => {
    const options = { batchSize: 16, optimizer: mt.optim.adamW({ lr: 3e-3 }), seed: 7 };
    const sets = sharedSets(128, 5);
    mt.manualSeed(1);
    const straight = mt.multitask(spec());
    const history = await new mt.Trainer(straight, options).fit(sets, { steps: 48 });
    const first = history.epochHistory[0]!.losses;
    const last = history.epochHistory.at(-1)!.losses;
    expect(last.parity!).toBeLessThan(first.parity!);
    expect(last.count!).toBeLessThan(first.count!);

    // 24 steps, a checkpoint, and a new trainer resuming to 48 equal the straight 48, bit for bit:
    // the shared stream's position is saved for both tasks and restored.
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-shared-resume-'));
    try {
      mt.manualSeed(1);
      const cut = mt.multitask(spec());
      await new mt.Trainer(cut, options).fit(sets, { steps: 24, checkpointDir: dir });
      mt.manualSeed(99);
      const resumed = mt.multitask(spec());
      await new mt.Trainer(resumed, options).fit(sets, { steps: 48, resumeFrom: path.join(dir, 'checkpoint.safetensors') });
      const expected = straight.stateDict();
      const got = resumed.stateDict();
      for (const [name, value] of Object.entries(expected)) {
        expect(Array.from(got[name]!.dataSync() as Float32Array), name).toEqual(Array.from(value.dataSync() as Float32Array));
      }
      expect(Array.from(cut.stateDict()['tasks.parity.out.weight']!.dataSync() as Float32Array)).not.toEqual(
        Array.from(expected['tasks.parity.out.weight']!.dataSync() as Float32Array),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('withTargets refuses bad targets with the field named', () => {
    const { parity } = tokenTasks(10, 6);
    expect(() => parity.withTargets({ targets: [1, 2], targetKind: 'classification' })).toThrow(
      /'targets' has 2 entries but the data set has 10 examples/,
    );
    expect(() => parity.withTargets({ targets: new Array(10).fill(0), targetKind: 'nope' as never })).toThrow(/targetKind/);
    expect(() => parity.withTargets({ targets: new Array(10).fill(-1), targetKind: 'classification' })).toThrow(
      /Dataset.withTargets.*'targets\[0\]' must be a non-negative class id/,
    );
    expect(() => parity.withTargets({ targets: new Array(10).fill(3), targetKind: 'classification', numClasses: 2 })).toThrow(
      /out of range for 2 classes/,
    );
    parity.dispose();
    expect(() => parity.withTargets({ targets: new Array(10).fill(0), targetKind: 'classification' })).toThrow(/disposed/);
  });
});

describe('per-position features (an input.features model trained from a data set)', () => {
  function signTask(rows: number, seed: number) {
    const random = rng(seed);
    const features = Array.from({ length: rows }, () =>
      Array.from({ length: 2 + Math.floor(random() * 5) }, () => [random() * 2 - 1, random() * 2 - 1, random() * 2 - 1]),
    );
    // Is the first coordinate's sum over the positions positive?
    const targets = features.map((row) => (row.reduce((sum, v) => sum + v[0]!, 0) > 0 ? 1 : 0));
    return { features, set: Dataset.fromArrays({ features, targets, targetKind: 'classification' }) };
  }

  it('batches hold (B, L, F) trimmed to the longest row, and fit learns the task', async () => {
    const { features, set } = signTask(320, 8);
    const batch = set.batch([0, 1]);
    const longest = Math.max(features[0]!.length, features[1]!.length);
    expect(batch.features!.shape).toEqual([2, longest, 3]);
    expect(batch.lengths.toArray()).toEqual([features[0]!.length, features[1]!.length]);
    expect((batch.features!.toArray() as number[][][])[0]!.slice(0, features[0]!.length).map((v) => v.map((x) => Math.fround(x)))).toEqual(
      features[0]!.map((v) => v.map((x) => Math.fround(x))),
    );

    mt.manualSeed(3);
    const model = mt.multitask({
      input: { features: 3, maxLength: 8 },
      encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 },
      tasks: { sign: mt.tasks.classification({ classes: 2 }) },
    });
    const trainer = new mt.Trainer(model, { batchSize: 32, optimizer: mt.optim.adamW({ lr: 3e-3 }) });
    const history = await trainer.fit({ sign: set }, { epochs: 12 });
    expect(history.epochHistory.at(-1)!.losses.sign!).toBeLessThan(history.epochHistory[0]!.losses.sign!);
    const metrics = await trainer.evaluate({ sign: signTask(200, 9).set });
    expect(metrics.sign!.accuracy).toBeGreaterThan(0.8);
  });

  it('refuses per-position features that do not match the tokens, with the entry named', () => {
    expect(() =>
      Dataset.fromArrays({
        inputIds: [[1, 2], [3]],
        features: [
          [[1], [2]],
          [[3], [4]],
        ],
        targets: [0, 1],
        targetKind: 'classification',
      }),
    ).toThrow(/'features\[1\]' must have one vector per token \(1\), got 2/);
    expect(() => Dataset.fromArrays({ features: [[[1, 2], [3]]], targets: [0], targetKind: 'classification' })).toThrow(
      /'features' is ragged: features\[0\]\[1\] must have 2 values/,
    );
    expect(() => Dataset.fromArrays({ features: [[[1, Number.NaN]]], targets: [0], targetKind: 'classification' })).toThrow(
      /'features\[0\]\[0\]\[1\]' must be a finite number/,
    );
    expect(() =>
      Dataset.fromTensors({
        inputIds: mt.ones([2, 3], { dtype: 'int64' }),
        lengths: mt.tensor([3, 3], { dtype: 'int64' }),
        features: mt.zeros([2, 4, 5]),
        targets: mt.tensor([0, 1], { dtype: 'int64' }),
        targetKind: 'classification',
      }),
    ).toThrow(/per-position 'features' must have the length of 'inputIds' \(3\), got 4/);
  });
});
