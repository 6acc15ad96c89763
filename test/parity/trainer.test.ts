/**
 * The native training loop: one step equals a PyTorch reference step (joint, alternating,
 * progressive; AdamW and SGD with Nesterov), a resumed run equals the straight run bit for bit
 * (the second half in a new process), the event loop keeps running during fit, abort, busy-model
 * refusal, NaN handling and refused combinations.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { RESUME_STEPS, resumeSetup } from '../helpers/resume-setup.ts';
import { featureModel, runPython, syntheticProblem, tempDir } from '../helpers/train.ts';

const TASK_SPECS = {
  a: { kind: 'classification', classes: 3 },
  b: { kind: 'regression' },
  c: { kind: 'classification', classes: 2 },
} as const;

function parityFixture() {
  const problem = syntheticProblem(
    5,
    {
      a: { kind: 'classification', classes: 3, rows: 24 },
      b: { kind: 'regression', rows: 17 },
      c: { kind: 'classification', classes: 2, rows: 20 },
    },
    7,
  );
  const data = { a: problem.toDataset('a', 24), b: problem.toDataset('b', 17), c: problem.toDataset('c', 20) };
  mt.manualSeed(3);
  const model = featureModel(5, TASK_SPECS);
  return { data, model };
}

/** The model's weights by name, as numbers. */
function weights(model: mt.MultiTaskModel): Record<string, number[]> {
  return Object.fromEntries(Object.entries(model.stateDict()).map(([n, t]) => [n, Array.from(t.dataSync() as Float32Array)]));
}

interface ParityCase {
  name: string;
  strategy: mt.Strategy;
  sampler?: mt.Sampler;
  optimizer: mt.Optimizer;
  clipGradNorm?: number;
  accumulateSteps?: number;
  /** The tasks and loss scales of each step, as the strategy must choose them. */
  plan: { task: string; scale: number }[][];
}

const all = (scale = 1) => ['a', 'b', 'c'].map((task) => ({ task, scale }));
const parityCases: ParityCase[] = [
  { name: 'joint, AdamW', strategy: mt.strategy.joint(), optimizer: mt.optim.adamW({ lr: 0.05, weightDecay: 0.1 }), plan: [all(), all()] },
  {
    name: 'joint, SGD Nesterov, clipped',
    strategy: mt.strategy.joint(),
    optimizer: mt.optim.sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    clipGradNorm: 0.5,
    plan: [all(), all()],
  },
  // Two micro-batches that each hold the whole data set: the summed half-gradients equal one step's.
  {
    name: 'joint, AdamW, accumulating 2 micro-batches',
    strategy: mt.strategy.joint(),
    optimizer: mt.optim.adamW({ lr: 0.05, weightDecay: 0.1 }),
    accumulateSteps: 2,
    plan: [all(), all()],
  },
  {
    name: 'alternating (round robin), AdamW',
    strategy: mt.strategy.alternating({ every: 'step' }),
    sampler: mt.sampler.roundRobin(),
    optimizer: mt.optim.adamW({ lr: 0.05 }),
    plan: [[{ task: 'a', scale: 1 }], [{ task: 'b', scale: 1 }], [{ task: 'c', scale: 1 }]],
  },
  {
    name: 'progressive (main a, ramp over 2 steps), AdamW',
    strategy: mt.strategy.progressive({ main: 'a', warmupSteps: 1, rampSteps: 2 }),
    optimizer: mt.optim.adamW({ lr: 0.05 }),
    plan: [
      [{ task: 'a', scale: 1 }],
      [{ task: 'a', scale: 1 }],
      [
        { task: 'a', scale: 1 },
        { task: 'b', scale: 0.5 },
        { task: 'c', scale: 0.5 },
      ],
    ],
  },
];

describe('a training step equals the PyTorch reference step (the twin of the same model)', () => {
  const dir = tempDir('mtl-step-');
  const specs = parityCases.map((c, i) => ({
    model: path.join(dir, 'model'),
    data: path.join(dir, 'data.safetensors'),
    optimizer: c.optimizer,
    clipGradNorm: c.clipGradNorm ?? 0,
    accumulateSteps: c.accumulateSteps ?? 1,
    plan: c.plan,
    out: path.join(dir, `out-${i}.safetensors`),
  }));

  beforeAll(async () => {
    // Every case starts from the same weights and data; PyTorch runs them all in one process.
    const { data, model } = parityFixture();
    await model.save(path.join(dir, 'model'));
    const tensors: Record<string, mt.Tensor> = {};
    for (const [task, d] of Object.entries(data)) {
      tensors[`${task}.features`] = mt.tensor(Float32Array.from(d.features.flat()), [d.features.length, 1, 5]);
      tensors[`${task}.lengths`] = mt.ones([d.features.length], { dtype: 'int64' });
      tensors[`${task}.targets`] =
        TASK_SPECS[task as keyof typeof TASK_SPECS].kind === 'regression'
          ? mt.tensor(d.targets)
          : mt.tensor(d.targets, undefined, { dtype: 'int64' });
    }
    mt.save(path.join(dir, 'data.safetensors'), tensors);
    writeFileSync(path.join(dir, 'spec.json'), JSON.stringify({ runs: specs }));
    runPython('train_step.py', [path.join(dir, 'spec.json')]);
  });

  it.each(parityCases.map((c, i) => [c.name, c, i] as const))('%s', async (_, c, i) => {
    const { data, model } = parityFixture();
    // Each task's whole data set is one batch, so the shuffled order cannot change the batch.
    const trainer = new mt.Trainer(model, {
      strategy: c.strategy,
      sampler: c.sampler,
      optimizer: c.optimizer,
      clipGradNorm: c.clipGradNorm,
      accumulateSteps: c.accumulateSteps,
      batchSize: 64,
    });
    const seen: string[][] = [];
    await trainer.fit(Object.fromEntries(Object.entries(data).map(([t, d]) => [t, d.dataset])), {
      steps: c.plan.length,
      onProgress: (e) => {
        if (e.kind === 'step') seen.push(Object.keys(e.losses).sort());
      },
    });
    expect(seen).toEqual(c.plan.map((s) => s.map((x) => x.task).sort()));
    const expected = mt.load(specs[i]!.out);
    for (const [name, ours] of Object.entries(weights(model))) {
      const theirs = expected[name]!.dataSync() as Float32Array;
      ours.forEach((v, j) => {
        if (Math.abs(v - theirs[j]!) > 1e-5 * (1 + Math.abs(theirs[j]!)))
          throw new Error(`${c.name}: ${name}[${j}] = ${v}, PyTorch ${theirs[j]}`);
      });
    }
  });
});

describe('checkpoints', () => {
  it('2N straight steps equal N steps + checkpoint + resume in a new process + N steps, bit for bit', async () => {
    const dir = tempDir('mtl-resume-');
    const straight = resumeSetup();
    await straight.trainer.fit(straight.sets, { steps: 2 * RESUME_STEPS });
    const expected = straight.model.stateDict();

    // The same run stopped after N steps; its checkpoint is continued in another process.
    const cut = resumeSetup();
    const history = await cut.trainer.fit(cut.sets, { steps: RESUME_STEPS, checkpointDir: dir });
    const checkpoint = path.join(dir, 'checkpoint.safetensors');
    expect(history.checkpoints).toEqual([checkpoint]);

    const out = path.join(dir, 'resumed.safetensors');
    const child = fileURLToPath(new URL('../helpers/resume-child.ts', import.meta.url));
    execFileSync(process.execPath, ['--import', 'tsx', child, checkpoint, out], { stdio: ['ignore', 'pipe', 'pipe'] });
    const resumed = mt.load(out);
    for (const [name, value] of Object.entries(expected)) {
      expect(Array.from(resumed[name]!.dataSync() as Float32Array), name).toEqual(Array.from(value.dataSync() as Float32Array));
    }
    // And the cut differs from the straight run (the comparison is not vacuous).
    expect(weights(cut.model)['embedding.features.weight']).not.toEqual(
      Array.from(expected['embedding.features.weight']!.dataSync() as Float32Array),
    );
  }, 60_000);
});

describe('fit on a worker thread', () => {
  function bigFixture(rows = 4000) {
    const problem = syntheticProblem(32, { a: { kind: 'classification', classes: 4, rows }, b: { kind: 'regression', rows } }, 3);
    const sets = { a: problem.toDataset('a', rows).dataset, b: problem.toDataset('b', rows).dataset };
    const model = featureModel(32, { a: { kind: 'classification', classes: 4 }, b: { kind: 'regression' } }, { dModel: 64, layers: 2 });
    return { sets, model };
  }

  it('keeps the event loop running: a setInterval ticks during fit, and events arrive', async () => {
    const { sets, model } = bigFixture();
    const trainer = new mt.Trainer(model, { batchSize: 64 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const events: mt.ProgressEvent[] = [];
    const started = Date.now();
    const history = await trainer.fit(sets, { steps: 400, onProgress: (e) => events.push(e) });
    clearInterval(timer);
    const elapsed = Date.now() - started;
    expect(history.steps).toBe(400);
    expect(events.filter((e) => e.kind === 'step').length).toBe(400);
    const step = events.find((e) => e.kind === 'step') as Extract<mt.ProgressEvent, { kind: 'step' }>;
    expect(Object.keys(step.lambdas).sort()).toEqual(['a', 'b']);
    expect(step.learningRate).toBeGreaterThan(0);
    expect(step.threads).toBe(mt.getNumThreads());
    // At least a tick per 100 ms of training (the interval asks for one per 2 ms; the slack is for a loaded machine):
    // a fit that held the main thread would allow none.
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 100));
  });

  it('the training thread uses the intra-op thread count set by mt.setNumThreads', async () => {
    const { sets, model } = bigFixture();
    const threads = mt.getNumThreads();
    try {
      for (const wanted of [1, 3]) {
        mt.setNumThreads(wanted);
        const events: mt.ProgressEvent[] = [];
        await new mt.Trainer(model, { batchSize: 64 }).fit(sets, { steps: 2, onProgress: (e) => events.push(e) });
        const steps = events.filter((e) => e.kind === 'step') as Extract<mt.ProgressEvent, { kind: 'step' }>[];
        expect(steps.map((e) => e.threads)).toEqual([wanted, wanted]);
      }
    } finally {
      mt.setNumThreads(threads);
    }
  });

  it('an AbortSignal stops within one step and leaves a usable model', async () => {
    const { sets, model } = bigFixture(12_000);
    const trainer = new mt.Trainer(model, { batchSize: 256 });
    const controller = new AbortController();
    let abortedAt = 0;
    let msPerStep = 0;
    // Abort from the third step's event: the run is surely under way, and the event says how long a step takes.
    const onProgress = (event: mt.ProgressEvent) => {
      if (event.kind !== 'step' || event.step !== 3) return;
      msPerStep = 1000 / event.stepsPerSecond;
      abortedAt = performance.now();
      controller.abort();
    };
    const history = await trainer.fit(sets, { steps: 1_000_000, signal: controller.signal, onProgress });
    const stopDelay = performance.now() - abortedAt;
    expect(history.aborted).toBe(true);
    expect(history.steps).toBeGreaterThanOrEqual(3);
    expect(history.steps).toBeLessThan(1_000_000);
    // The run ended within about one step of the abort. The slack is for a loaded machine, whose event loop can
    // take a few hundred milliseconds to settle the promise; an abort seen only at epoch ends (47 steps here) or
    // not at all would still exceed it.
    expect(msPerStep).toBeGreaterThan(0);
    expect(stopDelay).toBeLessThan(2 * msPerStep + 300);
    expect(trainer.stepsDone).toBe(history.steps);
    const metrics = await trainer.evaluate({ a: sets.a });
    expect(Number.isFinite(metrics.a!.loss)).toBe(true);
    // An already aborted signal stops before the first step.
    const again = await trainer.fit(sets, { steps: 10, signal: AbortSignal.abort() });
    expect(again).toMatchObject({ aborted: true, steps: history.steps });
  });

  it('refuses a second fit on a busy model, then accepts one when it is free', async () => {
    const { sets, model } = bigFixture();
    const first = new mt.Trainer(model, { batchSize: 32 });
    const second = new mt.Trainer(model, { batchSize: 32 });
    const running = first.fit(sets, { steps: 200 });
    await expect(second.fit(sets, { steps: 1 })).rejects.toMatchObject({ code: 'ERR_MODEL_BUSY', message: expect.stringMatching(/busy/) });
    expect(() => second.step({ a: sets.a.batch([0, 1]) })).toThrow(/busy/);
    await running;
    const history = await second.fit(sets, { steps: 2 });
    expect(history.steps).toBe(2);
  });

  it('a NaN/Inf loss stops the run naming the step and task, or skips the step when asked', async () => {
    const features = Array.from({ length: 8 }, (_, i) => [[i, 1]]);
    // 1e30 is a float32, its squared error is not: the loss overflows to inf (data sets refuse NaN itself).
    const targets = [0, 1, 2, 1e30, 4, 5, 6, 7];
    const bad = Dataset.fromArrays({ features, targets, targetKind: 'regression' });
    const good = Dataset.fromArrays({ features, targets: [0, 1, 0, 1, 0, 1, 0, 1], targetKind: 'classification' });
    const makeModel = () => featureModel(2, { cls: { kind: 'classification', classes: 2 }, reg: { kind: 'regression' } });
    const stopping = new mt.Trainer(makeModel(), { batchSize: 8 });
    await expect(stopping.fit({ cls: good, reg: bad }, { steps: 3 })).rejects.toMatchObject({
      code: 'ERR_NON_FINITE_LOSS',
      message: expect.stringMatching(/step 1: the loss of task 'reg' is inf/),
    });
    const model = makeModel();
    const before = weights(model)['embedding.features.weight'];
    const skipping = new mt.Trainer(model, { batchSize: 8, onNonFinite: 'skip' });
    const skipped: string[] = [];
    const history = await skipping.fit(
      { cls: good, reg: bad },
      {
        steps: 3,
        onProgress: (e) => {
          if (e.kind === 'skipped') skipped.push(e.message);
        },
      },
    );
    expect(history.steps).toBe(3);
    expect(skipped).toHaveLength(3);
    expect(weights(model)['embedding.features.weight']).toEqual(before);
  });

  it('bf16 autocast on the CPU trains (fp32 weights, lower loss)', async () => {
    const { sets, model } = bigFixture(512);
    const trainer = new mt.Trainer(model, { batchSize: 64, precision: 'bf16', optimizer: mt.optim.adamW({ lr: 3e-3 }) });
    const history = await trainer.fit(sets, { epochs: 4 });
    const first = history.epochHistory[0]!.losses.a!;
    const last = history.epochHistory.at(-1)!.losses.a!;
    expect(last).toBeLessThan(first);
    expect(model.stateDict()['embedding.features.weight']!.dtype).toBe('float32');
  });

  it('trainer.step runs one step for a loop written in JavaScript', () => {
    const { data, model } = parityFixture();
    const trainer = new mt.Trainer(model, { weighting: mt.weighting.sigmoidLoss() });
    const result = trainer.step({ a: data.a.dataset.batch([0, 1, 2, 3]), b: data.b.dataset.batch([0, 1, 2]) });
    expect(Object.keys(result.losses).sort()).toEqual(['a', 'b']);
    expect(result.lambdas.a).toBeCloseTo(1 / (1 + Math.exp(-result.losses.a!)), 6);
    expect(trainer.stepsDone).toBe(1);
  });
});

describe('optimizer, schedule, evaluation', () => {
  it("the learning rate follows warm-up then linear decay (transformers' formula), as the step events report", async () => {
    const { data, model } = parityFixture();
    const trainer = new mt.Trainer(model, { optimizer: mt.optim.sgd({ lr: 0.1 }), schedule: mt.schedule.warmupLinear({ warmupSteps: 4 }) });
    const rates: number[] = [];
    await trainer.fit(
      { a: data.a.dataset },
      {
        steps: 10,
        onProgress: (e) => {
          if (e.kind === 'step') rates.push(e.learningRate);
        },
      },
    );
    const expected = Array.from({ length: 10 }, (_, s) => 0.1 * (s < 4 ? s / 4 : Math.max(0, (10 - s) / (10 - 4))));
    rates.forEach((r, i) => expect(r).toBeCloseTo(expected[i]!, 12));
  });

  it('per-part learning rates: a part with rate 0 does not move, the others do', async () => {
    const { data, model } = parityFixture();
    const before = weights(model);
    const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 0.01, weightDecay: 0.1, partLearningRates: { shared: 0 } }) });
    await trainer.fit({ a: data.a.dataset, b: data.b.dataset }, { steps: 3 });
    for (const [name, values] of Object.entries(weights(model))) {
      if (name.endsWith('.pe')) continue; // the positional table is a buffer
      const moved = values.some((v, i) => v !== before[name]![i]);
      expect(moved, name).toBe(name.startsWith('tasks.a.') || name.startsWith('tasks.b.'));
    }
  });

  it('evaluates during fit and stops early when the metric stops improving', async () => {
    const { data, model } = parityFixture();
    const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 0.01 }) });
    const sets = { a: data.a.dataset, b: data.b.dataset };
    // The loss falls, so "max" never improves after the first evaluation: patience 2 stops at the third.
    const history = await trainer.fit(sets, {
      steps: 50,
      evalSets: sets,
      evalEvery: 5,
      earlyStopping: { metric: 'a.loss', mode: 'max', patience: 2 },
    });
    expect(history.stoppedEarly).toBe(true);
    expect(history.evalHistory).toHaveLength(3);
    expect(history.steps).toBe(15);
    const metrics = history.evalHistory[0]!.metrics;
    expect(Object.keys(metrics.a!).sort()).toEqual(['accuracy', 'f1', 'loss', 'matthews']);
    expect(Object.keys(metrics.b!).sort()).toEqual(['loss', 'mse', 'pearson', 'spearman']);
    expect(metrics.b!.mse).toBeCloseTo(metrics.b!.loss!, 5);
    // The evaluation's metrics are those of the model's predictions over the whole set.
    const final = await trainer.evaluate(sets);
    const whole = (ds: mt.data.Dataset) => ds.batch(Array.from({ length: ds.size }, (_, i) => i));
    const a = whole(data.a.dataset);
    const b = whole(data.b.dataset);
    expect(final.a!.matthews).toBeCloseTo(mt.metrics.matthewsCorrelation(model.predict('a', a), a.targets!), 6);
    expect(final.a!.accuracy).toBeCloseTo(mt.metrics.accuracy(model.predict('a', a), a.targets!), 6);
    expect(final.b!.spearman).toBeCloseTo(mt.metrics.spearman(model.predict('b', b), b.targets!), 6);
  });
});

describe('epochs and checkpoints', () => {
  it('alternating every epoch trains one task per epoch, in sampler order; an epoch is max Bᵢ steps', async () => {
    const { data, model } = parityFixture();
    const trainer = new mt.Trainer(model, {
      strategy: mt.strategy.alternating({ every: 'epoch' }),
      sampler: mt.sampler.roundRobin(),
      batchSize: 8,
    });
    const stepTasks: string[] = [];
    const history = await trainer.fit(
      { a: data.a.dataset, b: data.b.dataset, c: data.c.dataset },
      {
        epochs: 4,
        onProgress: (e) => {
          if (e.kind === 'step') stepTasks.push(Object.keys(e.losses).join());
        },
      },
    );
    // a: 24 rows → 3 batches, b: 17 → 3, c: 20 → 3; an epoch is 3 steps.
    expect(history.steps).toBe(12);
    expect(stepTasks).toEqual(['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'c', 'a', 'a', 'a']);
    expect(history.epochHistory.map((e) => Object.keys(e.losses).join())).toEqual(['a', 'b', 'c', 'a']);
  });

  it('refuses to resume from a file that is not a checkpoint', async () => {
    const dir = tempDir('mtl-notckpt-');
    const file = path.join(dir, 'weights.safetensors');
    const { data, model } = parityFixture();
    mt.save(file, model.stateDict());
    const trainer = new mt.Trainer(model);
    await expect(trainer.fit({ a: data.a.dataset }, { steps: 1, resumeFrom: file })).rejects.toThrow(/is not an mtl-torch checkpoint/);
  });
});

describe('configuration', () => {
  const model = () => featureModel(2, { x: { kind: 'regression' }, y: { kind: 'regression' } });

  it('refuses combinations that make no sense, saying why', () => {
    expect(() => new mt.Trainer(model(), { strategy: mt.strategy.alternating(), weighting: mt.weighting.pcgrad() })).toThrow(
      /pcgrad cannot be used with strategy.alternating: .*only some of the tasks/,
    );
    expect(() => new mt.Trainer(model(), { strategy: mt.strategy.progressive({ main: 'x' }), weighting: mt.weighting.famo() })).toThrow(
      /famo cannot be used with strategy.progressive/,
    );
    expect(() => new mt.Trainer(model(), { strategy: mt.strategy.progressive({ main: 'nope' }) })).toThrow(
      /strategy.main: 'nope' is not a task of the model/,
    );
    expect(() => new mt.Trainer(model(), { precision: 'fp16' })).toThrow(/'fp16' needs a CUDA model/);
    expect(() => new mt.Trainer(model(), { optimizer: mt.optim.adamW({ partLearningRates: { 'task:z': 1 } }) })).toThrow(
      /partLearningRates.task:z: not a part of the model/,
    );
    expect(() => mt.optim.adamW({ partLearningRates: { decoder: 1 } })).toThrow(
      /optim.adamW.partLearningRates.decoder: expected 'shared' or 'task:<name>'/,
    );
    expect(() => new mt.Trainer(model(), { strategy: mt.strategy.progressive({ main: 'x' }), sampler: mt.sampler.uniform() })).toThrow(
      /'sampler' has no effect under strategy.progressive/,
    );
    expect(() => new mt.Trainer(model(), { sampler: mt.sampler.roundRobin() })).toThrow(
      /roundRobin cannot share out a joint step's examples/,
    );
    expect(() => new mt.Trainer(model(), { weighting: mt.weighting.fixed({ x: 1, z: 2 }) })).toThrow(
      /weighting.lambdas: 'z' is not a task of the model/,
    );
  });

  it('names bad fields, with what was expected and what was given', () => {
    expect(() => new mt.Trainer(model(), { batchSize: 0 })).toThrow(/^trainer.batchSize: expected an integer > 0, got 0$/);
    expect(() => new mt.Trainer(model(), { weighting: { kind: 'dwa', temperature: '2' } as never })).toThrow(
      'trainer.weighting.temperature: expected a number, got "2"',
    );
    expect(() => new mt.Trainer(model(), { weighting: { kind: 'magic' } as never })).toThrow(
      /trainer.weighting.kind: expected "equal", .*got "magic"/,
    );
    expect(() => new mt.Trainer(model(), { batchSize: 8, bogus: 1 } as never)).toThrow(/trainer.bogus: is not an option here/);
    expect(() => mt.weighting.dwa({ temperature: -1 })).toThrow('weighting.dwa.temperature: expected a number > 0, got -1');
    expect(() => mt.weighting.cagrad({ c: -1 })).toThrow('weighting.cagrad.c: expected a number >= 0, got -1');
    expect(() => mt.sampler.temperature(0)).toThrow('sampler.temperature.temperature: expected a number > 0, got 0');
    expect(() => mt.optim.sgd({ nesterov: true })).toThrow(/optim.sgd.nesterov: 'nesterov' needs a momentum > 0/);
    expect(() => mt.schedule.warmupLinear({ warmupSteps: -1 })).toThrow(
      'schedule.warmupLinear.warmupSteps: expected an integer >= 0, got -1',
    );
    const trainer = new mt.Trainer(model());
    return expect(trainer.fit({}, { steps: 1 })).rejects.toThrow(/'trainSets' is empty/);
  });

  it('fills every default from the native registry', () => {
    const trainer = new mt.Trainer(model());
    expect(trainer.options).toMatchObject({
      strategy: { kind: 'joint' },
      weighting: { kind: 'equal' },
      batchSize: 32,
      evalBatchSize: 0,
      clipGradNorm: 0,
      accumulateSteps: 1,
      precision: 'fp32',
      seed: 0,
      onNonFinite: 'stop',
      main: [],
      optimizer: { kind: 'adamW', lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
    });
    expect(mt.weighting.dwa()).toEqual({ kind: 'dwa', temperature: 2, window: 0 });
    expect(mt.weighting.famo()).toEqual({ kind: 'famo', lr: 0.025, gamma: 0.001, update: 'sameBatch' });
    expect(mt.weighting.nashMtl()).toEqual({ kind: 'nashMtl', maxNorm: 1 });
    expect(mt.weighting.uncertainty()).toEqual({ kind: 'uncertainty', lr: 0.025, initialLogVariance: 0 });
    expect(mt.sampler.temperature()).toEqual({ kind: 'temperature', temperature: 2 });
  });

  it('refuses data sets of another kind than their task, and unlabeled ones', async () => {
    const m = model();
    const trainer = new mt.Trainer(m);
    const classes = Dataset.fromArrays({ features: [[[1, 2]], [[3, 4]]], targets: [0, 1], targetKind: 'classification' });
    const unlabeled = Dataset.fromArrays({ features: [[[1, 2]], [[3, 4]]], targetKind: 'regression' });
    await expect(trainer.fit({ x: classes }, { steps: 1 })).rejects.toThrow(
      /trainSets.x: the data set's targets are for a classification task, and 'x' is a regression task/,
    );
    await expect(trainer.fit({ x: unlabeled }, { steps: 1 })).rejects.toThrow(/trainSets.x: the data set has no targets/);
    await expect(trainer.evaluate({ x: unlabeled })).rejects.toThrow(/evalSets.x: the data set has no targets/);
    expect(m.predict('x', unlabeled.batch([0, 1])).shape).toEqual([2]);
  });
});
