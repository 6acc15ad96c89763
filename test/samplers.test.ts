/**
 * Task samplers (native/core/train/sampler/): empirical task frequencies over 10k draws match
 * their formulas; round robin's order is exact; a seed fixes the draws.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../lib/index.ts';
import { native } from '../lib/native.ts';

const SIZES = [1000, 250, 40, 10];
const DRAWS = 10_000;

function frequencies(draws: Int32Array, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (const d of draws) counts[d]! += 1;
  return counts.map((c) => c / draws.length);
}

function expectFrequencies(config: mt.Sampler, expected: number[]): void {
  const sampler = new native.NativeSampler(config as unknown as Record<string, unknown>, SIZES, 7);
  const probabilities = sampler.probabilities();
  probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 12));
  const observed = frequencies(sampler.draw(DRAWS), SIZES.length);
  observed.forEach((f, i) => {
    // 4.5 standard errors of a binomial proportion: a false failure about once in 150 000 runs.
    const sigma = Math.sqrt((expected[i]! * (1 - expected[i]!)) / DRAWS);
    expect(Math.abs(f - expected[i]!)).toBeLessThanOrEqual(4.5 * sigma + 1e-12);
  });
}

describe('task samplers', () => {
  const total = SIZES.reduce((a, b) => a + b, 0);

  it('proportional: p_i = N_i / sum N', () => {
    expectFrequencies(mt.sampler.proportional(), SIZES.map((n) => n / total));
  });

  it.each([2, 3, 0.5])('temperature(%s): p_i ∝ N_i^(1/T)', (T) => {
    const weights = SIZES.map((n) => n ** (1 / T));
    const sum = weights.reduce((a, b) => a + b, 0);
    expectFrequencies(mt.sampler.temperature(T), weights.map((w) => w / sum));
  });

  it('uniform: p_i = 1/K', () => {
    expectFrequencies(mt.sampler.uniform(), SIZES.map(() => 1 / SIZES.length));
  });

  it('round robin visits tasks in order, exactly', () => {
    const sampler = new native.NativeSampler(mt.sampler.roundRobin() as unknown as Record<string, unknown>, SIZES, 0);
    const draws = Array.from(sampler.draw(10));
    expect(draws).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    expect(Array.from(sampler.draw(3))).toEqual([2, 3, 0]);
  });

  it('the same seed gives the same draws, another seed others', () => {
    const config = mt.sampler.temperature(2) as unknown as Record<string, unknown>;
    const a = new native.NativeSampler(config, SIZES, 3).draw(200);
    const b = new native.NativeSampler(config, SIZES, 3).draw(200);
    const c = new native.NativeSampler(config, SIZES, 4).draw(200);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('refuses bad configurations, naming the field', () => {
    expect(() => mt.sampler.temperature(0)).toThrow(/'temperature' must be a positive number/);
    expect(() => new native.NativeSampler({ kind: 'zipf' }, SIZES, 0)).toThrow(/unknown kind 'zipf'/);
    expect(() => new native.NativeSampler({ kind: 'uniform' }, [10, 0], 0)).toThrow(/non-empty data set/);
  });
});
