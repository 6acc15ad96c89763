/**
 * mt.Trainer: configures the native training loop (native/core/train/trainer.h) and receives its
 * events. The loop — batching, forward, weighting, backward, clipping, optimizer — runs in C++ on
 * a worker thread; nothing here runs per batch. Options are checked here, once, by the schemas of
 * lib/train/config.ts and the capabilities the native registry reports: a combination in which an
 * option would do nothing is refused, saying why.
 */
import { z } from 'zod';
import { argumentError, TorchError } from '../errors.ts';
import type { NativeDatasetHandle, NativeTrainerHandle } from '../native.ts';
import { native } from '../native.ts';
import { Dataset, type Batch } from '../data/dataset.ts';
import { MultiTaskModel, nativeBatch } from '../model/model.ts';
import { parse, registry } from '../schema.ts';
import { Tensor } from '../tensor.ts';
import { describe, optionsObject } from '../validate.ts';
import { currentGroup, ProcessGroup } from '../distributed.ts';
import { checkTrainerRules, mainMetricOf } from './rules.ts';
import { FitSettingsSchema, TrainerOptionsSchema, type FitSettings, type ResolvedTrainerOptions, type TrainerOptions } from './config.ts';

const WHERE = 'trainer';

export { headMetrics, mainMetricOf } from './rules.ts';

/** Why tasks help or hurt each other, measured on a step's batches (FitOptions.diagnosticsEvery). */
export interface TaskDiagnostics {
  tasks: string[];
  /** cosine[i][j]: cosine similarity of tasks i's and j's gradients on the shared parameters (< 0: conflict). */
  cosine: number[][];
  /** affinity[i][j] = 1 − Lⱼ(θ′ᵢ)/Lⱼ(θ) (Fifty et al. 2021), θ′ᵢ a step of `lookaheadRate` along task i's shared gradient. */
  affinity: number[][];
  /** The step's scheduled learning rate; the base rate where the schedule gives 0 (a warm-up's first step). */
  lookaheadRate: number;
  /** What measuring cost. */
  seconds: number;
}

export type ProgressEvent =
  | {
      kind: 'step';
      step: number;
      epoch: number;
      losses: Record<string, number>;
      lambdas: Record<string, number>;
      /** Rows of each task in this step. */
      examples: Record<string, number>;
      learningRate: number;
      stepsPerSecond: number;
      examplesPerSecond: number;
      /** intra-op threads the training thread ran with (mt.setNumThreads) */ threads: number;
      /** Data parallel: seconds per step spent in collectives (gradient all-reduce, loss averaging), waiting included; 0 in one process. */
      communicationSeconds: number;
      diagnostics?: TaskDiagnostics;
    }
  | { kind: 'epoch'; step: number; epoch: number; losses: Record<string, number>; learningRate: number }
  | { kind: 'eval'; step: number; epoch: number; metrics: Record<string, Record<string, number>> }
  | { kind: 'checkpoint'; step: number; epoch: number; path: string }
  /** The weights of the best evaluation so far were written to `path` (keepBest). */
  | { kind: 'best'; step: number; epoch: number; path: string; value: number }
  | { kind: 'skipped'; step: number; epoch: number; message: string };

export interface FitOptions extends FitSettings {
  evalSets?: Record<string, Dataset>;
  onProgress?: (event: ProgressEvent) => void;
  /** Stops the run within one step, leaving the model as the last finished step left it. */
  signal?: AbortSignal;
}

export interface History {
  steps: number;
  epochs: number;
  aborted: boolean;
  stoppedEarly: boolean;
  epochHistory: Extract<ProgressEvent, { kind: 'epoch' }>[];
  evalHistory: Extract<ProgressEvent, { kind: 'eval' }>[];
  checkpoints: string[];
}

export interface StepResult {
  losses: Record<string, number>;
  lambdas: Record<string, number>;
  learningRate: number;
  skipped: boolean;
  reason?: string;
}

const FitCallbacksSchema = z
  .object({
    evalSets: z.unknown().optional(),
    onProgress: z.function().optional(),
    signal: z.instanceof(AbortSignal).optional(),
  })
  .loose();

/** The Trainer's options: the training configuration, and whether it trains data parallel. */
export interface TrainerConstructorOptions extends TrainerOptions {
  /**
   * Data-parallel training over the ranks of a process group: `true` for the group
   * mt.distributed.init() joined, or a group. `batchSize` is then per rank (the global batch is
   * batchSize × ranks), each rank reads its part of every task's batches, gradients are averaged in
   * buckets during backward, losses and per-task gradients before the weighting combines them, and
   * rank 0 writes the checkpoints.
   */
  distributed?: boolean | ProcessGroup;
}

function groupOf(distributed: unknown): ProcessGroup | undefined {
  if (distributed === undefined || distributed === false) return undefined;
  if (distributed instanceof ProcessGroup) return distributed;
  if (distributed === true) {
    const group = currentGroup();
    if (!group)
      throw argumentError(WHERE, 'distributed: true trains over the group of mt.distributed.init(): await it first (or give the group)');
    return group;
  }
  throw argumentError(WHERE, `'distributed' must be true, false or a process group (mt.distributed.init()), got ${describe(distributed)}`);
}

export class Trainer {
  /** @internal */
  readonly handle: NativeTrainerHandle;
  /** The options with every default filled. */
  readonly options: ResolvedTrainerOptions;
  readonly model: MultiTaskModel;
  /** The data-parallel group it trains over (undefined: one process). */
  readonly group: ProcessGroup | undefined;

  constructor(model: MultiTaskModel, options: TrainerConstructorOptions = {}) {
    options = optionsObject(options, 'Trainer');
    if (!(model instanceof MultiTaskModel))
      throw argumentError(WHERE, `'model' must be a multi-task model (mt.multitask(...)), got ${describe(model)}`);
    this.model = model;
    let rest: unknown = options;
    let distributed: unknown;
    if (typeof options === 'object' && options !== null) ({ distributed, ...rest } = options);
    this.options = parse(TrainerOptionsSchema, rest, WHERE);
    this.group = groupOf(distributed);
    checkTrainerRules(this.options, { where: 'trainer', model });
    if (this.group) {
      const cuda = model.device.startsWith('cuda');
      if (this.group.backend === 'nccl' && !cuda)
        throw argumentError(
          WHERE,
          `the process group reduces on ${this.group.device} (NCCL), and the model is on ${model.device}: move the model to its rank's GPU`,
        );
      if (this.group.backend === 'nccl' && model.device !== this.group.device && model.device !== 'cuda') {
        throw argumentError(
          WHERE,
          `the model is on ${model.device}, and this rank's NCCL device is ${this.group.device} (LOCAL_RANK ${this.group.localRank})`,
        );
      }
    }
    // The model's and the trainer's options: every rank must train the same thing.
    const config = this.group
      ? JSON.stringify({ model: model.config, trainer: this.options, device: model.device.replace(/:\d+$/, '') })
      : undefined;
    this.handle = this.group
      ? new native.NativeTrainer(model.native, this.options, this.group.handle, config)
      : new native.NativeTrainer(model.native, this.options);
  }

  /** The task → data set map as native handles, each checked against its task's kind. */
  #datasets(sets: unknown, where: string, name: string): Record<string, NativeDatasetHandle> {
    if (typeof sets !== 'object' || sets === null)
      throw argumentError(where, `'${name}' must map task names to data sets, got ${describe(sets)}`);
    const out: Record<string, NativeDatasetHandle> = {};
    const kinds = new Map(this.model.config.tasks.map((t) => [t.name, t.kind]));
    for (const [task, set] of Object.entries(sets)) {
      if (!kinds.has(task)) throw argumentError(where, `${name}.${task}: not a task of the model (${[...kinds.keys()].join(', ')})`);
      if (!(set instanceof Dataset)) throw argumentError(where, `${name}.${task}: expected an mt.data.Dataset, got ${describe(set)}`);
      if (set.isDisposed) throw new TorchError(`${where}: ${name}.${task}: the data set was disposed`, 'ERR_DISPOSED');
      if (set.targetKind !== kinds.get(task))
        throw argumentError(
          where,
          `${name}.${task}: the data set's targets are for a ${set.targetKind} task, and '${task}' is a ${kinds.get(task)} task`,
        );
      if (!set.labeled)
        throw argumentError(where, `${name}.${task}: the data set has no targets (it can be predicted on, not trained or evaluated on)`);
      out[task] = set.handle;
    }
    if (Object.keys(out).length === 0) throw argumentError(where, `'${name}' is empty`);
    return out;
  }

  /** Trains on `trainSets` (task → data set) until `epochs` or `steps` are done, the signal aborts, or early stopping. */
  async fit(trainSets: Record<string, Dataset>, options: FitOptions): Promise<History> {
    const where = 'fit';
    const callbacks = parse(FitCallbacksSchema, options, where);
    const { evalSets, onProgress, signal, ...rest } = options as FitOptions;
    const { settings: withMain, usesMain } = this.#mainMetricDefaults(rest);
    const settings = parse(FitSettingsSchema, withMain, where);
    const sets = this.#datasets(trainSets, where, 'trainSets');
    const evalHandles = callbacks.evalSets === undefined ? undefined : this.#datasets(evalSets, where, 'evalSets');
    checkTrainerRules(this.options, {
      where: 'fit',
      model: this.model,
      trained: Object.keys(sets),
      evalSets,
      settings,
      listening: onProgress !== undefined,
      usesMain,
    });
    const listener = onProgress
      ? (event: ProgressEvent) => {
          try {
            onProgress(event);
          } catch (error) {
            console.error('mtl-torch: an onProgress listener threw; training continues.', error);
          }
        }
      : undefined;
    if (signal?.aborted) {
      // Nothing to start: the model stays as it is.
      return { steps: this.stepsDone, epochs: 0, aborted: true, stoppedEarly: false, epochHistory: [], evalHistory: [], checkpoints: [] };
    }
    const abort = () => this.handle.abort();
    const promise = this.handle.fit(sets, evalHandles, settings, listener);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return (await promise) as History;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /**
   * keepBest and earlyStopping without a metric watch the main task's main metric (with one main task);
   * keepBest without a metric and without `main` is refused.
   */
  #mainMetricDefaults(settings: Record<string, unknown>): { settings: Record<string, unknown>; usesMain: boolean } {
    const out = { ...settings };
    let usesMain = false;
    for (const option of ['keepBest', 'earlyStopping'] as const) {
      const given = out[option];
      if (typeof given !== 'object' || given === null || Array.isArray(given) || (given as { metric?: unknown }).metric !== undefined)
        continue;
      const main = this.options.main;
      if (main.length === 1) {
        const kind = this.model.config.tasks.find((t) => t.name === main[0])!.kind;
        out[option] = { ...given, metric: `${main[0]}.${mainMetricOf(kind)}` };
        usesMain = true;
      } else if (option === 'keepBest') {
        throw argumentError(
          'fit',
          main.length === 0
            ? "keepBest.metric: name the metric that picks the best weights ('loss' or 'task.metric'), or set the trainer's 'main' task"
            : `keepBest.metric: 'main' names ${main.length} tasks; name the metric that picks the best weights`,
        );
      }
    }
    return { settings: out, usesMain };
  }

  /** Metrics per task on `evalSets`: loss, and the metrics of each task's head. */
  async evaluate(evalSets: Record<string, Dataset>): Promise<Record<string, Record<string, number>>> {
    return this.handle.evaluate(this.#datasets(evalSets, 'evaluate', 'evalSets'));
  }

  /** One optimizer step on the given batches (task → batch), for loops written in JavaScript. */
  step(batches: Record<string, Batch>): StepResult {
    const where = 'step';
    if (typeof batches !== 'object' || batches === null)
      throw argumentError(where, `'batches' must map task names to batches, got ${describe(batches)}`);
    const tasks = this.model.taskNames;
    const handles = Object.fromEntries(
      Object.entries(batches).map(([task, batch]) => {
        if (!tasks.includes(task)) throw argumentError(where, `'${task}' is not a task of the model (${tasks.join(', ')})`);
        const converted = nativeBatch(batch, `${where}.${task}`, true);
        if (!converted.targets) throw argumentError(where, `${task}: the batch has no targets`);
        return [task, converted];
      }),
    );
    if (Object.keys(handles).length === 0) throw argumentError(where, "'batches' is empty");
    checkTrainerRules(this.options, { where: 'step', model: this.model, batchTasks: Object.keys(handles) });
    return this.handle.step(handles);
  }

  saveCheckpoint(path: string): void {
    if (typeof path !== 'string' || path === '') throw argumentError('saveCheckpoint', `'path' must be a path, got ${describe(path)}`);
    this.handle.saveCheckpoint(path);
  }

  /** Loads a checkpoint; it is checked against the run and restored when the next fit starts. */
  loadCheckpoint(path: string): void {
    if (typeof path !== 'string' || path === '') throw argumentError('loadCheckpoint', `'path' must be a path, got ${describe(path)}`);
    this.handle.loadCheckpoint(path);
  }

  /** The weighting's learned parameters (uncertainty: log-variances; GradNorm: weights; FAMO: logits). */
  weightingParameters(): Tensor[] {
    return this.handle.weightingParameters().map((h) => new Tensor(h));
  }

  get stepsDone(): number {
    return this.handle.stepsDone();
  }
}

export { registry, TorchError };
