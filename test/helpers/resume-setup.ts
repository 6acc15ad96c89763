/**
 * The run that the resume test trains twice: once straight, once cut at a checkpoint and continued
 * in a new process (test/helpers/resume-child.ts). Everything that can carry state across a resume
 * is switched on: dropout (the global RNG), a random task sampler, a learned weighting, AdamW
 * moments, a warm-up + cosine schedule, clipping and shuffled data.
 */
import * as mt from '../../lib/index.ts';
import { featureModel, syntheticProblem } from './train.ts';

export const RESUME_STEPS = 12;

export function resumeSetup() {
  mt.manualSeed(0);
  const problem = syntheticProblem(6, { a: { kind: 'classification', classes: 3, rows: 70 }, b: { kind: 'regression', rows: 45 } }, 42);
  const sets = { a: problem.toDataset('a', 70).dataset, b: problem.toDataset('b', 45).dataset };
  const model = featureModel(6, { a: { kind: 'classification', classes: 3 }, b: { kind: 'regression' } }, { dModel: 16, dropout: 0.2 });
  const trainer = new mt.Trainer(model, {
    strategy: mt.strategy.alternating({ every: 'step' }),
    weighting: mt.weighting.uncertainty({ lr: 0.05 }),
    sampler: mt.sampler.temperature(2),
    optimizer: mt.optim.adamW({ lr: 0.01, weightDecay: 0.01 }),
    // The schedule's length is fixed, so a run cut at N steps follows the 2N-step run's schedule.
    schedule: mt.schedule.warmupCosine({ warmupSteps: 3, totalSteps: 2 * RESUME_STEPS }),
    batchSize: 16,
    clipGradNorm: 1,
    seed: 5,
  });
  return { model, trainer, sets };
}
