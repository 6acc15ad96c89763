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
import { capabilities, parse, registry } from '../schema.ts';
import { Tensor } from '../tensor.ts';
import { describe, optionsObject } from '../validate.ts';
import { currentGroup, ProcessGroup } from '../distributed.ts';
import { FitSettingsSchema, TrainerOptionsSchema, type FitSettings, type ResolvedTrainerOptions, type TrainerOptions } from './config.ts';

const WHERE = 'trainer';

interface StrategyCapabilities {
  everyTaskEachStep: boolean;
  sampler: 'none' | 'optional' | 'required';
  defaultSampler: string;
}
interface WeightingCapabilities {
  gradients: 'none' | 'shared' | 'lastShared';
  needsAllTasksEachStep: boolean;
  usesMain: boolean;
}
interface HeadCapabilities {
  metrics: Record<string, 'max' | 'min'>;
  mainMetric: string;
  generates: boolean;
}

/** The metrics a head reports (besides "loss") and the direction each improves in. */
export function headMetrics(kind: string): Record<string, 'max' | 'min'> {
  return capabilities<HeadCapabilities & Record<string, unknown>>('head', kind).metrics;
}
/** The metric a model is judged by on a task of this kind, by default. */
export function mainMetricOf(kind: string): string {
  return capabilities<HeadCapabilities & Record<string, unknown>>('head', kind).mainMetric;
}

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
    this.#checkAgainstModel();
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

  #strategy(): StrategyCapabilities {
    return capabilities('strategy', this.options.strategy.kind) as unknown as StrategyCapabilities;
  }

  /** Rules between the options and the model, each refusal saying why. */
  #checkAgainstModel(): void {
    const o = this.options;
    const tasks = this.model.taskNames;
    const strategy = this.#strategy();
    const weighting = capabilities('weighting', o.weighting.kind) as unknown as WeightingCapabilities;
    if (weighting.needsAllTasksEachStep && !strategy.everyTaskEachStep && tasks.length > 1) {
      throw argumentError(
        WHERE,
        `weighting.${o.weighting.kind} cannot be used with strategy.${o.strategy.kind}: it compares or tracks every task's loss or gradient in each step, and strategy.${o.strategy.kind} trains only some of the tasks in a step`,
      );
    }
    if (o.sampler !== undefined) {
      if (strategy.sampler === 'none') {
        throw argumentError(
          WHERE,
          `'sampler' has no effect under strategy.${o.strategy.kind}, which trains every task it plans with batchSize examples; remove it`,
        );
      }
      const sampler = capabilities('sampler', o.sampler.kind) as { hasDistribution: boolean };
      if (strategy.sampler === 'optional' && !sampler.hasDistribution) {
        throw argumentError(
          WHERE,
          `sampler.${o.sampler.kind} cannot share out a ${o.strategy.kind} step's examples (it has no distribution over tasks); use proportional, temperature or uniform`,
        );
      }
    }
    if (o.strategy.kind === 'progressive' && !tasks.includes(o.strategy.main)) {
      throw argumentError(WHERE, `strategy.main: '${o.strategy.main}' is not a task of the model (${tasks.join(', ')})`);
    }
    o.main.forEach((task, i) => {
      if (!tasks.includes(task)) throw argumentError(WHERE, `main[${i}]: '${task}' is not a task of the model (${tasks.join(', ')})`);
    });
    if (weighting.usesMain) {
      if (o.main.length === 0) {
        throw argumentError(
          WHERE,
          `weighting.${o.weighting.kind} weighs auxiliary tasks for the main ones: name them in 'main' (e.g. main: ['${tasks[0]}'])`,
        );
      }
      if (o.main.length === tasks.length) {
        throw argumentError(
          WHERE,
          `weighting.${o.weighting.kind} weighs auxiliary tasks, and 'main' names every task of the model: leave at least one auxiliary task, or use a weighting for equal tasks`,
        );
      }
    }
    if (o.weighting.kind === 'fixed') {
      const unknown = Object.keys(o.weighting.lambdas).filter((t) => !tasks.includes(t));
      if (unknown.length > 0)
        throw argumentError(
          WHERE,
          `weighting.lambdas: ${unknown.map((t) => `'${t}'`).join(', ')} is not a task of the model (${tasks.join(', ')})`,
        );
    }
    for (const part of Object.keys(o.optimizer.partLearningRates)) {
      if (part !== 'shared' && !tasks.includes(part.slice('task:'.length))) {
        throw argumentError(
          WHERE,
          `optimizer.partLearningRates.${part}: not a part of the model (shared, ${tasks.map((t) => `task:${t}`).join(', ')})`,
        );
      }
    }
    if (o.precision === 'fp16' && !this.model.device.startsWith('cuda')) {
      throw argumentError(
        WHERE,
        "precision: 'fp16' needs a CUDA model (its loss scaling exists for CUDA's half precision); use 'bf16' on the CPU",
      );
    }
    if (weighting.gradients !== 'none') {
      const view = this.model.native.parameterGroups();
      const count = weighting.gradients === 'shared' ? view.sharedParameters : view.lastSharedParameters;
      if (count === 0)
        throw argumentError(
          WHERE,
          `weighting.${o.weighting.kind} works on the gradients of trainable shared parameters, and this model has none (is its backbone frozen?)`,
        );
    }
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
    this.#checkFit(Object.keys(sets), evalSets, settings, onProgress !== undefined);
    this.#checkMainActs(usesMain || settings.diagnosticsEvery !== undefined, 'fit');
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

  /**
   * `main` must act: through a main-task-aware weighting, or in a fit through keepBest/earlyStopping
   * defaulting to the main task or diagnostics (whose affinities give the auxiliary verdicts).
   */
  #checkMainActs(fitUsesMain: boolean, where: string): void {
    const o = this.options;
    if (o.main.length === 0 || fitUsesMain) return;
    const weighting = capabilities('weighting', o.weighting.kind) as unknown as WeightingCapabilities;
    if (weighting.usesMain) return;
    throw argumentError(
      where,
      `'main' has no effect here: weighting.${o.weighting.kind} treats every task alike` +
        (where === 'fit' ? ', and no keepBest or earlyStopping without a metric, nor diagnosticsEvery, uses it' : '') +
        '; use a main-task-aware weighting (gcs, oneSidedProjection, metaBalance, olAux)' +
        (where === 'fit' ? ", keepBest: {}, or leave 'main' out" : ", or leave 'main' out"),
    );
  }

  /** Rules between a fit's data and the options: each option must act. */
  #checkFit(
    trained: string[],
    evalSets: Record<string, Dataset> | undefined,
    settings: z.output<typeof FitSettingsSchema>,
    listening: boolean,
  ): void {
    const o = this.options;
    if (settings.evalEvery !== undefined && evalSets === undefined)
      throw argumentError('fit', "'evalEvery' has no effect without 'evalSets'");
    if (settings.progressEvery !== undefined && !listening)
      throw argumentError('fit', "'progressEvery' has no effect without 'onProgress'");
    if (settings.diagnosticsEvery !== undefined) {
      if (trained.length < 2)
        throw argumentError('fit', "'diagnosticsEvery' compares tasks: it needs at least two tasks with training data");
      if (!listening) throw argumentError('fit', "'diagnosticsEvery' reports through step events: give 'onProgress'");
      if (this.model.native.parameterGroups().sharedParameters === 0)
        throw argumentError('fit', "'diagnosticsEvery' measures gradients on trainable shared parameters, and this model has none");
    }
    for (const [option, chosen] of [
      ['earlyStopping', settings.earlyStopping?.metric],
      ['keepBest', settings.keepBest?.metric],
    ] as const) {
      if (chosen !== undefined) this.#checkMetric(option, chosen, evalSets);
    }
    const weighting = capabilities('weighting', o.weighting.kind) as unknown as WeightingCapabilities;
    const untrainedMain = o.main.filter((t) => !trained.includes(t));
    if (untrainedMain.length > 0) {
      throw argumentError(
        'fit',
        `main: ${untrainedMain.map((t) => `'${t}'`).join(', ')} has no training data (trainSets: ${trained.join(', ')})`,
      );
    }
    if (weighting.usesMain && trained.every((t) => o.main.includes(t))) {
      throw argumentError(
        'fit',
        `weighting.${o.weighting.kind} weighs auxiliary tasks, and this fit trains only main tasks (${trained.join(', ')})`,
      );
    }
    if (o.strategy.kind === 'progressive' && !trained.includes(o.strategy.main)) {
      throw argumentError('fit', `strategy.main '${o.strategy.main}' has no training data (trainSets: ${trained.join(', ')})`);
    }
    if (o.weighting.kind === 'fixed') {
      const { lambdas } = o.weighting;
      const missing = trained.filter((t) => !Object.hasOwn(lambdas, t));
      if (missing.length > 0) throw argumentError('fit', `weighting.lambdas gives no λ for ${missing.map((t) => `'${t}'`).join(', ')}`);
    }
    if (weighting.needsAllTasksEachStep && !this.#strategy().everyTaskEachStep && trained.length > 1) {
      throw argumentError('fit', `weighting.${o.weighting.kind} cannot be used with strategy.${o.strategy.kind}`);
    }
  }

  /** An evaluation metric an option watches: 'loss', or a metric the task's head reports on evalSets. */
  #checkMetric(option: string, metric: string, evalSets: Record<string, Dataset> | undefined): void {
    if (evalSets === undefined) throw argumentError('fit', `'${option}' watches evaluations: give 'evalSets'`);
    if (metric === 'loss') return;
    const [task, name] = metric.split('.') as [string, string];
    if (!Object.hasOwn(evalSets, task)) throw argumentError('fit', `${option}.metric: '${task}' has no evaluation data (evalSets)`);
    const kind = this.model.config.tasks.find((t) => t.name === task)!.kind;
    const known = ['loss', ...Object.keys(headMetrics(kind))];
    if (!known.includes(name)) throw argumentError('fit', `${option}.metric: a ${kind} task reports ${known.join(', ')}, not '${name}'`);
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
    if (this.options.accumulateSteps !== 1) throw argumentError(where, "takes one batch per task, so 'accumulateSteps' must be 1");
    this.#checkMainActs(false, where);
    const weighting = capabilities('weighting', this.options.weighting.kind) as unknown as WeightingCapabilities;
    if (weighting.needsAllTasksEachStep && Object.keys(handles).length !== tasks.length) {
      throw argumentError(where, `weighting.${this.options.weighting.kind} needs a batch of every task (${tasks.join(', ')})`);
    }
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
