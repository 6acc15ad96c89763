import { describe, expect, it } from 'vitest';
import { formatDuration, progressLines } from '../../lib/progress.ts';
import type { RunProgress } from '../../lib/run/run.ts';

function stepEvent(model: string, step: number, totalSteps: number, stepsPerSecond = 10): RunProgress {
  return {
    model,
    totalSteps,
    event: {
      kind: 'step',
      step,
      epoch: 0,
      losses: { a: 0.5, b: 0.25 },
      lambdas: { a: 1, b: 1 },
      examples: { a: 8, b: 8 },
      learningRate: 1e-3,
      stepsPerSecond,
      examplesPerSecond: 160,
      threads: 1,
      communicationSeconds: 0,
    },
  };
}

describe('progress lines for logs (stdout not a terminal)', () => {
  it('writes one line per 5 % of the steps and one at the last step, whatever the run length', () => {
    for (const total of [7, 200, 1003]) {
      const lines: string[] = [];
      const reporter = progressLines((line) => lines.push(line));
      for (let step = 1; step <= total; step++) reporter.update(stepEvent('multi-task', step, total));
      const steps = lines.map((l) => Number(/step (\d+)\//.exec(l)![1]));
      expect(steps.at(-1), `${total} steps`).toBe(total);
      expect(lines.length, `${total} steps`).toBeLessThanOrEqual(21);
      expect(lines.length, `${total} steps`).toBeGreaterThanOrEqual(Math.min(total, 20));
      // Evenly spaced: no gap longer than 5 % of the run (rounded up to a step).
      const every = Math.ceil(total / 20);
      steps.forEach((s, i) => expect(s - (steps[i - 1] ?? 0), `${total} steps`).toBeLessThanOrEqual(every));
      expect(lines.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    }
  });

  it('says step, share, loss (summed over tasks), steps/s and ETA, per model', () => {
    const lines: string[] = [];
    const reporter = progressLines((line) => lines.push(line), 50);
    reporter.update(stepEvent('multi-task', 50, 100, 4));
    reporter.update(stepEvent('single-task g2p', 10, 100, 4));
    reporter.update(stepEvent('multi-task', 100, 100, 4));
    expect(lines).toEqual([
      'multi-task: step 50/100 (50 %) | loss 0.750 | 4.0 steps/s | ETA 13 s\n',
      'multi-task: step 100/100 (100 %) | loss 0.750 | 4.0 steps/s | ETA 0 s\n',
    ]);
  });

  it('catches up when events come less often than the line interval', () => {
    const lines: string[] = [];
    const reporter = progressLines((line) => lines.push(line));
    for (const step of [1, 37, 90, 100]) reporter.update(stepEvent('m', step, 100));
    expect(lines.map((l) => /step (\d+)/.exec(l)![1])).toEqual(['37', '90', '100']);
  });

  it('formats durations for the ETA', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});
