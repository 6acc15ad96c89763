import { describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';

describe('smoke', () => {
  it('creates tensors and runs ops', () => {
    const a = mt.tensor([[1, 2], [3, 4]]);
    expect(a.dtype).toBe('int64');
    expect(a.shape).toEqual([2, 2]);
    const b = a.float().add(1).mul(2);
    expect(b.toArray()).toEqual([[4, 6], [8, 10]]);
    expect(mt.version.torch).toMatch(/^\d+\.\d+/);
    expect(() => a.matmul(mt.ones([3, 3], { dtype: 'int64' }))).toThrow(mt.TorchError);
    const x = mt.randn([3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(Array.from(x.grad!.dataSync() as Float32Array)).toEqual(Array.from(x.mul(2).dataSync() as Float32Array));
  });
});
