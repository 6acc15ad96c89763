/**
 * The mt.nn module system: torch.nn's names and parameter counts (checked against live PyTorch),
 * PyTorch-initialised weights loading into mt.nn and reproducing PyTorch's outputs, strict state
 * dict loading, train/eval, to(), freeze, positional encodings, the functional attention and every
 * bad-option error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { multiheadAttentionOptions, transformerStackOptions } from '../../lib/nn/options.ts';
import { allClose, equal, expectClose, fromWire, PYTHON, runReference, wireRecord, type WireTensor } from './oracles/nn-reference.ts';

const E = 16,
  H = 4;
const layer = { dModel: E, nhead: H, dimFeedforward: 24, dropout: 0.1 };

interface Reference {
  stateDict: [string, WireTensor][];
  parameterNames: string[];
  numParameters: number;
  inputs?: Record<string, WireTensor>;
  outputs?: Record<string, WireTensor>;
}

const padding = mt.tensor([
  [false, false, false, false, false, false],
  [false, false, false, false, true, true],
]);
const specs: Record<
  string,
  {
    kind: string;
    options: Record<string, unknown>;
    make: () => mt.nn.Module;
    inputShapes?: Record<string, number[]>;
    inputs?: Record<string, mt.Tensor>;
    call?: Record<string, unknown>;
  }
> = {
  linear: { kind: 'linear', options: { inFeatures: 5, outFeatures: 3 }, make: () => new mt.nn.Linear({ inFeatures: 5, outFeatures: 3 }) },
  embedding: {
    kind: 'embedding',
    options: { numEmbeddings: 9, embeddingDim: 4, paddingIdx: 1 },
    make: () => new mt.nn.Embedding({ numEmbeddings: 9, embeddingDim: 4, paddingIdx: 1 }),
  },
  layerNorm: { kind: 'layerNorm', options: { normalizedShape: [E] }, make: () => new mt.nn.LayerNorm({ normalizedShape: [E] }) },
  mha: {
    kind: 'multiheadAttention',
    options: { embedDim: E, numHeads: H },
    make: () => new mt.nn.MultiheadAttention({ embedDim: E, numHeads: H }),
    inputShapes: { query: [2, 6, E] },
    inputs: { keyPaddingMask: padding },
    call: { keyIsQuery: true, valueIsKey: true },
  },
  'mha kdim': {
    kind: 'multiheadAttention',
    options: { embedDim: E, numHeads: H, kdim: 8, vdim: 6, bias: false },
    make: () => new mt.nn.MultiheadAttention({ embedDim: E, numHeads: H, kdim: 8, vdim: 6, bias: false }),
  },
  encoderLayer: { kind: 'transformerEncoderLayer', options: layer, make: () => new mt.nn.TransformerEncoderLayer(layer) },
  decoderLayer: { kind: 'transformerDecoderLayer', options: layer, make: () => new mt.nn.TransformerDecoderLayer(layer) },
  encoder: {
    kind: 'transformerEncoder',
    options: { ...layer, numLayers: 2, norm: true, activation: 'gelu' },
    make: () => new mt.nn.TransformerEncoder({ ...layer, numLayers: 2, norm: true, activation: 'gelu' }),
    inputShapes: { src: [2, 6, E] },
    inputs: { srcKeyPaddingMask: padding },
  },
  'encoder pre-norm': {
    kind: 'transformerEncoder',
    options: { ...layer, numLayers: 2, normFirst: true },
    make: () => new mt.nn.TransformerEncoder({ ...layer, numLayers: 2, normFirst: true }),
    inputShapes: { src: [2, 6, E] },
    inputs: { mask: mt.nn.generateSquareSubsequentMask(6) },
  },
  decoder: {
    kind: 'transformerDecoder',
    options: { ...layer, numLayers: 2, normFirst: true, norm: true },
    make: () => new mt.nn.TransformerDecoder({ ...layer, numLayers: 2, normFirst: true, norm: true }),
    inputShapes: { tgt: [2, 5, E], memory: [2, 6, E] },
    inputs: { tgtMask: mt.nn.generateSquareSubsequentMask(5), memoryKeyPaddingMask: padding },
  },
};

let reference: Record<string, Reference> = {};
// PyTorch saves its initialised weights here as safetensors; mt.load reads them back.
const weightsDir = mkdtempSync(path.join(tmpdir(), 'mtl-nn-modules-'));
const weightsFile = (spec: string) => path.join(weightsDir, `${spec.replace(/\W+/g, '_')}.safetensors`);
afterAll(() => rmSync(weightsDir, { recursive: true, force: true }));
beforeAll(() => {
  const wire = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [
      name,
      {
        kind: s.kind,
        options: s.options,
        inputShapes: s.inputShapes ?? {},
        inputs: wireRecord(s.inputs ?? {}),
        call: s.call ?? {},
        saveWeightsTo: weightsFile(name),
      },
    ]),
  );
  reference = runReference<Reference>('reference', wire);
}, 300_000);

describe('names and counts equal torch.nn', () => {
  for (const [name, spec] of Object.entries(specs)) {
    it(name, () => {
      const m = spec.make();
      const ref = reference[name]!;
      expect(m.namedParameters().map(([k]) => k)).toEqual(ref.parameterNames);
      expect(Object.keys(m.stateDict())).toEqual(ref.stateDict.map(([k]) => k));
      expect(m.numParameters()).toBe(ref.numParameters);
    });
  }
});

describe('PyTorch-initialised weights (saved by PyTorch as safetensors) load and reproduce PyTorch (eval, its inference path)', () => {
  for (const [name, spec] of Object.entries(specs).filter(([, s]) => s.inputShapes)) {
    it(name, () => {
      const ref = reference[name]!;
      const m = spec.make().eval();
      m.loadStateDict(mt.load(weightsFile(name)));
      // The file holds exactly PyTorch's state dict.
      for (const [k, t] of ref.stateDict) expect(equal(m.stateDict()[k]!, fromWire(t)), k).toBe(true);
      const inputs = Object.fromEntries(Object.entries(ref.inputs!).map(([k, t]) => [k, fromWire(t)]));
      const output = mt.noGrad(() => {
        if (m instanceof mt.nn.MultiheadAttention)
          return m.forward(inputs.query!, inputs.query!, inputs.query!, { keyPaddingMask: inputs.keyPaddingMask }).output;
        if (m instanceof mt.nn.TransformerEncoder)
          return m.forward(inputs.src!, { mask: inputs.mask, srcKeyPaddingMask: inputs.srcKeyPaddingMask });
        if (m instanceof mt.nn.TransformerDecoder)
          return m.forward(inputs.tgt!, inputs.memory!, { tgtMask: inputs.tgtMask, memoryKeyPaddingMask: inputs.memoryKeyPaddingMask });
        throw new Error('no forward for this spec');
      });
      expectClose(output, ref.outputs!.output!, 1e-5, 'output');
    });
  }
});

describe('loadStateDict', () => {
  const make = () => new mt.nn.TransformerEncoderLayer(layer);

  it('round-trips its own state dict and shares storage', () => {
    const a = make();
    const b = make();
    b.loadStateDict(a.stateDict());
    for (const [k, t] of Object.entries(b.stateDict())) expect(equal(t, a.stateDict()[k]!)).toBe(true);
    const sd = b.stateDict();
    sd['linear1.bias']!.fill_(3);
    expect(
      b
        .namedParameters()
        .find(([k]) => k === 'linear1.bias')![1]
        .toArray(),
    ).toEqual(Array(24).fill(3));
  });

  it('lists missing, unexpected and mis-shaped keys, and changes nothing on failure', () => {
    const m = make();
    const before = m.stateDict()['norm1.weight']!.clone();
    const sd = make().stateDict();
    delete sd['linear2.bias'];
    sd['extra.weight'] = mt.zeros([2]);
    sd['norm1.weight'] = mt.zeros([E + 1]);
    let error: unknown;
    try {
      m.loadStateDict(sd);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(mt.TorchError);
    const message = (error as Error).message;
    expect(message).toContain('missing keys: linear2.bias');
    expect(message).toContain('unexpected keys: extra.weight');
    expect(message).toMatch(/size mismatch: norm1\.weight: \(17,\) in the state dict vs \(16,\) in the module/);
    expect(equal(m.stateDict()['norm1.weight']!, before)).toBe(true);
  });

  it('non-strict loads tolerate missing and unexpected keys but not mis-shaped ones', () => {
    const m = make();
    const sd = make().stateDict();
    delete sd['linear2.bias'];
    sd['extra.weight'] = mt.zeros([2]);
    expect(m.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['linear2.bias'], unexpectedKeys: ['extra.weight'] });
    expect(equal(m.stateDict()['linear1.weight']!, sd['linear1.weight']!)).toBe(true);
    sd['linear1.weight'] = mt.zeros([3, 3]);
    expect(() => m.loadStateDict(sd, { strict: false })).toThrow(/size mismatch: linear1\.weight/);
  });

  it('refuses values that are not tensors, naming the key', () => {
    expect(() => make().loadStateDict({ 'linear1.weight': [1, 2] as never })).toThrow(/stateDict\['linear1\.weight'\]/);
    expect(() => make().loadStateDict(null as never)).toThrow(/'stateDict' must be/);
  });
});

describe('train, eval, to, freeze', () => {
  it('switches dropout with train() and eval()', () => {
    const m = new mt.nn.TransformerEncoder({ ...layer, dropout: 0.5, numLayers: 2 });
    expect(m.training).toBe(true);
    const src = mt.randn([2, 6, E]);
    expect(equal(m.forward(src), m.forward(src))).toBe(false);
    m.eval();
    expect(m.training).toBe(false);
    expect(equal(m.forward(src), m.forward(src))).toBe(true);
  });

  it('converts dtype in place and keeps the same parameters', () => {
    const m = new mt.nn.TransformerDecoder({ ...layer, numLayers: 1 }).eval();
    const [, weight] = m.namedParameters()[0]!;
    m.to('float64');
    expect(weight.dtype).toBe('float64');
    expect(m.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    const out = m.forward(mt.randn([1, 3, E], { dtype: 'float64' }), mt.randn([1, 4, E], { dtype: 'float64' }));
    expect(out.dtype).toBe('float64');
    m.to({ device: 'cpu', dtype: 'float32' });
    expect(weight.dtype).toBe('float32');
    expect(() => m.to('int64')).toThrow(/floating type/);
    expect(() => m.to('tpu' as never)).toThrow(mt.TorchError);
  });

  it('freezes and unfreezes all or some parameters, and counts trainable ones', () => {
    const m = new mt.nn.TransformerEncoder({ ...layer, numLayers: 2, norm: true });
    const total = m.numParameters();
    const perLayer = 3 * E * E + 3 * E + (E * E + E) + (E * 24 + 24) + (24 * E + E) + 4 * E;
    expect(total).toBe(2 * perLayer + 2 * E);
    expect(m.numParameters({ trainable: true })).toBe(total);
    m.freeze(['layers.0']);
    expect(m.numParameters({ trainable: true })).toBe(perLayer + 2 * E);
    m.freeze();
    expect(m.numParameters({ trainable: true })).toBe(0);
    m.unfreeze(['norm']);
    expect(m.numParameters({ trainable: true })).toBe(2 * E);
    m.unfreeze();
    expect(m.numParameters({ trainable: true })).toBe(total);
    expect(() => m.freeze(['nothing.here'])).toThrow(/no parameter name starts with 'nothing.here'/);
    // Frozen parameters get no gradient.
    m.freeze(['layers.1']);
    m.forward(mt.randn([1, 3, E], { requiresGrad: true }))
      .sum()
      .backward();
    const grads = new Map(m.namedParameters().map(([k, p]) => [k, p.grad]));
    expect(grads.get('layers.1.linear1.weight')).toBeNull();
    expect(grads.get('layers.0.linear1.weight')).not.toBeNull();
  });
});

describe('positional encodings', () => {
  it('sinusoidal: the tutorial table, as a buffer "pe", honouring offset', () => {
    const d = 6;
    const pe = new mt.nn.SinusoidalPositionalEncoding({ dModel: d, maxLen: 10 });
    expect(pe.namedBuffers().map(([k]) => k)).toEqual(['pe']);
    expect(pe.numParameters()).toBe(0);
    const table = pe.namedBuffers()[0]![1].toArray() as number[][];
    for (const p of [0, 3, 9]) {
      for (let i = 0; i < d; i++) {
        const angle = p * Math.exp(2 * Math.floor(i / 2) * (-Math.log(10000) / d));
        expect(table[p]![i]).toBeCloseTo(i % 2 === 0 ? Math.sin(angle) : Math.cos(angle), 5);
      }
    }
    const x = mt.randn([2, 4, d]);
    const full = pe.forward(mt.zeros([2, 10, d]));
    expect(allClose(pe.forward(x, 3).sub(x), full.slice(1, 3, 7))).toBe(true);
    expect(() => pe.forward(x, 7)).toThrow(/positions 7\.\.10 exceed maxLen 10/);
    // an odd dModel has one fewer cosine column
    expect(new mt.nn.SinusoidalPositionalEncoding({ dModel: 5, maxLen: 3 }).namedBuffers()[0]![1].shape).toEqual([3, 5]);
  });

  it('learned: parameter "weight" (maxLen, dModel) that gets gradients', () => {
    const pe = new mt.nn.LearnedPositionalEncoding({ dModel: 4, maxLen: 8 });
    expect(pe.namedParameters().map(([k, t]) => [k, t.shape])).toEqual([['weight', [8, 4]]]);
    pe.forward(mt.randn([2, 3, 4]), 2)
      .sum()
      .backward();
    const grad = pe.parameters()[0]!.grad!.toArray() as number[][];
    expect(grad.map((row) => row[0])).toEqual([0, 0, 2, 2, 2, 0, 0, 0]);
  });
});

describe('functional attention and masks', () => {
  it("generateSquareSubsequentMask is torch's", () => {
    expect(mt.nn.generateSquareSubsequentMask(3).toArray()).toEqual([
      [0, -Infinity, -Infinity],
      [0, 0, -Infinity],
      [0, 0, 0],
    ]);
    expect(() => mt.nn.generateSquareSubsequentMask(-1)).toThrow(/'size' must not be negative/);
    expect(() => mt.nn.generateSquareSubsequentMask(2, { dtype: 'bool' })).toThrow(/floating type/);
  });

  it("scaledDotProductAttention equals softmax(q kᵀ/√E + mask) v, with torch's functional mask convention", () => {
    const q = mt.randn([2, 3, 5, 8]);
    const k = mt.randn([2, 3, 6, 8]);
    const v = mt.randn([2, 3, 6, 4]);
    const scores = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(8));
    const plain = (mask?: mt.Tensor) => (mask ? scores.add(mask) : scores).softmax(-1).matmul(v);
    expect(allClose(mt.nn.functional.scaledDotProductAttention(q, k, v), plain(), 1e-5, 1e-6)).toBe(true);
    const allowed = mt.rand([5, 6]).gt(0.5).logicalOr(mt.arange(6).eq(0));
    const additive = mt.zeros([5, 6]).maskedFill(allowed.logicalNot(), -Infinity);
    expect(allClose(mt.nn.functional.scaledDotProductAttention(q, k, v, { attnMask: allowed }), plain(additive), 1e-5, 1e-6)).toBe(true);
    const causal = mt.zeros([5, 6]).maskedFill(mt.ones([5, 6]).triu(1).bool(), -Infinity);
    expect(allClose(mt.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: true }), plain(causal), 1e-5, 1e-6)).toBe(true);
    expect(() => mt.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: true, attnMask: allowed })).toThrow(
      /cannot both be given/,
    );
    expect(() => mt.nn.functional.scaledDotProductAttention(q, k.slice(-1, 0, 4), v)).toThrow(/same last dimension/);
    expect(() => mt.nn.functional.scaledDotProductAttention(q, k, v, { dropoutP: 2 })).toThrow(/'dropoutP' must be between 0 and 1/);
  });

  it('MultiheadAttention returns averaged or per-head weights only when asked', () => {
    const m = new mt.nn.MultiheadAttention({ embedDim: E, numHeads: H });
    const x = mt.randn([2, 5, E]);
    expect(m.forward(x, x, x).weights).toBeNull();
    const { output, weights } = m.forward(x, x, x, { needWeights: true });
    expect(weights!.shape).toEqual([2, 5, 5]);
    expect(allClose(weights!.sum(-1), mt.ones([2, 5]), 1e-5, 1e-6)).toBe(true);
    expect(allClose(m.forward(x, x, x).output, output, 1e-5, 1e-6)).toBe(true);
    expect(m.forward(x, x, x, { needWeights: true, averageAttnWeights: false }).weights!.shape).toEqual([2, H, 5, 5]);
  });
});

describe('block options', () => {
  it("default to the native options structs' values, which are torch.nn's", () => {
    const parsed = transformerStackOptions.parse({ dModel: 8, nhead: 2, numLayers: 1 });
    expect(parsed).toEqual({
      dModel: 8,
      nhead: 2,
      numLayers: 1,
      ...mt.registry.defaults.nn.transformerLayer,
      ...mt.registry.defaults.nn.transformerStack,
    });
    // The defaults of torch.nn's own constructors, read from PyTorch's signatures.
    const program = [
      'import inspect, json, torch',
      'def d(c): return {k: (v.default.__name__ if callable(v.default) else v.default) for k, v in inspect.signature(c.__init__).parameters.items()}',
      "print(json.dumps({n: d(getattr(torch.nn, n)) for n in ['TransformerEncoderLayer', 'MultiheadAttention', 'Linear', 'LayerNorm', 'Dropout']}, default=str))",
    ].join('\n');
    const torchDefaults = JSON.parse(execFileSync(PYTHON, ['-c', program], { encoding: 'utf8' })) as Record<
      string,
      Record<string, unknown>
    >;
    const layer = torchDefaults.TransformerEncoderLayer!;
    expect(mt.registry.defaults.nn.transformerLayer).toEqual({
      dimFeedforward: layer.dim_feedforward,
      dropout: layer.dropout,
      activation: layer.activation,
      layerNormEps: layer.layer_norm_eps,
      normFirst: layer.norm_first,
    });
    expect(mt.registry.defaults.nn.multiheadAttention).toEqual({
      dropout: torchDefaults.MultiheadAttention!.dropout,
      bias: torchDefaults.MultiheadAttention!.bias,
    });
    expect(mt.registry.defaults.nn.linear).toEqual({ bias: torchDefaults.Linear!.bias });
    expect(mt.registry.defaults.nn.layerNorm).toEqual({
      eps: torchDefaults.LayerNorm!.eps,
      elementwiseAffine: torchDefaults.LayerNorm!.elementwise_affine,
    });
    expect(mt.registry.defaults.nn.dropout).toEqual({ p: torchDefaults.Dropout!.p });
    expect(multiheadAttentionOptions.parse({ embedDim: 8, numHeads: 2 })).toEqual({
      embedDim: 8,
      numHeads: 2,
      kdim: 8,
      vdim: 8,
      ...mt.registry.defaults.nn.multiheadAttention,
    });
    expect(
      new mt.nn.Embedding({ numEmbeddings: 4, embeddingDim: 2, paddingIdx: -1 }).stateDict().weight!.select(0, 3).abs().sum().item(),
    ).toBe(0);
  });
});

describe('bad options and inputs are refused, naming the field', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'dModel not divisible by nhead',
      () => new mt.nn.TransformerEncoderLayer({ dModel: 10, nhead: 4 }),
      /'dModel' \(10\) must be divisible by 'nhead' \(4\)/,
    ],
    [
      'non-positive dModel',
      () => new mt.nn.TransformerEncoderLayer({ dModel: 0, nhead: 1 }),
      /TransformerEncoderLayer\.dModel: expected an integer > 0, got 0/,
    ],
    [
      'fractional nhead',
      () => new mt.nn.TransformerDecoderLayer({ dModel: 8, nhead: 1.5 }),
      /TransformerDecoderLayer\.nhead: expected an integer, got 1\.5/,
    ],
    [
      'dropout above 1',
      () => new mt.nn.TransformerEncoder({ dModel: 8, nhead: 2, numLayers: 1, dropout: 1.5 }),
      /TransformerEncoder\.dropout: expected a number <= 1, got 1\.5/,
    ],
    [
      'negative dropout',
      () => new mt.nn.MultiheadAttention({ embedDim: 8, numHeads: 2, dropout: -0.1 }),
      /MultiheadAttention\.dropout: expected a number >= 0, got -0\.1/,
    ],
    [
      'unknown activation',
      () => new mt.nn.TransformerDecoder({ dModel: 8, nhead: 2, numLayers: 1, activation: 'tanh' as never }),
      /TransformerDecoder\.activation: expected one of "relu", "gelu", got "tanh"/,
    ],
    [
      'zero layers',
      () => new mt.nn.TransformerDecoder({ dModel: 8, nhead: 2, numLayers: 0 }),
      /TransformerDecoder\.numLayers: expected an integer > 0, got 0/,
    ],
    [
      'non-positive eps',
      () => new mt.nn.TransformerEncoderLayer({ dModel: 8, nhead: 2, layerNormEps: 0 }),
      /TransformerEncoderLayer\.layerNormEps: expected a number > 0, got 0/,
    ],
    [
      'embedDim not divisible',
      () => new mt.nn.MultiheadAttention({ embedDim: 6, numHeads: 4 }),
      /'embedDim' \(6\) must be divisible by 'numHeads' \(4\)/,
    ],
    ['options not an object', () => new mt.nn.Linear(null as never), /options must be an object/],
    // An option that is not one is refused, not ignored (a misspelt 'bias' would silently keep the default).
    [
      'unknown option',
      () => new mt.nn.Linear({ inFeatures: 2, outFeatures: 3, bais: false } as never),
      /Linear\.bais: is not an option here/,
    ],
    [
      'unknown stack option',
      () => new mt.nn.TransformerEncoder({ dModel: 8, nhead: 2, numLayers: 1, layers: 2 } as never),
      /TransformerEncoder\.layers: is not an option here/,
    ],
    [
      'stack dModel not divisible',
      () => new mt.nn.TransformerDecoder({ dModel: 10, nhead: 4, numLayers: 1 }),
      /TransformerDecoder: 'dModel' \(10\) must be divisible by 'nhead' \(4\)/,
    ],
    [
      'zero normalizedShape',
      () => new mt.nn.LayerNorm({ normalizedShape: 0 }),
      /LayerNorm\.normalizedShape: expected an integer > 0, got 0/,
    ],
    [
      'normalizedShape of the wrong type',
      () => new mt.nn.LayerNorm({ normalizedShape: 'x' as never }),
      /LayerNorm\.normalizedShape: expected a number or an array, got "x"/,
    ],
    ['empty normalizedShape', () => new mt.nn.LayerNorm({ normalizedShape: [] }), /LayerNorm\.normalizedShape: expected at least 1 item$/],
    [
      'paddingIdx out of range',
      () => new mt.nn.Embedding({ numEmbeddings: 4, embeddingDim: 2, paddingIdx: 4 }),
      /'paddingIdx' must be within/,
    ],
    [
      'negative maxLen',
      () => new mt.nn.SinusoidalPositionalEncoding({ dModel: 4, maxLen: -1 }),
      /SinusoidalPositionalEncoding\.maxLen: expected an integer > 0, got -1/,
    ],
  ];
  for (const [name, fn, message] of cases) {
    it(name, () => {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(mt.TorchError);
      expect((error as mt.TorchError).code).toBe('ERR_INVALID_ARG');
      expect((error as Error).message).toMatch(message);
    });
  }

  it('mask and input shapes', () => {
    const enc = new mt.nn.TransformerEncoder({ dModel: 8, nhead: 2, numLayers: 1 });
    const src = mt.randn([2, 5, 8]);
    expect(() => enc.forward(mt.randn([2, 5, 7]))).toThrow(/'src' must have 8 features/);
    expect(() => enc.forward(mt.randn([5, 8]))).toThrow(/'src' must have 3 dimensions/);
    expect(() => enc.forward(src, { mask: mt.zeros([5, 4]) })).toThrow(/'mask' must have shape \[5,5\] or \[4,5,5\], got \[5,4\]/);
    expect(() => enc.forward(src, { srcKeyPaddingMask: mt.zeros([2, 5], { dtype: 'int64' }) })).toThrow(
      /'srcKeyPaddingMask' must be a bool or floating tensor/,
    );
    const mha = new mt.nn.MultiheadAttention({ embedDim: 8, numHeads: 2 });
    expect(() => mha.forward(src, mt.randn([3, 4, 8]), mt.randn([3, 4, 8]))).toThrow(/must share the batch size/);
    expect(() => mha.forward(src, src, src, { attnMask: mt.zeros([2, 5, 5]) })).toThrow(/'attnMask' must have shape \[5,5\] or \[4,5,5\]/);
    const dec = new mt.nn.TransformerDecoder({ dModel: 8, nhead: 2, numLayers: 1 });
    expect(() => dec.forward(src, mt.randn([3, 4, 8]))).toThrow(/must have the same batch size/);
    expect(() => dec.forward(src, mt.randn([2, 4, 8]), { memoryKeyPaddingMask: mt.zeros([2, 5]).bool() })).toThrow(
      /'memoryKeyPaddingMask' must have shape \[2,4\]/,
    );
  });

  it('the native layer guards callers that bypass TypeScript', async () => {
    const { native } = await import('../../lib/native.ts');
    expect(() => new native.NativeModule('transformer', {})).toThrow(/unknown module kind 'transformer'/);
    const layer = { dModel: 10, nhead: 4, dimFeedforward: 16, dropout: 0, activation: 'relu', layerNormEps: 1e-5, normFirst: false };
    expect(() => new native.NativeModule('transformerEncoderLayer', layer)).toThrow(/divisible/);
    // Options that skipped lib/nn's checks fail with an error, never a crash.
    expect(() => new native.NativeModule('transformerEncoderLayer', { ...layer, dModel: 'x' })).toThrow(mt.TorchError);
    expect(() => new native.NativeModule('transformerEncoderLayer', { dModel: 8, nhead: 2 })).toThrow(/dimFeedforward/);
    const enc = new native.NativeModule('transformerEncoder', { ...layer, dModel: 8, nhead: 2, numLayers: 1, norm: false });
    expect(() => enc.forward(mt.randn([2, 5, 8]).handle, mt.zeros([3, 3]).handle)).toThrow(mt.TorchError);
    expect(() => enc.newCache()).toThrow(/has no key\/value cache/);
  });
});
