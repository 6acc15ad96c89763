/**
 * Auxiliary mode (`main`) through the trainer: the main-task-aware weightings (gcs, oneSidedProjection,
 * metaBalance, olAux) are refused without `main` or without an auxiliary task, with the reason; keepBest
 * and earlyStopping default to the main task's metric; each method trains and reports the λ its rule
 * gives. FAMO's default update is the authors' (the same batch after the optimizer step), checked
 * against the losses of that batch measured after the step. (The methods' arithmetic is checked against
 * PyTorch in test/native/weighting_test.cc with test/parity/oracles/weighting.py.)
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { featureModel, syntheticProblem, tempDir } from '../helpers/train.ts';

const TASKS = { a: { kind: 'classification', classes: 3 }, b: { kind: 'regression' }, c: { kind: 'classification', classes: 2 } } as const;
const AUXILIARY = ['gcs', 'oneSidedProjection', 'metaBalance', 'olAux'] as const;

function data(rows = 48) {
  const problem = syntheticProblem(
    6,
    { a: { kind: 'classification', classes: 3, rows }, b: { kind: 'regression', rows }, c: { kind: 'classification', classes: 2, rows } },
    5,
  );
  return { a: problem.toDataset('a', rows).dataset, b: problem.toDataset('b', rows).dataset, c: problem.toDataset('c', rows).dataset };
}

describe('auxiliary mode: main-task-aware weightings', () => {
  it('registers the four methods as main-aware, the others not', () => {
    for (const kind of AUXILIARY) expect(mt.registry.weighting[kind]!.capabilities.usesMain, kind).toBe(true);
    expect(mt.registry.weighting.pcgrad!.capabilities.usesMain).toBe(false);
    expect(mt.weighting.gcs()).toEqual({ kind: 'gcs', weighted: false });
    expect(mt.weighting.metaBalance()).toEqual({ kind: 'metaBalance', relax: 0.7, beta: 0.9 });
    expect(mt.weighting.olAux()).toEqual({ kind: 'olAux', lr: 0.1, horizon: 5 });
  });

  it('refuses a main-aware method without main, with main naming every task, or naming an unknown task', () => {
    for (const kind of AUXILIARY) {
      const weighting = { kind } as mt.Weighting;
      expect(() => new mt.Trainer(featureModel(6, TASKS), { weighting })).toThrow(
        `weighting.${kind} weighs auxiliary tasks for the main ones: name them in 'main' (e.g. main: ['a'])`,
      );
      expect(() => new mt.Trainer(featureModel(6, TASKS), { weighting, main: ['a', 'b', 'c'] })).toThrow(
        /'main' names every task of the model/,
      );
    }
    expect(() => new mt.Trainer(featureModel(6, TASKS), { main: ['x'] })).toThrow("main[0]: 'x' is not a task of the model (a, b, c)");
    expect(() => new mt.Trainer(featureModel(6, TASKS), { main: ['a', 'a'] })).toThrow(/trainer.main: names a task twice/);
    expect(
      () => new mt.Trainer(featureModel(6, TASKS), { weighting: mt.weighting.gcs(), main: ['a'], strategy: mt.strategy.alternating() }),
    ).toThrow(/cannot be used with strategy.alternating/);
    expect(() => mt.weighting.metaBalance({ relax: 1.5 })).toThrow(/weighting.metaBalance.relax/);
  });

  it('refuses a fit whose main task has no data, or that trains only main tasks under a main-aware method', async () => {
    const sets = data(16);
    const trainer = new mt.Trainer(featureModel(6, TASKS), { weighting: mt.weighting.gcs(), main: ['a'] });
    await expect(trainer.fit({ b: sets.b, c: sets.c }, { steps: 1 })).rejects.toThrow("main: 'a' has no training data (trainSets: b, c)");
    await expect(trainer.fit({ a: sets.a }, { steps: 1 })).rejects.toThrow(
      'weighting.gcs weighs auxiliary tasks, and this fit trains only main tasks (a)',
    );
  });

  it('refuses main where nothing would use it: a weighting for equal tasks with no keepBest, earlyStopping or diagnostics to take it', async () => {
    const sets = data(16);
    const trainer = new mt.Trainer(featureModel(6, TASKS), { main: ['a'] });
    await expect(trainer.fit(sets, { steps: 1 })).rejects.toThrow(
      "fit: 'main' has no effect here: weighting.equal treats every task alike, and no keepBest or earlyStopping without a metric, nor diagnosticsEvery, uses it",
    );
    expect(() => trainer.step({ a: sets.a.batch([0, 1]), b: sets.b.batch([0, 1]), c: sets.c.batch([0, 1]) })).toThrow(
      "step: 'main' has no effect here: weighting.equal treats every task alike",
    );
    // With diagnostics it acts (the affinities give the auxiliary verdicts).
    const history = await trainer.fit(sets, { steps: 2, diagnosticsEvery: 1, onProgress: () => {} });
    expect(history.steps).toBe(2);
  });

  it("keepBest and earlyStopping default to the main task's main metric; keepBest without a metric needs main", async () => {
    const sets = data(24);
    const dir = tempDir('mtl-aux-best-');
    const best: number[] = [];
    const trainer = new mt.Trainer(featureModel(6, TASKS), { main: ['a'], batchSize: 8, optimizer: mt.optim.adamW({ lr: 0.01 }) });
    const history = await trainer.fit(sets, {
      steps: 6,
      evalEvery: 2,
      evalSets: sets,
      checkpointDir: dir,
      keepBest: {},
      earlyStopping: { patience: 5 },
      onProgress: (e) => {
        if (e.kind === 'best') best.push(e.value);
      },
    });
    // The best value is a's accuracy (a fraction in [0, 1] that never falls), not a loss.
    expect(best.length).toBeGreaterThan(0);
    for (const [i, value] of best.entries()) {
      const accuracy = history.evalHistory.find((e) => e.metrics.a!.accuracy === value);
      expect(accuracy, `best ${i}: ${value} is an evaluation's a.accuracy`).toBeDefined();
      if (i > 0) expect(value).toBeGreaterThan(best[i - 1]!);
    }
    const plain = new mt.Trainer(featureModel(6, TASKS));
    await expect(plain.fit(sets, { steps: 1, evalSets: sets, checkpointDir: dir, keepBest: {} })).rejects.toThrow(
      /keepBest.metric: name the metric that picks the best weights/,
    );
  });

  it.each(AUXILIARY)('%s trains with main a and reports its λ', async (kind) => {
    const sets = data(48);
    mt.manualSeed(1);
    const trainer = new mt.Trainer(featureModel(6, TASKS, { dModel: 8 }), {
      weighting: { kind } as mt.Weighting,
      main: ['a'],
      batchSize: 16,
      optimizer: mt.optim.adamW({ lr: 0.01 }),
    });
    const steps: { losses: Record<string, number>; lambdas: Record<string, number> }[] = [];
    await trainer.fit(sets, {
      steps: 30,
      onProgress: (e) => {
        if (e.kind === 'step') steps.push(e);
      },
    });
    expect(steps).toHaveLength(30);
    for (const step of steps) {
      expect(step.lambdas.a, 'the main task keeps λ = 1').toBe(1);
      for (const aux of ['b', 'c']) {
        expect(step.lambdas[aux]).toBeGreaterThanOrEqual(0);
        if (kind === 'gcs') expect([0, 1]).toContain(step.lambdas[aux]);
        if (kind === 'oneSidedProjection') expect(step.lambdas[aux]).toBe(1);
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(steps.slice(-5).map((s) => s.losses.a!))).toBeLessThan(mean(steps.slice(0, 5).map((s) => s.losses.a!)));
    if (kind === 'metaBalance' || kind === 'olAux') {
      expect(
        steps.some((s) => Math.abs(s.lambdas.b! - 1) > 1e-3),
        `${kind}: an auxiliary λ moves`,
      ).toBe(true);
    }
  });
});

describe('checkpoints of the stateful auxiliary methods', () => {
  it.each(['metaBalance', 'olAux'] as const)('%s resumes exactly: 8 steps straight equal 4 + 4 from a checkpoint', async (kind) => {
    const sets = data(40);
    const options = {
      weighting: { kind, ...(kind === 'olAux' ? { horizon: 3 } : {}) } as mt.Weighting,
      main: ['a'],
      batchSize: 8,
      optimizer: mt.optim.adamW({ lr: 0.01 }),
      seed: 2,
    };
    const weights = (m: mt.MultiTaskModel) => Object.entries(m.stateDict()).map(([n, t]) => [n, Array.from(t.dataSync() as Float32Array)]);
    const lambdas = (into: Record<string, number>[]) => (e: mt.ProgressEvent) => {
      if (e.kind === 'step') into.push(e.lambdas);
    };
    mt.manualSeed(7);
    const straight = featureModel(6, TASKS);
    const straightLambdas: Record<string, number>[] = [];
    await new mt.Trainer(straight, options).fit(sets, { steps: 8, onProgress: lambdas(straightLambdas) });
    mt.manualSeed(7);
    const first = featureModel(6, TASKS);
    const dir = tempDir('mtl-aux-resume-');
    await new mt.Trainer(first, options).fit(sets, { steps: 4, checkpointDir: dir });
    mt.manualSeed(7);
    const resumed = featureModel(6, TASKS);
    const resumedLambdas: Record<string, number>[] = [];
    await new mt.Trainer(resumed, options).fit(sets, {
      steps: 8,
      resumeFrom: `${dir}/checkpoint.safetensors`,
      onProgress: lambdas(resumedLambdas),
    });
    expect(resumedLambdas).toEqual(straightLambdas.slice(4));
    expect(weights(resumed)).toEqual(weights(straight));
    // The λ moved within the run, so the state carried across the cut mattered.
    expect(straightLambdas.slice(4).some((l) => Math.abs(l.b! - straightLambdas[0]!.b!) > 1e-6)).toBe(true);
  });
});

describe("FAMO's update", () => {
  it("by default learns from the same batch after the optimizer step (the authors' loop); consecutiveSteps waits for the next step", () => {
    const sets = data(12);
    const all = [...Array(12).keys()];
    const batches = () => ({ a: sets.a.batch(all), b: sets.b.batch(all), c: sets.c.batch(all) });
    mt.manualSeed(4);
    const model = featureModel(6, TASKS);
    const trainer = new mt.Trainer(model, { weighting: mt.weighting.famo(), optimizer: mt.optim.adamW({ lr: 0.05 }) });
    const before = trainer.step(batches()).losses;
    // No dropout: the training-mode forward after the step is the evaluation's.
    return trainer.evaluate(sets).then((metrics) => {
      const delta = ['a', 'b', 'c'].map((t) => Math.log(before[t]! + 1e-8) - Math.log(metrics[t]!.loss + 1e-8));
      const meanDelta = delta.reduce((s, d) => s + d, 0) / 3;
      const [logits] = trainer.weightingParameters();
      const xi = Array.from(logits!.dataSync() as Float64Array);
      // One Adam step from ξ = 0 on ∇ξ = z ⊙ (δ − z·δ), z uniform: ξᵢ = −lr·sign(δᵢ − mean δ).
      for (let i = 0; i < 3; i++) expect(xi[i]!, `task ${i}`).toBeCloseTo(-0.025 * Math.sign(delta[i]! - meanDelta), 6);

      mt.manualSeed(4);
      const consecutive = new mt.Trainer(featureModel(6, TASKS), {
        weighting: mt.weighting.famo({ update: 'consecutiveSteps' }),
        optimizer: mt.optim.adamW({ lr: 0.05 }),
      });
      consecutive.step(batches());
      expect(Array.from(consecutive.weightingParameters()[0]!.dataSync() as Float64Array)).toEqual([0, 0, 0]);
      consecutive.step(batches());
      expect(Array.from(consecutive.weightingParameters()[0]!.dataSync() as Float64Array).some((x) => x !== 0)).toBe(true);
    });
  });
});
