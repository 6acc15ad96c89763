/**
 * The run configuration file that `mtl-torch train <config.json>` reads: which data, which model,
 * how to train, for how long, which single-task baselines to compare with. One schema (composed from
 * the model's and the trainer's) checks it and fills its defaults; every error names the field
 * (`config.trainer.batchSize: expected an integer > 0, got 0`). `mtl-torch schema` prints its JSON
 * Schema (configs/run-config.schema.json), so editors can complete and check config files.
 */
import { z } from 'zod';
import * as data from '../data/index.ts';
import { PretrainedEncoderSchema } from '../model/pretrained.ts';
import { EncoderSchema, SharingSchema, isPretrainedEncoder } from '../model/spec.ts';
import { device, nonEmptyString, nonNegativeInt, parse, positiveInt } from '../schema.ts';
import { maxThreads } from '../tensor.ts';
import { EarlyStoppingSchema, KeepBestSchema, TrainerOptionsSchema } from '../train/config.ts';

export const PHONETICS_TASKS = ['g2p', 'syllables', 'stress', 'gender'] as const;
export type PhoneticsTask = (typeof PHONETICS_TASKS)[number];

const unique = <T>(list: T[]) => new Set(list).size === list.length;
const limits = {
  /** Use only this many training examples of each task (evenly spaced). */
  trainLimit: positiveInt.optional(),
  /** Use only this many evaluation examples of each task (evenly spaced). */
  evalLimit: positiveInt.optional(),
};

export const DataSchema = z.discriminatedUnion('source', [
  z.strictObject({
    /** CMUdict pronunciations and first names (shipped through npm). */
    source: z.literal('phonetics'),
    tasks: z.array(z.enum(PHONETICS_TASKS)).min(1).refine(unique, 'names a task twice').default([...PHONETICS_TASKS]),
    ...limits,
  }),
  z.strictObject({
    /** GLUE, in the standard TSV layout under `dir`. */
    source: z.literal('glue'),
    dir: nonEmptyString,
    tasks: z.array(z.enum(data.glue.TASKS)).min(1).refine(unique, 'names a task twice'),
    /** A vocab.txt (WordPiece) or tokenizer.json; with a pretrained encoder, leave it out: the model directory's is used. */
    tokenizer: nonEmptyString.optional(),
    maxLength: positiveInt.default(128),
    ...limits,
  }),
]);
export type DataConfig = z.output<typeof DataSchema>;

export const RunModelSchema = z.strictObject({
  /** The encoder's layout, or a pretrained Hugging Face directory: { "pretrained": "path/to/dir", "layers": k }. */
  encoder: z.union([PretrainedEncoderSchema, EncoderSchema]),
  sharing: SharingSchema.prefault({ kind: 'sharedEncoder' }),
  /** Decoder layers of sequence heads. */
  decoderLayers: positiveInt.default(2),
  /** Decoder layers of classification and regression heads (0: pooling + MLP). */
  headLayers: nonNegativeInt.default(1),
});

export const RunConfigSchema = z.strictObject({
  data: DataSchema,
  model: RunModelSchema,
  trainer: TrainerOptionsSchema.prefault({}),
  /** Optimizer steps of the multi-task run (and of each single-task baseline). */
  steps: positiveInt,
  /** Steps between evaluations (default: a fifth of the run). */
  evalEvery: positiveInt.optional(),
  /**
   * Single-task models to compare with ("all", or some tasks), each trained with the same step
   * budget and the same examples per step its task gets in the multi-task run; the run reports every
   * task's metric for both and Δm.
   */
  baselines: z.union([z.literal('all'), z.array(z.string()).min(1).refine(unique, 'names a task twice')]).optional(),
  /** Steps between checkpoints (default: evalEvery); a run resumes from them (`mtl-torch train --resume`). */
  checkpointEvery: positiveInt.optional(),
  /** Stops the multi-task run when this evaluation metric stops improving. */
  earlyStopping: EarlyStoppingSchema.optional(),
  /** Keeps the weights of the best evaluation by this metric (`best/`); eval and predict use them. Each
   * baseline keeps its best by its task's main metric. */
  keepBest: KeepBestSchema.optional(),
  /** Steps between task diagnostics (gradient conflict and inter-task affinity, in the report). */
  diagnosticsEvery: positiveInt.optional(),
  device: device.default('cpu'),
  /**
   * Intra-op threads every model of the run trains and evaluates with (default: one per core, the
   * package's default); for runs that share the machine with other work.
   */
  threads: positiveInt.optional(),
}).superRefine((c, context) => {
  if (c.threads !== undefined && c.threads > maxThreads()) {
    context.addIssue({ code: 'custom', path: ['threads'], message: `must be at most ${maxThreads()} (4 per core), got ${c.threads}` });
  }
  const tasks = c.data.tasks as string[];
  if (Array.isArray(c.baselines)) {
    c.baselines.forEach((t, i) => {
      if (!tasks.includes(t)) context.addIssue({ code: 'custom', path: ['baselines', i], message: `must be one of the data's tasks (${tasks.join(', ')}), got ${JSON.stringify(t)}` });
    });
  }
  for (const option of ['earlyStopping', 'keepBest'] as const) {
    const metric = c[option]?.metric;
    if (metric !== undefined && metric !== 'loss' && !tasks.includes(metric.split('.')[0]!)) {
      context.addIssue({ code: 'custom', path: [option, 'metric'], message: `names no task of the data (${tasks.join(', ')}), got ${JSON.stringify(metric)}` });
    }
  }
  if (c.data.source === 'glue') {
    const pretrained = isPretrainedEncoder(c.model.encoder);
    if (pretrained && c.data.tokenizer !== undefined) {
      context.addIssue({ code: 'custom', path: ['data', 'tokenizer'], message: 'comes from the pretrained model directory (model.encoder.pretrained): leave it out' });
    } else if (!pretrained && c.data.tokenizer === undefined) {
      context.addIssue({ code: 'custom', path: ['data', 'tokenizer'], message: 'is required (a vocab.txt or tokenizer.json) unless the encoder is pretrained' });
    }
  }
  if (c.diagnosticsEvery !== undefined && tasks.length < 2) {
    context.addIssue({ code: 'custom', path: ['diagnosticsEvery'], message: 'compares tasks: it needs at least two' });
  }
}).transform((c) => ({
  ...c,
  evalEvery: c.evalEvery ?? Math.max(1, Math.floor(c.steps / 5)),
  checkpointEvery: c.checkpointEvery ?? c.evalEvery ?? Math.max(1, Math.floor(c.steps / 5)),
  baselines: c.baselines === 'all' ? [...c.data.tasks] as string[] : c.baselines ?? [],
}));

export type RunConfig = z.output<typeof RunConfigSchema>;

/** Checks a parsed config file and fills its defaults. */
export function parseRunConfig(value: unknown): RunConfig {
  return parse(RunConfigSchema, value, 'config');
}

/** The run config's JSON Schema (draft 2020-12), for editors. */
export function runConfigJsonSchema(): object {
  return {
    ...z.toJSONSchema(RunConfigSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'mtl-torch run config',
    description: 'The configuration `mtl-torch train <config.json>` reads.',
  };
}
