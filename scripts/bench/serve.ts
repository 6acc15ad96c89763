/**
 * npm run bench:serve — inference on the same weights, then the HTTP server under load.
 *
 * (a) A multi-task model with a 4-layer encoder (d=256, 4 heads, ff 1024, dropout 0) and one
 *     classification head, eval forward of batch 32 x seq 64 token ids: mtl-torch (model.predict) at
 *     fp32, bf16 and int8, against PyTorch eager (serve.py: python/multitask_twin.py loading the saved
 *     model) and onnxruntime-node 1.20.1 (the ONNX file torch.onnx.export writes from the same twin),
 *     in alternating rounds, medians; the ratio onnxruntime-node / mtl-torch (> 1: mtl-torch faster).
 *     Each side's outputs are checked against mtl-torch fp32 first (largest |Δ logit|, labels agreeing).
 * (b) The server (mt.serve) on a small trained phonetics run, loopback, autocannon for a fixed number
 *     of requests at concurrency 1, 8 and 32, with batching on (maxBatch 32, maxDelayMs 5) and off
 *     (maxBatch 1, maxDelayMs 0): requests/s and latency p50 / p95 / p99.
 *
 *   npx tsx scripts/bench/serve.ts [--threads 2] [--rounds 3] [--iterations 10] [--warmup 3] [--part a|b|ab] [--requests 600]
 *
 * OMP_WAIT_POLICY (docs/serving.md, FACTS): libgomp reads it when it loads, so set it in the
 * environment of this command; PyTorch's child process inherits it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import * as mt from '../../lib/index.ts';
import { trainRun } from '../../lib/run/run.ts';
import { save as saveTensors } from '../../lib/serialization.ts';
import { median, runPython, smoke } from './common.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    // MTL_TORCH_BENCH_SMOKE=1 (scripts/bench/smoke.mjs): one round of one iteration, 64 requests.
    rounds: { type: 'string', default: smoke ? '1' : '3' },
    iterations: { type: 'string', default: smoke ? '1' : '10' },
    warmup: { type: 'string', default: smoke ? '1' : '3' },
    part: { type: 'string', default: 'ab' },
    requests: { type: 'string', default: smoke ? '64' : '600' },
  },
});
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const work = mkdtempSync(path.join(tmpdir(), 'mtl-bench-serve-'));
const script = path.join(import.meta.dirname, 'serve.py');
mt.setNumThreads(threads);
console.log(`threads ${threads}, OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? '(unset)'}, libtorch ${mt.version.torch}`);

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function partA(): Promise<void> {
  const shape = { batch: 32, seq: 64, vocab: 1000 };
  mt.manualSeed(0);
  const model = mt
    .multitask({
      input: { vocabSize: shape.vocab, maxLength: shape.seq },
      encoder: { numLayers: 4, dModel: 256, nhead: 4, dimFeedforward: 1024, dropout: 0 },
      tasks: { cls: mt.tasks.classification({ classes: 3 }) },
    })
    .eval();
  const modelDir = path.join(work, 'model');
  await model.save(modelDir);
  const ids = Array.from({ length: shape.batch }, () =>
    Array.from({ length: shape.seq }, () => 1 + Math.floor(Math.random() * (shape.vocab - 1))),
  );
  const inputIds = mt.tensor(ids, { dtype: 'int64' });
  const lengths = mt.tensor(Array(shape.batch).fill(shape.seq), { dtype: 'int64' });
  const inputsFile = path.join(work, 'inputs.safetensors');
  saveTensors(inputsFile, { inputIds, lengths });
  const onnxFile = path.join(work, 'model.onnx');
  const pyConfig = { model: modelDir, inputs: inputsFile, task: 'cls', threads };
  runPython(script, { ...pyConfig, export: onnxFile });
  const session = await ort.InferenceSession.create(onnxFile, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const feeds = {
    inputIds: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [shape.batch, shape.seq]),
    lengths: new ort.Tensor('int64', BigInt64Array.from(Array(shape.batch).fill(BigInt(shape.seq))), [shape.batch]),
  };

  // Same weights, same answers: every side against mtl-torch fp32's logits.
  const logits = async () => (await model.predictTasks(['cls'], { inputIds, lengths })).cls!.outputs!.toArray() as number[][];
  model.precision = 'fp32';
  const reference = await logits();
  const compare = (name: string, other: number[][]) => {
    const worst = Math.max(...other.flatMap((row, i) => row.map((v, j) => Math.abs(v - reference[i]![j]!))));
    const argmax = (row: number[]) => row.indexOf(Math.max(...row));
    const agree = other.filter((row, i) => argmax(row) === argmax(reference[i]!)).length;
    console.log(
      `  ${name.padEnd(22)} largest |Δ logit| vs mtl-torch fp32 ${worst.toExponential(2)}, labels agreeing ${agree}/${other.length}`,
    );
  };
  console.log('outputs against mtl-torch fp32:');
  for (const precision of ['bf16', 'int8'] as const) {
    model.precision = precision;
    compare(`mtl-torch ${precision}`, await logits());
  }
  compare('PyTorch eager', runPython<{ outputs: number[][] }>(script, { ...pyConfig, check: true }).outputs);
  const ortOut = (await session.run(feeds)).outputs!;
  compare(
    'onnxruntime-node',
    Array.from({ length: shape.batch }, (_, i) => Array.from((ortOut.data as Float32Array).slice(i * 3, i * 3 + 3))),
  );

  const times: Record<string, number[]> = {
    'mtl-torch fp32': [],
    'mtl-torch bf16': [],
    'mtl-torch int8': [],
    'PyTorch eager': [],
    'onnxruntime-node': [],
  };
  const timeLoop = async (name: string, step: () => unknown) => {
    for (let i = 0; i < warmup + iterations; i++) {
      const start = performance.now();
      await step();
      if (i >= warmup) times[name]!.push(performance.now() - start);
    }
  };
  for (let round = 0; round < rounds; round++) {
    for (const precision of ['fp32', 'bf16', 'int8'] as const) {
      model.precision = precision;
      await timeLoop(`mtl-torch ${precision}`, () => mt.tidy(() => model.predict('cls', { inputIds, lengths })));
    }
    times['PyTorch eager']!.push(...runPython<{ timesMs: number[] }>(script, { ...pyConfig, warmup, iterations }).timesMs);
    await timeLoop('onnxruntime-node', () => session.run(feeds));
  }
  const ortMedian = median(times['onnxruntime-node']!);
  console.log(
    `\n(a) encoder forward, eval (4 layers, d 256, ff 1024, batch ${shape.batch}, seq ${shape.seq}), ${threads} threads, ` +
      `medians of ${rounds} alternating rounds x ${iterations} iterations`,
  );
  console.log('| side | median | min | onnxruntime-node / this |');
  console.log('|---|---|---|---|');
  for (const [name, ts] of Object.entries(times)) {
    console.log(`| ${name} | ${fmt(median(ts))} | ${fmt(Math.min(...ts))} | ${(ortMedian / median(ts)).toFixed(2)} |`);
  }
  await session.release();
}

async function partB(): Promise<void> {
  const requests = Number(values.requests);
  const runDir = path.join(work, 'run');
  const config = {
    data: { source: 'phonetics', tasks: ['syllables', 'gender'], trainLimit: 1000, evalLimit: 40 },
    model: { encoder: { numLayers: 2, dModel: 64, nhead: 4, dimFeedforward: 256, dropout: 0.1 } },
    trainer: { batchSize: 16, optimizer: { kind: 'adamW', lr: 0.003 }, seed: 0 },
    steps: 20,
    evalEvery: 20,
    threads,
  };
  const configFile = path.join(work, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  await trainRun(configFile, runDir);
  const run = await mt.loadRun(runDir);
  const body = JSON.stringify({ inputs: ['hello', 'banana', 'computer', 'mary'] });
  console.log(`\n(b) HTTP, POST /v1/predict of 4 words (2 tasks; encoder 2 x 64), loopback, autocannon ${requests} requests per cell`);
  console.log('| batching | concurrency | requests/s | p50 | p95 | p99 | non-2xx |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [label, settings] of [
    ['on (32, 5 ms)', { maxBatch: 32, maxDelayMs: 5 }],
    ['off', { maxBatch: 1, maxDelayMs: 0 }],
  ] as const) {
    const app = await mt.serve(run, { logger: false, maxQueue: 100_000, ...settings });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    for (const connections of [1, 8, 32]) {
      // Every response's latency, from autocannon's own events (its summary has no p95).
      const latencies: number[] = [];
      const instance = autocannon({
        url: `http://127.0.0.1:${port}/v1/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections,
        amount: Math.max(requests, connections),
        timeout: 60,
      });
      instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
      const result = await instance;
      const sorted = latencies.sort((x, y) => x - y);
      const pct = (p: number) => `${sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1)} ms`;
      const seconds = result.duration;
      console.log(
        `| ${label} | ${connections} | ${(result.requests.total / seconds).toFixed(0)} | ${pct(50)} | ${pct(95)} | ${pct(99)} | ${result.non2xx} |`,
      );
    }
    await app.close();
  }
  run.dispose();
}

if (values.part!.includes('a')) await partA();
if (values.part!.includes('b')) await partB();
