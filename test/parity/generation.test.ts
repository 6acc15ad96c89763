/**
 * Greedy and beam-search generation over the decoder's KV cache against the PyTorch twin (which
 * re-decodes the whole prefix each step, without a cache): same sequences, same scores (sum of
 * log-probabilities) within 1e-5, with and without a length penalty, for two sharing schemes.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { expectClose, paddedInputs, randomizeWeights, runTwin, tempDir, type TwinJob } from './oracles/multitask-twin.ts';

const VOCAB = 12;
const EOS = 2;
const SETTINGS = [{ beamSize: 1 }, { beamSize: 3 }, { beamSize: 4, lengthPenalty: 1 }, { beamSize: 2, maxLength: 3 }];

interface Case {
  model: mt.MultiTaskModel;
  inputs: mt.ModelInputs;
}
const cases: Case[] = [];
let twin: Record<string, mt.Tensor>[] = [];
const tmp = tempDir('mtl-generation-');

function build(sharing: mt.SharingSpec, seed: number): mt.MultiTaskModel {
  const model = mt.multitask({
    input: { vocabSize: 20, maxLength: 16 },
    encoder: { numLayers: 2, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 },
    sharing,
    tasks: {
      g2p: mt.tasks.sequence({ vocabSize: VOCAB, maxLength: 7, decoderLayers: 2 }),
      stress: mt.tasks.classification({ classes: 3 }),
    },
  });
  randomizeWeights(model, seed, 0.5);
  // Favour EOS so that EOS competes with the other tokens: with these weights greedy decoding never
  // picks it, while beam search finds that ending at once scores better (random weights decode
  // nearly the same tokens whatever the input; the point here is the search, not the model).
  const bias = model.stateDict()['tasks.g2p.out.bias']!;
  const values = Array.from(bias.dataSync() as Float32Array);
  values[EOS] = values[EOS]! + 4;
  model.loadStateDict({ 'tasks.g2p.out.bias': mt.tensor(values) }, { strict: false });
  return model.eval();
}

beforeAll(() => {
  const jobs: TwinJob[] = [];
  for (const [i, sharing] of [mt.sharing.sharedEncoder(), mt.sharing.lora({ rank: 2 })].entries()) {
    const model = build(sharing, 10 + i);
    const inputs = paddedInputs([6, 3, 5, 1], 6, 20, 20 + i);
    const dir = path.join(tmp.dir, `case${i}`);
    void model.save(dir);
    const inputFile = path.join(dir, 'inputs.safetensors');
    mt.save(inputFile, { inputIds: inputs.inputIds, lengths: inputs.lengths });
    cases.push({ model, inputs });
    jobs.push({
      model: dir,
      inputs: inputFile,
      output: path.join(dir, 'twin.safetensors'),
      generate: SETTINGS.map((s) => ({ task: 'g2p', ...s })),
    });
  }
  twin = runTwin(jobs, tmp.dir);
});

afterAll(() => tmp.remove());

describe('generate vs the PyTorch twin', () => {
  for (const [c, scheme] of ['sharedEncoder', 'lora'].entries()) {
    for (const [s, settings] of SETTINGS.entries()) {
      it(`${scheme}: ${JSON.stringify(settings)} gives the twin's sequences and scores`, () => {
        const { model, inputs } = cases[c]!;
        const got = model.generate('g2p', inputs, settings);
        const expected = twin[c]!;
        expect(got.sequences.toArray()).toEqual(expected[`generate.${s}.sequences`]!.toArray());
        expectClose(got.scores, expected[`generate.${s}.scores`], 1e-5, 'scores');
        const limit = settings.maxLength ?? 7;
        expect(got.sequences.shape[1]).toBeLessThanOrEqual(limit);
      });
    }
  }

  it('greedy generation is what predict returns; beam search finishes at EOS, then pads', () => {
    const { model, inputs } = cases[0]!;
    const greedy = model.generate('g2p', inputs);
    expect(model.predict('g2p', inputs).toArray()).toEqual(greedy.sequences.toArray());
    const beam = model.generate('g2p', inputs, { beamSize: 3 });
    const rows = (beam.sequences.toArray() as number[][]).map((r) => r.map(Number));
    expect(rows.some((row) => row.includes(EOS))).toBe(true);
    for (const row of rows) {
      const end = row.indexOf(EOS);
      if (end >= 0) expect(row.slice(end + 1).every((t) => t === 0)).toBe(true);
    }
    // the beam's best is at least as likely as the greedy hypothesis here
    const g = greedy.scores.dataSync() as Float32Array;
    (beam.scores.dataSync() as Float32Array).forEach((s, i) => expect(s).toBeGreaterThanOrEqual(g[i]!));
  });

  it('refuses generate on a non-sequence task and bad options, naming them', () => {
    const { model, inputs } = cases[0]!;
    expect(() => model.generate('stress', inputs)).toThrow(/stress.*sequence task/);
    expect(() => model.generate('g2p', inputs, { beamSize: 0 })).toThrow(/beamSize/);
    expect(() => model.generate('nope', inputs)).toThrow(/'task' must be one of g2p, stress/);
  });
});
