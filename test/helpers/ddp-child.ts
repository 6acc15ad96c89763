/**
 * One process of the data-parallel tests (test/processes/distributed.test.ts): a rank (the torchrun variables
 * in its environment) or the single-process reference. It trains the small multi-task Transformer
 * of the trainer tests under one of the configurations below and writes, on rank 0 (or alone),
 * weights.safetensors, losses.json (the losses of every step event) and metrics.json; every rank
 * prints "step N" lines as it trains. An error prints "ERROR <code>: <message>" and exits 1.
 *
 *   node --import tsx ddp-child.ts '<json spec>'
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as mt from '../../lib/index.ts';
import { featureModel, syntheticProblem } from './train.ts';

export interface ChildSpec {
  config: 'joint-equal' | 'joint-pcgrad' | 'joint-uncertainty' | 'alternating-temperature';
  batchSize: number;
  steps: number;
  out: string;
  distributed: boolean;
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
  /** Model width (a different one on one rank makes a config mismatch). */
  dModel?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  resumeFrom?: string;
  evaluate?: boolean;
  /** Init options besides the environment's (backend, device). */
  init?: Record<string, unknown>;
}

const CONFIGS: Record<ChildSpec['config'], mt.TrainerOptions> = {
  'joint-equal': { strategy: mt.strategy.joint(), weighting: mt.weighting.equal() },
  'joint-pcgrad': { strategy: mt.strategy.joint(), weighting: mt.weighting.pcgrad() },
  'joint-uncertainty': { strategy: mt.strategy.joint(), weighting: mt.weighting.uncertainty({ lr: 0.05 }) },
  'alternating-temperature': { strategy: mt.strategy.alternating({ every: 'step' }), sampler: mt.sampler.temperature(2) },
};

async function main(spec: ChildSpec): Promise<void> {
  mt.setNumThreads(1);
  const group = spec.distributed
    ? await mt.distributed.init({ timeoutSeconds: spec.timeoutSeconds ?? 30, heartbeatSeconds: spec.heartbeatSeconds ?? 1, ...spec.init })
    : undefined;
  mt.manualSeed(0);
  // Sizes that leave short, unevenly split batches at the end of a pass (70 = 2·32 + 6, 45 = 32 + 13).
  const problem = syntheticProblem(6, { a: { kind: 'classification', classes: 3, rows: 70 }, b: { kind: 'regression', rows: 45 } }, 42);
  const sets = { a: problem.toDataset('a', 70).dataset, b: problem.toDataset('b', 45).dataset };
  const evalSets = { a: problem.toDataset('a', 37).dataset, b: problem.toDataset('b', 29).dataset };
  const model = featureModel(
    6,
    { a: { kind: 'classification', classes: 3 }, b: { kind: 'regression' } },
    { dModel: spec.dModel ?? 16, layers: 2 },
  );
  const trainer = new mt.Trainer(model, {
    ...CONFIGS[spec.config],
    optimizer: mt.optim.adamW({ lr: 0.01, weightDecay: 0.01 }),
    schedule: mt.schedule.warmupCosine({ warmupSteps: 3, totalSteps: Math.max(40, spec.steps) }),
    batchSize: spec.batchSize,
    clipGradNorm: 1,
    seed: 5,
    ...(group ? { distributed: group } : {}),
  });
  const losses: Record<string, number>[] = [];
  const communication: number[] = [];
  const history = await trainer.fit(sets, {
    steps: spec.steps,
    ...(spec.checkpointDir ? { checkpointDir: spec.checkpointDir } : {}),
    ...(spec.checkpointEvery ? { checkpointEvery: spec.checkpointEvery } : {}),
    ...(spec.resumeFrom ? { resumeFrom: spec.resumeFrom } : {}),
    onProgress: (event) => {
      if (event.kind !== 'step') return;
      losses.push(event.losses);
      communication.push(event.communicationSeconds);
      process.stdout.write(`step ${event.step}\n`);
    },
  });
  const metrics = spec.evaluate ? await trainer.evaluate(evalSets) : undefined;
  if (!group || group.isMain) {
    mt.save(path.join(spec.out, 'weights.safetensors'), model.stateDict());
    writeFileSync(path.join(spec.out, 'losses.json'), JSON.stringify({ steps: history.steps, losses, communication }));
  }
  if (metrics) writeFileSync(path.join(spec.out, `metrics-${group?.rank ?? 0}.json`), JSON.stringify(metrics));
  await group?.destroy();
}

try {
  await main(JSON.parse(process.argv[2]!) as ChildSpec);
} catch (error) {
  const e = error as { code?: string; message?: string };
  process.stderr.write(`ERROR ${e.code ?? 'unknown'}: ${e.message ?? String(error)}\n`);
  process.exit(1);
}
