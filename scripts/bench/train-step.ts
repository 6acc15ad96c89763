/**
 * Training-step throughput of the 'small' benchmark model: a 4-layer shared Transformer encoder
 * (d=256, 4 heads, ff 1024) with 3 classification tasks, each with a 2-layer decoder; batch 32,
 * sequence 64, joint strategy (equal weights), AdamW. mtl-torch's native loop (mt.Trainer.fit)
 * against the same model (the PyTorch twin, built from the same config.json and weights) and the
 * same loop in PyTorch eager (train-step.py), same threads, in one run:
 *
 *   separate  each task has its own inputs: both sides encode three batches per step;
 *   shared    the three tasks label the same inputs (Dataset.withTargets): mtl-torch encodes once;
 *             PyTorch runs its usual loop, one forward per task (and, for reference, a hand-written
 *             encode-once loop).
 *
 *   npx tsx scripts/bench/train-step.ts [--threads 2] [--steps 6] [--warmup 2] [--rounds 1]
 *
 * MTL_TORCH_BENCH_SMOKE=1 makes the defaults 1 step after 1 warm-up step (scripts/bench/common.ts).
 *
 * Prints steps/s of each side (median over rounds) and the ratios (> 1: mtl-torch is faster).
 * PyTorch runs with glibc's default malloc and with glibc told to keep freed memory
 * (scripts/bench/common.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { median, randomTokenRows, runPython, small, smallEncoderTitle, smallModel, smoke, type PythonAllocator } from './common.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: smoke ? '1' : '6' },
    warmup: { type: 'string', default: smoke ? '1' : '2' },
    rounds: { type: 'string', default: '1' },
  },
});
const config = {
  threads: Number(values.threads),
  steps: Number(values.steps),
  warmup: Number(values.warmup),
  batch: small.batch,
  seq: small.seq,
  vocab: small.vocab,
  classes: small.classes,
  lr: 1e-4,
  weightDecay: 0.01,
};
const rounds = Number(values.rounds);
const taskNames = small.taskNames;

mt.setNumThreads(config.threads);
mt.manualSeed(0);
const model = smallModel();
const modelDir = mkdtempSync(path.join(tmpdir(), 'mtl-bench-train-step-'));
await model.save(modelDir);

// Enough rows that no timed step wraps around a pass; every row is full length (no padding).
const rows = config.batch * (config.warmup + config.steps);
const randomTargets = (classes: number) => Array.from({ length: rows }, () => Math.floor(Math.random() * classes));
const separateSets: Record<string, Dataset> = {};
taskNames.forEach((name, i) => {
  separateSets[name] = Dataset.fromArrays({
    inputIds: randomTokenRows(rows),
    targets: randomTargets(config.classes[i]!),
    targetKind: 'classification',
  });
});
const base = Dataset.fromArrays({
  inputIds: randomTokenRows(rows),
  targets: randomTargets(config.classes[0]!),
  targetKind: 'classification',
});
const sharedSets: Record<string, Dataset> = { [taskNames[0]!]: base };
taskNames.slice(1).forEach((name, i) => {
  sharedSets[name] = base.withTargets({ targets: randomTargets(config.classes[i + 1]!), targetKind: 'classification' });
});

type Mode = 'separate' | 'shared';
async function mtlStepsPerSecond(sets: Record<string, Dataset>): Promise<number> {
  const trainer = new mt.Trainer(model, {
    optimizer: mt.optim.adamW({ lr: config.lr, weightDecay: config.weightDecay }),
    batchSize: config.batch,
  });
  await trainer.fit(sets, { steps: config.warmup });
  const started = performance.now();
  await trainer.fit(sets, { steps: config.steps });
  return config.steps / ((performance.now() - started) / 1000);
}

interface TorchResult {
  torch: string;
  threads: number;
  stepsPerSecond: Record<string, number>;
}
const script = path.join(import.meta.dirname, 'train-step.py');
const torchLoops: Record<Mode, string[]> = { separate: ['separate'], shared: ['perTask', 'encodeOnce'] };

const ours: Record<Mode, number[]> = { separate: [], shared: [] };
const theirs: Record<PythonAllocator, Record<string, number[]>> = { default: {}, tuned: {} };
let torchVersion = '?';
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['separate', 'shared'] as const) {
      ours[mode].push(await mtlStepsPerSecond(mode === 'separate' ? separateSets : sharedSets));
      for (const allocator of ['default', 'tuned'] as const) {
        const result = runPython<TorchResult>(script, { ...config, modelDir, tasks: taskNames, loops: torchLoops[mode] }, allocator);
        torchVersion = result.torch;
        for (const [loop, rate] of Object.entries(result.stepsPerSecond)) (theirs[allocator][loop] ??= []).push(rate);
      }
    }
  }
} finally {
  rmSync(modelDir, { recursive: true, force: true });
}

const rate = (xs: number[]) => `${median(xs).toFixed(3)} steps/s`;
const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
console.log(
  `train-step: ${smallEncoderTitle} + 3 classification tasks with 2-layer decoders, ` +
    `batch ${config.batch}, seq ${config.seq}, joint, AdamW, ${config.threads} threads, ${config.steps} timed steps x ${rounds} round(s)`,
);
console.log(`  PyTorch eager ${torchVersion}; "tuned": run with glibc told to keep freed memory`);
console.log(
  `  separate inputs: mtl-torch ${rate(ours.separate)}; PyTorch ${rate(theirs.default.separate!)} (tuned ${rate(theirs.tuned.separate!)})`,
);
console.log(
  `    ratio mtl-torch / PyTorch: ${ratio(ours.separate, theirs.default.separate!)} (goal >= 1.0); against tuned ${ratio(ours.separate, theirs.tuned.separate!)}`,
);
console.log(
  `  shared inputs: mtl-torch (encodes once) ${rate(ours.shared)}; PyTorch one forward per task ${rate(theirs.default.perTask!)} ` +
    `(tuned ${rate(theirs.tuned.perTask!)}); PyTorch hand-written encode-once ${rate(theirs.default.encodeOnce!)} (tuned ${rate(theirs.tuned.encodeOnce!)})`,
);
console.log(
  `    ratio mtl-torch / PyTorch per-task loop: ${ratio(ours.shared, theirs.default.perTask!)} (goal >= 2.0); against tuned ${ratio(ours.shared, theirs.tuned.perTask!)}`,
);
console.log(
  `    ratio mtl-torch / PyTorch encode-once loop: ${ratio(ours.shared, theirs.default.encodeOnce!)}; against tuned ${ratio(ours.shared, theirs.tuned.encodeOnce!)}`,
);
