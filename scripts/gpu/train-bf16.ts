/**
 * A short training run on CUDA of the 'small' benchmark model (4-layer shared encoder d=256,
 * 4 heads, ff 1024; three classification tasks with 2-layer decoders; batch 32, seq 64, joint,
 * AdamW), in bf16 autocast and in fp16 with dynamic loss scaling, with separate and with shared
 * inputs. Prints tokens/s (input tokens of every task's batch per second) and checks that the
 * loss fell and stayed finite.
 *
 *   npx tsx scripts/gpu/train-bf16.ts [--steps 60] [--device cuda]
 */
import { parseArgs } from 'node:util';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { randomTokenRows, small, smallModel } from '../bench/common.ts';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '60' }, device: { type: 'string', default: 'cuda' } } });
const steps = Number(values.steps);
const device = values.device as mt.Device;
const { batch, seq, classes, taskNames: names } = small;

mt.manualSeed(0);
const rows = batch * 8;
// Learnable targets: each task's class is a function of the first token, so the loss must fall.
const inputs = randomTokenRows(rows);
const target = (row: number[], k: number) => row[0]! % k;
const separate: Record<string, Dataset> = {};
names.forEach((name, i) => {
  const own = randomTokenRows(rows);
  separate[name] = Dataset.fromArrays({ inputIds: own, targets: own.map((r) => target(r, classes[i]!)), targetKind: 'classification' });
});
const base = Dataset.fromArrays({ inputIds: inputs, targets: inputs.map((r) => target(r, classes[0]!)), targetKind: 'classification' });
const shared: Record<string, Dataset> = { [names[0]!]: base };
names.slice(1).forEach((name, i) => { shared[name] = base.withTargets({ targets: inputs.map((r) => target(r, classes[i + 1]!)), targetKind: 'classification' }); });

let failed = false;
// fp16 with loss scaling is CUDA-only (the trainer refuses it on the CPU).
for (const precision of device === 'cpu' ? (['bf16'] as const) : (['bf16', 'fp16'] as const)) {
  for (const [label, sets] of [['separate', separate], ['shared', shared]] as const) {
    const model = smallModel(device);
    const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 3e-4 }), batchSize: batch, precision });
    await trainer.fit(sets, { steps: 5, progressEvery: 1_000_000 });  // warm-up: kernels, allocator
    const losses: number[] = [];
    let skipped = 0;
    const started = performance.now();
    await trainer.fit(sets, {
      steps, progressEvery: 1,
      onProgress: (e) => {
        if (e.kind === 'step') losses.push(Object.values(e.losses).reduce((a, b) => a + b, 0));
        if (e.kind === 'skipped') skipped++;
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const tokens = steps * names.length * batch * seq;
    const first = losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    const ok = losses.every(Number.isFinite) && last < first;
    failed ||= !ok;
    console.log(`${precision} ${label} inputs on ${device}: ${(tokens / seconds).toFixed(0)} tokens/s, ${(steps / seconds).toFixed(1)} steps/s; ` +
      `summed loss ${first.toFixed(3)} -> ${last.toFixed(3)}${skipped ? `, ${skipped} steps skipped by loss scaling` : ''} ${ok ? 'ok' : 'FAILED'}`);
  }
}
process.exit(failed ? 1 : 0);
