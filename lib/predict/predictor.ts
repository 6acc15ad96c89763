/**
 * The raw-text predictor: `const run = await mt.loadRun('runs/mine')`, then
 * `await run.predict(['text', { text, pair }])` gives, per input and task, what a person reads: a
 * label and its probabilities (classification), a value (regression), the labels above 0.5
 * (multi-label), one tag per input word (tagging), generated text (sequence, beam search). It is
 * the one inference path of the package: the CLI's `predict` and the server use it.
 *
 * Each batch of inputs is encoded once and goes through the shared encoder once for every requested
 * task (MultiTaskModel.predictTasks), on a native worker thread, in eval mode (no dropout).
 * Concurrent predict calls on one run queue behind each other.
 */
import { z } from 'zod';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { MultiTaskModel } from '../model/model.ts';
import { parse, positiveInt, registry } from '../schema.ts';
import { tensor, type Tensor } from '../tensor.ts';
import { describe, optionsObject } from '../validate.ts';
import { runModelDir, runTasksOf } from '../run/run.ts';
import type { EncodedInput, RunInput, RunTask, RunTasks } from '../run/tasks.ts';

export type InputField = 'text' | 'pair';

/** One task of a run, as a caller of predict needs to know it. */
export interface TaskInfo {
  name: string;
  kind: string;
  /** Class, label or tag names in id order (classification, multi-label, tagging). */
  labels?: string[];
  /** What an input gives the task: a text, and a pair for sentence-pair tasks. */
  inputFields: InputField[];
  /** Longest input, in tokens (special tokens included); longer inputs are truncated. */
  maxLength: number;
}

export interface RunMetadata {
  /** The run's data source: 'phonetics', 'glue' or 'files'. */
  source: string;
  tasks: TaskInfo[];
  /** Parameter counts: every parameter, those the tasks share, and each task's own. */
  parameters: { total: number; shared: number; perTask: Record<string, number> };
  vocabSize: number;
  /** Which weights were loaded: the best evaluation's (keepBest) or the final ones. */
  weights: 'best' | 'final';
  device: string;
  /** What predictions compute in (MultiTaskModel.precision). */
  precision: 'fp32' | 'bf16' | 'int8';
}

export type PredictInput = string | { text: string; pair?: string };

export interface PredictOptions {
  /** Tasks to answer (default: every task of the run). */
  tasks?: string[];
  /** Probabilities kept per classification or multi-label answer, highest first (default 5). */
  topK?: number;
  /** Inputs per encoder pass (default 32). */
  batchSize?: number;
  /** Beam width of sequence tasks (default 4; 1 is greedy). */
  beamSize?: number;
}

export interface ClassificationPrediction {
  label: string;
  probabilities: Record<string, number>;
}
export interface RegressionPrediction {
  value: number;
}
export interface MultiLabelPrediction {
  labels: string[];
  probabilities: Record<string, number>;
}
export interface TaggingPrediction {
  tags: { word: string; tag: string }[];
}
export interface SequencePrediction {
  text: string;
  score?: number;
}
export type TaskPrediction =
  ClassificationPrediction | RegressionPrediction | MultiLabelPrediction | TaggingPrediction | SequencePrediction;
/** One input's answers, by task name. */
export type PredictionRow = Record<string, TaskPrediction>;

export interface LoadRunOptions {
  /** 'best' (default): the best evaluation's weights when the run kept them, else the final ones. */
  weights?: 'best' | 'final';
  /** Default: the run config's device. */
  device?: string;
  /** 'fp32' (default), 'bf16' (autocast) or 'int8' (dynamic quantization of the linear layers, CPU only): MultiTaskModel.precision. */
  precision?: 'fp32' | 'bf16' | 'int8';
}

export interface RunPredictor {
  readonly tasks: TaskInfo[];
  readonly metadata: RunMetadata;
  predict(inputs: PredictInput[], options?: PredictOptions): Promise<PredictionRow[]>;
  dispose(): void;
}

const LoadRunOptionsSchema = z.strictObject({
  weights: z.enum(['best', 'final']).default('best'),
  device: z.string().optional(),
  precision: z.enum(['fp32', 'bf16', 'int8']).default('fp32'),
});

const PredictOptionsSchema = z.strictObject({
  tasks: z.array(z.string()).min(1).optional(),
  topK: positiveInt.default(5),
  batchSize: positiveInt.max(4096).default(32),
  beamSize: positiveInt.max(1024).default(4),
});

/** Most inputs one predict call takes (each is encoded before the first batch runs). */
export const MAX_PREDICT_INPUTS = 1_000_000;

function checkInputs(inputs: unknown): RunInput[] {
  const where = 'predict';
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw argumentError(where, `'inputs' must be a non-empty array of texts or { text, pair } objects, got ${describe(inputs)}`);
  if (inputs.length > MAX_PREDICT_INPUTS)
    throw new TorchError(`${where}: ${inputs.length} inputs exceed the ${MAX_PREDICT_INPUTS} one call takes`, ErrorCode.TOO_LARGE);
  return inputs.map((input, i) => {
    if (typeof input === 'string') return { text: input };
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw argumentError(where, `'inputs[${i}]' must be a text or { text, pair }, got ${describe(input)}`);
    const { text, pair, ...rest } = input as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw argumentError(where, `'inputs[${i}]' has unknown field '${extra[0]}' (an input is { text, pair? })`);
    if (typeof text !== 'string') throw argumentError(where, `'inputs[${i}].text' must be a string, got ${describe(text)}`);
    if (pair !== undefined && typeof pair !== 'string')
      throw argumentError(where, `'inputs[${i}].pair' must be a string, got ${describe(pair)}`);
    return pair === undefined ? { text } : { text, pair };
  });
}

/** The k largest probabilities, by name, highest first. */
function topProbabilities(values: number[], names: string[], k: number): Record<string, number> {
  const order = values
    .map((p, i) => [p, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k);
  return Object.fromEntries(order.map(([p, i]) => [names[i] ?? String(i), p]));
}

function rows(t: Tensor): number[][] {
  return t.toArray() as number[][];
}

class Predictor implements RunPredictor {
  readonly tasks: TaskInfo[];
  readonly metadata: RunMetadata;
  #model: MultiTaskModel | undefined;
  #runTasks: RunTasks;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(model: MultiTaskModel, runTasks: RunTasks, metadata: RunMetadata) {
    this.#model = model;
    this.#runTasks = runTasks;
    this.tasks = metadata.tasks;
    this.metadata = metadata;
  }

  predict(inputs: PredictInput[], options: PredictOptions = {}): Promise<PredictionRow[]> {
    // Validation errors reject at once; a valid call waits for the calls before it.
    let work: () => Promise<PredictionRow[]>;
    try {
      work = this.#prepare(inputs, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const result = this.#queue.then(work, work);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #prepare(inputsIn: PredictInput[], optionsIn: PredictOptions): () => Promise<PredictionRow[]> {
    const where = 'predict';
    if (!this.#model) throw new TorchError(`${where}: this run predictor was disposed`, ErrorCode.DISPOSED);
    const options = parse(PredictOptionsSchema, optionsObject(optionsIn, where), `${where}.options`);
    const inputs = checkInputs(inputsIn);
    const names = this.tasks.map((t) => t.name);
    const wanted = options.tasks ?? names;
    wanted.forEach((name, i) => {
      if (!names.includes(name))
        throw argumentError(
          where,
          `'options.tasks[${i}]' = ${JSON.stringify(name)} is not a task of this run (tasks: ${names.join(', ')})`,
        );
    });
    if (new Set(wanted).size !== wanted.length) throw argumentError(where, `'options.tasks' names a task twice`);
    const tasks = wanted.map((name) => this.#runTasks.tasks.find((t) => t.name === name)!);
    const takesPair = tasks.some((t) => t.inputFields.includes('pair'));
    inputs.forEach((input, i) => {
      if (input.pair !== undefined && !takesPair)
        throw argumentError(where, `'inputs[${i}].pair' is given, but the tasks asked for (${wanted.join(', ')}) read one text`);
    });
    const encoded = inputs.map((input) => this.#runTasks.encode(input));
    // Padding-aware batching: inputs of similar length share a batch (sorted by length, stable),
    // so a batch pads to its own longest input; rows come back in the callers' order.
    const order = encoded.map((_, i) => i);
    if (encoded.length > options.batchSize) order.sort((a, b) => encoded[a]!.ids.length - encoded[b]!.ids.length || a - b);
    return async () => {
      const out: PredictionRow[] = new Array(encoded.length);
      for (let start = 0; start < order.length; start += options.batchSize) {
        const slice = order.slice(start, start + options.batchSize);
        const rows = await this.#predictBatch(
          slice.map((i) => encoded[i]!),
          tasks,
          options,
        );
        slice.forEach((i, j) => {
          out[i] = rows[j]!;
        });
      }
      return out;
    };
  }

  async #predictBatch(batch: EncodedInput[], tasks: RunTask[], options: z.output<typeof PredictOptionsSchema>): Promise<PredictionRow[]> {
    const model = this.#model;
    if (!model) throw new TorchError('predict: this run predictor was disposed', ErrorCode.DISPOSED);
    const width = Math.max(...batch.map((r) => r.ids.length));
    const pad = (values: number[], fill: number) => [...values, ...Array<number>(width - values.length).fill(fill)];
    const inputIds = tensor(
      batch.map((r) => pad(r.ids, this.#runTasks.input.padId)),
      { dtype: 'int64' },
    );
    const tokenTypeIds = tensor(
      batch.map((r) => pad(r.tokenTypeIds, 0)),
      { dtype: 'int64' },
    );
    const lengths = tensor(
      batch.map((r) => r.ids.length),
      { dtype: 'int64' },
    );
    const answers = batch.map(() => ({}) as PredictionRow);
    let results: Awaited<ReturnType<MultiTaskModel['predictTasks']>> | undefined;
    try {
      const generates = tasks.some((t) => registry.head[t.head.kind]!.capabilities.generates);
      results = await model.predictTasks(
        tasks.map((t) => t.name),
        { inputIds, tokenTypeIds, lengths },
        generates ? { beamSize: options.beamSize } : {},
      );
      for (const task of tasks) {
        const r = results[task.name]!;
        const labels = task.labels ?? [];
        switch (task.head.kind) {
          case 'classification': {
            const probabilities = rows(r.outputs!.softmax(-1));
            const ids = r.predictions.toArray() as number[];
            ids.forEach((id, i) => {
              answers[i]![task.name] = {
                label: labels[id] ?? task.describe(id),
                probabilities: topProbabilities(probabilities[i]!, labels, options.topK),
              };
            });
            break;
          }
          case 'regression':
            (r.predictions.toArray() as number[]).forEach((value, i) => {
              answers[i]![task.name] = { value };
            });
            break;
          case 'multiLabel': {
            const probabilities = rows(r.outputs!.sigmoid());
            rows(r.predictions).forEach((on, i) => {
              answers[i]![task.name] = {
                labels: on.flatMap((v, j) => (v === 1 ? [labels[j] ?? String(j)] : [])),
                probabilities: topProbabilities(probabilities[i]!, labels, options.topK),
              };
            });
            break;
          }
          case 'tagging': {
            const tags = rows(r.predictions);
            batch.forEach((input, i) => {
              answers[i]![task.name] = {
                tags: input.words
                  .filter((w) => w.start >= 0)
                  .map((w) => ({ word: w.word, tag: labels[tags[i]![w.start]!] ?? String(tags[i]![w.start]) })),
              };
            });
            break;
          }
          default: {
            const sequences = rows(r.predictions);
            const scores = r.scores ? (r.scores.toArray() as number[]) : [];
            sequences.forEach((ids, i) => {
              answers[i]![task.name] = { text: task.describe(ids), ...(scores[i] === undefined ? {} : { score: scores[i] }) };
            });
          }
        }
      }
    } finally {
      inputIds.dispose();
      tokenTypeIds.dispose();
      lengths.dispose();
      for (const r of Object.values(results ?? {})) {
        r.predictions.dispose();
        r.outputs?.dispose();
        r.scores?.dispose();
      }
    }
    return answers;
  }

  /** Drops the model (its native memory goes with the last reference); later predict calls are refused. */
  dispose(): void {
    this.#model = undefined;
  }
}

/** Loads a trained run's model (its best weights by default) and its tasks, for raw-text predictions. */
export async function loadRun(dir: string, optionsIn: LoadRunOptions = {}): Promise<RunPredictor> {
  const where = 'loadRun';
  if (typeof dir !== 'string' || dir.length === 0) throw argumentError(where, `'dir' must be a run directory, got ${describe(dir)}`);
  const options = parse(LoadRunOptionsSchema, optionsObject(optionsIn, where), `${where}.options`);
  const { config, tasks } = await runTasksOf(dir, 'predict');
  const modelDir = runModelDir(dir, options.weights);
  const device = options.device ?? config.device;
  const model = await MultiTaskModel.load(modelDir, { device: device as never });
  model.precision = options.precision;
  const summary = model.summary();
  const metadata: RunMetadata = {
    source: config.data.source,
    tasks: tasks.tasks.map((t) => ({
      name: t.name,
      kind: t.head.kind,
      ...(t.labels ? { labels: [...t.labels] } : {}),
      inputFields: [...t.inputFields],
      maxLength: tasks.input.maxLength,
    })),
    parameters: { total: summary.total, shared: summary.shared, perTask: summary.perTask },
    vocabSize: tasks.input.vocabSize,
    weights: modelDir.endsWith('best') ? 'best' : 'final',
    device,
    precision: options.precision,
  };
  return new Predictor(model, tasks, metadata);
}

/** One task's answer on one line, as the CLI prints it: a label, a value, labels, word/tag pairs or text. */
export function formatPrediction(p: TaskPrediction): string {
  if ('label' in p) return p.label;
  if ('value' in p) return p.value.toFixed(3);
  if ('labels' in p) return p.labels.join(', ');
  if ('tags' in p) return p.tags.map((t) => `${t.word}/${t.tag}`).join(' ');
  return p.text;
}
