/**
 * Forward + backward of a 4-layer Transformer encoder (d=256, 4 heads, ff=1024, batch 32, seq 64,
 * post-norm relu, dropout 0.1, train mode) in mtl-torch and in PyTorch eager (encoder.py, spawned
 * in the same run), same threads; prints the median ms per iteration of each and the ratio
 * PyTorch / mtl-torch (> 1: mtl-torch is faster).
 *
 *   npx tsx scripts/bench/encoder.ts [--threads 2] [--rounds 3] [--iterations 5] [--warmup 2]
 *
 * The two sides alternate in rounds (mtl-torch, PyTorch, mtl-torch, ...), each round warming up
 * first, so that a change in machine load during the run hits both sides alike; medians are over
 * every timed iteration of all rounds.
 *
 * The loop is JavaScript (this benchmarks the module, not the trainer), but each forward of the
 * whole encoder is one native call.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as mt from '../../lib/index.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    python: { type: 'string', default: process.env.MTL_REFERENCE_PYTHON ?? '/usr/bin/python3' },
  },
});
const config = {
  threads: Number(values.threads), rounds: Number(values.rounds), iterations: Number(values.iterations), warmup: Number(values.warmup),
  numLayers: 4, dModel: 256, nhead: 4, dimFeedforward: 1024, dropout: 0.1, batch: 32, seq: 64,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

mt.setNumThreads(config.threads);
mt.manualSeed(0);
const model = new mt.nn.TransformerEncoder({
  dModel: config.dModel, nhead: config.nhead, dimFeedforward: config.dimFeedforward, dropout: config.dropout, numLayers: config.numLayers,
}).train();
const params = model.parameters();
const src = mt.randn([config.batch, config.seq, config.dModel]);

function mtlRound(): number[] {
  const times: number[] = [];
  for (let i = 0; i < config.warmup + config.iterations; i++) {
    const start = performance.now();
    mt.tidy(() => model.forward(src).mean().backward());
    for (const p of params) p.zeroGrad();
    const elapsed = performance.now() - start;
    if (i >= config.warmup) times.push(elapsed);
  }
  return times;
}

function torchRound(): { torch: string; threads: number; timesMs: number[] } {
  const script = path.join(import.meta.dirname, 'encoder.py');
  const run = spawnSync(values.python!, [script, JSON.stringify(config)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${values.python} ${script} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

const ours: number[] = [];
const theirs: number[] = [];
let torchInfo = { torch: '?', threads: 0 };
for (let round = 0; round < config.rounds; round++) {
  ours.push(...mtlRound());
  const result = torchRound();
  theirs.push(...result.timesMs);
  torchInfo = result;
}
const ourMedian = median(ours);
const theirMedian = median(theirs);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`4-layer encoder fwd+bwd (d=${config.dModel}, heads=${config.nhead}, ff=${config.dimFeedforward}, batch=${config.batch}, seq=${config.seq}), ` +
  `${config.threads} threads, median of ${config.rounds} alternating rounds x ${config.iterations} iterations`);
console.log(`  mtl-torch (libtorch ${mt.version.torch}): ${fmt(ourMedian)}`);
console.log(`  PyTorch eager ${torchInfo.torch} (${torchInfo.threads} threads): ${fmt(theirMedian)}`);
console.log(`  ratio PyTorch / mtl-torch: ${(theirMedian / ourMedian).toFixed(3)} (goal >= 1.0)`);
