// Every sharing scheme's forward and backward on CUDA, compared with the same model on the CPU.
// Runs in scripts/gpu/check.sh where libtorch has CUDA and a device exists; elsewhere the suite is
// skipped with the reason in its title.
import { describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';
import { paddedInputs, randomizeWeights } from './support/multitask-twin.ts';

const hasCuda = mt.cuda.isAvailable() && mt.cuda.deviceCount() > 0;
const title = hasCuda ? 'multi-task model on CUDA' : `multi-task model on CUDA (skipped: libtorch ${mt.version.torch} here has no CUDA device)`;
if (!hasCuda) console.log(title);

const SCHEMES: mt.SharingSpec[] = [
  mt.sharing.sharedEncoder(), mt.sharing.fullyShared(), mt.sharing.layerwise({ sharedLayers: 1 }),
  mt.sharing.adapters({ reduction: 4 }), mt.sharing.lora({ rank: 2 }), mt.sharing.mmoe({ experts: 2, topK: 1 }),
];

function maxAbsDiff(a: mt.Tensor, b: mt.Tensor): number {
  return a.cpu().float().sub(b.cpu().float()).abs().max().item() as number;
}

describe.skipIf(!hasCuda)(title, () => {
  for (const sharing of SCHEMES) {
    it(`${sharing.kind}: forward, backward and generate match the CPU`, () => {
      const spec: mt.MultiTaskSpec = {
        input: { vocabSize: 20, maxLength: 16 },
        encoder: { numLayers: 2, dModel: 32, nhead: 4, dimFeedforward: 64, dropout: 0 },
        sharing,
        tasks: { topic: mt.tasks.classification({ classes: 3, decoderLayers: 1 }), g2p: mt.tasks.sequence({ vocabSize: 9, maxLength: 5, decoderLayers: 1 }) },
      };
      const x = paddedInputs([6, 2, 4], 6, 20, 1);
      const targets = { topic: mt.tensor([0, 2, 1], { dtype: 'int64' }), g2p: mt.tensor([[3, 4, 2], [5, 2, 0], [2, 0, 0]], { dtype: 'int64' }) };
      const runs = (['cpu', 'cuda'] as const).map((device) => {
        const model = mt.multitask({ ...spec, device: 'cpu' });
        randomizeWeights(model, 7);
        model.to(device);
        const r = model.forwardMany(x, targets);
        r.topic!.loss!.add(r.g2p!.loss!).backward();
        const grads = model.namedParameters().map(([, p]) => p.grad);
        const generated = model.eval().generate('g2p', x, { beamSize: 2 });
        return { r, grads, generated };
      });
      const [cpu, cuda] = runs;
      for (const task of ['topic', 'g2p'] as const) {
        expect(maxAbsDiff(cpu!.r[task]!.outputs, cuda!.r[task]!.outputs)).toBeLessThan(1e-4);
      }
      cpu!.grads.forEach((g, i) => { if (g) expect(maxAbsDiff(g, cuda!.grads[i]!)).toBeLessThan(1e-3); });
      expect(cuda!.generated.sequences.device).toMatch(/^cuda/);
    });
  }

  it('a resumed CUDA run with dropout draws the same masks (the CUDA generator is in the checkpoint)', async () => {
    const { Dataset } = await import('../lib/data/dataset.ts');
    const inputIds = Array.from({ length: 64 }, (_, i) => Array.from({ length: 3 + (i % 5) }, (_, j) => 1 + ((i * 7 + j * 3) % 19)));
    const set = Dataset.fromArrays({ inputIds, targets: inputIds.map((r) => r[0]! % 3), targetKind: 'classification' });
    const spec: mt.MultiTaskSpec = {
      input: { vocabSize: 20, maxLength: 8 },
      encoder: { numLayers: 1, dModel: 32, nhead: 4, dimFeedforward: 64, dropout: 0.3 },
      tasks: { topic: mt.tasks.classification({ classes: 3 }) }, device: 'cuda',
    };
    const options = { batchSize: 16, seed: 5 };
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-cuda-resume-'));
    try {
      mt.manualSeed(11);
      const straight = mt.multitask(spec);
      await new mt.Trainer(straight, options).fit({ topic: set }, { steps: 8 });
      mt.manualSeed(11);
      const cut = mt.multitask(spec);
      await new mt.Trainer(cut, options).fit({ topic: set }, { steps: 4, checkpointDir: dir });
      mt.manualSeed(123);  // both generators elsewhere: the checkpoint must restore them
      const resumed = mt.multitask(spec);
      await new mt.Trainer(resumed, options).fit({ topic: set }, { steps: 8, resumeFrom: path.join(dir, 'checkpoint.safetensors') });
      const expected = straight.stateDict();
      for (const [name, value] of Object.entries(resumed.stateDict())) {
        // CUDA's embedding backward adds with atomics, so the order of additions (not the masks) may differ.
        expect(maxAbsDiff(value, expected[name]!), name).toBeLessThan(1e-5);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
