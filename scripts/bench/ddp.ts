/**
 * Data-parallel throughput on one machine: the 'small' benchmark model (scripts/bench/common.ts:
 * a 4-layer shared encoder, d=256, 3 classification tasks with 2-layer decoders, sequence 64,
 * joint + equal, AdamW) trained with a global batch of 32
 *
 *   1 rank  × 2 threads, batch 32
 *   2 ranks × 1 thread,  batch 16 each (Gloo on 127.0.0.1)
 *
 * Each configuration runs in fresh processes, `--rounds` times; printed are the medians of steps/s,
 * examples/s (global), the ratio (2 ranks / 1 rank; > 1: data parallel is faster) and the time per
 * step the ranks spend in collectives (the bucketed gradient all-reduce, the loss and abort-flag
 * averaging), waiting included.
 *
 *   npm run bench:ddp -- [--steps 8] [--warmup 2] [--rounds 3]
 *
 * MTL_TORCH_BENCH_SMOKE=1 makes the defaults 1 step after 1 warm-up step, 1 round.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { median, randomTokenRows, small, smallEncoderTitle, smallModel, smoke } from './common.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: smoke ? '1' : '8' },
    warmup: { type: 'string', default: smoke ? '1' : '2' },
    rounds: { type: 'string', default: smoke ? '1' : '3' },
    child: { type: 'string' },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const GLOBAL_BATCH = small.batch;

interface Measured {
  stepsPerSecond: number;
  examplesPerSecond: number;
  communicationMs: number;
}

/** One process of a configuration: `--child threads,batch`; rank 0 (or the only process) prints its measurement as JSON. */
async function child(spec: string): Promise<void> {
  const [threads, batch] = spec.split(',').map(Number) as [number, number];
  mt.setNumThreads(threads);
  const group = mt.distributed.environmentHasRendezvous() ? await mt.distributed.init({ timeoutSeconds: 120 }) : undefined;
  const world = group?.worldSize ?? 1;
  mt.manualSeed(0);
  const model = smallModel();
  // Enough rows that no timed step wraps around a pass; every row full length (no padding).
  const rows = GLOBAL_BATCH * (warmup + steps + 1);
  const sets: Record<string, Dataset> = {};
  small.taskNames.forEach((name, i) => {
    sets[name] = Dataset.fromArrays({
      inputIds: randomTokenRows(rows),
      targets: Array.from({ length: rows }, () => Math.floor(Math.random() * small.classes[i]!)),
      targetKind: 'classification',
    });
  });
  const trainer = new mt.Trainer(model, {
    optimizer: mt.optim.adamW({ lr: 1e-4, weightDecay: 0.01 }),
    batchSize: batch,
    ...(group ? { distributed: group } : {}),
  });
  let measured: Measured | undefined;
  await trainer.fit(sets, {
    steps: warmup + steps,
    progressEvery: 1,
    onProgress: (() => {
      let started = 0;
      let communication = 0;
      return (event: mt.ProgressEvent) => {
        if (event.kind !== 'step') return;
        if (event.step === warmup) started = performance.now();
        if (event.step > warmup) communication += event.communicationSeconds;
        if (event.step === warmup + steps) {
          const stepsPerSecond = steps / ((performance.now() - started) / 1000);
          measured = { stepsPerSecond, examplesPerSecond: stepsPerSecond * batch * world, communicationMs: (1000 * communication) / steps };
        }
      };
    })(),
  });
  // Events arrive asynchronously: the last one is in by the time fit resolves.
  if (!group || group.isMain) process.stdout.write(`RESULT ${JSON.stringify(measured)}\n`);
  await group?.destroy();
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs `ranks` processes of `threads` threads with per-rank batch GLOBAL_BATCH / ranks. */
async function run(ranks: number, threads: number): Promise<Measured> {
  const port = await freePort();
  const script = fileURLToPath(import.meta.url);
  const outputs = await Promise.all(
    Array.from(
      { length: ranks },
      (_, rank) =>
        new Promise<string>((resolve, reject) => {
          const env =
            ranks > 1
              ? {
                  ...process.env,
                  MASTER_ADDR: '127.0.0.1',
                  MASTER_PORT: String(port),
                  RANK: String(rank),
                  WORLD_SIZE: String(ranks),
                  LOCAL_RANK: String(rank),
                }
              : { ...process.env, WORLD_SIZE: '' };
          const p = spawn(
            process.execPath,
            [
              ...process.execArgv,
              script,
              '--steps',
              String(steps),
              '--warmup',
              String(warmup),
              '--child',
              `${threads},${GLOBAL_BATCH / ranks}`,
            ],
            { env, stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          p.stdout.on('data', (d: Buffer) => (out += d.toString()));
          p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} of ${ranks} exited with ${code}`))));
        }),
    ),
  );
  const line = outputs
    .join('')
    .split('\n')
    .find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error('no measurement came back');
  return JSON.parse(line.slice('RESULT '.length)) as Measured;
}

if (values.child !== undefined) {
  await child(values.child);
} else {
  const rounds = Number(values.rounds);
  const one: Measured[] = [];
  const two: Measured[] = [];
  for (let round = 0; round < rounds; round++) {
    one.push(await run(1, 2));
    two.push(await run(2, 1));
    console.log(
      `round ${round + 1}/${rounds}: 1×2 threads ${one.at(-1)!.stepsPerSecond.toFixed(2)} steps/s; 2 ranks×1 thread ${two.at(-1)!.stepsPerSecond.toFixed(2)} steps/s, all-reduce ${two.at(-1)!.communicationMs.toFixed(1)} ms/step`,
    );
  }
  const m = (xs: Measured[], key: keyof Measured) => median(xs.map((x) => x[key]));
  console.log(
    `\nsmall model (${smallEncoderTitle}), global batch ${GLOBAL_BATCH}, ${steps} timed steps after ${warmup}, median of ${rounds} rounds (fresh processes)`,
  );
  console.log(
    `  1 rank  × 2 threads: ${m(one, 'stepsPerSecond').toFixed(2)} steps/s, ${m(one, 'examplesPerSecond').toFixed(1)} examples/s`,
  );
  console.log(
    `  2 ranks × 1 thread:  ${m(two, 'stepsPerSecond').toFixed(2)} steps/s, ${m(two, 'examplesPerSecond').toFixed(1)} examples/s, collectives ${m(two, 'communicationMs').toFixed(1)} ms/step`,
  );
  console.log(`  ratio (2 ranks / 1 rank): ${(m(two, 'stepsPerSecond') / m(one, 'stepsPerSecond')).toFixed(2)}`);
}
