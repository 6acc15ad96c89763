/**
 * The multi-task model's spec: one schema per sharing scheme and per task head (their defaults come
 * from the native registry), the factories mt.sharing and mt.tasks built from them, and the spec
 * and config.json schemas. `normalizeSpec` checks a whole spec (every error names its field, e.g.
 * `multitask.tasks.g2p.vocabSize: is required (an integer)`) and fills its defaults, giving the
 * config the native model is built from and that `config.json` stores (the PyTorch twin reads it).
 */
import { z } from 'zod';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { checkParameterBudget } from '../limits.ts';
import {
  device as deviceSchema,
  factories,
  float32,
  fraction,
  int,
  kinds,
  native,
  nonNegativeInt,
  parse,
  positiveInt,
  positiveNumber,
  registry,
  union,
  withDefaults,
} from '../schema.ts';
import type { Device } from '../validate.ts';
import { resolveEncoder, type PretrainedEncoderSpec, type PretrainedInfo } from './pretrained.ts';

/** The largest sizes a spec may ask for: far above any model this package trains, low enough that a
 * typo (`numLayers: 1e9`) is refused instead of allocating until memory runs out. */
export const LIMITS = {
  layers: 256,
  dModel: 65536,
  heads: 1024,
  feedForward: 262144,
  vocabulary: 10_000_000,
  length: 1_000_000,
  classes: 10_000_000,
} as const;

// ---- sharing schemes ----

export const sharingSchemas = kinds('sharing', {
  /** One encoder for all tasks, one head (and decoder) per task. */
  sharedEncoder: {},
  /** Encoder and decoder shared; a learned task embedding tells the model which task it runs. */
  fullyShared: {},
  /** The first `sharedLayers` encoder layers shared, the rest per task. */
  layerwise: { sharedLayers: positiveInt.max(LIMITS.layers) },
  /** Bottleneck adapters per task in every encoder layer (dModel / reduction wide). */
  adapters: {
    reduction: native(positiveInt),
    placement: native(z.enum(['houlsby', 'pfeiffer'])),
    freezeBackbone: native(z.boolean()),
  },
  /** Per-task low-rank updates (alpha / rank) · B A of the attention projections. */
  lora: {
    rank: native(positiveInt.max(LIMITS.dModel)),
    alpha: native(float32),
    targets: native(
      z
        .array(z.enum(['q', 'k', 'v', 'o']))
        .min(1)
        .refine((t) => new Set(t).size === t.length, 'must not repeat a target'),
    ),
    freezeBackbone: native(z.boolean()),
  },
  /** Feed-forward experts shared by all tasks after the encoder, a softmax gate per task (topK 0: all). */
  mmoe: { experts: native(positiveInt.max(1024)), topK: native(nonNegativeInt) },
});
sharingSchemas.mmoe = sharingSchemas.mmoe.refine((s) => s.topK <= s.experts, { message: 'must not exceed experts', path: ['topK'] });
export const SharingSchema = union(sharingSchemas);
export type SharingSpec = z.output<typeof SharingSchema>;
export type SharingKind = SharingSpec['kind'];
export const sharing = factories('sharing', sharingSchemas);

// ---- task heads ----

const crossEntropy = { labelSmoothing: native(fraction), ignoreIndex: native(int) };
/** 'mean': masked mean pooling + the head's own tanh MLP; 'pretrained': the first position ([CLS]) through the
 * encoder's pretrained pooler (BERT's), then dropout (decoderLayers 0; the encoder needs a pooler). */
const pooling = native(z.enum(['mean', 'pretrained']));
export const taskSchemas = kinds('head', {
  /** Logits (B, classes); a learned query attends through `decoderLayers` decoder layers (0: mean pooling + MLP). */
  classification: {
    classes: positiveInt.max(LIMITS.classes),
    decoderLayers: native(nonNegativeInt.max(LIMITS.layers)),
    pooling,
    ...crossEntropy,
  },
  /** One value per example (B), MSE loss. */
  regression: { decoderLayers: native(nonNegativeInt.max(LIMITS.layers)), pooling },
  /** One logit per label (B, labels), BCE-with-logits loss. */
  multiLabel: { labels: positiveInt.max(LIMITS.classes), decoderLayers: native(nonNegativeInt.max(LIMITS.layers)), pooling },
  /** One label per input position, logits (B, L, classes). */
  tagging: { classes: positiveInt.max(LIMITS.classes), ...crossEntropy },
  /** Autoregressive decoder with cross-attention; targets end with EOS, padded with padId. */
  sequence: {
    vocabSize: positiveInt.max(LIMITS.vocabulary),
    maxLength: positiveInt.max(LIMITS.length),
    decoderLayers: native(positiveInt.max(LIMITS.layers)),
    bosId: native(nonNegativeInt),
    eosId: native(nonNegativeInt),
    padId: native(nonNegativeInt),
    ...crossEntropy,
  },
});
taskSchemas.sequence = taskSchemas.sequence.superRefine((t, context) => {
  for (const key of ['bosId', 'eosId', 'padId'] as const) {
    if (t[key] >= t.vocabSize)
      context.addIssue({ code: 'custom', path: [key], message: `must be below vocabSize (${t.vocabSize}), got ${t[key]}` });
  }
});
export const TaskSchema = union(taskSchemas);
export type TaskSpec = z.output<typeof TaskSchema>;
export type TaskKind = TaskSpec['kind'];
export const tasks = factories('tasks', taskSchemas);

/** Names that would collide with JavaScript's own object keys in configs and maps. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf']);
export const TaskNameSchema = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]{0,63}$/,
    'expected an identifier (letters, digits and _, not starting with a digit, at most 64 characters)',
  )
  .refine((name) => !RESERVED_NAMES.has(name), 'is a reserved name');

// ---- the whole spec ----

const inputDefaults = registry.defaults.input;
export const InputSchema = z
  .strictObject({
    /** Token vocabulary (inputIds); omit when the inputs are `features`. */
    vocabSize: positiveInt.max(LIMITS.vocabulary).optional(),
    /** Longest input (positions of the positional encoding). */
    maxLength: positiveInt.max(LIMITS.length),
    /** Padding id of inputIds. */
    padId: nonNegativeInt.default(inputDefaults.padId as number),
    /** Size of the continuous vector per position (inputs `features` (B, L, F)) instead of tokens. */
    features: positiveInt.max(LIMITS.dModel).optional(),
  })
  .superRefine((input, context) => {
    if ((input.vocabSize === undefined) === (input.features === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['vocabSize'],
        message: "give exactly one of 'vocabSize' (token inputs) and 'features' (vector inputs)",
      });
    } else if (input.vocabSize !== undefined && input.padId >= input.vocabSize) {
      context.addIssue({ code: 'custom', path: ['padId'], message: `must be below vocabSize (${input.vocabSize}), got ${input.padId}` });
    }
  });

export const EncoderSchema = z
  .strictObject(
    withDefaults(
      {
        numLayers: positiveInt.max(LIMITS.layers),
        dModel: positiveInt.max(LIMITS.dModel),
        nhead: positiveInt.max(LIMITS.heads),
        /** Default: 4 · dModel. */
        dimFeedforward: positiveInt.max(LIMITS.feedForward).optional(),
        dropout: native(fraction),
        /** 'gelu' is the exact (erf) GELU. */
        activation: native(z.enum(['relu', 'gelu'])),
        normFirst: native(z.boolean()),
        layerNormEps: native(positiveNumber),
        /** Dropout on the attention weights (default: dropout). */
        attentionDropout: fraction.optional(),
        /** Dropout after the feed-forward activation (default: dropout, as torch.nn's layer; BERT: 0). */
        activationDropout: fraction.optional(),
        /** 'sinusoidal' (a fixed table) or 'learned' (a trained table, as BERT). */
        positions: native(z.enum(['sinusoidal', 'learned'])),
        /** RoBERTa's positions: real tokens count from positionOffset (padId + 1), padding takes position padId. */
        positionOffset: native(nonNegativeInt),
        /** Token-type (segment) embeddings: 2 for sentence pairs as BERT; 1: every token is type 0 (RoBERTa); 0: none. */
        typeVocabSize: native(nonNegativeInt.max(1024)),
        /** A LayerNorm (then dropout) over token + type + position embeddings, as BERT. */
        embeddingNorm: native(z.boolean()),
        /** Embeddings this wide, projected to dModel (ELECTRA); 0: dModel. */
        embeddingSize: native(nonNegativeInt.max(LIMITS.dModel)),
        /** BERT's pooler, tanh(Linear(h[:, 0])), for heads with pooling 'pretrained'. */
        pooler: native(z.boolean()),
      },
      registry.defaults.encoder,
      'encoder',
    ),
  )
  .superRefine((e, context) => {
    if (e.dModel % e.nhead !== 0)
      context.addIssue({ code: 'custom', path: ['dModel'], message: `(${e.dModel}) must be divisible by nhead (${e.nhead})` });
    if (e.positionOffset > 0 && e.positions !== 'learned')
      context.addIssue({ code: 'custom', path: ['positionOffset'], message: "applies to learned positions: set positions: 'learned'" });
  })
  .transform((e) => ({
    ...e,
    dimFeedforward: e.dimFeedforward ?? 4 * e.dModel,
    attentionDropout: e.attentionDropout ?? e.dropout,
    activationDropout: e.activationDropout ?? e.dropout,
  }));
export type EncoderSpec = z.input<typeof EncoderSchema>;

/** The rules between parts: sharing against the encoder, heads against the sharing scheme. */
function checkParts(
  spec: { encoder: z.output<typeof EncoderSchema>; sharing: SharingSpec; tasks: Record<string, TaskSpec> },
  context: z.RefinementCtx,
): void {
  const { encoder, sharing: s } = spec;
  if (s.kind === 'layerwise' && s.sharedLayers > encoder.numLayers) {
    context.addIssue({
      code: 'custom',
      path: ['sharing', 'sharedLayers'],
      message: `(${s.sharedLayers}) must not exceed encoder.numLayers (${encoder.numLayers})`,
    });
  }
  if (s.kind === 'adapters' && s.reduction > encoder.dModel) {
    context.addIssue({
      code: 'custom',
      path: ['sharing', 'reduction'],
      message: `(${s.reduction}) must not exceed encoder.dModel (${encoder.dModel})`,
    });
  }
  if (Object.keys(spec.tasks).length === 0) context.addIssue({ code: 'custom', path: ['tasks'], message: 'must name at least one task' });
  for (const [name, task] of Object.entries(spec.tasks)) {
    // A task refused by its own schema (a number where a head belongs) is reported there.
    if (typeof task !== 'object' || task === null || !('pooling' in task) || task.pooling !== 'pretrained') continue;
    if (task.decoderLayers > 0)
      context.addIssue({
        code: 'custom',
        path: ['tasks', name, 'pooling'],
        message: "'pretrained' pools the first position through the encoder's pooler: it takes decoderLayers 0",
      });
    else if (!encoder.pooler)
      context.addIssue({
        code: 'custom',
        path: ['tasks', name, 'pooling'],
        message: "'pretrained' needs an encoder with a pooler (encoder.pooler, as a BERT or RoBERTa checkpoint has)",
      });
  }
}

/** Task name → head; reserved names are refused before the record is built (an object cannot hold `__proto__` as a key). */
const TasksSchema = z
  .custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object')
  .superRefine((tasks, context) => {
    for (const name of Object.keys(tasks))
      if (RESERVED_NAMES.has(name)) context.addIssue({ code: 'custom', path: [name], message: 'is a reserved name' });
  })
  .pipe(z.record(TaskNameSchema, TaskSchema));

export const SpecSchema = z
  .strictObject({
    input: InputSchema,
    encoder: EncoderSchema,
    sharing: SharingSchema.prefault({ kind: 'sharedEncoder' }),
    tasks: TasksSchema,
    device: deviceSchema.default('cpu'),
  })
  .superRefine(checkParts);
/** A model spec: its own encoder and input, or a pretrained encoder (mt.pretrained.encoder), whose checkpoint gives the input. */
export type MultiTaskSpec = Omit<z.input<typeof SpecSchema>, 'input' | 'encoder'> &
  ({ input: z.input<typeof InputSchema>; encoder: EncoderSpec } | { input?: undefined; encoder: PretrainedEncoderSpec });

/** A task in the normalized config: its name and its head's fields. */
export type TaskConfig = TaskSpec & { name: string };

/** The validated config with every default filled: what config.json holds. */
export interface ModelConfig {
  format: 'mtl-torch/multitask';
  version: 1;
  input: { vocabSize: number; maxLength: number; padId: number; features: number };
  encoder: z.output<typeof EncoderSchema>;
  sharing: SharingSpec;
  tasks: TaskConfig[];
  /** Present when the encoder was loaded from a Hugging Face checkpoint (savePretrained writes its layout). */
  pretrained?: PretrainedInfo;
}

function toConfig(spec: z.output<typeof SpecSchema>, pretrained?: PretrainedInfo): ModelConfig {
  const { vocabSize = 0, features = 0, maxLength, padId } = spec.input;
  return {
    format: 'mtl-torch/multitask',
    version: 1,
    input: { vocabSize, maxLength, padId, features },
    encoder: spec.encoder,
    sharing: spec.sharing,
    tasks: Object.entries(spec.tasks).map(([name, head]) => ({ name, ...head })),
    ...(pretrained ? { pretrained } : {}),
  };
}

// ---- the parameter budget ----

/** Parameters (and buffer elements) of one layer, biases and norms included. */
function encoderLayerSize(d: number, ff: number): number {
  return 4 * d * d + 2 * d * ff + ff + 9 * d;
}
function decoderLayerSize(d: number, ff: number): number {
  return 8 * d * d + 2 * d * ff + ff + 15 * d;
}

/** An upper bound of the parameters each sharing scheme adds, per kind (beside the encoder). */
const sharingSize: Record<string, (s: SharingSpec, c: ModelConfig) => number> = {
  sharedEncoder: () => 0,
  fullyShared: (_s, c) =>
    c.tasks.length * c.encoder.dModel +
    Math.max(0, ...c.tasks.map((t) => ('decoderLayers' in t ? t.decoderLayers : 0))) *
      decoderLayerSize(c.encoder.dModel, c.encoder.dimFeedforward),
  layerwise: (s, c) =>
    c.tasks.length *
    (c.encoder.numLayers - (s as { sharedLayers: number }).sharedLayers) *
    encoderLayerSize(c.encoder.dModel, c.encoder.dimFeedforward),
  adapters: (s, c) =>
    c.tasks.length *
    c.encoder.numLayers *
    2 *
    2 *
    (c.encoder.dModel * Math.ceil(c.encoder.dModel / (s as { reduction: number }).reduction) + c.encoder.dModel),
  lora: (s, c) => c.tasks.length * c.encoder.numLayers * 4 * 2 * (s as { rank: number }).rank * c.encoder.dModel,
  mmoe: (s, c) =>
    (s as { experts: number }).experts *
    (2 * c.encoder.dModel * c.encoder.dimFeedforward + c.encoder.dimFeedforward + c.encoder.dModel * (1 + c.tasks.length)),
};

{
  // Every registered scheme has its size here: a scheme without one would be estimated at 0 (unchecked).
  const missing = Object.keys(registry.sharing).filter((kind) => !(kind in sharingSize));
  if (missing.length > 0)
    throw new TorchError(`lib/model/spec.ts: no parameter estimate for the sharing scheme(s) ${missing.join(', ')}`, ErrorCode.NATIVE);
}

/** An upper bound of the parameters of one task's head, from the fields heads have in common. */
function headSize(task: TaskConfig, c: ModelConfig): number {
  const d = c.encoder.dModel;
  const fields = task as unknown as Record<string, unknown>;
  const number = (key: string) => (typeof fields[key] === 'number' ? (fields[key] as number) : 0);
  const outputs = number('classes') + number('labels') + 2 * number('vocabSize') + 1;
  return number('decoderLayers') * decoderLayerSize(d, c.encoder.dimFeedforward) + (outputs + number('maxLength') + 2 * d + 4) * d;
}

/** An upper bound of the model's parameters and buffer elements (within a factor of about two). */
export function estimateParameters(config: ModelConfig): number {
  const { dModel: d, dimFeedforward: ff, numLayers } = config.encoder;
  const input = (config.input.vocabSize + config.input.features + config.input.maxLength + 1) * d;
  const sharing = sharingSize[config.sharing.kind]!(config.sharing, config);
  return input + numLayers * encoderLayerSize(d, ff) + sharing + config.tasks.reduce((sum, t) => sum + headSize(t, config), 0);
}

/** Refuses (ERR_TOO_LARGE) a config whose model would exceed mt.limits.maxParameters. */
export function checkBudget(config: ModelConfig, where: string): void {
  checkParameterBudget(where, estimateParameters(config));
}

/** Whether a spec's encoder is a pretrained reference ({ pretrained: dir }). */
export function isPretrainedEncoder(encoder: unknown): boolean {
  return typeof encoder === 'object' && encoder !== null && 'pretrained' in encoder;
}

/**
 * Validates a spec and fills its defaults; the device is returned separately (it is not part of the
 * saved config). A pretrained encoder is resolved from its checkpoint (architecture and input);
 * `weights` is then the directory the model's weights load from.
 */
export function normalizeSpec(spec: unknown, where = 'multitask'): { config: ModelConfig; device: Device; weights?: string } {
  if (typeof spec === 'object' && spec !== null && isPretrainedEncoder((spec as { encoder?: unknown }).encoder)) {
    const { encoder, input, ...rest } = spec as { encoder: unknown; input?: unknown };
    if (input !== undefined) throw argumentError(`${where}.input`, 'comes from the pretrained checkpoint: leave it out');
    const resolved = resolveEncoder(encoder, `${where}.encoder`);
    const parsed = parse(SpecSchema, { ...rest, input: resolved.input, encoder: resolved.encoder }, where);
    const config = toConfig(parsed, resolved.pretrained);
    checkBudget(config, where);
    return { config, device: parsed.device as Device, weights: resolved.pretrained.source };
  }
  const parsed = parse(SpecSchema, spec, where);
  const config = toConfig(parsed);
  checkBudget(config, where);
  return { config, device: parsed.device as Device };
}

/** The config.json layout: tasks as an ordered list, zero meaning "absent" for vocabSize/features. */
const ConfigFileSchema = z.object({
  format: z.literal('mtl-torch/multitask'),
  version: z.literal(1),
  input: z.record(z.string(), z.unknown()),
  encoder: z.unknown(),
  sharing: z.unknown(),
  tasks: z.array(z.object({ name: TaskNameSchema }).loose()),
  pretrained: z.object({ modelType: z.string(), source: z.string(), config: z.record(z.string(), z.unknown()) }).optional(),
});

/** Checks a config read from config.json (the spec's rules) and returns it normalized. */
export function normalizeConfig(value: unknown, source: string): ModelConfig {
  const file = parse(ConfigFileSchema, value, source);
  const taskRecord: Record<string, unknown> = {};
  file.tasks.forEach(({ name, ...head }, i) => {
    if (Object.hasOwn(taskRecord, name)) throw argumentError(`${source}.tasks[${i}].name`, `'${name}' names a task twice`);
    taskRecord[name] = head;
  });
  const { features, vocabSize, ...rest } = file.input;
  const input = { ...rest, ...(features ? { features } : {}), ...(vocabSize ? { vocabSize } : {}) };
  const config = normalizeSpec({ input, encoder: file.encoder, sharing: file.sharing, tasks: taskRecord }, source).config;
  return file.pretrained ? { ...config, pretrained: file.pretrained } : config;
}

/** Checks one task's head spec; `where` names it (e.g. 'MultiTaskModel.addTask'). */
export function normalizeTask(name: unknown, value: unknown, where: string): TaskConfig {
  const taskName = parse(TaskNameSchema, name, `${where}.name`);
  return { name: taskName, ...parse(TaskSchema, value, `${where}.tasks.${taskName}`) };
}
