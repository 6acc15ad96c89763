/**
 * Memory: deterministic freeing (dispose, Symbol.dispose, tidy, keep, dispose(value)) keeps
 * mt.memory() exact, and 100k create/dispose cycles leave it at its start value with RSS flat.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

// A real gc() without a custom vitest config: expose it at run time.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('create/dispose cycles', () => {
  it('100k create/dispose cycles leave memory() at its start and RSS flat', async () => {
    const initial = mt.memory();
    const a = mt.ones([4]);
    const b = mt.full([4], 2.5);
    const cycle = () => {
      const t = mt.zeros([4]);
      const s = a.add(b);
      const u = s.mul(3);
      t.dispose();
      s.dispose();
      u.dispose();
    };
    // Warm-up: the first ~100k short-lived wrappers grow V8's young generation and malloc's arenas
    // to their working size (a one-time ~40 MB high-water mark that then stays flat; measured).
    for (let i = 0; i < 60_000; i++) cycle();
    gc();
    await tick();
    const start = mt.memory();
    const rssStart = process.memoryUsage().rss;
    const t0 = performance.now();
    try {
      for (let i = 0; i < 100_000; i++) cycle();
    } finally {
      a.dispose();
      b.dispose();
    }
    const elapsed = performance.now() - t0;
    expect(start).toEqual({ tensors: initial.tensors + 2, bytes: initial.bytes + 32 });
    expect(mt.memory()).toEqual(initial);
    gc();
    await tick();
    gc();
    const growth = process.memoryUsage().rss - rssStart;
    console.log(`100k cycles (3 tensors each): ${elapsed.toFixed(0)} ms, RSS growth ${(growth / 1e6).toFixed(1)} MB`);
    // Under AddressSanitizer (scripts/asan/run.sh) freed memory waits in its quarantine (256 MB), so RSS is no measure there.
    const sanitized = (process.env.LD_PRELOAD ?? '').includes('libasan');
    if (!sanitized) expect(growth).toBeLessThan(50e6);
  });

  it('memory() counts tensors and bytes exactly', () => {
    const start = mt.memory();
    const t = mt.zeros([10, 10]); // 400 bytes
    const d = mt.zeros([5], { dtype: 'float64' }); // 40 bytes
    expect(mt.memory()).toEqual({ tensors: start.tensors + 2, bytes: start.bytes + 440 });
    t.dispose();
    expect(mt.memory()).toEqual({ tensors: start.tensors + 1, bytes: start.bytes + 40 });
    d.dispose();
    d.dispose();
    expect(mt.memory()).toEqual(start);
  });

  it('tensors that are never disposed are freed by the garbage collector (safety net)', async () => {
    const start = mt.memory().tensors;
    (() => {
      for (let i = 0; i < 2000; i++) mt.ones([8]);
    })();
    expect(mt.memory().tensors).toBe(start + 2000);
    for (let i = 0; i < 50 && mt.memory().tensors > start; i++) {
      gc();
      await tick();
    }
    expect(mt.memory().tensors).toBe(start);
  });
});

describe('tidy', () => {
  it('disposes what fn created and keeps the returned tensor', () => {
    const start = mt.memory().tensors;
    const outside = mt.ones([2]);
    const result = mt.tidy(() => {
      const a = mt.ones([2]).mul(2);
      const b = a.add(outside);
      return b.exp();
    });
    expect(mt.memory().tensors).toBe(start + 2);
    expect(result.isDisposed).toBe(false);
    expect(outside.isDisposed).toBe(false);
    const expected = mt.tidy(() => mt.full([2], 3).exp());
    expect(Array.from(result.dataSync() as Float32Array)).toEqual(Array.from(expected.dataSync() as Float32Array));
    expected.dispose();
    result.dispose();
    outside.dispose();
    expect(mt.memory().tensors).toBe(start);
  });

  it('keeps tensors inside returned arrays, plain objects and Maps', () => {
    const start = mt.memory().tensors;
    const out = mt.tidy(() => {
      mt.ones([1]);
      return { list: [mt.ones([1]), mt.zeros([1])], nested: { t: mt.ones([3]) }, map: new Map([['m', mt.ones([2])]]), n: 1 };
    });
    expect(mt.memory().tensors).toBe(start + 4);
    mt.dispose(out);
    expect(out.list[0]!.isDisposed).toBe(true);
    expect(out.nested.t.isDisposed).toBe(true);
    expect(out.map.get('m')!.isDisposed).toBe(true);
    expect(mt.memory().tensors).toBe(start);
  });

  it('nested tidy: the inner result survives the inner scope and is owned by the outer one', () => {
    const start = mt.memory().tensors;
    let inner: mt.Tensor | undefined;
    const outer = mt.tidy(() => {
      inner = mt.tidy(() => mt.ones([2]).add(1));
      expect(inner.isDisposed).toBe(false);
      expect(mt.memory().tensors).toBe(start + 1);
      return inner.mul(2);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(outer.isDisposed).toBe(false);
    expect(mt.memory().tensors).toBe(start + 1);
    outer.dispose();
    expect(mt.memory().tensors).toBe(start);
  });

  it('keep() saves a tensor from its scope', () => {
    const start = mt.memory().tensors;
    let kept: mt.Tensor | undefined;
    mt.tidy(() => {
      kept = mt.keep(mt.ones([2]));
      mt.ones([2]);
    });
    expect(kept!.isDisposed).toBe(false);
    expect(mt.memory().tensors).toBe(start + 1);
    kept!.dispose();
  });

  it('tensors disposed inside tidy are not a problem', () => {
    const start = mt.memory().tensors;
    mt.tidy(() => {
      const t = mt.ones([2]);
      t.dispose();
      return 1;
    });
    expect(mt.memory().tensors).toBe(start);
  });

  it('frees tensors of a scope that throws', () => {
    const start = mt.memory().tensors;
    expect(() =>
      mt.tidy(() => {
        mt.ones([2]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(mt.memory().tensors).toBe(start);
  });

  it('gradients and multi-output ops are tracked too', () => {
    const start = mt.memory().tensors;
    const w = mt.ones([3], { requiresGrad: true });
    mt.tidy(() => {
      w.mul(w).sum().backward();
      const g = w.grad!;
      const { values, indices } = g.max(0);
      const parts = g.split(1);
      expect(values.item()).toBe(2);
      expect(indices.dtype).toBe('int64');
      expect(parts.length).toBe(3);
    });
    expect(mt.memory().tensors).toBe(start + 1);
    w.zeroGrad();
    w.dispose();
    expect(mt.memory().tensors).toBe(start);
  });
});

describe('Symbol.dispose and dispose(value)', () => {
  it('Symbol.dispose disposes', () => {
    const start = mt.memory().tensors;
    const t = mt.ones([2]);
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
    expect(mt.memory().tensors).toBe(start);
  });

  it('a `using` declaration frees at the end of its block', () => {
    const start = mt.memory().tensors;
    {
      using t = mt.randn([2]);
      expect(mt.memory().tensors).toBe(start + 1);
      expect(t.shape).toEqual([2]);
    }
    expect(mt.memory().tensors).toBe(start);
  });

  it('dispose(value) walks tensors, arrays and plain objects', () => {
    const start = mt.memory().tensors;
    const single = mt.ones([1]);
    mt.dispose(single);
    expect(single.isDisposed).toBe(true);
    const nested = { a: mt.ones([1]), b: [mt.ones([1]), { c: mt.ones([1]) }], n: 3, s: 'x' };
    nested.b.push(nested as never); // cycles are fine
    mt.dispose(nested);
    expect(mt.memory().tensors).toBe(start);
    expect(() => mt.dispose(null)).not.toThrow();
    expect(() => mt.dispose(42)).not.toThrow();
  });
});
