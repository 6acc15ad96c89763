/**
 * The training configuration: one schema per kind of strategy, weighting method, sampler, optimizer
 * and schedule (their defaults come from the native registry), the factories mt.strategy,
 * mt.weighting, mt.sampler, mt.optim and mt.schedule built from them, and the trainer's and a
 * fit's option schemas.
 */
import { z } from 'zod';
import {
  factories,
  fraction,
  int,
  kinds,
  native,
  nonEmptyString,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  probability,
  registry,
  union,
  withDefaults,
} from '../schema.ts';

// ---- strategies ----

export const strategySchemas = kinds('strategy', {
  /** Every task in every step: one backward of Σ λᵢLᵢ; a sampler, if given, shares out the step's examples. */
  joint: {},
  /** One task per step (drawn by the sampler) or per epoch. */
  alternating: { every: native(z.enum(['step', 'epoch'])) },
  /** The main task alone for `warmupSteps`, then the others with their losses ramped from 0 to full over `rampSteps`. */
  progressive: { main: nonEmptyString, warmupSteps: native(nonNegativeInt), rampSteps: native(nonNegativeInt) },
});
export const StrategySchema = union(strategySchemas);
export type Strategy = z.output<typeof StrategySchema>;
export const strategy = factories('strategy', strategySchemas);

// ---- loss weighting ----

export const weightingSchemas = kinds('weighting', {
  /** λᵢ = 1. */
  equal: {},
  /** λᵢ as given, one per task. */
  fixed: { lambdas: z.record(z.string(), nonNegativeNumber).refine((l) => Object.keys(l).length > 0, 'give a λ per task') },
  /** λᵢ = 1/(1 + e^(−Lᵢ)) from each loss's value. */
  sigmoidLoss: {},
  /** Kendall et al. 2018: learned log-variances sᵢ, L = Σ ½e^(−sᵢ)Lᵢ + ½sᵢ; `lr` of their own Adam; sᵢ start at `initialLogVariance` (0; the authors' MTAN code and LibMTL start at −0.5). */
  uncertainty: { lr: native(positiveNumber), initialLogVariance: native(z.number().finite()) },
  /** Liu et al. 2019: λ from the ratio of the last two periods' mean losses; a period is an epoch, or `window` steps. */
  dwa: { temperature: native(positiveNumber), window: native(nonNegativeInt) },
  /** Chen et al. 2018: learned weights balancing gradient norms at the last shared layer. */
  gradNorm: { alpha: native(nonNegativeNumber), lr: native(positiveNumber) },
  /** Yu et al. 2020: conflicting shared gradients projected onto each other's normal planes. */
  pcgrad: {},
  /** Liu et al. 2021: the conflict-averse direction within c·‖g₀‖ of the mean gradient. */
  cagrad: { c: native(nonNegativeNumber) },
  /**
   * Liu et al. 2023: fast adaptive weights from the log-loss decrease (`gamma`: the logits' weight decay).
   * `update`: 'sameBatch' (the authors' loop: the step's batch once more through the updated model, one extra
   * forward per step) or 'consecutiveSteps' (the next step's losses on another batch stand in: no extra forward).
   */
  famo: { lr: native(positiveNumber), gamma: native(nonNegativeNumber), update: native(z.enum(['sameBatch', 'consecutiveSteps'])) },
  /** Navon et al. 2022: the Nash bargaining weights, GGᵀα = 1/α; the shared gradient clipped to `maxNorm` (1, the authors' default; 0: no clip). */
  nashMtl: { maxNorm: native(nonNegativeNumber) },
  // ---- auxiliary mode: these need the trainer's `main` tasks (the others are auxiliary) ----
  /** Du et al. 2018: an auxiliary task's shared gradient counts only where its cosine with the main gradient is positive (`weighted`: scaled by that cosine). */
  gcs: { weighted: native(z.boolean()) },
  /** An auxiliary shared gradient that conflicts with the main one is projected onto its normal plane; the main gradient is never changed. */
  oneSidedProjection: {},
  /** He et al. 2022: per shared tensor, auxiliary gradient norms pulled toward the main one's (moving averages, `beta`) by the relax factor `relax`. */
  metaBalance: { relax: native(probability), beta: native(fraction) },
  /** Lin et al. 2019 (OL-AUX): auxiliary weights learned online, wₐ += lr·Σ gₘ·gₐ every `horizon` steps (kept ≥ 0). */
  olAux: { lr: native(positiveNumber), horizon: native(positiveInt.max(1_000_000)) },
});
export const WeightingSchema = union(weightingSchemas);
export type Weighting = z.output<typeof WeightingSchema>;
/** mt.weighting.fixed({ a: 1, b: 0.5 }) takes the λ of each task directly. */
export const weighting = factories('weighting', weightingSchemas, {
  fixed: (lambdas: Record<string, number>) => ({ lambdas }),
});

// ---- task samplers ----

export const samplerSchemas = kinds('sampler', {
  /** pᵢ = Nᵢ / ΣNⱼ. */
  proportional: {},
  /** pᵢ ∝ Nᵢ^(1/T). */
  temperature: { temperature: native(positiveNumber) },
  /** pᵢ = 1/K. */
  uniform: {},
  /** 0, 1, …, K−1, 0, 1, … (no distribution: alternating only). */
  roundRobin: {},
});
export const SamplerSchema = union(samplerSchemas);
export type Sampler = z.output<typeof SamplerSchema>;
/** mt.sampler.temperature(2) takes T directly. */
export const sampler = factories('sampler', samplerSchemas, {
  temperature: (temperature?: number | { temperature?: number }) =>
    typeof temperature === 'object' && temperature !== null ? temperature : temperature === undefined ? {} : { temperature },
});

// ---- optimizers ----

const partLearningRates = native(z.record(z.string().regex(/^(shared|task:.+)$/, "expected 'shared' or 'task:<name>'"), nonNegativeNumber));
export const optimizerSchemas = kinds('optimizer', {
  /** torch.optim.AdamW; weight decay skips biases and norm weights (1-D parameters). */
  adamW: {
    lr: native(nonNegativeNumber),
    weightDecay: native(nonNegativeNumber),
    partLearningRates,
    betas: native(z.tuple([fraction, fraction])),
    eps: native(nonNegativeNumber),
  },
  /** torch.optim.SGD with momentum and Nesterov. */
  sgd: {
    lr: native(nonNegativeNumber),
    weightDecay: native(nonNegativeNumber),
    partLearningRates,
    momentum: native(nonNegativeNumber),
    nesterov: native(z.boolean()),
  },
});
optimizerSchemas.sgd = optimizerSchemas.sgd.refine((o) => !o.nesterov || o.momentum > 0, {
  message: "'nesterov' needs a momentum > 0",
  path: ['nesterov'],
});
export const OptimizerSchema = union(optimizerSchemas);
export type Optimizer = z.output<typeof OptimizerSchema>;
export const optim = factories('optim', optimizerSchemas);

// ---- learning-rate schedules ----

const scheduleOptions = { warmupSteps: native(nonNegativeInt), totalSteps: native(nonNegativeInt) };
export const scheduleSchemas = kinds('schedule', {
  /** Warm-up (optional), then constant (`totalSteps` would do nothing: refused). */
  constant: scheduleOptions,
  /** transformers' get_linear_schedule_with_warmup (totalSteps 0: the fit's steps). */
  warmupLinear: scheduleOptions,
  /** transformers' get_cosine_schedule_with_warmup (half a cycle). */
  warmupCosine: scheduleOptions,
});
scheduleSchemas.constant = scheduleSchemas.constant.refine((s) => s.totalSteps === 0, {
  message: 'has no effect on a constant schedule (only the warm-up and decay schedules use it)',
  path: ['totalSteps'],
});
export const ScheduleSchema = union(scheduleSchemas);
export type Schedule = z.output<typeof ScheduleSchema>;
export const schedule = factories('schedule', scheduleSchemas);

// ---- the trainer's options ----

export const TrainerOptionsSchema = z.strictObject(
  withDefaults(
    {
      strategy: native(StrategySchema),
      weighting: native(WeightingSchema),
      /** A task sampler; omitted: none under joint training, proportional under alternating training. */
      sampler: SamplerSchema.optional(),
      optimizer: native(OptimizerSchema),
      schedule: native(ScheduleSchema),
      /** Examples per task per step. */
      batchSize: native(positiveInt.max(1 << 20)),
      /** Batch size of evaluations (0: batchSize). */
      evalBatchSize: native(nonNegativeInt.max(1 << 20)),
      /** Global L2 norm the gradients are clipped to (0: no clipping). */
      clipGradNorm: native(nonNegativeNumber),
      /** Micro-batches whose gradients are summed (each loss divided by the count) before one optimizer step. */
      accumulateSteps: native(positiveInt.max(4096)),
      /** 'bf16' autocasts on CPU and CUDA; 'fp16' (CUDA only) adds dynamic loss scaling. */
      precision: native(z.enum(['fp32', 'bf16', 'fp16'])),
      /** Seeds the data order, the samplers and the weighting's own randomness. */
      seed: native(nonNegativeInt),
      /** What a NaN/Inf loss does: stop the run with an error naming the step and task, or skip the step. */
      onNonFinite: native(z.enum(['stop', 'skip'])),
      /**
       * The tasks that matter; the others are auxiliary, there to help them. The main-task-aware weightings
       * (gcs, oneSidedProjection, metaBalance, olAux) need it; with any weighting it makes keepBest and
       * earlyStopping default to the main task's metric, and run reports give each auxiliary task's verdict.
       */
      main: native(z.array(nonEmptyString).refine((m) => new Set(m).size === m.length, 'names a task twice')),
    },
    registry.defaults.trainer,
    'trainer',
  ),
);
export type TrainerOptions = z.input<typeof TrainerOptionsSchema>;
export type ResolvedTrainerOptions = z.output<typeof TrainerOptionsSchema>;

// ---- a fit's settings (the data sets and callbacks are checked by the trainer) ----

const metricName = z.string().regex(/^(loss|[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+)$/, "expected 'loss' or 'task.metric'");

export const EarlyStoppingSchema = z.strictObject(
  withDefaults(
    {
      /** "task.metric" (e.g. "sst2.accuracy", "g2p.per") or "loss" (the mean of the tasks' evaluation losses). */
      metric: native(metricName),
      /** Evaluations without improvement before the run stops. */
      patience: native(positiveInt),
      /** Omitted: the metric's own direction (accuracy rises, PER and losses fall). */
      mode: z.enum(['max', 'min']).optional(),
      minDelta: native(nonNegativeNumber),
    },
    registry.defaults.earlyStopping,
    'earlyStopping',
  ),
);

export const KeepBestSchema = z.strictObject({
  /** "task.metric" or "loss", as earlyStopping's; omitted: the trainer's main task's main metric (needs `main`). */
  metric: metricName.optional(),
  /** Omitted: the metric's own direction. */
  mode: z.enum(['max', 'min']).optional(),
});

export const FitSettingsSchema = z
  .strictObject({
    /** Epochs to train (see the strategy for the length of an epoch); exclusive with `steps`. */
    epochs: positiveInt.optional(),
    /** Optimizer steps to train; exclusive with `epochs`. */
    steps: positiveInt.optional(),
    /** Steps between evaluations (default: at the end of every epoch). */
    evalEvery: positiveInt.optional(),
    /** Steps between 'step' events (default 1). */
    progressEvery: positiveInt.optional(),
    /** Where checkpoint.safetensors is written (atomically): every `checkpointEvery` steps and at the end. */
    checkpointDir: nonEmptyString.optional(),
    checkpointEvery: positiveInt.optional(),
    /** A checkpoint file to continue from: the run resumes where it stopped, bit for bit on CPU. */
    resumeFrom: nonEmptyString.optional(),
    earlyStopping: EarlyStoppingSchema.optional(),
    /** Keeps the weights of the best evaluation by this metric in checkpointDir/best.safetensors. */
    keepBest: KeepBestSchema.optional(),
    /** Steps between task diagnostics (gradient cosine similarity and inter-task affinity); omitted: none. */
    diagnosticsEvery: positiveInt.optional(),
  })
  .refine((f) => (f.epochs === undefined) !== (f.steps === undefined), { message: "give exactly one of 'epochs' and 'steps'" })
  .refine((f) => f.checkpointEvery === undefined || f.checkpointDir !== undefined, {
    message: "has no effect without 'checkpointDir'",
    path: ['checkpointEvery'],
  })
  .refine((f) => f.keepBest === undefined || f.checkpointDir !== undefined, {
    message: "needs 'checkpointDir' (where best.safetensors is written)",
    path: ['keepBest'],
  });
export type FitSettings = z.input<typeof FitSettingsSchema>;

export { int };
