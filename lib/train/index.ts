/** The training API: mt.Trainer and the configuration factories. */
export { Trainer, headMetrics, mainMetricOf } from './trainer.ts';
export type { FitOptions, History, ProgressEvent, StepResult, TaskDiagnostics } from './trainer.ts';
export { strategy, weighting, sampler, optim, schedule } from './config.ts';
export type { Strategy, Weighting, Sampler, Optimizer, Schedule, TrainerOptions, FitSettings } from './config.ts';
