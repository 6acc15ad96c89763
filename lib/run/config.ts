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
import { device, fraction, int, nonEmptyString, nonNegativeInt, parse, positiveInt } from '../schema.ts';
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

/** The head kinds a files task may declare (else inferred from its train labels). */
export const FILE_TASK_KINDS = ['classification', 'regression', 'multiLabel', 'tagging', 'sequence'] as const;

export const FileTaskSchema = z
  .strictObject({
    /** The training file: .csv, .tsv or .jsonl (one JSON object per line). */
    train: nonEmptyString,
    /** Evaluation files; without `dev`, give `split` (a seeded share of the train file). */
    dev: nonEmptyString.optional(),
    test: nonEmptyString.optional(),
    /** Shares of the train file held out, each row placed by a hash of its input (stable when rows are added). */
    split: z.strictObject({ dev: fraction.optional(), test: fraction.optional(), seed: int.default(0) }).optional(),
    /** The input column (tagging: the words, a JSON array or a space-separated string). */
    text: nonEmptyString.default('text'),
    /** A second input column (sentence pairs, with token types). */
    pair: nonEmptyString.optional(),
    /** The label column: a class, a number, labels (multi-label), tags (tagging), or a target text (sequence). */
    label: nonEmptyString,
    /** The head kind; default: inferred from the train labels (numbers with a fraction: regression; JSON arrays:
     * multiLabel, or tagging when the text is an array of the same length; else classification). */
    kind: z.enum(FILE_TASK_KINDS).optional(),
    /** Splits a multi-label cell written as one string (CSV, TSV) into its labels. */
    separator: z.string().min(1).default('|'),
    ...limits,
  })
  .superRefine((t, context) => {
    if (t.dev === undefined && t.split?.dev === undefined)
      context.addIssue({ code: 'custom', path: ['dev'], message: 'is required: a dev file, or split.dev (a share of train)' });
    if (t.dev !== undefined && t.split?.dev !== undefined)
      context.addIssue({ code: 'custom', path: ['split', 'dev'], message: 'comes from the dev file: give one of them' });
    if (t.test !== undefined && t.split?.test !== undefined)
      context.addIssue({ code: 'custom', path: ['split', 'test'], message: 'comes from the test file: give one of them' });
    if ((t.split?.dev ?? 0) + (t.split?.test ?? 0) >= 1)
      context.addIssue({ code: 'custom', path: ['split'], message: 'dev and test together must leave training rows (sum < 1)' });
  });
export type FileTaskConfig = z.output<typeof FileTaskSchema>;

/** The tokenizer of a files run: trained on the run's training text, a file, or characters. */
export const FileTokenizerSchema = z.union([
  z.strictObject({
    /** Trained with Hugging Face's tokenizers on every task's training text; saved as <run>/tokenizer.json. */
    train: z.strictObject({
      kind: z.enum(['wordPiece', 'bpe']).default('wordPiece'),
      /** Tokens kept, special tokens included (the most frequent merges first). */
      vocabSize: positiveInt.min(16).max(1_000_000).default(8000),
      lowercase: z.boolean().default(true),
    }),
  }),
  /** A tokenizer.json or a WordPiece vocab.txt; copied into the run. */
  z.strictObject({ file: nonEmptyString }),
  /** One token per character of the training text (lower-cased when asked). */
  z.strictObject({ char: z.strictObject({ lowercase: z.boolean().default(false) }) }),
]);

/** Limits of single tasks, overriding the data's trainLimit / evalLimit for them. */
const taskLimits = z.record(z.string(), z.strictObject(limits)).optional();

export const DataSchema = z.discriminatedUnion('source', [
  z.strictObject({
    /** CMUdict pronunciations and first names (shipped through npm). */
    source: z.literal('phonetics'),
    tasks: z
      .array(z.enum(PHONETICS_TASKS))
      .min(1)
      .refine(unique, 'names a task twice')
      .default([...PHONETICS_TASKS]),
    ...limits,
    /** Per task: { "g2p": { "trainLimit": 2000 } } (a main task with few labels, auxiliary tasks with many). */
    taskLimits,
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
    /** Per task: { "rte": { "trainLimit": 500 } }. */
    taskLimits,
  }),
  z.strictObject({
    /** Your own CSV, TSV or JSONL files, each task by name (see docs/own-data.md). */
    source: z.literal('files'),
    tasks: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'task names are letters, digits, _ and -'), FileTaskSchema)
      .refine((t) => Object.keys(t).length > 0, 'needs at least one task'),
    /** With a pretrained encoder, leave it out: the model directory's is used. */
    tokenizer: FileTokenizerSchema.optional(),
    /** Longest input in tokens, special tokens included; longer inputs are cut. */
    maxLength: positiveInt.max(100_000).default(128),
  }),
]);
export type DataConfig = z.output<typeof DataSchema>;

/** The task names of a run's data, in config order. */
export function dataTaskNames(data: DataConfig): string[] {
  return data.source === 'files' ? Object.keys(data.tasks) : [...data.tasks];
}

/** The head kinds with decoder layers of their own, as mt.tasks.<kind>({ decoderLayers }). */
export const DECODER_HEAD_KINDS = ['classification', 'regression', 'multiLabel', 'sequence'] as const;
export type DecoderLayers = Partial<Record<(typeof DECODER_HEAD_KINDS)[number], number>>;

export const RunModelSchema = z
  .strictObject({
    /** The encoder's layout, or a pretrained Hugging Face directory: { "pretrained": "path/to/dir", "layers": k }. */
    encoder: z.union([PretrainedEncoderSchema, EncoderSchema]),
    sharing: SharingSchema.prefault({ kind: 'sharedEncoder' }),
    /**
     * Decoder layers of each head kind's heads, the option mt.tasks.<kind>({ decoderLayers }) takes, with
     * its default (classification, regression, multiLabel: 0, pooling + MLP; sequence: 2):
     * { "classification": 1, "sequence": 2 }.
     */
    decoderLayers: z
      .union([
        z.number(),
        z.strictObject(
          Object.fromEntries(DECODER_HEAD_KINDS.map((k) => [k, nonNegativeInt.optional()])) as Record<
            (typeof DECODER_HEAD_KINDS)[number],
            z.ZodOptional<typeof nonNegativeInt>
          >,
        ),
      ])
      .prefault({}),
    /** Removed: its value is model.decoderLayers.classification (and .regression, .multiLabel). */
    headLayers: z.unknown().optional(),
  })
  .superRefine((m, context) => {
    if (typeof m.decoderLayers === 'number') {
      context.addIssue({
        code: 'custom',
        path: ['decoderLayers'],
        message: `is one number per head kind now, as mt.tasks.<kind>({ decoderLayers }): write { "sequence": ${m.decoderLayers} } (a number was the sequence heads' layers)`,
      });
    }
    if (m.headLayers !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['headLayers'],
        message: `was renamed: write "decoderLayers": { "classification": ${JSON.stringify(m.headLayers)}, "regression": ${JSON.stringify(m.headLayers)} } (the option mt.tasks.classification({ decoderLayers }) takes; its default is 0)`,
      });
    }
  })
  .transform(({ headLayers: _removed, ...m }) => ({ ...m, decoderLayers: m.decoderLayers as DecoderLayers }));

export const RunConfigSchema = z
  .strictObject({
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
  })
  .superRefine((c, context) => {
    if (c.threads !== undefined && c.threads > maxThreads()) {
      context.addIssue({ code: 'custom', path: ['threads'], message: `must be at most ${maxThreads()} (4 per core), got ${c.threads}` });
    }
    const tasks = dataTaskNames(c.data);
    if (Array.isArray(c.baselines)) {
      c.baselines.forEach((t, i) => {
        if (!tasks.includes(t))
          context.addIssue({
            code: 'custom',
            path: ['baselines', i],
            message: `must be one of the data's tasks (${tasks.join(', ')}), got ${JSON.stringify(t)}`,
          });
      });
    }
    for (const option of ['earlyStopping', 'keepBest'] as const) {
      const metric = c[option]?.metric;
      if (metric !== undefined && metric !== 'loss' && !tasks.includes(metric.split('.')[0]!)) {
        context.addIssue({
          code: 'custom',
          path: [option, 'metric'],
          message: `names no task of the data (${tasks.join(', ')}), got ${JSON.stringify(metric)}`,
        });
      }
    }
    if (c.data.source !== 'files') {
      for (const name of Object.keys(c.data.taskLimits ?? {})) {
        if (!tasks.includes(name))
          context.addIssue({
            code: 'custom',
            path: ['data', 'taskLimits', name],
            message: `names no task of the data (${tasks.join(', ')})`,
          });
      }
    }
    // GLUE and files runs take their tokenizer from a pretrained encoder's folder or from data.tokenizer.
    if (c.data.source === 'glue' || c.data.source === 'files') {
      const pretrained = isPretrainedEncoder(c.model.encoder);
      if (pretrained && c.data.tokenizer !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['data', 'tokenizer'],
          message: 'comes from the pretrained model directory (model.encoder.pretrained): leave it out',
        });
      } else if (!pretrained && c.data.tokenizer === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['data', 'tokenizer'],
          message:
            c.data.source === 'glue'
              ? 'is required (a vocab.txt or tokenizer.json) unless the encoder is pretrained'
              : 'is required: { "train": { "kind": "wordPiece", "vocabSize": 8000 } }, { "file": ... } or { "char": {} }, unless the encoder is pretrained',
        });
      }
    }
    if (c.diagnosticsEvery !== undefined && tasks.length < 2) {
      context.addIssue({ code: 'custom', path: ['diagnosticsEvery'], message: 'compares tasks: it needs at least two' });
    }
  })
  .transform((c) => ({
    ...c,
    evalEvery: c.evalEvery ?? Math.max(1, Math.floor(c.steps / 5)),
    checkpointEvery: c.checkpointEvery ?? c.evalEvery ?? Math.max(1, Math.floor(c.steps / 5)),
    baselines: c.baselines === 'all' ? dataTaskNames(c.data) : (c.baselines ?? []),
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
