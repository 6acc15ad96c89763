/**
 * Short training runs in mixed precision that must learn: bf16 autocast, and fp16 with dynamic
 * loss scaling (CUDA only; the trainer refuses fp16 on the CPU), for a model of
 * scripts/gpu/seed-model.ts ('small': the 4-layer d=256 benchmark model, the default; 'seed': the
 * seed's 12-layer d=512 model; 'tiny' for CPU dry runs), three classification tasks with 2-layer
 * decoders, joint training, AdamW, with separate and with shared inputs, and with any loss
 * weighting, gradient surgery included (PCGrad, CAGrad, Nash-MTL: their per-task gradients are
 * computed from the scaled losses in fp16, then unscaled).
 *
 * Each run prints tokens/s (input tokens of every task's batch per second, the device drained
 * around the run), the summed loss of its first and last five steps, the last step's λ, and the
 * steps the loss scaler skipped (warm-up included). A run passes when every loss is finite, the
 * loss fell (the targets are a function of the first token, so they can be learned), and no step
 * was skipped in the second half of the run (the scale has settled by then).
 *
 *   npx tsx scripts/gpu/train-bf16.ts [--steps 60] [--device cuda] [--size small|seed|tiny]
 *        [--batch N] [--precisions bf16,fp16] [--inputs separate,shared] [--weightings equal,pcgrad]
 *        [--lr 3e-4] [--warmup 5]
 */
import { parseArgs } from 'node:util';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { buildModel, describeShape, finishDeviceWork, learnableSets, SHAPES, sizeNamed, taskNames, tokenRows } from './seed-model.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '60' },
    device: { type: 'string', default: 'cuda' },
    size: { type: 'string', default: 'small' },
    batch: { type: 'string' },
    precisions: { type: 'string' },
    inputs: { type: 'string', default: 'separate,shared' },
    weightings: { type: 'string', default: 'equal' },
    lr: { type: 'string', default: '3e-4' },
    warmup: { type: 'string', default: '5' },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const device = values.device as mt.Device;
const onCpu = !device.startsWith('cuda');
const sizeName = sizeNamed(values.size);
const shape = SHAPES[sizeName];
const batch = Number(values.batch ?? (sizeName === 'tiny' ? 16 : 32));
// fp16 with loss scaling is CUDA-only (the trainer refuses it on the CPU).
const precisions = (values.precisions ?? (onCpu ? 'bf16' : 'bf16,fp16')).split(',') as ('fp32' | 'bf16' | 'fp16')[];
const inputModes = values.inputs.split(',') as ('separate' | 'shared')[];
const weightings = values.weightings.split(',');
const names = taskNames(shape);

mt.manualSeed(0);
const rows = batch * 8;
const { sets: separate } = learnableSets(shape, rows);
const inputs = tokenRows(shape, rows);
const target = (row: number[], k: number) => row[0]! % k;
const base = Dataset.fromArrays({
  inputIds: inputs,
  targets: inputs.map((r) => target(r, shape.classes[0]!)),
  targetKind: 'classification',
});
const shared: Record<string, Dataset> = { [names[0]!]: base };
names.slice(1).forEach((name, i) => {
  shared[name] = base.withTargets({ targets: inputs.map((r) => target(r, shape.classes[i + 1]!)), targetKind: 'classification' });
});

console.log(
  `train-bf16: ${describeShape(shape)}; batch ${batch} per task, joint, AdamW lr ${values.lr}, ${warmup} warm-up + ${steps} steps per run, on ${device}`,
);
let failed = false;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const weighting of weightings) {
  const weightingSpec = (mt.weighting as unknown as Record<string, () => mt.Weighting>)[weighting];
  if (!weightingSpec) throw new Error(`--weightings: unknown weighting '${weighting}'`);
  for (const precision of precisions) {
    for (const label of inputModes) {
      const sets = label === 'separate' ? separate : shared;
      mt.manualSeed(0);
      const model = buildModel(shape, device);
      const trainer = new mt.Trainer(model, {
        optimizer: mt.optim.adamW({ lr: Number(values.lr) }),
        batchSize: batch,
        precision,
        weighting: weightingSpec(),
      });
      const skippedAt: number[] = [];
      let warmupSkips = 0;
      // warm-up: kernels, allocator (and the loss scale's first adjustments, counted)
      await trainer.fit(sets, {
        steps: warmup,
        progressEvery: 1_000_000,
        onProgress: (e) => {
          if (e.kind === 'skipped') warmupSkips++;
        },
      });
      const losses: number[] = [];
      let lambdas: Record<string, number> = {};
      finishDeviceWork(model);
      const started = performance.now();
      await trainer.fit(sets, {
        steps,
        progressEvery: 1,
        onProgress: (e) => {
          if (e.kind === 'step') {
            losses.push(Object.values(e.losses).reduce((a, b) => a + b, 0));
            lambdas = e.lambdas;
          }
          if (e.kind === 'skipped') skippedAt.push(e.step);
        },
      });
      finishDeviceWork(model);
      const seconds = (performance.now() - started) / 1000;
      const tokens = steps * names.length * batch * shape.seq;
      const first = mean(losses.slice(0, 5)),
        last = mean(losses.slice(-5));
      const finite = losses.length > 0 && losses.every(Number.isFinite);
      const fell = last < first;
      const settled = skippedAt.every((s) => s <= steps / 2);
      const ok = finite && fell && settled;
      failed ||= !ok;
      const problems = [
        !finite && 'a loss is not finite',
        !fell && 'the loss did not fall',
        !settled && 'steps skipped after the scale settled',
      ].filter(Boolean);
      const λ = Object.entries(lambdas)
        .map(([t, v]) => `${t} ${v.toFixed(3)}`)
        .join(', ');
      console.log(
        `${precision} ${weighting} ${label} inputs on ${device}: ${(tokens / seconds).toFixed(0)} tokens/s, ${(steps / seconds).toFixed(2)} steps/s; ` +
          `summed loss ${first.toFixed(3)} -> ${last.toFixed(3)}; λ ${λ}; ` +
          `skipped ${warmupSkips} in warm-up, ${skippedAt.length} in the run${skippedAt.length ? ` (at steps ${skippedAt.join(',')})` : ''} ` +
          `${ok ? 'ok' : `FAILED (${problems.join('; ')})`}`,
      );
    }
  }
}
process.exit(failed ? 1 : 0);
