/**
 * Every sharing scheme × every head kind against the PyTorch twin (python/
 * multitask_twin.py), on random weights saved by mtl-torch: each scheme's model has all five head
 * kinds as tasks, run together over one padded batch; outputs and losses must agree within 1e-5,
 * and the gradients of the summed loss for every parameter within 1e-4.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { expectClose, paddedInputs, randomizeWeights, runTwin, tempDir, type TwinJob } from './oracles/multitask-twin.ts';

const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const VOCAB = 20;
const L = 7;
const LENGTHS = [7, 4, 2];
const B = LENGTHS.length;

const encoder = { numLayers: 2, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 };
const allHeads = (): Record<string, mt.TaskSpec> => ({
  topic: mt.tasks.classification({ classes: 5, decoderLayers: 1, labelSmoothing: 0.1 }),
  score: mt.tasks.regression(),
  labels: mt.tasks.multiLabel({ labels: 4 }),
  pos: mt.tasks.tagging({ classes: 6 }),
  g2p: mt.tasks.sequence({ vocabSize: 11, maxLength: 6, decoderLayers: 1 }),
});

/** The parity cases of each registered sharing scheme, by case name: a scheme added to the registry fails below until it brings its cases. */
const SCHEME_CASES: Record<string, Record<string, mt.SharingSpec>> = {
  sharedEncoder: { sharedEncoder: mt.sharing.sharedEncoder() },
  fullyShared: { fullyShared: mt.sharing.fullyShared() },
  layerwise: { layerwise: mt.sharing.layerwise({ sharedLayers: 1 }) },
  adapters: {
    adaptersHoulsby: mt.sharing.adapters({ reduction: 4 }),
    adaptersPfeiffer: mt.sharing.adapters({ reduction: 4, placement: 'pfeiffer' }),
  },
  lora: { lora: mt.sharing.lora({ rank: 2, alpha: 4, targets: ['q', 'v', 'o'] }) },
  mmoe: { mmoe: mt.sharing.mmoe({ experts: 3, topK: 2 }) },
};
const SCHEMES: Record<string, mt.SharingSpec> = Object.fromEntries(
  Object.keys(mt.registry.sharing).flatMap((kind) => Object.entries(SCHEME_CASES[kind] ?? {})),
);

function targetsFor(seed: number): Record<string, mt.Tensor> {
  mt.manualSeed(seed);
  // tagging targets: -100 (ignored) after each row's length; sequence targets end with EOS (2) then padding (0)
  const tags = mt.randint(0, 6, [B, L]).dataSync() as BigInt64Array;
  const tagRows = LENGTHS.map((len, b) => Array.from({ length: L }, (_, i) => (i < len ? Number(tags[b * L + i]) : -100)));
  const seqLengths = [5, 3, 1];
  const seq = mt.randint(3, 11, [B, 5]).dataSync() as BigInt64Array;
  const seqRows = seqLengths.map((len, b) =>
    Array.from({ length: 5 }, (_, i) => (i < len - 1 ? Number(seq[b * 5 + i]) : i === len - 1 ? 2 : 0)),
  );
  return {
    topic: mt.tensor([1, 4, 0], { dtype: 'int64' }),
    score: mt.randn([B]),
    labels: mt.randint(0, 2, [B, 4]).float(),
    pos: mt.tensor(tagRows, { dtype: 'int64' }),
    g2p: mt.tensor(seqRows, { dtype: 'int64' }),
  };
}

interface Case {
  name: string;
  model: mt.MultiTaskModel;
  inputs: mt.ModelInputs;
  targets: Record<string, mt.Tensor>;
  results: Record<string, mt.TaskOutput>;
  grads: Map<string, mt.Tensor | null>;
}

const cases: Case[] = [];
let twin: Record<string, mt.Tensor>[] = [];
const tmp = tempDir('mtl-model-parity-');

function addCase(
  name: string,
  spec: mt.MultiTaskSpec,
  inputs: mt.ModelInputs,
  targets: Record<string, mt.Tensor>,
  seed: number,
  jobs: TwinJob[],
): void {
  const model = mt.multitask(spec);
  randomizeWeights(model, seed);
  const dir = path.join(tmp.dir, name);
  void model.save(dir);
  const inputFile = path.join(dir, 'inputs.safetensors');
  const saved: Record<string, mt.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) if (v) saved[k] = v;
  for (const [task, t] of Object.entries(targets)) saved[`targets.${task}`] = t;
  mt.save(inputFile, saved);
  const results = model.forwardMany(inputs, targets);
  let total: mt.Tensor | undefined;
  for (const r of Object.values(results)) total = total ? total.add(r.loss!) : r.loss!;
  total!.backward();
  const grads = new Map(model.namedParameters().map(([n, p]) => [n, p.grad]));
  cases.push({ name, model, inputs, targets, results, grads });
  jobs.push({ model: dir, inputs: inputFile, output: path.join(dir, 'twin.safetensors'), tasks: Object.keys(targets), grads: true });
}

beforeAll(() => {
  const jobs: TwinJob[] = [];
  let seed = 1;
  for (const [name, sharing] of Object.entries(SCHEMES)) {
    addCase(
      name,
      { input: { vocabSize: VOCAB, maxLength: 16 }, encoder, sharing, tasks: allHeads() },
      paddedInputs(LENGTHS, L, VOCAB, seed),
      targetsFor(seed),
      seed,
      jobs,
    );
    seed++;
  }
  // Pre-norm layers, gelu, and pooled classification / query-decoder regression.
  addCase(
    'normFirst',
    {
      input: { vocabSize: VOCAB, maxLength: 16 },
      encoder: { ...encoder, normFirst: true, activation: 'gelu' },
      sharing: mt.sharing.layerwise({ sharedLayers: 1 }),
      tasks: { topic: mt.tasks.classification({ classes: 5 }), score: mt.tasks.regression({ decoderLayers: 1 }) },
    },
    paddedInputs(LENGTHS, L, VOCAB, 50),
    (({ topic, score }) => ({ topic: topic!, score: score! }))(targetsFor(50)),
    50,
    jobs,
  );
  // Continuous per-position features (sensor / time-series input) instead of tokens.
  mt.manualSeed(60);
  const features = mt.randn([B, L, 3]);
  const { topic, pos, score } = targetsFor(60);
  addCase(
    'features',
    {
      input: { features: 3, maxLength: 16 },
      encoder,
      sharing: mt.sharing.sharedEncoder(),
      tasks: {
        topic: mt.tasks.classification({ classes: 5, decoderLayers: 1 }),
        pos: mt.tasks.tagging({ classes: 6 }),
        score: mt.tasks.regression(),
      },
    },
    { features, lengths: mt.tensor(LENGTHS, { dtype: 'int64' }) },
    { topic: topic!, pos: pos!, score: score! },
    60,
    jobs,
  );
  twin = runTwin(jobs, tmp.dir);
});

afterAll(() => tmp.remove());

describe('multi-task model vs the PyTorch twin', () => {
  it('covers every registered sharing scheme and head kind', () => {
    expect(
      Object.keys(mt.registry.sharing).filter((kind) => SCHEME_CASES[kind] === undefined),
      'schemes without a parity case',
    ).toEqual([]);
    expect(
      Object.values(allHeads())
        .map((t) => t.kind)
        .sort(),
      'head kinds in allHeads()',
    ).toEqual(Object.keys(mt.registry.head).sort());
  });
  const names = [...Object.keys(SCHEMES), 'normFirst', 'features'];
  for (const [index, name] of names.entries()) {
    it(`${name}: outputs and losses of every task`, () => {
      const c = cases[index]!;
      const expected = twin[index]!;
      for (const [task, r] of Object.entries(c.results)) {
        expectClose(r.outputs, expected[`outputs.${task}`], FORWARD_TOL, `${name} ${task} outputs`);
        expectClose(r.loss!.reshape([1]), expected[`loss.${task}`], FORWARD_TOL, `${name} ${task} loss`);
      }
    });
    it(`${name}: gradients of every parameter`, () => {
      const c = cases[index]!;
      const expected = twin[index]!;
      let compared = 0;
      for (const [param, grad] of c.grads) {
        const reference = expected[`grad.${param}`];
        if (!reference) {
          // PyTorch leaves .grad None where nothing flows; here it must be absent or zero too.
          if (grad) expect(grad.abs().max().item(), `${name} ${param}: gradient where PyTorch has none`).toBe(0);
          continue;
        }
        expectClose(grad, reference, GRAD_TOL, `${name} grad ${param}`);
        compared++;
      }
      expect(compared).toBeGreaterThan(10);
    });
  }
});
