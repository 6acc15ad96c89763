/** Multi-task models: mt.multitask(spec), mt.sharing.*, mt.tasks.*, MultiTaskModel. */
export { multitask, MultiTaskModel } from './model.ts';
export type {
  ModelInputs,
  TaskBatch,
  TaskOutput,
  TaskPredictions,
  GenerateOptions,
  Generated,
  ModelSummary,
  ModelPart,
  Encoding,
  InferencePrecision,
} from './model.ts';
export type { PretrainedEncoderSpec, PretrainedInfo } from './pretrained.ts';
export { sharing, tasks, normalizeSpec, estimateParameters } from './spec.ts';
export type { MultiTaskSpec, SharingSpec, TaskSpec, ModelConfig, TaskConfig } from './spec.ts';
