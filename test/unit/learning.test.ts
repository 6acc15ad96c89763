/**
 * Learning works: on a synthetic multi-task problem with a known answer (labels are linear rules
 * of Gaussian features), every strategy × weighting combination the trainer accepts reaches the
 * target accuracy on held-out data within a fixed step budget.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { featureModel, syntheticProblem } from '../helpers/train.ts';

const STEPS = 300;
const TARGET = 0.85;

const problem = syntheticProblem(
  8,
  { a: { kind: 'classification', classes: 3, rows: 600 }, b: { kind: 'classification', classes: 2, rows: 300 } },
  11,
);
const train = { a: problem.toDataset('a', 600).dataset, b: problem.toDataset('b', 300).dataset };
const heldOut = { a: problem.toDataset('a', 400).dataset, b: problem.toDataset('b', 400).dataset };

const strategies: [string, mt.Strategy][] = [
  ['joint', mt.strategy.joint()],
  ['alternating', mt.strategy.alternating({ every: 'step' })],
  ['progressive', mt.strategy.progressive({ main: 'a', warmupSteps: 50, rampSteps: 100 })],
];
const weightings: [string, mt.Weighting][] = [
  ['equal', mt.weighting.equal()],
  ['fixed', mt.weighting.fixed({ a: 1, b: 0.5 })],
  ['sigmoidLoss', mt.weighting.sigmoidLoss()],
  ['uncertainty', mt.weighting.uncertainty()],
  ['dwa', mt.weighting.dwa()],
  ['gradNorm', mt.weighting.gradNorm()],
  ['pcgrad', mt.weighting.pcgrad()],
  ['cagrad', mt.weighting.cagrad()],
  ['famo', mt.weighting.famo()],
  ['nashMtl', mt.weighting.nashMtl()],
];
// The methods whose registry entry says they need every task in every step.
const refused = new Set(
  Object.entries(mt.registry.weighting)
    .filter(([, e]) => e.capabilities.needsAllTasksEachStep)
    .map(([name]) => name),
);
const combinations = strategies.flatMap(([s, strategy]) =>
  weightings.filter(([w]) => s === 'joint' || !refused.has(w)).map(([w, weighting]) => [`${s} × ${w}`, strategy, weighting] as const),
);

describe('every strategy × weighting learns the synthetic problem', () => {
  it.each(combinations)('%s', async (_, strategy, weighting) => {
    mt.manualSeed(0);
    const model = featureModel(8, { a: { kind: 'classification', classes: 3 }, b: { kind: 'classification', classes: 2 } }, { dModel: 32 });
    const sampler = strategy.kind === 'alternating' ? mt.sampler.uniform() : undefined;
    const trainer = new mt.Trainer(model, {
      strategy,
      weighting,
      sampler,
      optimizer: mt.optim.adamW({ lr: 0.01, weightDecay: 0 }),
      batchSize: 32,
    });
    await trainer.fit(train, { steps: STEPS });
    const metrics = await trainer.evaluate(heldOut);
    expect(metrics.a!.accuracy, 'task a').toBeGreaterThanOrEqual(TARGET);
    expect(metrics.b!.accuracy, 'task b').toBeGreaterThanOrEqual(TARGET);
  });

  it('the refused combinations are the ones that need every task each step', () => {
    for (const [s, strategy] of strategies.slice(1)) {
      for (const w of refused) {
        // Every registered method that needs all tasks each step, the main-task-aware ones with a main task.
        const weighting = { kind: w } as mt.Weighting;
        const main = mt.registry.weighting[w]!.capabilities.usesMain ? { main: ['a'] } : {};
        expect(
          () => new mt.Trainer(featureModel(8, { a: { kind: 'regression' }, b: { kind: 'regression' } }), { strategy, weighting, ...main }),
          `${s} × ${w}`,
        ).toThrow(/cannot be used with strategy/);
      }
    }
  });
});
