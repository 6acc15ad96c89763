/**
 * Incremental decoding with a key/value cache: step-by-step cached decoding equals the full causal
 * forward, and the cache's bookkeeping (length, reorder for beam search, clear) behaves.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { allClose } from './oracles/nn-reference.ts';

const E = 16,
  H = 4,
  B = 3,
  T = 7,
  S = 5;
const padding = mt.tensor([
  [false, false, false, false, false],
  [false, false, false, true, true],
  [false, false, false, false, true],
]);

function decoder(normFirst: boolean, activation: 'relu' | 'gelu' = 'relu') {
  mt.manualSeed(normFirst ? 1 : 2);
  return new mt.nn.TransformerDecoder({
    dModel: E,
    nhead: H,
    dimFeedforward: 32,
    numLayers: 3,
    normFirst,
    activation,
    norm: normFirst,
  }).eval();
}

/** Decodes tgt through the cache in chunks of the given sizes; returns the concatenated outputs. */
function cachedDecode(
  dec: mt.nn.TransformerDecoder,
  tgt: mt.Tensor,
  memory: mt.Tensor,
  chunks: number[],
  memoryKeyPaddingMask?: mt.Tensor,
) {
  const cache = dec.newCache();
  const outputs: mt.Tensor[] = [];
  let at = 0;
  for (const size of chunks) {
    outputs.push(dec.forward(tgt.slice(1, at, at + size), memory, { cache, memoryKeyPaddingMask }));
    at += size;
    expect(cache.length).toBe(at);
  }
  return mt.cat(outputs, 1);
}

describe('cached decoding equals the full causal forward', () => {
  for (const normFirst of [false, true]) {
    it(`${normFirst ? 'pre' : 'post'}-norm, one token per step, with a memory padding mask`, () => {
      const dec = decoder(normFirst, normFirst ? 'gelu' : 'relu');
      const tgt = mt.randn([B, T, E]);
      const memory = mt.randn([B, S, E]);
      mt.noGrad(() => {
        const full = dec.forward(tgt, memory, { tgtMask: mt.nn.generateSquareSubsequentMask(T), memoryKeyPaddingMask: padding });
        const stepwise = cachedDecode(dec, tgt, memory, Array(T).fill(1), padding);
        expect(allClose(stepwise, full, 1e-5, 1e-5)).toBe(true);
      });
    });
  }

  it('several tokens per step (a prompt, then single tokens)', () => {
    const dec = decoder(false);
    const tgt = mt.randn([B, T, E]);
    const memory = mt.randn([B, S, E]);
    mt.noGrad(() => {
      const full = dec.forward(tgt, memory, { tgtMask: mt.nn.generateSquareSubsequentMask(T) });
      expect(allClose(cachedDecode(dec, tgt, memory, [3, 1, 2, 1]), full, 1e-5, 1e-5)).toBe(true);
    });
  });

  it('target padding masks cover cached and new positions', () => {
    const dec = decoder(true);
    const tgt = mt.randn([2, 4, E]);
    const memory = mt.randn([2, S, E]);
    const tgtPadding = mt.tensor([
      [false, false, false, false],
      [false, true, false, false],
    ]);
    mt.noGrad(() => {
      const full = dec.forward(tgt, memory, { tgtMask: mt.nn.generateSquareSubsequentMask(4), tgtKeyPaddingMask: tgtPadding });
      const cache = dec.newCache();
      const first = dec.forward(tgt.slice(1, 0, 2), memory, { cache, tgtKeyPaddingMask: tgtPadding.slice(1, 0, 2) });
      const rest = dec.forward(tgt.slice(1, 2, 4), memory, { cache, tgtKeyPaddingMask: tgtPadding });
      expect(allClose(mt.cat([first, rest], 1), full, 1e-5, 1e-5)).toBe(true);
      expect(() => dec.forward(tgt.slice(1, 0, 1), memory, { cache, tgtKeyPaddingMask: tgtPadding })).toThrow(
        /'tgtKeyPaddingMask' must have shape \[2,5\]/,
      );
    });
  });

  it('works with grad enabled too (teacher forcing through the cache)', () => {
    const dec = decoder(false);
    const tgt = mt.randn([B, 3, E]);
    const memory = mt.randn([B, S, E], { requiresGrad: true });
    const full = dec.forward(tgt, memory, { tgtMask: mt.nn.generateSquareSubsequentMask(3) });
    const stepwise = cachedDecode(dec, tgt, memory, [1, 1, 1]);
    expect(allClose(stepwise, full, 1e-5, 1e-5)).toBe(true);
    stepwise.sum().backward();
    expect(memory.grad).not.toBeNull();
  });
});

describe('cache bookkeeping', () => {
  it('reorder keeps the chosen batch rows, as beam search needs', () => {
    const dec = decoder(false);
    const tgt = mt.randn([B, 4, E]);
    const memory = mt.randn([B, S, E]);
    mt.noGrad(() => {
      const cache = dec.newCache();
      dec.forward(tgt.slice(1, 0, 3), memory, { cache });
      const order = mt.tensor([2, 0, 0]);
      cache.reorder(order);
      const next = dec.forward(tgt.slice(1, 3, 4).indexSelect(0, order), memory.indexSelect(0, order), { cache });
      const full = dec.forward(tgt.indexSelect(0, order), memory.indexSelect(0, order), { tgtMask: mt.nn.generateSquareSubsequentMask(4) });
      expect(allClose(next, full.slice(1, 3, 4), 1e-5, 1e-5)).toBe(true);
      expect(() => cache.reorder(mt.tensor([0.5]))).toThrow(/'indices' must be a 1-D int64 tensor/);
    });
  });

  it('clear starts a new sequence (and a new memory)', () => {
    const dec = decoder(true);
    const memoryA = mt.randn([B, S, E]);
    const memoryB = mt.randn([B, S, E]);
    const tgt = mt.randn([B, 2, E]);
    mt.noGrad(() => {
      const cache = dec.newCache();
      cachedDecode(dec, tgt, memoryA, [1, 1]);
      dec.forward(tgt, memoryA, { cache });
      expect(cache.length).toBe(2);
      cache.clear();
      expect(cache.length).toBe(0);
      const again = dec.forward(tgt.slice(1, 0, 1), memoryB, { cache });
      const fresh = dec.forward(tgt.slice(1, 0, 1), memoryB);
      expect(allClose(again, fresh, 1e-5, 1e-5)).toBe(true);
    });
  });

  it("refuses a causal mask with a cache, and another decoder's cache", () => {
    const dec = decoder(false);
    const other = decoder(true);
    const tgt = mt.randn([B, 1, E]);
    const memory = mt.randn([B, S, E]);
    expect(() => dec.forward(tgt, memory, { cache: dec.newCache(), tgtMask: mt.nn.generateSquareSubsequentMask(1) })).toThrow(
      /'tgtMask' must be left out with a cache/,
    );
    expect(() => dec.forward(tgt, memory, { cache: other.newCache() })).toThrow(/made by this decoder's newCache/);
    expect(() => dec.forward(tgt, memory, { cache: {} as never })).toThrow(/DecoderCache/);
  });
});
