/**
 * Inference is inference: a model loaded from disk is in eval mode, and predict / generate run
 * without dropout whatever mode the model is in, leaving that mode as they found it. A model with
 * dropout 0.5 makes any dropout in these paths visible at once.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { paddedInputs, randomizeWeights, tempDir } from '../parity/oracles/multitask-twin.ts';

const tmp = tempDir('mtl-inference-mode-');
afterAll(() => tmp.remove());

const spec = () => ({
  input: { vocabSize: 20, maxLength: 16 },
  encoder: { numLayers: 2, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0.5 },
  tasks: {
    topic: mt.tasks.classification({ classes: 5, decoderLayers: 1 }),
    g2p: mt.tasks.sequence({ vocabSize: 12, maxLength: 6, decoderLayers: 1 }),
  },
});
const values = (t: mt.Tensor) => Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);

describe('inference mode', () => {
  it('MultiTaskModel.load returns eval mode: forward gives the same logits twice', async () => {
    const model = mt.multitask(spec());
    randomizeWeights(model, 3);
    expect(model.training).toBe(true);
    const dir = path.join(tmp.dir, 'dropout-model');
    await model.save(dir);
    const loaded = await mt.MultiTaskModel.load(dir);
    expect(loaded.training).toBe(false);
    const x = paddedInputs([8, 5, 3, 8], 8, 20, 1);
    const first = values(loaded.forward('topic', x).outputs);
    const second = values(loaded.forward('topic', x).outputs);
    expect(second).toEqual(first);
    // The same forward in training mode draws dropout: the check above could fail.
    loaded.train();
    expect(values(loaded.forward('topic', x).outputs)).not.toEqual(first);
  });

  it('predict and generate in training mode: identical results three times, the mode left as found', async () => {
    const model = mt.multitask(spec());
    randomizeWeights(model, 5);
    const x = paddedInputs(
      Array.from({ length: 48 }, (_, i) => 2 + (i % 7)),
      8,
      20,
      2,
    );
    model.eval();
    const evalTopic = values(model.predict('topic', x));
    const evalG2p = values(model.generate('g2p', x, { beamSize: 2 }).sequences);
    model.train();
    for (let call = 0; call < 3; call++) {
      expect(values(model.predict('topic', x))).toEqual(evalTopic);
      expect(values(model.predict('g2p', x))).toEqual(values(model.generate('g2p', x).sequences));
      expect(values(model.generate('g2p', x, { beamSize: 2 }).sequences)).toEqual(evalG2p);
      expect(model.training).toBe(true);
    }
    model.eval();
    model.predict('topic', x);
    expect(model.training).toBe(false);
  });
});
