/**
 * Every loss-weighting method against a PyTorch reference written from its paper's formula
 * (scripts/reference/weighting.py): given the same losses and per-task gradients, the λ each method
 * reports and the gradient it sends to the shared parameters agree; the learned parameters of
 * uncertainty weighting, GradNorm and FAMO follow the reference over 20 steps.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';
import { native } from '../lib/native.ts';
import { f32, gaussian, rng, runPython, tempDir } from './helpers/train.ts';

const TASKS = ['a', 'b', 'c'];
const K = TASKS.length;
const P = 7;

interface Step { losses: number[]; grads: number[][]; epoch: number }
interface Case { name: string; method: string; config: Record<string, unknown>; tasks: number; steps: Step[] }
interface RefStep { lambdas: number[]; combined: number[] | null; params: number[] | null }

function randomSteps(seed: number, count: number, epochsOf: (i: number) => number = () => 0): Step[] {
  const random = rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    // Losses between 0.2 and 3, decreasing on the whole, as in training.
    losses: f32(TASKS.map(() => (0.2 + 2.8 * random()) * (1 - i / (2 * count)))),
    grads: TASKS.map(() => f32(Array.from({ length: P }, () => gaussian(random)))),
    epoch: epochsOf(i),
  }));
}

const cases: Case[] = [
  { name: 'equal', method: 'equal', config: {}, tasks: K, steps: randomSteps(1, 2) },
  { name: 'fixed', method: 'fixed', config: { weights: { a: 0.5, b: 2, c: 1 }, taskNames: TASKS }, tasks: K, steps: randomSteps(2, 2) },
  { name: 'sigmoidLoss', method: 'sigmoidLoss', config: {}, tasks: K, steps: randomSteps(3, 3) },
  { name: 'uncertainty', method: 'uncertainty', config: { lr: 0.05 }, tasks: K, steps: randomSteps(4, 20) },
  { name: 'dwa', method: 'dwa', config: { temperature: 2 }, tasks: K, steps: randomSteps(5, 9, (i) => Math.floor(i / 2)) },
  { name: 'gradNorm', method: 'gradNorm', config: { alpha: 1.5, lr: 0.05 }, tasks: K, steps: randomSteps(6, 20) },
  { name: 'pcgrad', method: 'pcgrad', config: { seed: 11 }, tasks: K, steps: randomSteps(7, 4) },
  { name: 'cagrad', method: 'cagrad', config: { c: 0.4 }, tasks: K, steps: randomSteps(8, 3) },
  { name: 'famo', method: 'famo', config: { lr: 0.025, gamma: 0.001 }, tasks: K, steps: randomSteps(9, 20) },
  { name: 'nashMtl', method: 'nashMtl', config: {}, tasks: K, steps: randomSteps(10, 3) },
];

let reference: Record<string, RefStep[]>;

beforeAll(() => {
  const dir = tempDir('mtl-weighting-');
  const input = path.join(dir, 'in.json');
  const output = path.join(dir, 'out.json');
  writeFileSync(input, JSON.stringify({ cases }));
  runPython('weighting.py', [input, output]);
  reference = JSON.parse(readFileSync(output, 'utf8'));
});

function expectClose(actual: number[], expected: number[], rtol: number, atol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (Math.abs(a - e) > atol + rtol * Math.abs(e)) {
      throw new Error(`${what}[${i}]: ${a} differs from the reference ${e} (rtol ${rtol}, atol ${atol})`);
    }
  });
}

/** Runs a case natively: λ, the shared-parameter gradient, and the learned parameters per step. */
function runNative(c: Case): RefStep[] {
  const weighting = new native.NativeWeighting({ method: c.method, ...c.config }, TASKS);
  const needsGradients = weighting.info().gradientNeed !== 'none';
  return c.steps.map((step, index) => {
    const losses = step.losses.map((l) => mt.tensor([l]).reshape([]).requiresGrad_());
    const grads = mt.tensor(Float32Array.from(step.grads.flat()), [K, P]);
    const result = weighting.combine(losses.map((l) => l.handle), needsGradients ? grads.handle : undefined, index, step.epoch);
    let combined: number[];
    if (result.sharedGradient) {
      combined = Array.from(new mt.Tensor(result.sharedGradient).dataSync() as Float32Array);
    } else {
      // The objective's gradient with respect to each loss is the weight it really applies.
      new mt.Tensor(result.objective).backward();
      const applied = losses.map((l) => l.grad!.item() as number);
      expectClose(applied, result.lambdas, 1e-5, 1e-7, `${c.name} step ${index}: ∂objective/∂L vs reported λ`);
      combined = Array.from({ length: P }, (_, j) => applied.reduce((s, w, i) => s + w * step.grads[i]![j]!, 0));
    }
    weighting.afterBackward();
    const params = weighting.parameters();
    return {
      lambdas: result.lambdas,
      combined,
      params: params.length ? Array.from(new mt.Tensor(params[0]!).dataSync() as Float64Array) : null,
    };
  });
}

describe('loss weighting against the PyTorch references', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const ours = runNative(c);
    const theirs = reference[c.name]!;
    ours.forEach((step, i) => {
      const ref = theirs[i]!;
      expectClose(step.lambdas, ref.lambdas, 1e-5, 1e-7, `${c.name} step ${i} λ`);
      expectClose(step.combined!, ref.combined!, 1e-5, 1e-5, `${c.name} step ${i} combined gradient`);
      if (ref.params) expectClose(step.params!, ref.params, 1e-5, 1e-6, `${c.name} step ${i} learned parameters`);
    });
  });

  it('DWA weights the third epoch by the ratio of the first two epochs', () => {
    const dwa = reference.dwa!;
    expect(dwa.slice(0, 4).every((s) => s.lambdas.every((l) => l === 1))).toBe(true);
    expect(dwa[4]!.lambdas.some((l) => l !== 1)).toBe(true);
    expect(dwa[4]!.lambdas.reduce((a, b) => a + b, 0)).toBeCloseTo(K, 10);
  });

  it('learned weightings move their parameters', () => {
    for (const name of ['uncertainty', 'gradNorm', 'famo']) {
      const steps = reference[name]!;
      expect(steps.at(-1)!.params, name).not.toEqual(steps[0]!.params);
    }
  });

  it('refuses unknown methods and bad options, naming them', () => {
    expect(() => new native.NativeWeighting({ method: 'magic' }, TASKS)).toThrow(/unknown method 'magic'/);
    expect(() => new native.NativeWeighting({ method: 'fixed', weights: { a: 1 } }, TASKS)).toThrow(/no weight for task 'b'/);
    expect(() => mt.weighting.dwa({ temperature: -1 })).toThrow(/'temperature' must be a positive number/);
    expect(() => mt.weighting.cagrad({ c: -1 })).toThrow(/'c' must be a number >= 0/);
    const pc = new native.NativeWeighting({ method: 'pcgrad' }, TASKS);
    expect(() => pc.combine([mt.tensor(1).handle, mt.tensor(1).handle, mt.tensor(1).handle])).toThrow(/needs the task gradients/);
  });
});
