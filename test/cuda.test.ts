// CUDA tensors: the same ops on the GPU as on the CPU. Runs where libtorch has CUDA and a device
// exists (scripts/gpu/check.sh); elsewhere the suite is skipped with the reason in its title.
import { describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';

const hasCuda = mt.cuda.isAvailable() && mt.cuda.deviceCount() > 0;
const title = hasCuda ? 'CUDA tensors' : `CUDA tensors (skipped: libtorch ${mt.version.torch} here has no CUDA device)`;
if (!hasCuda) console.log(title);

function maxAbsDiff(a: mt.Tensor, b: mt.Tensor): number {
  return a.cpu().float().sub(b.cpu().float()).abs().max().item() as number;
}

describe.skipIf(!hasCuda)(title, () => {
  it('creates tensors on cuda and reads them back', async () => {
    const t = mt.tensor([[1, 2], [3, 4]], { dtype: 'float32', device: 'cuda' });
    expect(t.device).toBe('cuda:0');
    expect(Array.from((await t.data()) as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(t.add(1).cpu().toArray()).toEqual([[2, 3], [4, 5]]);
  });

  it('matches the CPU on Transformer ops, forward and backward', () => {
    mt.manualSeed(0);
    const x = mt.randn([8, 16, 32]);
    const w = mt.randn([32, 32]);
    const target = mt.randint(0, 32, [8, 16]);
    const results = (['cpu', 'cuda'] as const).map((device) => {
      const xd = x.to(device).requiresGrad_();
      const wd = w.to(device).requiresGrad_();
      const h = mt.nn.functional.layerNorm(xd.matmul(wd).gelu(), [32]).softmax(-1);
      const loss = mt.nn.functional.crossEntropy(h.reshape([-1, 32]), target.to(device).reshape([-1]));
      loss.backward();
      return { h, loss, gx: xd.grad!, gw: wd.grad! };
    });
    expect(maxAbsDiff(results[0]!.h, results[1]!.h)).toBeLessThan(1e-5);
    expect(maxAbsDiff(results[0]!.gx, results[1]!.gx)).toBeLessThan(1e-4);
    expect(maxAbsDiff(results[0]!.gw, results[1]!.gw)).toBeLessThan(1e-4);
  });

  it('converts to bfloat16 and float16 on the device', () => {
    const t = mt.randn([64], { device: 'cuda' });
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const low = t.to(dtype);
      expect(low.dtype).toBe(dtype);
      expect(maxAbsDiff(low.float(), t)).toBeLessThan(0.05);
    }
  });

  it('refuses a device index that does not exist', () => {
    expect(() => mt.zeros([2], { device: 'cuda:99' })).toThrow(mt.TorchError);
  });
});
