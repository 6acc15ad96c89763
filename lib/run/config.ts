/**
 * The run configuration file that `mtl-torch train <config.json>` reads: which data, which model,
 * how to train, for how long. Every field is checked here or by the factory it is handed to
 * (mt.multitask, mt.strategy, mt.weighting, ...), and every error names the field.
 */
import { argumentError } from '../errors.ts';
import * as data from '../data/index.ts';
import { sharing as sharingFactories } from '../model/spec.ts';
import type { EncoderSpec, SharingSpec } from '../model/spec.ts';
import { optim, sampler, schedule, strategy, weighting } from '../train/config.ts';
import type { TrainerOptions } from '../train/trainer.ts';
import { checkInt, checkNumber, checkOneOf, describe } from '../validate.ts';

export const PHONETICS_TASKS = ['g2p', 'syllables', 'stress', 'gender'] as const;
export type PhoneticsTask = (typeof PHONETICS_TASKS)[number];

export type DataConfig =
  | { source: 'phonetics'; tasks: PhoneticsTask[]; trainLimit?: number; evalLimit?: number }
  | { source: 'glue'; dir: string; tasks: data.glue.GlueTask[]; tokenizer: string; maxLength: number; trainLimit?: number; evalLimit?: number };

export interface RunConfig {
  data: DataConfig;
  /** decoderLayers: of sequence heads; headLayers: of classification and regression heads (0: pooling + MLP). */
  model: { encoder: EncoderSpec; sharing: SharingSpec; decoderLayers: number; headLayers: number };
  trainer: TrainerOptions;
  /** Optimizer steps of the multi-task run (and of the single-task baseline, if any). */
  steps: number;
  evalEvery: number;
  /** A single-task model of this task trained with the same step budget, for comparison. */
  baseline?: string;
  device: 'cpu' | 'cuda' | `cuda:${number}`;
}

const WHERE = 'config';

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw argumentError(WHERE, `'${field}' must be an object, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

function positiveInt(value: unknown, field: string): number {
  const v = checkInt(value, WHERE, field);
  if (v <= 0) throw argumentError(WHERE, `'${field}' must be a positive integer, got ${v}`);
  return v;
}

function optionalPositiveInt(value: unknown, field: string): number | undefined {
  return value === undefined ? undefined : positiveInt(value, field);
}

function taskList<T extends string>(value: unknown, allowed: readonly T[], field: string): T[] {
  if (!Array.isArray(value) || value.length === 0) throw argumentError(WHERE, `'${field}' must be a non-empty array of task names, got ${describe(value)}`);
  const list = value.map((t, i) => checkOneOf(t, allowed, WHERE, `${field}[${i}]`));
  if (new Set(list).size !== list.length) throw argumentError(WHERE, `'${field}' names a task twice`);
  return list;
}

function dataConfig(value: unknown): DataConfig {
  const d = object(value, 'data');
  const source = checkOneOf(d.source, ['phonetics', 'glue'] as const, WHERE, 'data.source');
  const limits = { trainLimit: optionalPositiveInt(d.trainLimit, 'data.trainLimit'), evalLimit: optionalPositiveInt(d.evalLimit, 'data.evalLimit') };
  if (source === 'phonetics') {
    return { source, tasks: d.tasks === undefined ? [...PHONETICS_TASKS] : taskList(d.tasks, PHONETICS_TASKS, 'data.tasks'), ...limits };
  }
  if (typeof d.dir !== 'string' || d.dir === '') throw argumentError(WHERE, `'data.dir' must be the path of a GLUE directory, got ${describe(d.dir)}`);
  if (typeof d.tokenizer !== 'string' || d.tokenizer === '') {
    throw argumentError(WHERE, `'data.tokenizer' must be the path of a vocab.txt or tokenizer.json, got ${describe(d.tokenizer)}`);
  }
  return {
    source, dir: d.dir, tokenizer: d.tokenizer, tasks: taskList(d.tasks, data.glue.TASKS, 'data.tasks'),
    maxLength: d.maxLength === undefined ? 128 : positiveInt(d.maxLength, 'data.maxLength'), ...limits,
  };
}

/** A factory call written as JSON: { "<key>": "<factory name>", ...its options }. */
function fromFactory<F extends Record<string, (...args: never[]) => unknown>>(
  value: unknown, key: string, factories: F, field: string, call: (factory: F[keyof F], options: Record<string, unknown>) => unknown,
) {
  const o = object(value, field);
  const name = checkOneOf(o[key], Object.keys(factories) as (keyof F & string)[], WHERE, `${field}.${key}`);
  const { [key]: _, ...options } = o;
  try {
    return call(factories[name], options);
  } catch (error) {
    // The factory's message names the option; say where in the file it is.
    if (error instanceof Error) error.message = `${field}: ${error.message}`;
    throw error;
  }
}

function trainerOptions(value: unknown): TrainerOptions {
  const t = object(value ?? {}, 'trainer');
  const options: TrainerOptions = {};
  if (t.strategy !== undefined) options.strategy = fromFactory(t.strategy, 'kind', strategy, 'trainer.strategy', (f, o) => (f as (o: unknown) => unknown)(o)) as TrainerOptions['strategy'];
  if (t.weighting !== undefined) options.weighting = fromFactory(t.weighting, 'method', weighting, 'trainer.weighting', (f, o) => (f as (o: unknown) => unknown)(o)) as TrainerOptions['weighting'];
  if (t.sampler !== undefined) {
    options.sampler = fromFactory(t.sampler, 'kind', sampler, 'trainer.sampler',
      (f, o) => (f === sampler.temperature ? sampler.temperature(checkNumber(o.temperature, WHERE, 'trainer.sampler.temperature')) : (f as () => unknown)())) as TrainerOptions['sampler'];
  }
  if (t.optimizer !== undefined) options.optimizer = fromFactory(t.optimizer, 'kind', optim, 'trainer.optimizer', (f, o) => (f as (o: unknown) => unknown)(o)) as TrainerOptions['optimizer'];
  if (t.schedule !== undefined) options.schedule = fromFactory(t.schedule, 'kind', schedule, 'trainer.schedule', (f, o) => (f as (o: unknown) => unknown)(o)) as TrainerOptions['schedule'];
  for (const key of ['batchSize', 'evalBatchSize', 'accumulateSteps', 'seed'] as const) {
    if (t[key] !== undefined) options[key] = key === 'seed' ? checkInt(t[key], WHERE, `trainer.${key}`) : positiveInt(t[key], `trainer.${key}`);
  }
  if (t.clipGradNorm !== undefined) options.clipGradNorm = checkNumber(t.clipGradNorm, WHERE, 'trainer.clipGradNorm');
  if (t.precision !== undefined) options.precision = checkOneOf(t.precision, ['fp32', 'bf16', 'fp16'] as const, WHERE, 'trainer.precision');
  const known = new Set(['strategy', 'weighting', 'sampler', 'optimizer', 'schedule', 'batchSize', 'evalBatchSize', 'accumulateSteps', 'seed', 'clipGradNorm', 'precision']);
  for (const key of Object.keys(t)) if (!known.has(key)) throw argumentError(WHERE, `'trainer.${key}' is not a trainer option`);
  return options;
}

function modelConfig(value: unknown): RunConfig['model'] {
  const m = object(value, 'model');
  const e = object(m.encoder, 'model.encoder');
  const encoder: EncoderSpec = {
    numLayers: positiveInt(e.numLayers, 'model.encoder.numLayers'),
    dModel: positiveInt(e.dModel, 'model.encoder.dModel'),
    nhead: positiveInt(e.nhead, 'model.encoder.nhead'),
    ...(e.dimFeedforward === undefined ? {} : { dimFeedforward: positiveInt(e.dimFeedforward, 'model.encoder.dimFeedforward') }),
    ...(e.dropout === undefined ? {} : { dropout: checkNumber(e.dropout, WHERE, 'model.encoder.dropout') }),
    ...(e.activation === undefined ? {} : { activation: checkOneOf(e.activation, ['relu', 'gelu'] as const, WHERE, 'model.encoder.activation') }),
    ...(e.normFirst === undefined ? {} : { normFirst: Boolean(e.normFirst) }),
  };
  const sharing = m.sharing === undefined
    ? sharingFactories.sharedEncoder()
    : fromFactory(m.sharing, 'kind', sharingFactories, 'model.sharing', (f, o) => (f as (o: unknown) => unknown)(o)) as SharingSpec;
  const decoderLayers = m.decoderLayers === undefined ? 2 : checkInt(m.decoderLayers, WHERE, 'model.decoderLayers');
  const headLayers = m.headLayers === undefined ? 1 : checkInt(m.headLayers, WHERE, 'model.headLayers');
  return { encoder, sharing, decoderLayers, headLayers };
}

/** Checks a parsed config file and fills its defaults. */
export function parseRunConfig(value: unknown): RunConfig {
  const c = object(value, '(root)');
  const known = new Set(['data', 'model', 'trainer', 'steps', 'evalEvery', 'baseline', 'device']);
  for (const key of Object.keys(c)) if (!known.has(key)) throw argumentError(WHERE, `'${key}' is not a config field (expected ${[...known].join(', ')})`);
  const dataPart = dataConfig(c.data);
  const steps = positiveInt(c.steps, 'steps');
  const baseline = c.baseline === undefined ? undefined : checkOneOf(c.baseline, dataPart.tasks as string[], WHERE, 'baseline');
  const device = c.device === undefined ? 'cpu' : (c.device as RunConfig['device']);
  if (typeof device !== 'string' || !/^(cpu|cuda|cuda:\d+)$/.test(device)) throw argumentError(WHERE, `'device' must be 'cpu', 'cuda' or 'cuda:N', got ${describe(c.device)}`);
  return {
    data: dataPart,
    model: modelConfig(c.model),
    trainer: trainerOptions(c.trainer),
    steps,
    evalEvery: c.evalEvery === undefined ? Math.max(1, Math.floor(steps / 5)) : positiveInt(c.evalEvery, 'evalEvery'),
    ...(baseline === undefined ? {} : { baseline }),
    device,
  };
}
