/**
 * The trainer drives the real multi-task model (mt.multitask) through the same TrainableModel
 * interface as the reference model: a joint PCGrad run (per-task gradients of the shared encoder)
 * lowers both tasks' losses, evaluation reports metrics, and the busy flag guards the model.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';
import { Dataset } from '../lib/data/dataset.ts';
import { rng } from './helpers/train.ts';

function tokenTasks(rows: number, seed: number) {
  const random = rng(seed);
  const inputIds = Array.from({ length: rows }, () => Array.from({ length: 3 + Math.floor(random() * 5) }, () => 1 + Math.floor(random() * 11)));
  // parity: is token 5 present; count: how many tokens are > 6 (a regression target)
  const parity = Dataset.fromArrays({ inputIds, targets: inputIds.map((r) => (r.includes(5) ? 1 : 0)), targetKind: 'class', vocabSize: 12 });
  const count = Dataset.fromArrays({ inputIds, targets: inputIds.map((r) => r.filter((t) => t > 6).length), targetKind: 'regression', vocabSize: 12 });
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
