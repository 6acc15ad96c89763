/** The training API: mt.Trainer, mt.ReferenceModel and the configuration factories. */
export { Trainer } from './trainer.ts';
export type { TrainableModel, TrainerOptions, FitOptions, History, ProgressEvent, StepResult } from './trainer.ts';
export { ReferenceModel } from './reference_model.ts';
export type { ReferenceModelConfig, ReferenceTask } from './reference_model.ts';
export { strategy, weighting, sampler, optim, schedule } from './config.ts';
export type { Strategy, Weighting, Sampler, Optimizer, Schedule } from './config.ts';
