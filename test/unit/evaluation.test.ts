// Evaluation of a sequence task: the trainer's phoneme and word error rates are those of the
// model's own generations, compared with the references before their EOS.
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

describe('sequence evaluation', () => {
  it('reports PER and WER of greedy generations against the references', async () => {
    mt.manualSeed(3);
    const eos = 2;
    const inputIds = Array.from({ length: 20 }, (_, i) => [3 + (i % 5), 3 + ((i * 7) % 5), 3 + ((i * 3) % 5)]);
    // Each target is the input reversed, then EOS.
    const targets = inputIds.map((row) => [...row].reverse().concat(eos));
    const dataset = mt.data.Dataset.fromArrays({ inputIds, targets, targetKind: 'sequence', vocabSize: 8, numClasses: 8, padId: 0 });
    const model = mt.multitask({
      input: { vocabSize: 8, maxLength: 4 },
      encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 },
      tasks: { rev: mt.tasks.sequence({ vocabSize: 8, maxLength: 5, decoderLayers: 1, bosId: 1, eosId: eos, padId: 0 }) },
    });
    const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 0.01 }), batchSize: 8, seed: 0 });
    const batch = dataset.batch(Array.from({ length: dataset.size }, (_, i) => i));
    const references = targets.map((row) => row.slice(0, -1));
    const check = async () => {
      const metrics = (await trainer.evaluate({ rev: dataset })).rev!;
      const generated = model.generate('rev', { inputIds: batch.inputIds, lengths: batch.lengths }).sequences.toArray() as number[][];
      const hypotheses = generated.map((row) => (row.includes(eos) ? row.slice(0, row.indexOf(eos)) : row));
      const expected = mt.metrics.sequenceErrors(hypotheses, references);
      expect(metrics.per).toBeCloseTo(expected.phonemeErrorRate, 10);
      expect(metrics.wer).toBeCloseTo(expected.wordErrorRate, 10);
      return metrics;
    };
    const untrained = await check();
    expect(untrained.per).toBeGreaterThan(0.5);
    await trainer.fit({ rev: dataset }, { steps: 30 });
    const trained = await check();
    expect(trained.per).toBeLessThan(untrained.per!);
  });
});
