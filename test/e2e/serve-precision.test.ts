/**
 * Inference precisions (MultiTaskModel.precision, native/core/nn/inference.h): bf16 autocast and
 * int8 dynamic quantization of the linear layers stay within stated tolerances of fp32, on a
 * trained fixture model (its held-out metrics) and on a token model with attention over 24
 * positions (its raw outputs); fp32 comes back bit-identical; predictTasks honours the precision.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { ErrorCode } from '../../lib/errors.ts';
import { featureModel, rng, syntheticProblem } from '../helpers/train.ts';

// Tolerances: |Δ accuracy| and |Δ R²-like error| on held-out data of the trained model, and the
// largest output difference relative to the outputs' spread on the token model.
const METRIC_TOLERANCE = 0.01; // 1 point of accuracy
const RELATIVE_OUTPUT_TOLERANCE = { bf16: 0.05, int8: 0.05 };

mt.setNumThreads(2);
const problem = syntheticProblem(8, { a: { kind: 'classification', classes: 3, rows: 600 }, r: { kind: 'regression', rows: 600 } }, 5);
const train = { a: problem.toDataset('a', 600).dataset, r: problem.toDataset('r', 600).dataset };
const heldOut = { a: problem.toDataset('a', 400).dataset, r: problem.toDataset('r', 400).dataset };

function tokenModel() {
  mt.manualSeed(3);
  return mt
    .multitask({
      input: { vocabSize: 200, maxLength: 32 },
      encoder: { numLayers: 2, dModel: 64, nhead: 4, dimFeedforward: 128, dropout: 0 },
      tasks: { value: mt.tasks.regression(), label: mt.tasks.classification({ classes: 4 }) },
    })
    .eval();
}

function tokenInputs() {
  const random = rng(9);
  const lengths = Array.from({ length: 16 }, () => 4 + Math.floor(random() * 20));
  const ids = lengths.flatMap((n) => Array.from({ length: 24 }, (_, j) => (j < n ? 1 + Math.floor(random() * 198) : 0)));
  return { inputIds: mt.tensor(ids, { dtype: 'int64' }).reshape([16, 24]), lengths: mt.tensor(lengths, { dtype: 'int64' }) };
}

describe('inference precisions', () => {
  it("bf16 and int8 keep the trained model's held-out metrics within 1 point of fp32", async () => {
    mt.manualSeed(0);
    const model = featureModel(8, { a: { kind: 'classification', classes: 3 }, r: { kind: 'regression' } }, { dModel: 32, layers: 2 });
    const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 0.01, weightDecay: 0 }), batchSize: 32 });
    await trainer.fit(train, { steps: 200 });
    model.eval();
    const metrics: Record<string, Record<string, Record<string, number>>> = {};
    for (const precision of ['fp32', 'bf16', 'int8', 'fp32'] as const) {
      model.precision = precision;
      expect(model.precision).toBe(precision);
      metrics[precision] = await trainer.evaluate(heldOut);
    }
    console.log('held-out metrics by precision', JSON.stringify(metrics));
    expect(metrics.fp32!.a!.accuracy).toBeGreaterThan(0.8);
    for (const precision of ['bf16', 'int8']) {
      for (const [task, byMetric] of Object.entries(metrics.fp32!)) {
        for (const [name, value] of Object.entries(byMetric)) {
          const scale = name === 'accuracy' ? 1 : Math.max(1, Math.abs(value));
          expect(Math.abs(metrics[precision]![task]![name]! - value) / scale, `${precision} ${task}.${name}`).toBeLessThanOrEqual(
            METRIC_TOLERANCE,
          );
        }
      }
    }
  }, 120_000);

  it('outputs of an attention model stay within 5 % of their spread; fp32 comes back bit-identical', () => {
    const model = tokenModel();
    const inputs = tokenInputs();
    const fp32 = model.predict('value', inputs).toArray() as number[];
    const labels32 = model.predict('label', inputs).toArray() as number[];
    const spread = Math.max(...fp32) - Math.min(...fp32);
    expect(spread).toBeGreaterThan(0);
    for (const precision of ['bf16', 'int8'] as const) {
      model.precision = precision;
      const out = model.predict('value', inputs);
      expect(out.dtype, precision).toBe('float32');
      const values = out.toArray() as number[];
      const worst = Math.max(...values.map((v, i) => Math.abs(v - fp32[i]!)));
      console.log(`${precision}: largest |Δ| ${worst.toExponential(2)} of spread ${spread.toFixed(3)}`);
      expect(worst / spread, precision).toBeLessThanOrEqual(RELATIVE_OUTPUT_TOLERANCE[precision]);
      expect(worst, `${precision} differs from fp32 at all`).toBeGreaterThan(0);
      const labels = model.predict('label', inputs).toArray() as number[];
      expect(labels.filter((l, i) => l === labels32[i]).length, precision).toBeGreaterThanOrEqual(15);
    }
    model.precision = 'fp32';
    expect(model.predict('value', inputs).toArray()).toEqual(fp32);
  });

  it('int8 follows a weight changed in place after it was set', () => {
    const model = tokenModel();
    const inputs = tokenInputs();
    model.precision = 'int8';
    const before = model.predict('value', inputs).toArray() as number[];
    const weight = model.namedParameters().find(([name]) => name === 'encoder.layers.0.linear1.weight')![1];
    mt.noGrad(() => weight.mul_(0));
    const after = model.predict('value', inputs).toArray() as number[];
    model.precision = 'fp32';
    const reference = model.predict('value', inputs).toArray() as number[];
    expect(after).not.toEqual(before);
    const worst = Math.max(...after.map((v, i) => Math.abs(v - reference[i]!)));
    expect(worst).toBeLessThan(0.05 * (Math.max(...reference) - Math.min(...reference)));
  });

  it("fp32 inference (torch's fused encoder-layer kernel where it applies) equals the composite path within 1e-5, padded or not", async () => {
    const model = tokenModel();
    const inputs = tokenInputs();
    for (const batch of [inputs, { inputIds: inputs.inputIds }]) {
      // forward records gradients (the composite path); predictTasks records none (the fused kernel).
      const composite = model.forward('value', batch).outputs.toArray() as number[];
      const fused = (await model.predictTasks(['value'], batch)).value!.outputs!.toArray() as number[];
      expect(Math.max(...fused.map((v, i) => Math.abs(v - composite[i]!)))).toBeLessThan(1e-5);
    }
  });

  it('refuses an unknown precision, naming it', () => {
    const model = tokenModel();
    expect(() => {
      (model as { precision: string }).precision = 'fp16';
    }).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARG, message: expect.stringMatching(/precision.*'fp32', 'bf16', 'int8'.*fp16/) }),
    );
    expect(model.precision).toBe('fp32');
  });

  it("predictTasks (off the JavaScript thread) computes at the model's precision", async () => {
    const model = tokenModel();
    const inputs = tokenInputs();
    for (const precision of ['fp32', 'bf16', 'int8'] as const) {
      model.precision = precision;
      const expected = model.predict('value', inputs).toArray();
      const result = await model.predictTasks(['value'], inputs);
      expect(result.value!.predictions.toArray(), precision).toEqual(expected);
      expect(result.value!.outputs!.dtype, precision).toBe('float32');
    }
  });
});
