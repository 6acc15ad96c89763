import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { requireTool } from '../helpers/tools.ts';
import { rng } from '../helpers/train.ts';

const { metrics } = mt;
import { PYTHON } from '../helpers/reference.ts';
const REFERENCE = path.join(import.meta.dirname, 'oracles', 'metrics.py');

/** Why the reference cannot run here, or undefined. */
function referencePythonProblem(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${PYTHON} with numpy is not installed (apt-get install python3-numpy, or set MTL_TORCH_PYTHON)`;
  }
}

describe('metrics against the independent reference (test/parity/oracles/metrics.py)', () => {
  const available = requireTool('the metrics reference (python3 with numpy)', referencePythonProblem());
  it.skipIf(!available)('agrees on random cases, ties and degenerate inputs', () => {
    const random = rng(7);
    const ints = (n: number, k: number) => Array.from({ length: n }, () => Math.floor(random() * k));
    const cases: { metric: string; args: unknown[] }[] = [];
    for (let c = 0; c < 12; c++) {
      const n = 5 + Math.floor(random() * 60);
      const k = 2 + (c % 4);
      const p = ints(n, k);
      const t = ints(n, k);
      // Half the cases: predictions that agree with the targets more often than chance.
      if (c % 2)
        p.forEach((_, i) => {
          if (random() < 0.6) p[i] = t[i]!;
        });
      cases.push({ metric: 'accuracy', args: [p, t] });
      cases.push({ metric: 'matthewsCorrelation', args: [p, t] });
      cases.push({ metric: 'f1Macro', args: [p, t, k] });
      cases.push({ metric: 'f1', args: [p.map((v) => v % 2), t.map((v) => v % 2)] });
      const x = Array.from({ length: n }, () => random() * 5);
      const y = x.map((v) => v + random() * 3);
      cases.push({ metric: 'pearson', args: [x, y] });
      cases.push({ metric: 'spearman', args: [x, y] });
      // Ties: rounded scores as in STS-B's 0-5 scale.
      cases.push({ metric: 'spearman', args: [x.map(Math.round), y.map(Math.round)] });
      const seqs = (m: number) => Array.from({ length: m }, () => ints(1 + Math.floor(random() * 8), 6));
      const refs = seqs(10);
      const hyps = refs.map((r) =>
        random() < 0.4
          ? r.slice()
          : r.map((v) => (random() < 0.3 ? (v + 1) % 6 : v)).slice(0, Math.max(1, r.length - Math.floor(random() * 2))),
      );
      cases.push({ metric: 'sequenceErrors', args: [hyps, refs] });
      cases.push({ metric: 'editDistance', args: [hyps[0], refs[0]] });
    }
    // Degenerate inputs, where the documented conventions apply.
    cases.push({
      metric: 'matthewsCorrelation',
      args: [
        [1, 1, 1, 1],
        [0, 1, 0, 1],
      ],
    });
    cases.push({
      metric: 'matthewsCorrelation',
      args: [
        [0, 1, 0, 1],
        [1, 1, 1, 1],
      ],
    });
    cases.push({
      metric: 'pearson',
      args: [
        [2, 2, 2],
        [1, 2, 3],
      ],
    });
    cases.push({
      metric: 'spearman',
      args: [
        [1, 2, 3],
        [4, 4, 4],
      ],
    });
    cases.push({
      metric: 'f1',
      args: [
        [0, 0, 0],
        [0, 0, 0],
      ],
    });

    const dir = mkdtempSync(path.join(tmpdir(), 'mt-metrics-'));
    try {
      const file = path.join(dir, 'cases.json');
      writeFileSync(file, JSON.stringify(cases));
      const expected = JSON.parse(execFileSync(PYTHON, [REFERENCE, file], { encoding: 'utf8' })) as unknown[];
      cases.forEach((c, i) => {
        const a = c.args as never[];
        const label = `${c.metric} case ${i}`;
        switch (c.metric) {
          case 'accuracy':
            expect(metrics.accuracy(a[0], a[1]), label).toBeCloseTo(expected[i] as number, 12);
            break;
          case 'matthewsCorrelation':
            expect(metrics.matthewsCorrelation(a[0], a[1]), label).toBeCloseTo(expected[i] as number, 12);
            break;
          case 'f1Macro':
            expect(metrics.f1Macro(a[0], a[1], { numClasses: a[2] }), label).toBeCloseTo(expected[i] as number, 12);
            break;
          case 'f1':
            expect(metrics.f1(a[0], a[1]), label).toBeCloseTo(expected[i] as number, 12);
            break;
          case 'pearson':
            expect(metrics.pearson(a[0], a[1]), label).toBeCloseTo(expected[i] as number, 12);
            break;
          case 'spearman':
            expect(metrics.spearman(a[0], a[1]), label).toBeCloseTo(expected[i] as number, 12);
            break;
          case 'editDistance':
            expect(metrics.editDistance(a[0], a[1]), label).toBe(expected[i]);
            break;
          case 'sequenceErrors': {
            const got = metrics.sequenceErrors(a[0], a[1]);
            const want = expected[i] as { phonemeErrorRate: number; wordErrorRate: number; edits: number };
            expect(got.edits, label).toBe(want.edits);
            expect(got.phonemeErrorRate, label).toBeCloseTo(want.phonemeErrorRate, 12);
            expect(got.wordErrorRate, label).toBeCloseTo(want.wordErrorRate, 12);
            break;
          }
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics: hand-derivable cases', () => {
  it('binary confusion TP=3 TN=2 FP=1 FN=0', () => {
    const p = [1, 1, 1, 1, 0, 0];
    const t = [1, 1, 1, 0, 0, 0];
    expect(metrics.accuracy(p, t)).toBeCloseTo(5 / 6, 15);
    expect(metrics.f1(p, t)).toBeCloseTo(6 / 7, 15);
    // (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 6 / sqrt(4·3·3·2)
    expect(metrics.matthewsCorrelation(p, t)).toBeCloseTo(6 / Math.sqrt(72), 15);
    // Class 0: TP 2, FP 0, FN 1 → 4/5; class 1: 6/7.
    expect(metrics.f1Macro(p, t)).toBeCloseTo((4 / 5 + 6 / 7) / 2, 15);
    expect(metrics.f1(p, t, { positive: 0 })).toBeCloseTo(4 / 5, 15);
  });

  it('perfect and inverted predictions', () => {
    expect(metrics.matthewsCorrelation([0, 1, 2, 1], [0, 1, 2, 1])).toBeCloseTo(1, 15);
    expect(metrics.matthewsCorrelation([1, 0, 1, 0], [0, 1, 0, 1])).toBeCloseTo(-1, 15);
    expect(metrics.pearson([1, 2, 3], [2, 4, 6])).toBe(1);
    expect(metrics.pearson([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(metrics.spearman([1, 2, 3, 4], [1, 4, 9, 16])).toBeCloseTo(1, 15);
  });

  it('degenerate inputs: constant predictions or values give 0', () => {
    expect(metrics.matthewsCorrelation([1, 1, 1], [0, 1, 1])).toBe(0);
    expect(metrics.matthewsCorrelation([0, 1, 1], [1, 1, 1])).toBe(0);
    expect(metrics.matthewsCorrelation([1, 1], [1, 1])).toBe(0);
    expect(metrics.pearson([3, 3, 3], [1, 2, 3])).toBe(0);
    expect(metrics.spearman([1, 2, 3], [5, 5, 5])).toBe(0);
    expect(metrics.f1([0, 0], [0, 0])).toBe(0);
  });

  it('ranks: ties share their average rank', () => {
    expect(metrics.averageRanks([10, 20, 20, 5, 20])).toEqual([2, 4, 4, 1, 4]);
    expect(metrics.averageRanks([3, 1, 2])).toEqual([3, 1, 2]);
  });

  it('edit distance and sequence error rates', () => {
    const word = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
    expect(metrics.editDistance(word('kitten'), word('sitting'))).toBe(3);
    expect(metrics.editDistance([], [1, 2])).toBe(2);
    expect(metrics.editDistance([1, 2], [])).toBe(2);
    expect(metrics.editDistance([], [])).toBe(0);
    // Two words: one exact (3 phonemes), one with a substitution and a deletion (ref 4 phonemes).
    const errors = metrics.sequenceErrors(
      [
        [1, 2, 3],
        [4, 9, 6],
      ],
      [
        [1, 2, 3],
        [4, 5, 6, 7],
      ],
    );
    expect(errors).toEqual({ edits: 2, referenceTokens: 7, wrongSequences: 1, sequences: 2, phonemeErrorRate: 2 / 7, wordErrorRate: 0.5 });
    expect(metrics.phonemeErrorRate([[]], [[]])).toBe(0);
    expect(metrics.phonemeErrorRate([[1]], [[]])).toBe(Infinity);
  });

  it('accepts tensors: scores [N, C] reduce by argmax; padded sequences end at padId', () => {
    const logits = mt.tensor([
      [0.1, 0.9],
      [0.8, 0.2],
      [0.3, 0.7],
    ]);
    const targets = mt.tensor([1, 0, 0]);
    expect(metrics.accuracy(logits, targets)).toBeCloseTo(2 / 3, 15);
    const hyp = mt.tensor([
      [5, 6, 0, 0],
      [7, 0, 0, 0],
    ]);
    const ref = mt.tensor([
      [5, 6, 8, 0],
      [7, 0, 0, 0],
    ]);
    expect(metrics.sequenceErrors(hyp, ref, { padId: 0 })).toMatchObject({ edits: 1, referenceTokens: 4, wrongSequences: 1 });
    expect(metrics.wordErrorRate(hyp, [[5, 6, 8], [7]], { padId: 0 })).toBe(0.5);
    // A zero-width prediction tensor: every reference token is an edit.
    const none = mt.zeros([2, 0], { dtype: 'int64' });
    expect(metrics.sequenceErrors(none, [[1, 2], [3]], { padId: 0 })).toMatchObject({ edits: 3, wrongSequences: 2 });
    none.dispose();
    for (const t of [logits, targets, hyp, ref]) t.dispose();
  });

  it('GLUE task scores and the GLUE average', () => {
    expect(metrics.glueTaskScore('mrpc', { f1: 0.9, accuracy: 0.8 })).toBeCloseTo(0.85, 15);
    expect(metrics.glueTaskScore('stsb', { pearson: 0.88, spearman: 0.86 })).toBeCloseTo(0.87, 15);
    expect(metrics.glueTaskScore('mnli', { matched: 0.84, mismatched: 0.82 })).toBeCloseTo(0.83, 15);
    const all = {
      cola: { matthews: 0.5 },
      sst2: { accuracy: 0.9 },
      mrpc: { f1: 0.9, accuracy: 0.8 },
      stsb: { pearson: 0.88, spearman: 0.86 },
      qqp: { f1: 0.7, accuracy: 0.9 },
      mnli: { matched: 0.84, mismatched: 0.82 },
      qnli: { accuracy: 0.9 },
      rte: { accuracy: 0.6 },
      wnli: { accuracy: 0.5 },
    };
    const expected = (0.5 + 0.9 + 0.85 + 0.87 + 0.8 + 0.83 + 0.9 + 0.6 + 0.5) / 9;
    expect(metrics.glueAverage(all)).toBeCloseTo(expected, 14);
    expect(metrics.glueAverage({ 'SST-2': { accuracy: 0.9 }, RTE: { accuracy: 0.7 } } as never)).toBeCloseTo(0.8, 15);
  });
});

describe('metrics: bad input', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(mt.TorchError);
      return (error as mt.TorchError).code;
    }
    throw new Error('expected an error');
  };
  it('refuses mismatched, empty and malformed inputs with a named field', () => {
    expect(() => metrics.accuracy([1, 0], [1])).toThrow(/'predictions' and 'targets' have different lengths \(2 and 1\)/);
    expect(() => metrics.pearson([], [])).toThrow(/inputs are empty/);
    expect(() => metrics.accuracy([0.5, 1], [1, 1])).toThrow(/'predictions\[0\]' must be a non-negative class id/);
    expect(() => metrics.matthewsCorrelation([1, -1], [1, 1])).toThrow(/'predictions\[1\]' must be a non-negative class id/);
    expect(() => metrics.pearson([1, Number.NaN], [1, 2])).toThrow(/'x\[1\]' must be a number/);
    expect(() => metrics.accuracy('abc' as never, [1])).toThrow(/'predictions' must be a tensor or an array/);
    expect(() => metrics.f1Macro([0, 3], [0, 1], { numClasses: 2 })).toThrow(/out of range for 2 classes/);
    expect(() => metrics.sequenceErrors([[1]], [[1], [2]])).toThrow(/1 hypotheses for 2 references/);
    expect(() => metrics.sequenceErrors([[1.5]], [[1]])).toThrow(/'hypotheses\[0\]\[0\]' must be an integer token id/);
    const t = mt.tensor([[1, 2]]);
    expect(() => metrics.sequenceErrors(t, [[1, 2]])).toThrow(/'padId' is required/);
    t.dispose();
    expect(() => metrics.glueTaskScore('squad' as never, {})).toThrow(/'task' must be one of/);
    expect(() => metrics.glueTaskScore('cola', { accuracy: 1 })).toThrow(/needs the metric 'matthews'/);
    expect(() => metrics.glueAverage({})).toThrow(/no task results/);
    expect(() => metrics.glueAverage({ cola: { matthews: 'x' } } as never)).toThrow(/'cola.matthews' must be a number/);
    expect(code(() => metrics.accuracy([1], []))).toBe('ERR_INVALID_ARG');
    // Checked natively: a float tensor of fractional "class ids".
    const frac = mt.tensor([0.5, 1]);
    const ones = mt.tensor([1, 1]);
    expect(() => metrics.accuracy(frac, ones)).toThrow(/'predictions' must hold whole class ids/);
    frac.dispose();
    ones.dispose();
  });
});
