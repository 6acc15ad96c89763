/**
 * mt.nn blocks against torch.nn, live: every case's weights (saved with mt.save as safetensors, the
 * interop path) and inputs go to test/parity/oracles/nn_blocks.py, which builds the same torch.nn
 * module, loads the weights, runs the same inputs and returns outputs and the gradients of
 * loss = sum(output * w) for inputs and every parameter.
 * fp32 forward within 1e-5, gradients within 1e-4 (relative, see expectClose).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { expectClose, runReference, wireRecord, type WireTensor } from './oracles/nn-reference.ts';

const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const B = 3,
  T = 5,
  S = 7,
  E = 16,
  H = 4,
  FF = 32;

interface Case {
  kind: string;
  options: Record<string, unknown>;
  train: boolean;
  module: mt.nn.Module;
  inputs: Record<string, mt.Tensor | undefined>;
  gradInputs: string[];
  call?: Record<string, unknown>;
  forward: () => Record<string, mt.Tensor>;
}
interface Mine {
  outputs: Record<string, mt.Tensor>;
  inputGrads: Record<string, mt.Tensor | null>;
  paramGrads: Record<string, mt.Tensor | null>;
}
interface Theirs {
  outputs: Record<string, WireTensor>;
  inputGrads: Record<string, WireTensor>;
  paramGrads: Record<string, WireTensor | null>;
}

mt.manualSeed(0);
const x = (...shape: number[]) => mt.randn(shape, { requiresGrad: true });
// Padding masks keep key 0 of every row, so no row is fully masked (that is NaN in torch too).
const keyPadding = (len: number) =>
  mt.tensor([Array(len).fill(false), [...Array(len - 2).fill(false), true, true], [...Array(len - 1).fill(false), true]]);
const randomBoolMask = (...shape: number[]) =>
  mt
    .rand(shape)
    .gt(0.6)
    .logicalAnd(mt.arange(shape[shape.length - 1]!).gt(0));
const floatMask = (...shape: number[]) => mt.randn(shape);

const cases: Record<string, Case> = {};

function mhaCase(
  name: string,
  options: Record<string, unknown>,
  shape: 'self' | 'cross' | 'distinct',
  extra: {
    keyPaddingMask?: mt.Tensor;
    attnMask?: mt.Tensor;
    needWeights?: boolean;
    averageAttnWeights?: boolean;
    train?: boolean;
  } = {},
) {
  const module = new mt.nn.MultiheadAttention({ embedDim: E, numHeads: H, ...options } as mt.nn.MultiheadAttentionOptions);
  module.train(extra.train ?? false);
  const query = x(B, T, E);
  const key = shape === 'self' ? undefined : x(B, S, (options.kdim as number) ?? E);
  const value = shape === 'distinct' ? x(B, S, (options.vdim as number) ?? E) : undefined;
  const { keyPaddingMask, attnMask, needWeights, averageAttnWeights } = extra;
  cases[name] = {
    kind: 'multiheadAttention',
    options: { embedDim: E, numHeads: H, ...options },
    train: extra.train ?? false,
    module,
    inputs: { query, key, value, keyPaddingMask, attnMask },
    gradInputs: ['query', ...(key ? ['key'] : []), ...(value ? ['value'] : [])],
    call: { keyIsQuery: shape === 'self', valueIsKey: shape !== 'distinct', needWeights, averageAttnWeights },
    forward: (): Record<string, mt.Tensor> => {
      const k = key ?? query;
      const { output, weights } = module.forward(query, k, value ?? k, { keyPaddingMask, attnMask, needWeights, averageAttnWeights });
      return weights ? { output, weights } : { output };
    },
  };
}

mhaCase('mha self-attention, no mask', {}, 'self');
mhaCase('mha cross-attention (key is value)', {}, 'cross');
mhaCase('mha distinct key and value', {}, 'distinct');
mhaCase('mha kdim/vdim', { kdim: 12, vdim: 10 }, 'distinct');
mhaCase('mha without bias', { bias: false }, 'cross');
mhaCase('mha bool key padding mask', {}, 'cross', { keyPaddingMask: keyPadding(S) });
mhaCase('mha float key padding mask', {}, 'cross', { keyPaddingMask: floatMask(B, S) });
mhaCase('mha bool 2-D attn mask', {}, 'cross', { attnMask: randomBoolMask(T, S) });
mhaCase('mha float 2-D attn mask', {}, 'cross', { attnMask: floatMask(T, S) });
mhaCase('mha bool 3-D attn mask', {}, 'cross', { attnMask: randomBoolMask(B * H, T, S) });
mhaCase('mha float 3-D attn mask', {}, 'cross', { attnMask: floatMask(B * H, T, S) });
mhaCase('mha causal mask + bool key padding', {}, 'self', {
  attnMask: mt.nn.generateSquareSubsequentMask(T),
  keyPaddingMask: keyPadding(T),
});
mhaCase('mha float attn mask + bool key padding', {}, 'cross', { attnMask: floatMask(T, S), keyPaddingMask: keyPadding(S) });
mhaCase('mha averaged weights', {}, 'cross', { keyPaddingMask: keyPadding(S), needWeights: true });
mhaCase('mha per-head weights', {}, 'cross', { attnMask: randomBoolMask(T, S), needWeights: true, averageAttnWeights: false });
mhaCase('mha train mode, dropout 0', {}, 'self', { train: true, keyPaddingMask: keyPadding(T), needWeights: true });

function layerOptions(normFirst: boolean, activation: 'relu' | 'gelu') {
  return { dModel: E, nhead: H, dimFeedforward: FF, dropout: 0, activation, normFirst };
}

for (const normFirst of [false, true]) {
  for (const activation of ['relu', 'gelu'] as const) {
    for (const train of [false, true]) {
      const label = `${normFirst ? 'pre' : 'post'}-norm ${activation} ${train ? 'train' : 'eval'}`;
      const options = layerOptions(normFirst, activation);
      {
        const module = new mt.nn.TransformerEncoderLayer(options).train(train);
        const src = x(B, S, E);
        const srcMask = train ? floatMask(S, S) : randomBoolMask(S, S);
        const srcKeyPaddingMask = keyPadding(S);
        cases[`encoder layer ${label}`] = {
          kind: 'transformerEncoderLayer',
          options,
          train,
          module,
          inputs: { src, srcMask, srcKeyPaddingMask },
          gradInputs: ['src'],
          forward: () => ({ output: module.forward(src, { srcMask, srcKeyPaddingMask }) }),
        };
      }
      {
        const module = new mt.nn.TransformerDecoderLayer(options).train(train);
        const tgt = x(B, T, E);
        const memory = x(B, S, E);
        const tgtMask = mt.nn.generateSquareSubsequentMask(T);
        const tgtKeyPaddingMask = train ? undefined : keyPadding(T);
        const memoryKeyPaddingMask = keyPadding(S);
        const memoryMask = train ? floatMask(T, S) : undefined;
        cases[`decoder layer ${label}`] = {
          kind: 'transformerDecoderLayer',
          options,
          train,
          module,
          inputs: { tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask },
          gradInputs: ['tgt', 'memory'],
          forward: () => ({ output: module.forward(tgt, memory, { tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask }) }),
        };
      }
    }
  }
}

for (const [normFirst, activation, norm] of [
  [false, 'relu', false],
  [false, 'gelu', true],
  [true, 'gelu', true],
  [true, 'relu', false],
] as const) {
  for (const train of [false, true]) {
    const label = `${normFirst ? 'pre' : 'post'}-norm ${activation}${norm ? ' + final norm' : ''} ${train ? 'train' : 'eval'}`;
    const options = { ...layerOptions(normFirst, activation), numLayers: 3, norm };
    {
      const module = new mt.nn.TransformerEncoder(options).train(train);
      const src = x(B, S, E);
      const srcKeyPaddingMask = keyPadding(S);
      cases[`encoder x3 ${label}`] = {
        kind: 'transformerEncoder',
        options,
        train,
        module,
        inputs: { src, srcKeyPaddingMask },
        gradInputs: ['src'],
        forward: () => ({ output: module.forward(src, { srcKeyPaddingMask }) }),
      };
    }
    {
      const module = new mt.nn.TransformerDecoder(options).train(train);
      const tgt = x(B, T, E);
      const memory = x(B, S, E);
      const tgtMask = mt.nn.generateSquareSubsequentMask(T);
      const memoryKeyPaddingMask = keyPadding(S);
      cases[`decoder x3 ${label}`] = {
        kind: 'transformerDecoder',
        options,
        train,
        module,
        inputs: { tgt, memory, tgtMask, memoryKeyPaddingMask },
        gradInputs: ['tgt', 'memory'],
        forward: () => ({ output: module.forward(tgt, memory, { tgtMask, memoryKeyPaddingMask }) }),
      };
    }
  }
}

{
  const module = new mt.nn.Linear({ inFeatures: E, outFeatures: 6 });
  const input = x(B, T, E);
  cases.linear = {
    kind: 'linear',
    options: { inFeatures: E, outFeatures: 6 },
    train: false,
    module,
    inputs: { input },
    gradInputs: ['input'],
    forward: () => ({ output: module.forward(input) }),
  };
}
{
  const module = new mt.nn.LayerNorm({ normalizedShape: E, eps: 1e-6 });
  // A non-trivial affine part, so its gradients are checked too.
  mt.noGrad(() => {
    for (const p of module.parameters()) p.copy_(mt.randn(p.shape));
  });
  const input = x(B, T, E);
  cases.layerNorm = {
    kind: 'layerNorm',
    options: { normalizedShape: E, eps: 1e-6 },
    train: false,
    module,
    inputs: { input },
    gradInputs: ['input'],
    forward: () => ({ output: module.forward(input) }),
  };
}
{
  const options = { numEmbeddings: 11, embeddingDim: E, paddingIdx: 0 };
  const module = new mt.nn.Embedding(options);
  const input = mt.tensor([
    [1, 0, 3, 3],
    [10, 2, 0, 5],
  ]);
  cases['embedding with padding index'] = {
    kind: 'embedding',
    options,
    train: false,
    module,
    inputs: { input },
    gradInputs: [],
    forward: () => ({ output: module.forward(input) }),
  };
}

const mine: Record<string, Mine> = {};
let theirs: Record<string, Theirs> = {};
const weightsDir = mkdtempSync(path.join(tmpdir(), 'mtl-nn-parity-'));
afterAll(() => rmSync(weightsDir, { recursive: true, force: true }));

beforeAll(() => {
  const wire: Record<string, unknown> = {};
  for (const [index, [name, c]] of Object.entries(cases).entries()) {
    const weightsFile = path.join(weightsDir, `case${index}.safetensors`);
    mt.save(weightsFile, c.module.stateDict());
    const outputs = c.forward();
    const lossWeights = Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, mt.randn(t.shape)]));
    Object.entries(outputs)
      .map(([k, t]) => t.mul(lossWeights[k]!).sum())
      .reduce((a, b) => a.add(b))
      .backward();
    mine[name] = {
      outputs,
      inputGrads: Object.fromEntries(c.gradInputs.map((k) => [k, c.inputs[k]!.grad])),
      paramGrads: Object.fromEntries(c.module.namedParameters().map(([k, p]) => [k, p.grad])),
    };
    wire[name] = {
      kind: c.kind,
      options: c.options,
      train: c.train,
      call: c.call ?? {},
      weightsFile,
      inputs: wireRecord(c.inputs),
      gradInputs: c.gradInputs,
      lossWeights: wireRecord(lossWeights),
    };
  }
  theirs = runReference<Theirs>('parity', wire);
}, 300_000);

describe('mt.nn parity with torch.nn (live PyTorch)', () => {
  it('covers every case', () => {
    expect(Object.keys(theirs).sort()).toEqual(Object.keys(cases).sort());
  });
  for (const name of Object.keys(cases)) {
    it(name, () => {
      const m = mine[name]!;
      const t = theirs[name]!;
      for (const [k, expected] of Object.entries(t.outputs)) expectClose(m.outputs[k], expected, FORWARD_TOL, `output ${k}`);
      for (const [k, expected] of Object.entries(t.inputGrads)) expectClose(m.inputGrads[k], expected, GRAD_TOL, `grad of input ${k}`);
      expect(Object.keys(m.paramGrads)).toEqual(Object.keys(t.paramGrads));
      for (const [k, expected] of Object.entries(t.paramGrads)) {
        expect(expected, `torch has a gradient for ${k}`).not.toBeNull();
        expectClose(m.paramGrads[k], expected!, GRAD_TOL, `grad of ${k}`);
      }
    });
  }
});
