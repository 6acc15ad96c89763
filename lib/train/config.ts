/**
 * The training configuration factories: mt.strategy, mt.weighting, mt.sampler, mt.optim and
 * mt.schedule. Each returns a typed plain object, validated here (errors name the field), that the
 * native trainer reads (native/napi/train_config.cc).
 */
import { argumentError } from '../errors.ts';
import { checkBoolean, checkInt, checkNumber, checkOneOf, describe } from '../validate.ts';

function positiveNumber(value: unknown, where: string, name: string): number {
  const v = checkNumber(value, where, name);
  if (!(v > 0) || !Number.isFinite(v)) throw argumentError(where, `'${name}' must be a positive number, got ${v}`);
  return v;
}
function nonNegativeNumber(value: unknown, where: string, name: string): number {
  const v = checkNumber(value, where, name);
  if (!(v >= 0) || !Number.isFinite(v)) throw argumentError(where, `'${name}' must be a number >= 0, got ${v}`);
  return v;
}
function nonNegativeInt(value: unknown, where: string, name: string): number {
  const v = checkInt(value, where, name);
  if (v < 0) throw argumentError(where, `'${name}' must be an integer >= 0, got ${v}`);
  return v;
}
function optionsObject<T>(value: T | undefined, where: string): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw argumentError(where, `expected an options object, got ${describe(value)}`);
  return value;
}

// ---- strategies ----

export type Strategy =
  | { kind: 'joint' }
  | { kind: 'alternating'; every: 'step' | 'epoch' }
  | { kind: 'progressive'; main: string; warmupSteps: number; rampSteps: number };

export const strategy = {
  /** Every task in every step: one backward of Σ λᵢLᵢ. */
  joint: (): Strategy => ({ kind: 'joint' }),
  /** One task per step (drawn by the sampler) or per epoch. */
  alternating: (options?: { every?: 'step' | 'epoch' }): Strategy => {
    const o = optionsObject(options, 'strategy.alternating');
    return { kind: 'alternating', every: o.every === undefined ? 'step' : checkOneOf(o.every, ['step', 'epoch'] as const, 'strategy.alternating', 'every') };
  },
  /** The main task alone for `warmupSteps`, then the others with their losses ramped from 0 to full over `rampSteps`. */
  progressive: (options: { main: string; warmupSteps?: number; rampSteps?: number }): Strategy => {
    const o = optionsObject(options, 'strategy.progressive');
    if (typeof o.main !== 'string' || o.main === '') throw argumentError('strategy.progressive', `'main' must name a task, got ${describe(o.main)}`);
    return {
      kind: 'progressive',
      main: o.main,
      warmupSteps: o.warmupSteps === undefined ? 0 : nonNegativeInt(o.warmupSteps, 'strategy.progressive', 'warmupSteps'),
      rampSteps: o.rampSteps === undefined ? 0 : nonNegativeInt(o.rampSteps, 'strategy.progressive', 'rampSteps'),
    };
  },
};

// ---- loss weighting ----

export type Weighting =
  | { method: 'equal' }
  | { method: 'fixed'; weights: Record<string, number> }
  | { method: 'sigmoidLoss' }
  | { method: 'uncertainty'; lr: number }
  | { method: 'dwa'; temperature: number }
  | { method: 'gradNorm'; alpha: number; lr: number }
  | { method: 'pcgrad' }
  | { method: 'cagrad'; c: number }
  | { method: 'famo'; lr: number; gamma: number }
  | { method: 'nashMtl' };

/** Methods that need every task's loss or gradient in every step (refused with alternating and progressive). */
export const ALL_TASK_WEIGHTINGS: ReadonlySet<string> = new Set(['gradNorm', 'pcgrad', 'cagrad', 'famo', 'nashMtl']);

export const weighting = {
  /** λᵢ = 1. */
  equal: (): Weighting => ({ method: 'equal' }),
  /** λᵢ as given, one per task. */
  fixed: (weights: Record<string, number>): Weighting => {
    const w = optionsObject(weights, 'weighting.fixed');
    const out: Record<string, number> = {};
    for (const [task, value] of Object.entries(w)) out[task] = nonNegativeNumber(value, 'weighting.fixed', task);
    if (Object.keys(out).length === 0) throw argumentError('weighting.fixed', 'give a weight per task');
    return { method: 'fixed', weights: out };
  },
  /** λᵢ = 1/(1 + e^(−Lᵢ)) from each loss's value. */
  sigmoidLoss: (): Weighting => ({ method: 'sigmoidLoss' }),
  /** Kendall et al. 2018: learned log-variances sᵢ, L = Σ ½e^(−sᵢ)Lᵢ + ½sᵢ; `lr` of their own Adam (default 0.025). */
  uncertainty: (options?: { lr?: number }): Weighting => {
    const o = optionsObject(options, 'weighting.uncertainty');
    return { method: 'uncertainty', lr: o.lr === undefined ? 0.025 : positiveNumber(o.lr, 'weighting.uncertainty', 'lr') };
  },
  /** Liu et al. 2019: λ from the ratio of the last two epochs' mean losses (default temperature 2). */
  dwa: (options?: { temperature?: number }): Weighting => {
    const o = optionsObject(options, 'weighting.dwa');
    return { method: 'dwa', temperature: o.temperature === undefined ? 2 : positiveNumber(o.temperature, 'weighting.dwa', 'temperature') };
  },
  /** Chen et al. 2018: learned weights balancing gradient norms at the last shared layer (default alpha 1.5, lr 0.025). */
  gradNorm: (options?: { alpha?: number; lr?: number }): Weighting => {
    const o = optionsObject(options, 'weighting.gradNorm');
    return {
      method: 'gradNorm',
      alpha: o.alpha === undefined ? 1.5 : nonNegativeNumber(o.alpha, 'weighting.gradNorm', 'alpha'),
      lr: o.lr === undefined ? 0.025 : positiveNumber(o.lr, 'weighting.gradNorm', 'lr'),
    };
  },
  /** Yu et al. 2020: conflicting shared gradients projected onto each other's normal planes. */
  pcgrad: (): Weighting => ({ method: 'pcgrad' }),
  /** Liu et al. 2021: the conflict-averse direction within c·‖g₀‖ of the mean gradient (default c 0.4). */
  cagrad: (options?: { c?: number }): Weighting => {
    const o = optionsObject(options, 'weighting.cagrad');
    return { method: 'cagrad', c: o.c === undefined ? 0.4 : nonNegativeNumber(o.c, 'weighting.cagrad', 'c') };
  },
  /** Liu et al. 2023: fast adaptive weights from the log-loss decrease (default lr 0.025, gamma 0.001). */
  famo: (options?: { lr?: number; gamma?: number }): Weighting => {
    const o = optionsObject(options, 'weighting.famo');
    return {
      method: 'famo',
      lr: o.lr === undefined ? 0.025 : positiveNumber(o.lr, 'weighting.famo', 'lr'),
      gamma: o.gamma === undefined ? 0.001 : nonNegativeNumber(o.gamma, 'weighting.famo', 'gamma'),
    };
  },
  /** Navon et al. 2022: the Nash bargaining weights, GGᵀα = 1/α. */
  nashMtl: (): Weighting => ({ method: 'nashMtl' }),
};

// ---- task samplers ----

export type Sampler =
  | { kind: 'proportional' }
  | { kind: 'temperature'; temperature: number }
  | { kind: 'uniform' }
  | { kind: 'roundRobin' };

export const sampler = {
  /** pᵢ = Nᵢ / ΣNⱼ. */
  proportional: (): Sampler => ({ kind: 'proportional' }),
  /** pᵢ ∝ Nᵢ^(1/T). */
  temperature: (temperature: number): Sampler => ({ kind: 'temperature', temperature: positiveNumber(temperature, 'sampler.temperature', 'temperature') }),
  /** pᵢ = 1/K. */
  uniform: (): Sampler => ({ kind: 'uniform' }),
  /** 0, 1, …, K−1, 0, 1, … */
  roundRobin: (): Sampler => ({ kind: 'roundRobin' }),
};

// ---- optimizers ----

export interface OptimizerCommon {
  lr: number;
  weightDecay: number;
  /** A learning rate per model part ("shared", "task:<name>"), replacing `lr` there. */
  partLearningRates: Record<string, number>;
}
export type Optimizer =
  | ({ kind: 'adamW'; beta1: number; beta2: number; eps: number } & OptimizerCommon)
  | ({ kind: 'sgd'; momentum: number; nesterov: boolean } & OptimizerCommon);

function commonOptions(o: Partial<OptimizerCommon>, where: string, defaultDecay: number): OptimizerCommon {
  const parts: Record<string, number> = {};
  for (const [part, lr] of Object.entries(optionsObject(o.partLearningRates, where))) parts[part] = nonNegativeNumber(lr, where, `partLearningRates.${part}`);
  return {
    lr: o.lr === undefined ? 1e-3 : nonNegativeNumber(o.lr, where, 'lr'),
    weightDecay: o.weightDecay === undefined ? defaultDecay : nonNegativeNumber(o.weightDecay, where, 'weightDecay'),
    partLearningRates: parts,
  };
}

export const optim = {
  /** torch.optim.AdamW; weight decay skips biases and norm weights (1-D parameters). */
  adamW: (options?: Partial<OptimizerCommon> & { betas?: [number, number]; eps?: number }): Optimizer => {
    const o = optionsObject(options, 'optim.adamW');
    const betas = o.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw argumentError('optim.adamW', `'betas' must be [beta1, beta2], got ${describe(betas)}`);
    betas.forEach((b, i) => {
      if (!(checkNumber(b, 'optim.adamW', `betas[${i}]`) >= 0 && b < 1)) throw argumentError('optim.adamW', `'betas[${i}]' must be in [0, 1), got ${b}`);
    });
    return { kind: 'adamW', ...commonOptions(o, 'optim.adamW', 0.01), beta1: betas[0], beta2: betas[1], eps: o.eps === undefined ? 1e-8 : nonNegativeNumber(o.eps, 'optim.adamW', 'eps') };
  },
  /** torch.optim.SGD with momentum and Nesterov. */
  sgd: (options?: Partial<OptimizerCommon> & { momentum?: number; nesterov?: boolean }): Optimizer => {
    const o = optionsObject(options, 'optim.sgd');
    const momentum = o.momentum === undefined ? 0 : nonNegativeNumber(o.momentum, 'optim.sgd', 'momentum');
    const nesterov = o.nesterov === undefined ? false : checkBoolean(o.nesterov, 'optim.sgd', 'nesterov');
    if (nesterov && momentum === 0) throw argumentError('optim.sgd', "'nesterov' needs a momentum > 0");
    return { kind: 'sgd', ...commonOptions(o, 'optim.sgd', 0), momentum, nesterov };
  },
};

// ---- learning-rate schedules ----

export interface Schedule {
  kind: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  /** Steps at which the decay reaches 0; 0 = the fit's total steps. */
  totalSteps: number;
}

function scheduleOf(kind: Schedule['kind'], where: string, options?: { warmupSteps?: number; totalSteps?: number }): Schedule {
  const o = optionsObject(options, where);
  return {
    kind,
    warmupSteps: o.warmupSteps === undefined ? 0 : nonNegativeInt(o.warmupSteps, where, 'warmupSteps'),
    totalSteps: o.totalSteps === undefined ? 0 : nonNegativeInt(o.totalSteps, where, 'totalSteps'),
  };
}

export const schedule = {
  /** Warm-up (optional), then constant. */
  constant: (options?: { warmupSteps?: number }): Schedule => scheduleOf('constant', 'schedule.constant', options),
  /** transformers' get_linear_schedule_with_warmup. */
  warmupLinear: (options?: { warmupSteps?: number; totalSteps?: number }): Schedule => scheduleOf('linear', 'schedule.warmupLinear', options),
  /** transformers' get_cosine_schedule_with_warmup (half a cycle). */
  warmupCosine: (options?: { warmupSteps?: number; totalSteps?: number }): Schedule => scheduleOf('cosine', 'schedule.warmupCosine', options),
};
