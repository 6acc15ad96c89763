/**
 * The rules between trainer options, and between them and what they meet: the model (new
 * mt.Trainer), a fit's data and settings, a step's batches. One function, called wherever options
 * enter, so a rule is written once; each refusal names the option and says why. (Single fields are
 * the zod schemas' of ./config.ts; native code keeps only the checks that memory safety needs.)
 */
import type { z } from 'zod';
import { argumentError } from '../errors.ts';
import type { Dataset } from '../data/dataset.ts';
import type { MultiTaskModel } from '../model/model.ts';
import { capabilities } from '../schema.ts';
import type { FitSettingsSchema, ResolvedTrainerOptions } from './config.ts';

export interface StrategyCapabilities {
  everyTaskEachStep: boolean;
  sampler: 'none' | 'optional' | 'required';
  defaultSampler: string;
}
export interface WeightingCapabilities {
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

export function strategyOf(options: ResolvedTrainerOptions): StrategyCapabilities {
  return capabilities('strategy', options.strategy.kind) as unknown as StrategyCapabilities;
}

/** What a fit brings: the tasks it trains, its evaluation sets, its parsed settings. */
export interface FitContext {
  trained: string[];
  evalSets: Record<string, Dataset> | undefined;
  settings: z.output<typeof FitSettingsSchema>;
  /** Whether an onProgress listener is given. */
  listening: boolean;
  /** Whether a keepBest or earlyStopping metric defaulted to the main task. */
  usesMain: boolean;
}

/** Where options enter: the constructor (against the model), fit, or step (against the batches' tasks). */
export type RulesContext =
  | { where: 'trainer'; model: MultiTaskModel }
  | ({ where: 'fit'; model: MultiTaskModel } & FitContext)
  | { where: 'step'; model: MultiTaskModel; batchTasks: string[] };

/** Refuses options that contradict each other or what they meet (the model, a fit, a step). */
export function checkTrainerRules(options: ResolvedTrainerOptions, context: RulesContext): void {
  const { model } = context;
  if (context.where === 'trainer') {
    checkAgainstModel(options, model);
  } else if (context.where === 'fit') {
    checkFit(options, model, context);
    checkMainActs(options, context.usesMain || context.settings.diagnosticsEvery !== undefined, 'fit');
  } else {
    const where = 'step';
    const tasks = model.taskNames;
    if (options.accumulateSteps !== 1) throw argumentError(where, "takes one batch per task, so 'accumulateSteps' must be 1");
    checkMainActs(options, false, where);
    const weighting = capabilities('weighting', options.weighting.kind) as unknown as WeightingCapabilities;
    if (weighting.needsAllTasksEachStep && context.batchTasks.length !== tasks.length) {
      throw argumentError(where, `weighting.${options.weighting.kind} needs a batch of every task (${tasks.join(', ')})`);
    }
  }
}

/** Rules between the options and the model, each refusal saying why. */
function checkAgainstModel(options: ResolvedTrainerOptions, model: MultiTaskModel): void {
  const o = options;
  const tasks = model.taskNames;
  const strategy = strategyOf(options);
  const weighting = capabilities('weighting', o.weighting.kind) as unknown as WeightingCapabilities;
  if (weighting.needsAllTasksEachStep && !strategy.everyTaskEachStep && tasks.length > 1) {
    throw argumentError(
      'trainer',
      `weighting.${o.weighting.kind} cannot be used with strategy.${o.strategy.kind}: it compares or tracks every task's loss or gradient in each step, and strategy.${o.strategy.kind} trains only some of the tasks in a step`,
    );
  }
  if (o.sampler !== undefined) {
    if (strategy.sampler === 'none') {
      throw argumentError(
        'trainer',
        `'sampler' has no effect under strategy.${o.strategy.kind}, which trains every task it plans with batchSize examples; remove it`,
      );
    }
    const sampler = capabilities('sampler', o.sampler.kind) as { hasDistribution: boolean };
    if (strategy.sampler === 'optional' && !sampler.hasDistribution) {
      throw argumentError(
        'trainer',
        `sampler.${o.sampler.kind} cannot share out a ${o.strategy.kind} step's examples (it has no distribution over tasks); use proportional, temperature or uniform`,
      );
    }
  }
  if (o.strategy.kind === 'progressive' && !tasks.includes(o.strategy.main)) {
    throw argumentError('trainer', `strategy.main: '${o.strategy.main}' is not a task of the model (${tasks.join(', ')})`);
  }
  o.main.forEach((task, i) => {
    if (!tasks.includes(task)) throw argumentError('trainer', `main[${i}]: '${task}' is not a task of the model (${tasks.join(', ')})`);
  });
  if (weighting.usesMain) {
    if (o.main.length === 0) {
      throw argumentError(
        'trainer',
        `weighting.${o.weighting.kind} weighs auxiliary tasks for the main ones: name them in 'main' (e.g. main: ['${tasks[0]}'])`,
      );
    }
    if (o.main.length === tasks.length) {
      throw argumentError(
        'trainer',
        `weighting.${o.weighting.kind} weighs auxiliary tasks, and 'main' names every task of the model: leave at least one auxiliary task, or use a weighting for equal tasks`,
      );
    }
  }
  if (o.weighting.kind === 'fixed') {
    const unknown = Object.keys(o.weighting.lambdas).filter((t) => !tasks.includes(t));
    if (unknown.length > 0)
      throw argumentError(
        'trainer',
        `weighting.lambdas: ${unknown.map((t) => `'${t}'`).join(', ')} is not a task of the model (${tasks.join(', ')})`,
      );
  }
  for (const part of Object.keys(o.optimizer.partLearningRates)) {
    if (part !== 'shared' && !tasks.includes(part.slice('task:'.length))) {
      throw argumentError(
        'trainer',
        `optimizer.partLearningRates.${part}: not a part of the model (shared, ${tasks.map((t) => `task:${t}`).join(', ')})`,
      );
    }
  }
  if (o.precision === 'fp16' && !model.device.startsWith('cuda')) {
    throw argumentError(
      'trainer',
      "precision: 'fp16' needs a CUDA model (its loss scaling exists for CUDA's half precision); use 'bf16' on the CPU",
    );
  }
  if (weighting.gradients !== 'none') {
    const view = model.native.parameterGroups();
    const count = weighting.gradients === 'shared' ? view.sharedParameters : view.lastSharedParameters;
    if (count === 0)
      throw argumentError(
        'trainer',
        `weighting.${o.weighting.kind} works on the gradients of trainable shared parameters, and this model has none (is its backbone frozen?)`,
      );
  }
}

/**
 * `main` must act: through a main-task-aware weighting, or in a fit through keepBest/earlyStopping
 * defaulting to the main task or diagnostics (whose affinities give the auxiliary verdicts).
 */
function checkMainActs(options: ResolvedTrainerOptions, fitUsesMain: boolean, where: string): void {
  const o = options;
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
function checkFit(options: ResolvedTrainerOptions, model: MultiTaskModel, fit: FitContext): void {
  const { trained, evalSets, settings, listening } = fit;
  const o = options;
  if (settings.evalEvery !== undefined && evalSets === undefined)
    throw argumentError('fit', "'evalEvery' has no effect without 'evalSets'");
  if (settings.progressEvery !== undefined && !listening) throw argumentError('fit', "'progressEvery' has no effect without 'onProgress'");
  if (settings.diagnosticsEvery !== undefined) {
    if (trained.length < 2) throw argumentError('fit', "'diagnosticsEvery' compares tasks: it needs at least two tasks with training data");
    if (!listening) throw argumentError('fit', "'diagnosticsEvery' reports through step events: give 'onProgress'");
    if (model.native.parameterGroups().sharedParameters === 0)
      throw argumentError('fit', "'diagnosticsEvery' measures gradients on trainable shared parameters, and this model has none");
  }
  for (const [option, chosen] of [
    ['earlyStopping', settings.earlyStopping?.metric],
    ['keepBest', settings.keepBest?.metric],
  ] as const) {
    if (chosen !== undefined) checkMetric(model, option, chosen, evalSets);
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
  if (weighting.needsAllTasksEachStep && !strategyOf(options).everyTaskEachStep && trained.length > 1) {
    throw argumentError('fit', `weighting.${o.weighting.kind} cannot be used with strategy.${o.strategy.kind}`);
  }
}

/** An evaluation metric an option watches: 'loss', or a metric the task's head reports on evalSets. */
function checkMetric(model: MultiTaskModel, option: string, metric: string, evalSets: Record<string, Dataset> | undefined): void {
  if (evalSets === undefined) throw argumentError('fit', `'${option}' watches evaluations: give 'evalSets'`);
  if (metric === 'loss') return;
  const [task, name] = metric.split('.') as [string, string];
  if (!Object.hasOwn(evalSets, task)) throw argumentError('fit', `${option}.metric: '${task}' has no evaluation data (evalSets)`);
  const kind = model.config.tasks.find((t) => t.name === task)!.kind;
  const known = ['loss', ...Object.keys(headMetrics(kind))];
  if (!known.includes(name)) throw argumentError('fit', `${option}.metric: a ${kind} task reports ${known.join(', ')}, not '${name}'`);
}
