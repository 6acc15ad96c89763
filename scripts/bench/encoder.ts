/**
 * Forward + backward of a 4-layer Transformer encoder (d=256, 4 heads, ff=1024, batch 32, seq 64,
 * post-norm relu, dropout 0.1, train mode) in mtl-torch and in PyTorch eager (encoder.py, spawned
 * in the same run), same threads; prints the median ms per iteration of each and the ratio
 * PyTorch / mtl-torch (> 1: mtl-torch is faster).
 *
 *   npx tsx scripts/bench/encoder.ts [--threads 2] [--rounds 3] [--iterations 5] [--warmup 2]
 *
 * MTL_TORCH_BENCH_SMOKE=1: 1 round of 1 iteration after 1 warm-up, batch 4 of 16 positions.
 *
 * The sides alternate in rounds (mtl-torch, PyTorch, PyTorch with glibc told to keep freed memory,
 * mtl-torch, ...), each round warming up first, so that a change in machine load during the run
 * hits all alike; medians are over every timed iteration of all rounds. PyTorch runs twice per
 * round: as Python users get it, and with glibc told to keep freed memory
 * (scripts/bench/common.ts), so the ratio's source is visible.
 *
 * The loop is JavaScript (this benchmarks the module, not the trainer), but each forward of the
 * whole encoder is one native call.
 */
import path from 'node:path';
import * as mt from '../../lib/index.ts';
import { compareRounds, roundsArguments, smoke } from './common.ts';

const config = {
  ...roundsArguments({ iterations: 5, warmup: 2 }),
  numLayers: 4,
  dModel: 256,
  nhead: 4,
  dimFeedforward: 1024,
  dropout: 0.1,
  batch: smoke ? 4 : 32,
  seq: smoke ? 16 : 64,
};

mt.setNumThreads(config.threads);
mt.manualSeed(0);
const model = new mt.nn.TransformerEncoder({
  dModel: config.dModel,
  nhead: config.nhead,
  dimFeedforward: config.dimFeedforward,
  dropout: config.dropout,
  numLayers: config.numLayers,
}).train();
const params = model.parameters();
const src = mt.randn([config.batch, config.seq, config.dModel]);

const title = `4-layer encoder fwd+bwd (d=${config.dModel}, heads=${config.nhead}, ff=${config.dimFeedforward}, batch=${config.batch}, seq=${config.seq})`;
compareRounds(
  title,
  config,
  () => {
    mt.tidy(() => model.forward(src).mean().backward());
    for (const p of params) p.zeroGrad();
  },
  path.join(import.meta.dirname, 'encoder.py'),
  config,
);
