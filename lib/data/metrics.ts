/**
 * mt.metrics: evaluation metrics computed natively (native/core/metrics/metrics.h), over tensors
 * or plain arrays. Conventions for degenerate input follow sklearn/scipy where those define a value
 * and are documented where they do not:
 * - matthewsCorrelation: 0 when predictions or targets are constant (as sklearn);
 * - pearson / spearman: 0 when either input is constant (scipy returns NaN; 0 keeps averages finite);
 * - f1: 0 when the positive class is neither predicted nor present (sklearn's zero_division=0);
 * - phonemeErrorRate: total edit distance / total reference length over the whole set;
 * - wordErrorRate: the fraction of sequences not predicted exactly (g2p's "word error rate").
 */
import { argumentError } from '../errors.ts';
import { native } from '../native.ts';
import { Tensor, tensor } from '../tensor.ts';
import { checkInt, describe, optionsObject } from '../validate.ts';

export type Values = Tensor | readonly number[];
/** Ragged arrays of token ids, or a padded int tensor [N, T] whose rows end at the first `padId`. */
export type Sequences = Tensor | readonly (readonly number[])[];

const m = native.metrics;

// Runs `body` on tensors made from arrays (disposed afterwards) or the tensors given.
// Class ids in arrays must be non-negative integers (`classIds`); tensors are checked natively.
function withTensors<R>(where: string, inputs: [string, Values][], body: (...handles: Tensor[]) => R, classIds = false): R {
  const owned: Tensor[] = [];
  try {
    const tensors = inputs.map(([name, value]) => {
      if (value instanceof Tensor) return value;
      if (!Array.isArray(value)) throw argumentError(where, `'${name}' must be a tensor or an array of numbers, got ${describe(value)}`);
      value.forEach((v, i) => {
        if (typeof v !== 'number' || Number.isNaN(v)) throw argumentError(where, `'${name}[${i}]' must be a number, got ${describe(v)}`);
        if (classIds && (!Number.isInteger(v) || v < 0))
          throw argumentError(where, `'${name}[${i}]' must be a non-negative class id, got ${v}`);
      });
      const t = tensor(Float64Array.from(value), [value.length]);
      owned.push(t);
      return t;
    });
    const lengths = tensors.map((t) => t.shape[0]);
    if (lengths.some((l) => l !== lengths[0])) {
      throw argumentError(where, `${inputs.map(([n]) => `'${n}'`).join(' and ')} have different lengths (${lengths.join(' and ')})`);
    }
    if (lengths[0] === 0) throw argumentError(where, 'inputs are empty');
    return body(...tensors);
  } finally {
    for (const t of owned) t.dispose();
  }
}

const classMetric =
  (name: string, fn: (p: Tensor, t: Tensor) => number) =>
  (predictions: Values, targets: Values): number =>
    withTensors(
      name,
      [
        ['predictions', predictions],
        ['targets', targets],
      ],
      fn,
      true,
    );

/** Fraction of correct predictions. Predictions are class ids [N] or scores [N, C] (argmax). */
export const accuracy = classMetric('metrics.accuracy', (p, t) => m.accuracy(p.handle, t.handle));

/** F1 of the class `positive` (1 by default: binary F1, as GLUE's MRPC and QQP). */
export function f1(predictions: Values, targets: Values, options: { positive?: number } = {}): number {
  options = optionsObject(options, 'f1');
  const positive = options.positive === undefined ? 1 : checkInt(options.positive, 'metrics.f1', 'positive');
  return withTensors(
    'metrics.f1',
    [
      ['predictions', predictions],
      ['targets', targets],
    ],
    (p, t) => m.f1(p.handle, t.handle, positive),
    true,
  );
}

/** Unweighted mean of per-class F1 over `numClasses` classes (default: the classes seen). */
export function f1Macro(predictions: Values, targets: Values, options: { numClasses?: number } = {}): number {
  options = optionsObject(options, 'f1Macro');
  const classes = options.numClasses === undefined ? -1 : checkInt(options.numClasses, 'metrics.f1Macro', 'numClasses');
  return withTensors(
    'metrics.f1Macro',
    [
      ['predictions', predictions],
      ['targets', targets],
    ],
    (p, t) => m.f1Macro(p.handle, t.handle, classes),
    true,
  );
}

/** Matthews correlation coefficient (binary or multi-class; 0 for constant predictions or targets). */
export const matthewsCorrelation = classMetric('metrics.matthewsCorrelation', (p, t) => m.matthewsCorrelation(p.handle, t.handle));

const valueMetric =
  (name: string, fn: (x: Tensor, y: Tensor) => number) =>
  (x: Values, y: Values): number =>
    withTensors(
      name,
      [
        ['x', x],
        ['y', y],
      ],
      fn,
    );

/** Pearson correlation (0 when either input is constant). */
export const pearson = valueMetric('metrics.pearson', (x, y) => m.pearson(x.handle, y.handle));
/** Spearman rank correlation, ties given average ranks (0 when either input is constant). */
export const spearman = valueMetric('metrics.spearman', (x, y) => m.spearman(x.handle, y.handle));

/** Ranks 1..N of `values`, tied values sharing the average of the ranks they span (as Spearman uses). */
export function averageRanks(values: Values): number[] {
  return withTensors('metrics.averageRanks', [['values', values]], (v) => {
    const ranks = new Tensor(m.averageRanks(v.handle));
    try {
      return Array.from(ranks.dataSync() as Float64Array);
    } finally {
      ranks.dispose();
    }
  });
}

function checkSequences(where: string, name: string, value: unknown): readonly number[][] {
  if (!Array.isArray(value))
    throw argumentError(where, `'${name}' must be a tensor or an array of token-id arrays, got ${describe(value)}`);
  value.forEach((row, i) => {
    if (!Array.isArray(row)) throw argumentError(where, `'${name}[${i}]' must be an array of token ids, got ${describe(row)}`);
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw argumentError(where, `'${name}[${i}][${j}]' must be an integer token id, got ${describe(v)}`);
    });
  });
  return value as number[][];
}

/** Levenshtein distance between two token sequences. */
export function editDistance(hypothesis: readonly number[], reference: readonly number[]): number {
  const [h, r] = checkSequences('metrics.editDistance', 'sequences', [hypothesis, reference]);
  const a = tensor(Float64Array.from(h!), [h!.length], { dtype: 'int64' });
  const b = tensor(Float64Array.from(r!), [r!.length], { dtype: 'int64' });
  try {
    return m.editDistance(a.handle, b.handle);
  } finally {
    a.dispose();
    b.dispose();
  }
}

export interface SequenceErrors {
  /** Total edit distance. */
  edits: number;
  /** Total reference length. */
  referenceTokens: number;
  /** Sequences not predicted exactly. */
  wrongSequences: number;
  sequences: number;
  /** edits / referenceTokens. */
  phonemeErrorRate: number;
  /** wrongSequences / sequences. */
  wordErrorRate: number;
}

/**
 * Phoneme and word error rate of predicted token sequences against references. Arrays are ragged
 * id arrays; a tensor is [N, T] right-padded, its rows ending at the first `padId` (required then).
 */
export function sequenceErrors(hypotheses: Sequences, references: Sequences, options: { padId?: number } = {}): SequenceErrors {
  options = optionsObject(options, 'sequenceErrors');
  const where = 'metrics.sequenceErrors';
  const owned: Tensor[] = [];
  const prepare = (name: string, value: Sequences): [Tensor, Tensor | number] => {
    if (value instanceof Tensor) {
      if (options.padId === undefined) throw argumentError(where, `'padId' is required when '${name}' is a tensor`);
      return [value, checkInt(options.padId, where, 'padId')];
    }
    const rows = checkSequences(where, name, value);
    const width = rows.reduce((m, r) => Math.max(m, r.length), 1);
    const flat = new Float64Array(rows.length * width);
    rows.forEach((row, i) => flat.set(row, i * width));
    const padded = tensor(flat, [rows.length, width], { dtype: 'int64' });
    const lengths = tensor(
      Float64Array.from(rows, (r) => r.length),
      [rows.length],
      { dtype: 'int64' },
    );
    owned.push(padded, lengths);
    return [padded, lengths];
  };
  try {
    const [h, hl] = prepare('hypotheses', hypotheses);
    const [r, rl] = prepare('references', references);
    if (h.shape[0] !== r.shape[0]) throw argumentError(where, `${h.shape[0]} hypotheses for ${r.shape[0]} references`);
    if (r.shape[0] === 0) throw argumentError(where, 'no sequences');
    const out = m.sequenceErrors(h.handle, typeof hl === 'number' ? hl : hl.handle, r.handle, typeof rl === 'number' ? rl : rl.handle);
    return {
      edits: out.edits,
      referenceTokens: out.referenceTokens,
      wrongSequences: out.wrongSequences,
      sequences: out.sequences,
      phonemeErrorRate: out.tokenErrorRate,
      wordErrorRate: out.sequenceErrorRate,
    };
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** Total edits over total reference tokens. */
export const phonemeErrorRate = (hypotheses: Sequences, references: Sequences, options: { padId?: number } = {}): number =>
  sequenceErrors(hypotheses, references, options).phonemeErrorRate;
/** Fraction of sequences not predicted exactly. */
export const wordErrorRate = (hypotheses: Sequences, references: Sequences, options: { padId?: number } = {}): number =>
  sequenceErrors(hypotheses, references, options).wordErrorRate;

export const GLUE_TASKS = ['cola', 'sst2', 'mrpc', 'stsb', 'qqp', 'mnli', 'qnli', 'rte', 'wnli'] as const;
export type GlueTaskName = (typeof GLUE_TASKS)[number];

function checkMetricRecord(where: string, name: string, value: unknown): Record<string, number> {
  if (typeof value !== 'object' || value === null)
    throw argumentError(where, `'${name}' must be an object of metric values, got ${describe(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'number') throw argumentError(where, `'${name}.${k}' must be a number, got ${describe(v)}`);
  }
  return value as Record<string, number>;
}

/**
 * The GLUE score of one task from its metrics: CoLA `matthews`; SST-2, QNLI, RTE, WNLI `accuracy`;
 * MRPC and QQP the mean of `f1` and `accuracy`; STS-B the mean of `pearson` and `spearman`; MNLI
 * the mean of `matched` and `mismatched` accuracy (or `accuracy` alone).
 */
export function glueTaskScore(task: GlueTaskName, metrics: Record<string, number>): number {
  const where = 'metrics.glueTaskScore';
  const name = typeof task === 'string' ? task.toLowerCase().replace(/-/g, '') : '';
  if (!(GLUE_TASKS as readonly string[]).includes(name))
    throw argumentError(where, `'task' must be one of ${GLUE_TASKS.join(', ')}, got ${describe(task)}`);
  return m.glueTaskScore(name, checkMetricRecord(where, 'metrics', metrics));
}

/**
 * The GLUE average: the unweighted mean of glueTaskScore over the tasks given, MNLI counting once
 * (its matched and mismatched accuracies averaged first). The official score needs all nine tasks.
 */
export function glueAverage(results: Partial<Record<GlueTaskName, Record<string, number>>>): number {
  const where = 'metrics.glueAverage';
  if (typeof results !== 'object' || results === null)
    throw argumentError(where, `'results' must be an object keyed by task, got ${describe(results)}`);
  const normalized: Record<string, Record<string, number>> = {};
  for (const [task, metrics] of Object.entries(results)) {
    const name = task.toLowerCase().replace(/-/g, '');
    if (!(GLUE_TASKS as readonly string[]).includes(name))
      throw argumentError(where, `unknown task '${task}' (expected ${GLUE_TASKS.join(', ')})`);
    normalized[name] = checkMetricRecord(where, task, metrics);
  }
  if (Object.keys(normalized).length === 0) throw argumentError(where, 'no task results to average');
  return m.glueAverage(normalized);
}
