/**
 * What the side-by-side benchmarks share: the median, and how the PyTorch side is spawned.
 *
 * mtl-torch serves CPU tensors from a caching allocator (mt.hostAllocator(): freed activations are
 * reused, not page-faulted in again); PyTorch allocates through glibc malloc. The benchmarks run
 * PyTorch both ways: as users get it, and "tuned", with glibc told to keep freed memory
 * (GLIBC_TUNABLES mmap threshold 32 MiB, trim threshold 2 GiB, the most a PyTorch user gets
 * without preloading another allocator), so a ratio never hides where it comes from.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as mt from '../../lib/index.ts';

export const python = process.env.MTL_TORCH_PYTHON ?? '/usr/bin/python3';

/**
 * MTL_TORCH_BENCH_SMOKE=1: every benchmark runs at a smoke size (one round, one or two iterations,
 * smaller shapes where a full one takes long) so that CI runs each in seconds and a benchmark that
 * breaks fails there (scripts/bench/smoke.mjs). Its figures measure nothing; each says so.
 */
export const smoke = process.env.MTL_TORCH_BENCH_SMOKE === '1';
if (smoke)
  console.log('bench: smoke size (MTL_TORCH_BENCH_SMOKE=1): the figures below check that the benchmark runs, they measure nothing');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** 'default': glibc as Python gets it; 'tuned': glibc told to keep freed memory. */
export type PythonAllocator = 'default' | 'tuned';

const TUNED_MALLOC = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647';

export function pythonEnvironment(allocator: PythonAllocator): NodeJS.ProcessEnv {
  return allocator === 'default' ? process.env : { ...process.env, GLIBC_TUNABLES: TUNED_MALLOC };
}

/** Runs a PyTorch-side script with one JSON argument; returns the JSON of its last output line. */
export function runPython<T>(script: string, config: unknown, allocator: PythonAllocator = 'default'): T {
  const run = spawnSync(python, [script, JSON.stringify(config)], {
    encoding: 'utf8',
    env: pythonEnvironment(allocator),
    maxBuffer: 1 << 26,
  });
  if (run.status !== 0) throw new Error(`${python} ${script} failed (status ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}

/**
 * The 'small' benchmark model (scripts/bench/train-step.ts, scripts/gpu/train-bf16.ts): a 4-layer
 * shared Transformer encoder (d=256, 4 heads, ff 1024) with three classification tasks, each with
 * a 2-layer decoder; batches of 32 rows of 64 tokens. At the smoke size: 1 layer, d=64, batch 4 of 16.
 */
export const small = {
  batch: smoke ? 4 : 32,
  seq: smoke ? 16 : 64,
  vocab: 1000,
  classes: [2, 3, 5],
  taskNames: ['task0', 'task1', 'task2'],
  encoder: smoke
    ? { numLayers: 1, dModel: 64, nhead: 2, dimFeedforward: 128 }
    : { numLayers: 4, dModel: 256, nhead: 4, dimFeedforward: 1024 },
};
/** "4-layer shared encoder d=256 (4 heads, ff 1024)": the encoder of `small`, for titles. */
export const smallEncoderTitle = `${small.encoder.numLayers}-layer shared encoder d=${small.encoder.dModel} (${small.encoder.nhead} heads, ff ${small.encoder.dimFeedforward})`;

export function smallModel(device: mt.Device = 'cpu') {
  return mt.multitask({
    input: { vocabSize: small.vocab, maxLength: small.seq },
    encoder: { ...small.encoder, dropout: 0.1 },
    sharing: mt.sharing.sharedEncoder(),
    tasks: Object.fromEntries(
      small.taskNames.map((name, i) => [name, mt.tasks.classification({ classes: small.classes[i]!, decoderLayers: 2 })]),
    ),
    device,
  });
}

/** `rows` full-length rows of random token ids (1 .. vocab-1: no padding). */
export function randomTokenRows(rows: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: small.seq }, () => 1 + Math.floor(Math.random() * (small.vocab - 1))));
}

export interface RoundsOptions {
  rounds: number;
  iterations: number;
  warmup: number;
}

/** The command line of a compareRounds benchmark: --threads (2), --rounds (3), --iterations and --warmup (defaults given). */
export function roundsArguments(defaults: { iterations: number; warmup: number }): RoundsOptions & { threads: number } {
  if (smoke) defaults = { iterations: 1, warmup: 1 };
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      rounds: { type: 'string', default: smoke ? '1' : '3' },
      iterations: { type: 'string', default: String(defaults.iterations) },
      warmup: { type: 'string', default: String(defaults.warmup) },
    },
  });
  return {
    threads: Number(values.threads),
    rounds: Number(values.rounds),
    iterations: Number(values.iterations),
    warmup: Number(values.warmup),
  };
}
interface TorchRound {
  torch: string;
  threads: number;
  timesMs: number[];
}

/**
 * Times one iteration of mtl-torch (`step`) against a PyTorch script (one JSON config argument; it
 * prints { torch, threads, timesMs }) in alternating rounds (mtl-torch, PyTorch, PyTorch with
 * glibc told to keep freed memory, mtl-torch, ...), each round warming up first, so a change in
 * machine load hits all sides alike; then prints the medians and the ratio PyTorch / mtl-torch.
 */
export function compareRounds(
  title: string,
  options: RoundsOptions,
  step: () => void,
  script: string,
  config: RoundsOptions & { threads: number },
): void {
  const ours: number[] = [];
  const theirs: Record<PythonAllocator, number[]> = { default: [], tuned: [] };
  let torchInfo = { torch: '?', threads: 0 };
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < options.warmup + options.iterations; i++) {
      const start = performance.now();
      step();
      if (i >= options.warmup) ours.push(performance.now() - start);
    }
    for (const allocator of ['default', 'tuned'] as const) {
      const result = runPython<TorchRound>(script, config, allocator);
      theirs[allocator].push(...result.timesMs);
      torchInfo = result;
    }
  }
  const ourMedian = median(ours);
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(`${title}, ${config.threads} threads, median of ${options.rounds} alternating rounds x ${options.iterations} iterations`);
  console.log(`  mtl-torch (libtorch ${mt.version.torch}): median ${fmt(ourMedian)}, min ${fmt(Math.min(...ours))}`);
  for (const allocator of ['default', 'tuned'] as const) {
    const times = theirs[allocator];
    const label = allocator === 'default' ? 'glibc malloc defaults' : 'glibc told to keep freed memory';
    console.log(
      `  PyTorch eager ${torchInfo.torch} (${torchInfo.threads} threads, ${label}): median ${fmt(median(times))}, min ${fmt(Math.min(...times))}`,
    );
  }
  // The minimum is printed too: on a loaded machine it estimates the uncontended cost better.
  console.log(
    `  ratio PyTorch / mtl-torch: ${(median(theirs.default) / ourMedian).toFixed(3)} (goal >= 1.0); ` +
      `against PyTorch with a tuned malloc ${(median(theirs.tuned) / ourMedian).toFixed(3)}`,
  );
}
