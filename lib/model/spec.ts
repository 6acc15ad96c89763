/**
 * The multi-task model's spec: `mt.sharing.*` and `mt.tasks.*` build typed plain objects,
 * `normalizeSpec` checks a whole spec (every error names its field, e.g.
 * `tasks.g2p.vocabSize must be a positive integer`) and fills defaults, giving the config that
 * the native model is built from and that `config.json` stores (the PyTorch twin reads it too).
 */
import { argumentError } from '../errors.ts';
import { checkDevice, describe, type Device } from '../validate.ts';

// ---- sharing schemes ----

export interface SharedEncoderSharing { kind: 'sharedEncoder' }
export interface FullySharedSharing { kind: 'fullyShared' }
export interface LayerwiseSharing { kind: 'layerwise'; sharedLayers: number }
export type AdapterPlacement = 'houlsby' | 'pfeiffer';
export interface AdaptersSharing { kind: 'adapters'; reduction: number; placement: AdapterPlacement; freezeBackbone: boolean }
export type LoraTarget = 'q' | 'k' | 'v' | 'o';
export interface LoraSharing { kind: 'lora'; rank: number; alpha: number; targets: LoraTarget[]; freezeBackbone: boolean }
export interface MmoeSharing { kind: 'mmoe'; experts: number; topK: number }
export type SharingSpec =
  | SharedEncoderSharing | FullySharedSharing | LayerwiseSharing | AdaptersSharing | LoraSharing | MmoeSharing;

export const sharing = {
  /** One encoder for all tasks, one head (and decoder) per task. */
  sharedEncoder: (): SharedEncoderSharing => ({ kind: 'sharedEncoder' }),
  /** Encoder and decoder shared; a learned task embedding tells the model which task it runs. */
  fullyShared: (): FullySharedSharing => ({ kind: 'fullyShared' }),
  /** The first `sharedLayers` encoder layers shared, the rest per task. */
  layerwise: (options: { sharedLayers: number }): LayerwiseSharing => ({ kind: 'layerwise', ...options }),
  /** Bottleneck adapters per task in every encoder layer (dModel / reduction wide). */
  adapters: (options: { reduction?: number; placement?: AdapterPlacement; freezeBackbone?: boolean } = {}): AdaptersSharing => ({
    kind: 'adapters', reduction: 8, placement: 'houlsby', freezeBackbone: false, ...options,
  }),
  /** Per-task low-rank updates (alpha / rank) · B A of the attention projections. */
  lora: (options: { rank?: number; alpha?: number; targets?: LoraTarget[]; freezeBackbone?: boolean } = {}): LoraSharing => ({
    kind: 'lora', rank: 8, alpha: 16, targets: ['q', 'v'], freezeBackbone: false, ...options,
  }),
  /** Feed-forward experts shared by all tasks after the encoder, a softmax gate per task (topK 0: all). */
  mmoe: (options: { experts?: number; topK?: number } = {}): MmoeSharing => ({ kind: 'mmoe', experts: 4, topK: 0, ...options }),
};

// ---- task heads ----

interface CrossEntropyOptions { labelSmoothing?: number; ignoreIndex?: number }
export interface ClassificationTask extends CrossEntropyOptions { kind: 'classification'; classes: number; decoderLayers: number }
export interface RegressionTask { kind: 'regression'; decoderLayers: number }
export interface MultiLabelTask { kind: 'multiLabel'; labels: number; decoderLayers: number }
export interface TaggingTask extends CrossEntropyOptions { kind: 'tagging'; classes: number }
export interface SequenceTask extends CrossEntropyOptions {
  kind: 'sequence'; vocabSize: number; maxLength: number; decoderLayers: number;
  /** Decoder start token (default 1), end token (default 2), target padding (default 0). */
  bosId: number; eosId: number; padId: number;
}
export type TaskSpec = ClassificationTask | RegressionTask | MultiLabelTask | TaggingTask | SequenceTask;
export type TaskKind = TaskSpec['kind'];
const TASK_KINDS: readonly TaskKind[] = ['classification', 'regression', 'multiLabel', 'tagging', 'sequence'];

export const tasks = {
  /** Logits (B, classes); a learned query attends through `decoderLayers` decoder layers (0: mean pooling + MLP). */
  classification: (o: { classes: number; decoderLayers?: number } & CrossEntropyOptions): ClassificationTask => ({
    kind: 'classification', decoderLayers: 0, ...o,
  }),
  /** One value per example (B), MSE loss. */
  regression: (o: { decoderLayers?: number } = {}): RegressionTask => ({ kind: 'regression', decoderLayers: 0, ...o }),
  /** One logit per label (B, labels), BCE-with-logits loss. */
  multiLabel: (o: { labels: number; decoderLayers?: number }): MultiLabelTask => ({ kind: 'multiLabel', decoderLayers: 0, ...o }),
  /** One label per input position, logits (B, L, classes). */
  tagging: (o: { classes: number } & CrossEntropyOptions): TaggingTask => ({ kind: 'tagging', ...o }),
  /** Autoregressive decoder with cross-attention; targets end with EOS, padded with padId. */
  sequence: (o: { vocabSize: number; maxLength: number; decoderLayers?: number; bosId?: number; eosId?: number; padId?: number } & CrossEntropyOptions): SequenceTask => ({
    kind: 'sequence', decoderLayers: 2, bosId: 1, eosId: 2, padId: 0, ...o,
  }),
};

// ---- the whole spec ----

export interface InputSpec {
  /** Token vocabulary (inputIds); omit when the inputs are `features`. */
  vocabSize?: number;
  /** Longest input (positions of the positional encoding). */
  maxLength: number;
  /** Padding id of inputIds (default 0). */
  padId?: number;
  /** Size of the continuous vector per position (inputs `features` (B, L, F)) instead of tokens. */
  features?: number;
}

export interface EncoderSpec {
  numLayers: number; dModel: number; nhead: number;
  dimFeedforward?: number; dropout?: number; activation?: 'relu' | 'gelu'; normFirst?: boolean;
}

export interface MultiTaskSpec {
  input: InputSpec;
  encoder: EncoderSpec;
  sharing?: SharingSpec;
  tasks: Record<string, TaskSpec>;
  device?: Device;
}

/** A task in the normalized config: its name and its head's fields. */
export type TaskConfig = TaskSpec & { name: string };

/** The validated config with every default filled: what config.json holds. */
export interface ModelConfig {
  format: 'mtl-torch/multitask';
  version: 1;
  input: { vocabSize: number; maxLength: number; padId: number; features: number };
  encoder: Required<EncoderSpec>;
  sharing: SharingSpec;
  tasks: TaskConfig[];
}

const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WHERE = 'multitask';

function fail(message: string): never {
  throw argumentError(WHERE, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (!isRecord(value)) fail(`${field} must be an object, got ${describe(value)}`);
  return value;
}

function positiveInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(`${field} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

function intAtLeast(value: unknown, min: number, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${field} must be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

function fraction(value: unknown, field: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) fail(`${field} must be a number in [0, 1), got ${describe(value)}`);
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail(`${field} must be a boolean, got ${describe(value)}`);
  return value;
}

function oneOf<V extends string>(value: unknown, options: readonly V[], field: string): V {
  if (typeof value !== 'string' || !options.includes(value as V)) {
    fail(`${field} must be one of ${options.join(', ')}, got ${describe(value)}`);
  }
  return value as V;
}

function unknownKeys(value: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`${field}.${key} is not a known option (known: ${allowed.join(', ')})`);
  }
}

function normalizeSharing(value: unknown, encoder: Required<EncoderSpec>): SharingSpec {
  if (value === undefined) return { kind: 'sharedEncoder' };
  const s = record(value, 'sharing');
  const kind = oneOf(s.kind, ['sharedEncoder', 'fullyShared', 'layerwise', 'adapters', 'lora', 'mmoe'] as const, 'sharing.kind');
  switch (kind) {
    case 'sharedEncoder':
    case 'fullyShared':
      unknownKeys(s, ['kind'], 'sharing');
      return { kind };
    case 'layerwise': {
      unknownKeys(s, ['kind', 'sharedLayers'], 'sharing');
      const sharedLayers = positiveInt(s.sharedLayers, 'sharing.sharedLayers');
      if (sharedLayers > encoder.numLayers) {
        fail(`sharing.sharedLayers (${sharedLayers}) must not exceed encoder.numLayers (${encoder.numLayers})`);
      }
      return { kind, sharedLayers };
    }
    case 'adapters': {
      unknownKeys(s, ['kind', 'reduction', 'placement', 'freezeBackbone'], 'sharing');
      const reduction = positiveInt(s.reduction ?? 8, 'sharing.reduction');
      if (reduction > encoder.dModel) fail(`sharing.reduction (${reduction}) must not exceed encoder.dModel (${encoder.dModel})`);
      return {
        kind, reduction,
        placement: oneOf(s.placement ?? 'houlsby', ['houlsby', 'pfeiffer'] as const, 'sharing.placement'),
        freezeBackbone: bool(s.freezeBackbone ?? false, 'sharing.freezeBackbone'),
      };
    }
    case 'lora': {
      unknownKeys(s, ['kind', 'rank', 'alpha', 'targets', 'freezeBackbone'], 'sharing');
      const targets = s.targets ?? ['q', 'v'];
      if (!Array.isArray(targets) || targets.length === 0) fail(`sharing.targets must be a non-empty array of q, k, v, o`);
      const checked = targets.map((t, i) => oneOf(t, ['q', 'k', 'v', 'o'] as const, `sharing.targets[${i}]`));
      if (new Set(checked).size !== checked.length) fail(`sharing.targets must not repeat a target`);
      const alpha = s.alpha ?? 16;
      if (typeof alpha !== 'number' || !Number.isFinite(alpha)) fail(`sharing.alpha must be a finite number, got ${describe(alpha)}`);
      return {
        kind, rank: positiveInt(s.rank ?? 8, 'sharing.rank'), alpha, targets: checked,
        freezeBackbone: bool(s.freezeBackbone ?? false, 'sharing.freezeBackbone'),
      };
    }
    case 'mmoe': {
      unknownKeys(s, ['kind', 'experts', 'topK'], 'sharing');
      const experts = positiveInt(s.experts ?? 4, 'sharing.experts');
      const topK = intAtLeast(s.topK ?? 0, 0, 'sharing.topK');
      if (topK > experts) fail(`sharing.topK (${topK}) must not exceed sharing.experts (${experts})`);
      return { kind, experts, topK };
    }
  }
}

/** Checks one task's head spec; `field` is `tasks.<name>`. */
export function normalizeTask(name: string, value: unknown): TaskConfig {
  if (typeof name !== 'string' || !TASK_NAME.test(name)) {
    fail(`task name ${describe(name)} must be an identifier (letters, digits and _, not starting with a digit)`);
  }
  const field = `tasks.${name}`;
  const t = record(value, field);
  const kind = oneOf(t.kind, TASK_KINDS, `${field}.kind`);
  const decoderLayers = (min: number, fallback: number) => intAtLeast(t.decoderLayers ?? fallback, min, `${field}.decoderLayers`);
  const crossEntropy = () => ({
    labelSmoothing: fraction(t.labelSmoothing ?? 0, `${field}.labelSmoothing`),
    ignoreIndex: (() => {
      const v = t.ignoreIndex ?? -100;
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${field}.ignoreIndex must be an integer, got ${describe(v)}`);
      return v;
    })(),
  });
  switch (kind) {
    case 'classification':
      unknownKeys(t, ['kind', 'classes', 'decoderLayers', 'labelSmoothing', 'ignoreIndex'], field);
      return { name, kind, classes: positiveInt(t.classes, `${field}.classes`), decoderLayers: decoderLayers(0, 0), ...crossEntropy() };
    case 'regression':
      unknownKeys(t, ['kind', 'decoderLayers'], field);
      return { name, kind, decoderLayers: decoderLayers(0, 0) };
    case 'multiLabel':
      unknownKeys(t, ['kind', 'labels', 'decoderLayers'], field);
      return { name, kind, labels: positiveInt(t.labels, `${field}.labels`), decoderLayers: decoderLayers(0, 0) };
    case 'tagging':
      unknownKeys(t, ['kind', 'classes', 'labelSmoothing', 'ignoreIndex'], field);
      return { name, kind, classes: positiveInt(t.classes, `${field}.classes`), ...crossEntropy() };
    case 'sequence': {
      unknownKeys(t, ['kind', 'vocabSize', 'maxLength', 'decoderLayers', 'bosId', 'eosId', 'padId', 'labelSmoothing', 'ignoreIndex'], field);
      const vocabSize = positiveInt(t.vocabSize, `${field}.vocabSize`);
      const tokenId = (key: 'bosId' | 'eosId' | 'padId', fallback: number) => {
        const v = t[key] ?? fallback;
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocabSize) {
          fail(`${field}.${key} must be an integer in [0, vocabSize ${vocabSize}), got ${describe(v)}`);
        }
        return v;
      };
      return {
        name, kind, vocabSize, maxLength: positiveInt(t.maxLength, `${field}.maxLength`), decoderLayers: decoderLayers(1, 2),
        bosId: tokenId('bosId', 1), eosId: tokenId('eosId', 2), padId: tokenId('padId', 0), ...crossEntropy(),
      };
    }
  }
}

/** Validates a spec and fills its defaults; the device is returned separately (it is not part of the saved config). */
export function normalizeSpec(spec: unknown): { config: ModelConfig; device: Device } {
  const s = record(spec, 'spec');
  unknownKeys(s, ['input', 'encoder', 'sharing', 'tasks', 'device'], 'spec');
  const input = record(s.input, 'input');
  unknownKeys(input, ['vocabSize', 'maxLength', 'padId', 'features'], 'input');
  const features = input.features === undefined ? 0 : positiveInt(input.features, 'input.features');
  const vocabSize = features > 0 && input.vocabSize === undefined ? 0 : positiveInt(input.vocabSize, 'input.vocabSize');
  const padId = intAtLeast(input.padId ?? 0, 0, 'input.padId');
  if (features === 0 && padId >= vocabSize) fail(`input.padId (${padId}) must be below input.vocabSize (${vocabSize})`);
  const maxLength = positiveInt(input.maxLength, 'input.maxLength');

  const e = record(s.encoder, 'encoder');
  unknownKeys(e, ['numLayers', 'dModel', 'nhead', 'dimFeedforward', 'dropout', 'activation', 'normFirst'], 'encoder');
  const dModel = positiveInt(e.dModel, 'encoder.dModel');
  const nhead = positiveInt(e.nhead, 'encoder.nhead');
  if (dModel % nhead !== 0) fail(`encoder.dModel (${dModel}) must be divisible by encoder.nhead (${nhead})`);
  const encoder: Required<EncoderSpec> = {
    numLayers: positiveInt(e.numLayers, 'encoder.numLayers'), dModel, nhead,
    dimFeedforward: positiveInt(e.dimFeedforward ?? 4 * dModel, 'encoder.dimFeedforward'),
    dropout: fraction(e.dropout ?? 0.1, 'encoder.dropout'),
    activation: oneOf(e.activation ?? 'relu', ['relu', 'gelu'] as const, 'encoder.activation'),
    normFirst: bool(e.normFirst ?? false, 'encoder.normFirst'),
  };
  const sharingSpec = normalizeSharing(s.sharing, encoder);

  const taskRecord = record(s.tasks, 'tasks');
  const names = Object.keys(taskRecord);
  if (names.length === 0) fail('tasks must name at least one task');
  const taskConfigs = names.map((name) => normalizeTask(name, taskRecord[name]));
  const device = s.device === undefined ? 'cpu' : checkDevice(s.device, WHERE, 'device')!;
  return {
    config: { format: 'mtl-torch/multitask', version: 1, input: { vocabSize, maxLength, padId, features }, encoder, sharing: sharingSpec, tasks: taskConfigs },
    device,
  };
}

/** Checks a config read from config.json (same rules as a spec) and returns it normalized. */
export function normalizeConfig(value: unknown, source: string): ModelConfig {
  const c = record(value, source);
  if (c.format !== 'mtl-torch/multitask') fail(`${source}: format must be 'mtl-torch/multitask', got ${describe(c.format)}`);
  if (c.version !== 1) fail(`${source}: version ${describe(c.version)} is not supported (expected 1)`);
  if (!Array.isArray(c.tasks)) fail(`${source}: tasks must be an array`);
  const taskRecord: Record<string, unknown> = {};
  for (const [i, task] of (c.tasks as unknown[]).entries()) {
    const { name, ...head } = record(task, `tasks[${i}]`);
    if (typeof name !== 'string') fail(`tasks[${i}].name must be a string`);
    if (name in taskRecord) fail(`tasks: duplicate task name '${name}'`);
    taskRecord[name] = head;
  }
  const input = record(c.input, 'input');
  const { features, vocabSize, ...rest } = input;
  const inputSpec = { ...rest, ...(features ? { features } : {}), ...(vocabSize ? { vocabSize } : {}) };
  return normalizeSpec({ input: inputSpec, encoder: c.encoder, sharing: c.sharing, tasks: taskRecord }).config;
}
