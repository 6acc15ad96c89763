// CUDA tensors: the same ops on the GPU as on the CPU. Runs where libtorch has CUDA and a device
// exists (scripts/gpu/check.sh); elsewhere the suite is skipped with the reason in its title.
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const hasCuda = mt.cuda.isAvailable() && mt.cuda.deviceCount() > 0;
const title = hasCuda ? 'CUDA tensors' : `CUDA tensors (skipped: libtorch ${mt.version.torch} here has no CUDA device)`;
if (!hasCuda) console.log(title);

function maxAbsDiff(a: mt.Tensor, b: mt.Tensor): number {
  return a.cpu().float().sub(b.cpu().float()).abs().max().item() as number;
}

describe.skipIf(!hasCuda)(title, () => {
  it('creates tensors on cuda and reads them back', async () => {
    const t = mt.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float32', device: 'cuda' },
    );
    expect(t.device).toBe('cuda:0');
    expect(Array.from((await t.data()) as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(t.add(1).cpu().toArray()).toEqual([
      [2, 3],
      [4, 5],
    ]);
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

describe.skipIf(!hasCuda)(hasCuda ? 'Transformer blocks on CUDA' : 'Transformer blocks on CUDA (skipped: no CUDA device)', () => {
  it('encoder and decoder stacks match the CPU in fp32 and stay close in bf16, forward and backward', () => {
    mt.manualSeed(0);
    const options = { dModel: 64, nhead: 4, dimFeedforward: 128, numLayers: 2, dropout: 0 };
    const encoder = new mt.nn.TransformerEncoder(options);
    const decoder = new mt.nn.TransformerDecoder(options);
    const src = mt.randn([4, 12, 64]);
    const tgt = mt.randn([4, 7, 64]);
    const mask = mt.nn.generateSquareSubsequentMask(7);
    const run = (device: 'cpu' | 'cuda', dtype: 'float32' | 'bfloat16') => {
      encoder.to({ device, dtype });
      decoder.to({ device, dtype });
      const x = src.to({ device, dtype }).requiresGrad_();
      const out = decoder.forward(tgt.to({ device, dtype }), encoder.forward(x), { tgtMask: mask.to({ device, dtype }) });
      out.float().square().sum().backward();
      return { out: out.float().cpu(), grad: x.grad!.float().cpu() };
    };
    const cpu = run('cpu', 'float32');
    const gpu = run('cuda', 'float32');
    expect(maxAbsDiff(cpu.out, gpu.out)).toBeLessThan(1e-4);
    expect(maxAbsDiff(cpu.grad, gpu.grad)).toBeLessThan(1e-3);
    const bf16 = run('cuda', 'bfloat16');
    expect(maxAbsDiff(cpu.out, bf16.out)).toBeLessThan(0.1);
  });
});
