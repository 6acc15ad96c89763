/**
 * mt.Trainer: configures the native training loop (native/core/train/trainer.h) and receives its
 * events. The loop — batching, forward, weighting, backward, clipping, optimizer — runs in C++ on
 * a worker thread; nothing here runs per batch.
 */
import { argumentError, TorchError } from '../errors.ts';
import { native, type NativeTrainerHandle, type NativeBatch } from '../native.ts';
import type { Dataset, Batch } from '../data/dataset.ts';
import { Tensor } from '../tensor.ts';
import { checkInt, checkNumber, checkOneOf, describe } from '../validate.ts';
import {
  ALL_TASK_WEIGHTINGS, optim, sampler as samplers, schedule as schedules, strategy as strategies, weighting as weightings,
  type Optimizer, type Sampler, type Schedule, type Strategy, type Weighting,
} from './config.ts';

const WHERE = 'Trainer';

/** Any model the native trainer can drive: its `handle` (mt.ReferenceModel) or `native`
 * (mt.MultiTaskModel) is a native TrainableModel. */
export type TrainableModel = { readonly handle: unknown } | { readonly native: unknown };

function nativeModelOf(model: TrainableModel): unknown {
  if (typeof model === 'object' && model !== null) {
    if ('native' in model) return model.native;
    if ('handle' in model) return model.handle;
  }
  throw argumentError(WHERE, `'model' must be a trainable model (mt.multitask(...) or mt.ReferenceModel), got ${describe(model)}`);
}

export interface TrainerOptions {
  strategy?: Strategy;
  weighting?: Weighting;
  sampler?: Sampler;
  optimizer?: Optimizer;
  schedule?: Schedule;
  /** Examples per task per step (default 32). */
  batchSize?: number;
  evalBatchSize?: number;
  /** Global L2 norm the gradients are clipped to (default: no clipping). */
  clipGradNorm?: number;
  /** Micro-batches whose gradients are summed (each loss divided by the count) before one optimizer step. */
  accumulateSteps?: number;
  /** 'bf16' autocasts on CPU and CUDA; 'fp16' (CUDA only) adds dynamic loss scaling. */
  precision?: 'fp32' | 'bf16' | 'fp16';
  /** Seeds the data order, the samplers and the weighting's own randomness. */
  seed?: number;
  /** What a NaN/Inf loss does: stop the run with an error naming the step and task (default), or skip the step. */
  onNonFinite?: 'stop' | 'skip';
}

export type ProgressEvent =
  | { type: 'step'; step: number; epoch: number; losses: Record<string, number>; lambdas: Record<string, number>; learningRate: number; stepsPerSecond: number; examplesPerSecond: number; /** intra-op threads the training thread ran with (mt.setNumThreads) */ threads: number }
  | { type: 'epoch'; step: number; epoch: number; losses: Record<string, number>; learningRate: number }
  | { type: 'eval'; step: number; epoch: number; metrics: Record<string, Record<string, number>> }
  | { type: 'checkpoint'; step: number; epoch: number; path: string }
  | { type: 'skipped'; step: number; epoch: number; message: string };

export interface FitOptions {
  /** Epochs to train (see the strategy for the length of an epoch); exclusive with `steps`. */
  epochs?: number;
  /** Optimizer steps to train; exclusive with `epochs`. */
  steps?: number;
  evalSets?: Record<string, Dataset>;
  /** Steps between evaluations (default: at the end of every epoch). */
  evalEvery?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Steps between 'step' events (default 1). */
  progressEvery?: number;
  /** Stops the run within one step, leaving the model as the last finished step left it. */
  signal?: AbortSignal;
  /** Where checkpoint.safetensors is written (atomically): every `checkpointEvery` steps and at the end. */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** A checkpoint file to continue from: the run resumes where it stopped, bit for bit on CPU. */
  resumeFrom?: string;
  /** Stops when `metric` ("task.metric" or "loss") has not improved for `patience` evaluations. */
  earlyStopping?: { metric: string; patience?: number; mode?: 'max' | 'min'; minDelta?: number };
}

export interface History {
  steps: number;
  epochs: number;
  aborted: boolean;
  stoppedEarly: boolean;
  epochHistory: Extract<ProgressEvent, { type: 'epoch' }>[];
  evalHistory: Extract<ProgressEvent, { type: 'eval' }>[];
  checkpoints: string[];
}

export interface StepResult {
  losses: Record<string, number>;
  lambdas: Record<string, number>;
  learningRate: number;
  skipped: boolean;
  reason?: string;
}

function positiveInt(value: unknown, where: string, name: string): number {
  const v = checkInt(value, where, name);
  if (v <= 0) throw argumentError(where, `'${name}' must be a positive integer, got ${v}`);
  return v;
}

function datasetHandles(sets: Record<string, Dataset>, where: string, name: string): Record<string, unknown> {
  if (typeof sets !== 'object' || sets === null) throw argumentError(where, `'${name}' must map task names to data sets, got ${describe(sets)}`);
  const out: Record<string, unknown> = {};
  for (const [task, set] of Object.entries(sets)) {
    if (typeof set !== 'object' || set === null || !('handle' in set)) throw argumentError(where, `'${name}.${task}' must be an mt.data.Dataset`);
    out[task] = set.handle;
  }
  if (Object.keys(out).length === 0) throw argumentError(where, `'${name}' is empty`);
  return out;
}

/** Refuses strategy × weighting combinations that make no sense, saying why. */
function checkCombination(strategy: Strategy, weighting: Weighting): void {
  if (!ALL_TASK_WEIGHTINGS.has(weighting.method)) return;
  if (strategy.kind === 'alternating') {
    throw argumentError(WHERE, `weighting.${weighting.method} cannot be used with strategy.alternating: it compares or tracks every task's loss or gradient in each step, and an alternating step trains one task`);
  }
  if (strategy.kind === 'progressive') {
    throw argumentError(WHERE, `weighting.${weighting.method} cannot be used with strategy.progressive: it needs every task in every step and would renormalize away the auxiliary tasks' ramp`);
  }
}

export class Trainer {
  /** @internal */
  readonly handle: NativeTrainerHandle;
  readonly options: Required<Omit<TrainerOptions, 'evalBatchSize'>> & { evalBatchSize?: number };

  constructor(model: TrainableModel, options: TrainerOptions = {}) {
    const nativeModel = nativeModelOf(model);
    if (typeof options !== 'object' || options === null) throw argumentError(WHERE, `'options' must be an object, got ${describe(options)}`);
    const o = {
      strategy: options.strategy ?? strategies.joint(),
      weighting: options.weighting ?? weightings.equal(),
      sampler: options.sampler ?? samplers.proportional(),
      optimizer: options.optimizer ?? optim.adamW(),
      schedule: options.schedule ?? schedules.constant(),
      batchSize: options.batchSize === undefined ? 32 : positiveInt(options.batchSize, WHERE, 'batchSize'),
      evalBatchSize: options.evalBatchSize === undefined ? undefined : positiveInt(options.evalBatchSize, WHERE, 'evalBatchSize'),
      clipGradNorm: options.clipGradNorm === undefined ? 0 : checkNumber(options.clipGradNorm, WHERE, 'clipGradNorm'),
      accumulateSteps: options.accumulateSteps === undefined ? 1 : positiveInt(options.accumulateSteps, WHERE, 'accumulateSteps'),
      precision: options.precision === undefined ? 'fp32' : checkOneOf(options.precision, ['fp32', 'bf16', 'fp16'] as const, WHERE, 'precision'),
      seed: options.seed === undefined ? 0 : checkInt(options.seed, WHERE, 'seed'),
      onNonFinite: options.onNonFinite === undefined ? 'stop' : checkOneOf(options.onNonFinite, ['stop', 'skip'] as const, WHERE, 'onNonFinite'),
    };
    if (o.clipGradNorm < 0) throw argumentError(WHERE, `'clipGradNorm' must be >= 0, got ${o.clipGradNorm}`);
    if (o.seed < 0) throw argumentError(WHERE, `'seed' must be >= 0, got ${o.seed}`);
    checkCombination(o.strategy, o.weighting);
    this.options = o;
    this.handle = new native.NativeTrainer(nativeModel, o);
  }

  /** Trains on `trainSets` (task → data set) until `epochs` or `steps` are done, the signal aborts, or early stopping. */
  async fit(trainSets: Record<string, Dataset>, options: FitOptions): Promise<History> {
    const where = 'Trainer.fit';
    if (typeof options !== 'object' || options === null) throw argumentError(where, `'options' must be an object, got ${describe(options)}`);
    if ((options.epochs === undefined) === (options.steps === undefined)) throw argumentError(where, "give exactly one of 'epochs' and 'steps'");
    const native_: Record<string, unknown> = {
      epochs: options.epochs === undefined ? undefined : positiveInt(options.epochs, where, 'epochs'),
      steps: options.steps === undefined ? undefined : positiveInt(options.steps, where, 'steps'),
      evalSets: options.evalSets === undefined ? undefined : datasetHandles(options.evalSets, where, 'evalSets'),
      evalEvery: options.evalEvery === undefined ? undefined : positiveInt(options.evalEvery, where, 'evalEvery'),
      progressEvery: options.progressEvery === undefined ? undefined : positiveInt(options.progressEvery, where, 'progressEvery'),
      checkpointEvery: options.checkpointEvery === undefined ? undefined : positiveInt(options.checkpointEvery, where, 'checkpointEvery'),
    };
    for (const key of ['checkpointDir', 'resumeFrom'] as const) {
      const v = options[key];
      if (v !== undefined && (typeof v !== 'string' || v === '')) throw argumentError(where, `'${key}' must be a path, got ${describe(v)}`);
      native_[key] = v;
    }
    if (options.earlyStopping !== undefined) {
      const es = options.earlyStopping;
      if (typeof es !== 'object' || es === null || typeof es.metric !== 'string') throw argumentError(where, "'earlyStopping' must be { metric, patience?, mode?, minDelta? }");
      native_.earlyStopping = {
        metric: es.metric,
        patience: es.patience === undefined ? 3 : positiveInt(es.patience, where, 'earlyStopping.patience'),
        mode: es.mode === undefined ? (es.metric === 'loss' ? 'min' : 'max') : checkOneOf(es.mode, ['max', 'min'] as const, where, 'earlyStopping.mode'),
        minDelta: es.minDelta === undefined ? 0 : checkNumber(es.minDelta, where, 'earlyStopping.minDelta'),
      };
    }
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw argumentError(where, `'onProgress' must be a function`);
    const sets = datasetHandles(trainSets, where, 'trainSets');
    const onProgress = options.onProgress;
    const listener = onProgress
      ? (event: ProgressEvent) => {
          try {
            onProgress(event);
          } catch (error) {
            console.error('mtl-torch: an onProgress listener threw; training continues.', error);
          }
        }
      : undefined;
    const signal = options.signal;
    if (signal?.aborted) {
      // Nothing to start: the model stays as it is.
      return { steps: this.stepsDone, epochs: 0, aborted: true, stoppedEarly: false, epochHistory: [], evalHistory: [], checkpoints: [] };
    }
    const abort = () => this.handle.abort();
    const promise = this.handle.fit(sets, native_, listener);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return (await promise) as History;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Metrics per task on `evalSets`: loss, and accuracy (classes, tags) or mse and pearson (regression). */
  async evaluate(evalSets: Record<string, Dataset>): Promise<Record<string, Record<string, number>>> {
    return this.handle.evaluate(datasetHandles(evalSets, 'Trainer.evaluate', 'evalSets'));
  }

  /** One optimizer step on the given batches (task → batch), for loops written in JavaScript. */
  step(batches: Record<string, Batch>): StepResult {
    if (typeof batches !== 'object' || batches === null) throw argumentError('Trainer.step', `'batches' must map task names to batches, got ${describe(batches)}`);
    const handles: Record<string, NativeBatch> = {};
    for (const [task, batch] of Object.entries(batches)) {
      const fields: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(batch)) if (value instanceof Tensor) fields[key] = value.handle;
      handles[task] = fields as unknown as NativeBatch;
    }
    return this.handle.step(handles);
  }

  saveCheckpoint(path: string): void {
    if (typeof path !== 'string' || path === '') throw argumentError('Trainer.saveCheckpoint', `'path' must be a path, got ${describe(path)}`);
    this.handle.saveCheckpoint(path);
  }

  /** Loads a checkpoint; its data positions and sampler state apply to the next fit. */
  loadCheckpoint(path: string): void {
    if (typeof path !== 'string' || path === '') throw argumentError('Trainer.loadCheckpoint', `'path' must be a path, got ${describe(path)}`);
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

export { TorchError };
