/**
 * Training-step throughput: mtl-torch's native loop (mt.Trainer.fit on mt.ReferenceModel) against
 * the same model and loop in PyTorch eager (train-step.py), same threads, same batch, same data
 * shape, run side by side. Prints both rates and their ratio (> 1: mtl-torch is faster).
 *
 *   npx tsx scripts/bench/train-step.ts [--threads N] [--steps N]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const THREADS = option('threads', mt.getNumThreads());
const STEPS = option('steps', 300);
const WARMUP = 20;
const INPUT = 64, HIDDEN = 256, TASKS = 3, ROWS = 4096, BATCH = 64;
const PYTHON = process.env.MTL_TORCH_PYTHON ?? '/usr/bin/python3';

mt.setNumThreads(THREADS);
mt.manualSeed(0);
const sets: Record<string, Dataset> = {};
const tasks: Record<string, { kind: 'classification'; classes: number }> = {};
for (let t = 0; t < TASKS; t++) {
  const features = Array.from({ length: ROWS }, () => Array.from({ length: INPUT }, () => Math.random() * 2 - 1));
  sets[`t${t}`] = Dataset.fromArrays({ inputIds: features.map(() => [1]), features, targets: features.map(() => Math.floor(Math.random() * 4)), targetKind: 'class' });
  tasks[`t${t}`] = { kind: 'classification', classes: 4 };
}
const model = new mt.ReferenceModel({ inputDim: INPUT, hidden: [HIDDEN, HIDDEN], tasks });
const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 1e-3 }), batchSize: BATCH });
await trainer.fit(sets, { steps: WARMUP, progressEvery: 1_000_000 });
const started = performance.now();
await trainer.fit(sets, { steps: STEPS, progressEvery: 1_000_000 });
const ours = STEPS / ((performance.now() - started) / 1000);

const script = fileURLToPath(new URL('./train-step.py', import.meta.url));
const output = execFileSync(PYTHON, [script, ...[THREADS, STEPS, WARMUP, INPUT, HIDDEN, TASKS, ROWS, BATCH].map(String)], { encoding: 'utf8' });
const theirs = (JSON.parse(output) as { stepsPerSecond: number }).stepsPerSecond;

console.log(`train-step: ReferenceModel ${INPUT}→${HIDDEN}→${HIDDEN}, ${TASKS} tasks, batch ${BATCH}, joint, AdamW, ${THREADS} threads, ${STEPS} steps`);
console.log(`  mtl-torch (native loop): ${ours.toFixed(1)} steps/s`);
console.log(`  PyTorch eager:           ${theirs.toFixed(1)} steps/s`);
console.log(`  ratio mtl-torch / PyTorch: ${(ours / theirs).toFixed(2)}`);
