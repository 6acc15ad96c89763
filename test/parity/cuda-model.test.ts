// Every sharing scheme's forward and backward on CUDA, compared with the same model on the CPU.
// Runs in scripts/gpu/check.sh where libtorch has CUDA and a device exists; elsewhere the suite is
// skipped with the reason in its title.
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { paddedInputs, randomizeWeights } from './oracles/multitask-twin.ts';

const hasCuda = mt.cuda.isAvailable() && mt.cuda.deviceCount() > 0;
const title = hasCuda
  ? 'multi-task model on CUDA'
  : `multi-task model on CUDA (skipped: libtorch ${mt.version.torch} here has no CUDA device)`;
if (!hasCuda) console.log(title);

const SCHEMES: mt.SharingSpec[] = [
  mt.sharing.sharedEncoder(),
  mt.sharing.fullyShared(),
  mt.sharing.layerwise({ sharedLayers: 1 }),
  mt.sharing.adapters({ reduction: 4 }),
  mt.sharing.lora({ rank: 2 }),
  mt.sharing.mmoe({ experts: 2, topK: 1 }),
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
        tasks: {
          topic: mt.tasks.classification({ classes: 3, decoderLayers: 1 }),
          g2p: mt.tasks.sequence({ vocabSize: 9, maxLength: 5, decoderLayers: 1 }),
        },
      };
      const x = paddedInputs([6, 2, 4], 6, 20, 1);
      const targets = {
        topic: mt.tensor([0, 2, 1], { dtype: 'int64' }),
        g2p: mt.tensor(
          [
            [3, 4, 2],
            [5, 2, 0],
            [2, 0, 0],
          ],
          { dtype: 'int64' },
        ),
      };
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
      cpu!.grads.forEach((g, i) => {
        if (g) expect(maxAbsDiff(g, cuda!.grads[i]!)).toBeLessThan(1e-3);
      });
      expect(cuda!.generated.sequences.device).toMatch(/^cuda/);
    });
  }

  it('a resumed CUDA run with dropout draws the same masks (the CUDA generator is in the checkpoint)', async () => {
    const { Dataset } = await import('../../lib/data/dataset.ts');
    const inputIds = Array.from({ length: 64 }, (_, i) => Array.from({ length: 3 + (i % 5) }, (_, j) => 1 + ((i * 7 + j * 3) % 19)));
    const set = Dataset.fromArrays({ inputIds, targets: inputIds.map((r) => r[0]! % 3), targetKind: 'classification' });
    const spec: mt.MultiTaskSpec = {
      input: { vocabSize: 20, maxLength: 8 },
      encoder: { numLayers: 1, dModel: 32, nhead: 4, dimFeedforward: 64, dropout: 0.3 },
      tasks: { topic: mt.tasks.classification({ classes: 3 }) },
      device: 'cuda',
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
      mt.manualSeed(123); // both generators elsewhere: the checkpoint must restore them
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

  describe('training steps on CUDA', () => {
    const spec = (device: mt.Device): mt.MultiTaskSpec => ({
      input: { vocabSize: 20, maxLength: 8 },
      encoder: { numLayers: 1, dModel: 32, nhead: 4, dimFeedforward: 64, dropout: 0 },
      tasks: { a: mt.tasks.classification({ classes: 2, decoderLayers: 1 }), b: mt.tasks.classification({ classes: 3, decoderLayers: 1 }) },
      device,
    });
    const learnableSets = async () => {
      const { Dataset } = await import('../../lib/data/dataset.ts');
      const inputIds = Array.from({ length: 128 }, (_, i) => Array.from({ length: 8 }, (_, j) => 1 + ((i * 7 + j * 3 + i * j) % 19)));
      return {
        a: Dataset.fromArrays({ inputIds, targets: inputIds.map((r) => r[0]! % 2), targetKind: 'classification' }),
        b: Dataset.fromArrays({ inputIds, targets: inputIds.map((r) => r[0]! % 3), targetKind: 'classification' }),
      };
    };
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;

    it('weights the tasks as on the CPU (uncertainty: λ from host values; PCGrad: coefficients copied asynchronously)', async () => {
      const sets = await learnableSets();
      for (const weighting of [mt.weighting.uncertainty(), mt.weighting.pcgrad()]) {
        const runs = [];
        for (const device of ['cpu', 'cuda'] as const) {
          mt.manualSeed(3);
          const model = mt.multitask(spec('cpu')).to(device);
          const steps: { losses: Record<string, number>; lambdas: Record<string, number> }[] = [];
          await new mt.Trainer(model, { batchSize: 32, seed: 1, weighting, optimizer: mt.optim.adamW({ lr: 1e-3 }) }).fit(sets, {
            steps: 6,
            onProgress: (e) => {
              if (e.kind === 'step') steps.push(e);
            },
          });
          runs.push(steps);
        }
        const [cpu, cuda] = runs;
        expect(cuda!.length, weighting.kind).toBe(6);
        cpu!.forEach((step, i) => {
          for (const task of ['a', 'b']) {
            expect(cuda![i]!.losses[task], `${weighting.kind} step ${i + 1} loss ${task}`).toBeCloseTo(step.losses[task]!, 3);
            expect(cuda![i]!.lambdas[task], `${weighting.kind} step ${i + 1} λ ${task}`).toBeCloseTo(step.lambdas[task]!, 3);
          }
        });
      }
    });

    it('fp16 gradient surgery trains: per-task gradients from the scaled losses, steps skipped only while the scale settles', async () => {
      const sets = await learnableSets();
      for (const weighting of [mt.weighting.pcgrad(), mt.weighting.cagrad(), mt.weighting.nashMtl()]) {
        mt.manualSeed(3);
        const model = mt.multitask(spec('cuda'));
        const losses: number[] = [];
        const skipped: number[] = [];
        await new mt.Trainer(model, { batchSize: 32, precision: 'fp16', weighting, optimizer: mt.optim.adamW({ lr: 3e-3 }) }).fit(sets, {
          steps: 40,
          onProgress: (e) => {
            if (e.kind === 'step') losses.push(e.losses.a! + e.losses.b!);
            if (e.kind === 'skipped') skipped.push(e.step);
          },
        });
        expect(losses.every(Number.isFinite), weighting.kind).toBe(true);
        expect(mean(losses.slice(-5)), weighting.kind).toBeLessThan(mean(losses.slice(0, 5)));
        expect(
          skipped.filter((step) => step > 20),
          `${weighting.kind}: skipped steps ${skipped.join(',')}`,
        ).toEqual([]);
      }
    });
  });
});
