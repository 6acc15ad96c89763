/** Shared pieces of the trainer tests: a seeded PRNG, synthetic multi-task data, running Python oracles. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';
import { PYTHON } from './reference.ts';

export { PYTHON };

export function scriptPath(name: string): string {
  return fileURLToPath(new URL(`../parity/oracles/${name}`, import.meta.url));
}

export function runPython(script: string, args: string[]): void {
  execFileSync(PYTHON, [scriptPath(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * Whether two data sets hold the very same input tensors (withTargets, or tasks over the same rows
 * of a file), seen through Dataset.tensors(), which shares their storage: a change to one's inputs
 * shows in the other's (and is undone). The trainer gives such data sets the same rows each step
 * and the model encodes them once for all (checked in test/native/model_test.cc).
 */
export function sharesInputs(a: Dataset, b: Dataset): boolean {
  const x = a.tensors();
  const y = b.tensors();
  try {
    const before = y.inputIds.sum().item() as number;
    x.inputIds.add_(1);
    const changed = (y.inputIds.sum().item() as number) !== before;
    x.inputIds.sub_(1);
    return changed;
  } finally {
    for (const t of [...Object.values(x), ...Object.values(y)]) t?.dispose();
  }
}

/** mulberry32: a small seeded PRNG, so test data are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Float32-representable values, so JavaScript, C++ and Python see identical inputs. */
export function f32(values: number[]): number[] {
  return values.map((v) => Math.fround(v));
}

export interface SyntheticTask {
  kind: 'classification' | 'regression';
  classes?: number;
  /** The hidden rule: class = argmax(W x) or value = w·x. */
  rows: number;
}

/**
 * A synthetic multi-task problem with a known answer: features x ~ N(0, I_dim); task t's target is
 * argmax of a fixed random linear map of x (classification) or a fixed linear function (regression).
 */
export function syntheticProblem(dim: number, tasks: Record<string, SyntheticTask>, seed: number) {
  const random = rng(seed);
  const rules: Record<string, number[][]> = {};
  for (const [name, task] of Object.entries(tasks)) {
    const outputs = task.kind === 'classification' ? task.classes! : 1;
    rules[name] = Array.from({ length: outputs }, () => Array.from({ length: dim }, () => gaussian(random)));
  }
  const make = (name: string, rows: number) => {
    const task = tasks[name]!;
    const features: number[][] = [];
    const targets: number[] = [];
    for (let i = 0; i < rows; i++) {
      const x = f32(Array.from({ length: dim }, () => gaussian(random)));
      const scores = rules[name]!.map((w) => w.reduce((s, wi, j) => s + wi * x[j]!, 0));
      features.push(x);
      targets.push(task.kind === 'classification' ? scores.indexOf(Math.max(...scores)) : Math.fround(scores[0]!));
    }
    return { features, targets };
  };
  const toDataset = (name: string, rows: number) => {
    const { features, targets } = make(name, rows);
    const task = tasks[name]!;
    return {
      features,
      targets,
      // Each example is a sequence of one position carrying its feature vector.
      dataset: Dataset.fromArrays({ features: features.map((x) => [x]), targets, targetKind: task.kind }),
    };
  };
  return { toDataset };
}

export type FeatureTask = { kind: 'classification'; classes: number } | { kind: 'regression' };

/**
 * A small multi-task Transformer over feature vectors (sequences of one position): what the
 * trainer tests train. Heads pool the encoder output (decoderLayers 0).
 */
export function featureModel(
  inputDim: number,
  tasks: Record<string, FeatureTask>,
  options: { dModel?: number; layers?: number; dropout?: number } = {},
) {
  const dModel = options.dModel ?? 8;
  return mt.multitask({
    input: { features: inputDim, maxLength: 1 },
    encoder: { numLayers: options.layers ?? 1, dModel, nhead: 2, dimFeedforward: 2 * dModel, dropout: options.dropout ?? 0 },
    tasks: Object.fromEntries(
      Object.entries(tasks).map(([name, t]) => [
        name,
        t.kind === 'classification' ? mt.tasks.classification({ classes: t.classes }) : mt.tasks.regression(),
      ]),
    ),
  });
}
