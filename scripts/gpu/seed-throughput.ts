/**
 * Training throughput of the seed's model (scripts/gpu/seed-model.ts: a shared 12-layer encoder
 * d=512, 8 heads, ff 2048, three classification tasks with 2-layer decoders, seq 128), joint
 * training (every task's batch each step, equal weights), AdamW, bf16 autocast: mtl-torch's native
 * loop (mt.Trainer.fit) against PyTorch eager (the twin, python/multitask_twin.py, built from the
 * config.json and weights mtl-torch saved; scripts/gpu/seed_throughput.py), in one run, on the same
 * rows (each task's one batch of `--batch` rows, saved by mtl-torch and read by the twin: every step
 * trains on the same batches on both sides; mtl-torch draws the rows of a batch in its shuffled
 * order). Every row is full length, so every step does the same work.
 *
 * Timing: `--warmup` steps first, then `--windows` windows of `--steps` steps, the device's queue
 * drained before and after each window (torch.cuda.synchronize on the PyTorch side; a read of a
 * parameter value on mtl-torch's, which waits for every kernel queued on the stream). Reported:
 * the median over the windows of tokens/s (input tokens of every task's batch: tasks·batch·seq per
 * step), the ratio mtl-torch / PyTorch, and the model FLOP utilisation against `--peak-tflops`
 * (the H200 SXM's dense bf16 peak, 989 TFLOP/s, by default), the FLOPs counted from the model's
 * shape (seed-model.ts: trainingFlops, whose formula is printed).
 *
 *   npx tsx scripts/gpu/seed-throughput.ts [--device cuda] [--precision bf16|fp32] [--size seed|tiny]
 *        [--batch 64] [--warmup 5] [--steps 10] [--windows 5] [--peak-tflops 989] [--threads N]
 *        [--json out.json] [--no-fused]
 *
 * On the CPU (dry run): --device cpu --size tiny (PyTorch from MTL_TORCH_PYTHON, default
 * /usr/bin/python3). Exit status 1 when either side fails or a loss is not finite.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as mt from '../../lib/index.ts';
import { median, runPython } from '../bench/common.ts';
import { buildModel, describeShape, finishDeviceWork, learnableSets, SHAPES, sizeNamed, taskNames, trainingFlops } from './seed-model.ts';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda' },
    precision: { type: 'string', default: 'bf16' },
    size: { type: 'string', default: 'seed' },
    batch: { type: 'string' },
    warmup: { type: 'string', default: '5' },
    steps: { type: 'string', default: '10' },
    windows: { type: 'string', default: '5' },
    'peak-tflops': { type: 'string', default: '989' },
    threads: { type: 'string', default: '2' },
    json: { type: 'string' },
    'no-fused': { type: 'boolean', default: false },
  },
});
const device = values.device as mt.Device;
const precision = values.precision as 'bf16' | 'fp32';
if (!['bf16', 'fp32'].includes(precision)) throw new Error(`--precision must be bf16 or fp32, got '${values.precision}'`);
const sizeName = sizeNamed(values.size);
const shape = SHAPES[sizeName];
const batch = Number(values.batch ?? (sizeName === 'seed' ? 64 : 8));
const warmup = Number(values.warmup),
  steps = Number(values.steps),
  windows = Number(values.windows);
const peak = Number(values['peak-tflops']) * 1e12;
const onCpu = !device.startsWith('cuda');
const threads = Number(values.threads);
const tasks = taskNames(shape);
const lr = 1e-4,
  weightDecay = 0.01;

if (onCpu) mt.setNumThreads(threads);
mt.manualSeed(0);
const model = buildModel(shape, 'cpu');
const work = mkdtempSync(path.join(tmpdir(), 'mtl-seed-throughput-'));
let failed = false;
try {
  await model.save(path.join(work, 'model')); // the twin loads these weights
  model.to(device);
  const { sets, arrays } = learnableSets(shape, batch);
  const dataFile = path.join(work, 'data.safetensors');
  const tensors: Record<string, mt.Tensor> = {};
  for (const t of tasks) {
    tensors[`inputIds.${t}`] = mt.tensor(arrays[t]!.inputIds, { dtype: 'int64' });
    tensors[`targets.${t}`] = mt.tensor(arrays[t]!.targets, { dtype: 'int64' });
  }
  mt.save(dataFile, tensors);
  for (const t of Object.values(tensors)) t.dispose();

  const flops = trainingFlops(shape, batch);
  const tokensPerStep = flops.tokens;

  // ---- mtl-torch ----
  const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr, weightDecay }), batchSize: batch, precision });
  const sumLosses = (e: { losses: Record<string, number> }) => Object.values(e.losses).reduce((a, b) => a + b, 0);
  const ourLosses: number[] = [];
  await trainer.fit(sets, {
    steps: warmup,
    progressEvery: 1,
    onProgress: (e) => {
      if (e.kind === 'step' && e.step === 1) ourLosses.push(sumLosses(e));
    },
  });
  finishDeviceWork(model);
  const ourRates: number[] = [];
  for (let w = 0; w < windows; w++) {
    finishDeviceWork(model);
    const started = performance.now();
    await trainer.fit(sets, {
      steps,
      progressEvery: steps,
      onProgress: (e) => {
        if (e.kind === 'step') ourLosses.push(sumLosses(e));
      },
    });
    finishDeviceWork(model);
    ourRates.push(steps / ((performance.now() - started) / 1000));
  }

  // ---- PyTorch eager (the twin) ----
  interface TorchRun {
    stepsPerSecond?: number[];
    losses?: number[];
    peakMemoryGiB?: number;
    error?: string;
  }
  interface TorchResult {
    torch: string;
    threads: number;
    device: string;
    deviceName?: string;
    results: Record<string, TorchRun>;
  }
  const script = path.join(import.meta.dirname, 'seed_throughput.py');
  const theirs = runPython<TorchResult>(script, {
    modelDir: path.join(work, 'model'),
    dataFile,
    tasks,
    device,
    precision,
    batch,
    warmup,
    steps,
    windows,
    threads,
    lr,
    weightDecay,
    fused: !values['no-fused'],
  });

  // ---- report ----
  const tokensPerSecond = (stepsPerSecond: number[]) => median(stepsPerSecond) * tokensPerStep;
  const tflops = (stepsPerSecond: number[]) => (median(stepsPerSecond) * flops.perStep) / 1e12;
  const mfu = (stepsPerSecond: number[]) => (100 * median(stepsPerSecond) * flops.perStep) / peak;
  const line = (name: string, rates: number[]) =>
    `  ${name}: ${(tokensPerSecond(rates) / 1e3).toFixed(1)}k tokens/s, ${(1000 / median(rates)).toFixed(1)} ms/step, ` +
    `${tflops(rates).toFixed(2)} TFLOP/s, MFU ${mfu(rates).toFixed(onCpu ? 4 : 1)} % ` +
    `(windows: ${rates.map((r) => ((r * tokensPerStep) / 1e3).toFixed(1)).join(', ')}k tokens/s)`;
  const torchDefault = theirs.results.default!;
  const finite = (xs: number[] | undefined) => !!xs && xs.length > 0 && xs.every(Number.isFinite);

  console.log(
    `seed-throughput: ${describeShape(shape)}; batch ${batch} per task, joint, equal weights, AdamW (lr ${lr}, weight decay ${weightDecay}), ` +
      `${precision}${precision === 'bf16' ? ' autocast' : ''}, on ${device}${theirs.deviceName ? ` (${theirs.deviceName})` : ''}` +
      `${onCpu ? `, ${threads} threads` : ''}; mtl-torch ${mt.version.package} on libtorch ${mt.version.torch}, PyTorch ${theirs.torch} eager`,
  );
  console.log(
    `  timing: ${warmup} warm-up steps, then the median of ${windows} windows of ${steps} steps, the device drained around each window`,
  );
  console.log(`  ${flops.formula}`);
  console.log(
    `  = ${(flops.perStep / 1e12).toFixed(3)} TFLOP per step, ${(flops.perToken / 1e6).toFixed(1)} MFLOP per token ` +
      `(the plain 6·N·tokens with N = ${((flops.nEncoder + flops.nDecoders) / 1e6).toFixed(1)}M non-embedding weights would say ${(flops.naive / 1e12).toFixed(3)} TFLOP: ` +
      `it counts the decoders on every token, they see one query per example); peak ${values['peak-tflops']} TFLOP/s (dense bf16, H200 SXM)`,
  );
  console.log(line('mtl-torch', ourRates));
  console.log(line(`PyTorch eager, torch.optim.AdamW default`, torchDefault.stepsPerSecond!));
  const fused = theirs.results.fused;
  if (fused?.stepsPerSecond) console.log(line('PyTorch eager, fused AdamW (reference)', fused.stepsPerSecond));
  else if (fused?.error) console.log(`  PyTorch eager, fused AdamW: not run (${fused.error})`);
  if (torchDefault.peakMemoryGiB !== undefined) console.log(`  PyTorch peak memory ${torchDefault.peakMemoryGiB.toFixed(2)} GiB`);
  console.log(
    `  summed loss, first step -> last timed step: mtl-torch ${ourLosses[0]?.toFixed(4)} -> ${ourLosses.at(-1)?.toFixed(4)}; ` +
      `PyTorch ${torchDefault.losses?.[0]?.toFixed(4)} -> ${torchDefault.losses?.at(-1)?.toFixed(4)}`,
  );
  const ratio = median(ourRates) / median(torchDefault.stepsPerSecond!);
  console.log(
    `  RATIO mtl-torch / PyTorch eager: ${ratio.toFixed(3)} (goal >= 1.0)` +
      (fused?.stepsPerSecond ? `; against fused AdamW ${(median(ourRates) / median(fused.stepsPerSecond)).toFixed(3)}` : ''),
  );
  console.log(
    `  MFU mtl-torch ${mfu(ourRates).toFixed(onCpu ? 4 : 1)} %, PyTorch ${mfu(torchDefault.stepsPerSecond!).toFixed(onCpu ? 4 : 1)} % ` +
      `of ${values['peak-tflops']} TFLOP/s (goal >= 40 % on the H200${onCpu ? '; meaningless on the CPU: this is a dry run' : ''})`,
  );
  if (!finite(ourLosses) || !finite(torchDefault.losses)) {
    console.log('  FAILED: a loss is not finite');
    failed = true;
  }
  if (values.json) {
    writeFileSync(
      values.json,
      JSON.stringify(
        {
          shape,
          batch,
          precision,
          device,
          warmup,
          steps,
          windows,
          peakTflops: Number(values['peak-tflops']),
          flopsPerStep: flops.perStep,
          tokensPerStep,
          mtlTorch: { version: mt.version, stepsPerSecond: ourRates, losses: ourLosses },
          pytorch: theirs,
          ratio,
          mfu: { mtlTorch: mfu(ourRates), pytorch: mfu(torchDefault.stepsPerSecond!) },
        },
        null,
        1,
      ),
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
