/**
 * `mt.multitask(spec)` and the MultiTaskModel class: a native multi-task Transformer
 * (native/core/model) with its TypeScript API. The spec is checked in spec.ts; the native model is
 * built from the normalized config, which is also what `save` writes as config.json.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import { native, type NativeModelBatch, type NativeMultiTaskModel, type NativeTensor } from '../native.ts';
import { load as loadTensors, save as saveTensors } from '../serialization.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { checkBoolean, checkDevice, describe, type Device } from '../validate.ts';
import { normalizeConfig, normalizeSpec, normalizeTask, type ModelConfig, type TaskSpec } from './spec.ts';

/** A model's inputs: token ids (B, L) or features (B, L, F), with lengths (B) (else padding is inputIds == padId). */
export interface ModelInputs {
  inputIds?: Tensor;
  features?: Tensor;
  lengths?: Tensor;
}

/** Inputs plus the task's targets (see each head for their shape). */
export interface TaskBatch extends ModelInputs {
  targets?: Tensor;
}

export interface TaskOutput {
  /** Logits (classification, multi-label, tagging, sequence) or values (regression). */
  outputs: Tensor;
  /** Present when the batch has targets. */
  loss?: Tensor;
}

export interface GenerateOptions {
  /** 1 = greedy (default). */
  beamSize?: number;
  /** Most generated tokens (EOS included); default and cap: the task's maxLength. */
  maxLength?: number;
  /** Beams are ranked by score / length^lengthPenalty (default 0: raw sum of log-probabilities). */
  lengthPenalty?: number;
}

export interface Generated {
  /** int64 (B, T): the best hypothesis of each row, EOS included, then padId. */
  sequences: Tensor;
  /** float32 (B): its sum of log-probabilities (not length-normalised). */
  scores: Tensor;
}

export interface ModelSummary {
  total: number;
  shared: number;
  perTask: Record<string, number>;
  trainable: number;
  trainableFraction: number;
  /** Parameters and buffers. */
  bytes: number;
}

/** What freeze/unfreeze select: the whole shared backbone, one part of it, every head, or one task. */
export type ModelPart = 'backbone' | 'embedding' | 'encoder' | 'decoder' | 'sharing' | 'heads' | (string & {});

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';

function toNativeBatch(batch: TaskBatch, where: string, withTargets: boolean): NativeModelBatch {
  if (typeof batch !== 'object' || batch === null) throw argumentError(where, `'batch' must be an object of tensors, got ${describe(batch)}`);
  const out: NativeModelBatch = {};
  const fields: (keyof TaskBatch)[] = withTargets ? ['inputIds', 'features', 'lengths', 'targets'] : ['inputIds', 'features', 'lengths'];
  for (const key of fields) {
    if (batch[key] !== undefined) out[key] = checkTensor(batch[key], where, `batch.${key}`).handle;
  }
  if (!out.inputIds && !out.features) throw argumentError(where, `'batch' needs inputIds or features`);
  return out;
}

export class MultiTaskModel {
  /** @internal the native model (the trainer binding reads it). */
  readonly native: NativeMultiTaskModel;
  #config: ModelConfig;
  #device: Device;

  private constructor(config: ModelConfig, device: Device) {
    this.#config = config;
    this.#device = device;
    this.native = new native.NativeMultiTaskModel(config, device);
  }

  /** @internal use mt.multitask(spec) */
  static fromConfig(config: ModelConfig, device: Device): MultiTaskModel {
    return new MultiTaskModel(config, device);
  }

  /** The normalized config (a copy): what config.json holds. */
  get config(): ModelConfig { return structuredClone(this.#config); }
  get device(): Device { return this.#device; }
  get taskNames(): string[] { return this.#config.tasks.map((t) => t.name); }

  #checkTask(task: unknown, where: string): string {
    if (typeof task !== 'string' || !this.taskNames.includes(task)) {
      throw argumentError(where, `'task' must be one of ${this.taskNames.join(', ')}, got ${describe(task)}`);
    }
    return task;
  }

  #results(raw: Record<string, { outputs: NativeTensor; loss?: NativeTensor }>): Record<string, TaskOutput> {
    const out: Record<string, TaskOutput> = {};
    for (const [task, r] of Object.entries(raw)) out[task] = { outputs: new Tensor(r.outputs), ...(r.loss ? { loss: new Tensor(r.loss) } : {}) };
    return out;
  }

  /** Outputs of one task, and its loss when the batch has targets. */
  forward(task: string, batch: TaskBatch): TaskOutput {
    const where = 'MultiTaskModel.forward';
    this.#checkTask(task, where);
    const nb = toNativeBatch(batch, where, true);
    return this.#results(this.native.forward({ [task]: nb }, nb.targets !== undefined))[task]!;
  }

  /**
   * Several tasks over the same inputs: the shared encoder runs once. `targets` gives each task's
   * targets (a task mapped to null gets outputs only); losses are computed when every task has targets.
   */
  forwardMany(inputs: ModelInputs, targets: Record<string, Tensor | null>): Record<string, TaskOutput> {
    const where = 'MultiTaskModel.forwardMany';
    if (typeof targets !== 'object' || targets === null) throw argumentError(where, `'targets' must be a record of tensors by task`);
    const shared = toNativeBatch(inputs, where, false);
    const batches: Record<string, NativeModelBatch> = {};
    let allTargets = true;
    for (const [task, t] of Object.entries(targets)) {
      this.#checkTask(task, where);
      if (t === null || t === undefined) allTargets = false;
      batches[task] = { ...shared, ...(t ? { targets: checkTensor(t, where, `targets.${task}`).handle } : {}) };
    }
    if (Object.keys(batches).length === 0) throw argumentError(where, `'targets' must name at least one task`);
    return this.#results(this.native.forward(batches, allTargets));
  }

  /** Predictions without gradients: class ids, values, 0/1 labels, tag ids, or generated ids (greedy). */
  predict(task: string, inputs: ModelInputs): Tensor {
    const where = 'MultiTaskModel.predict';
    return new Tensor(this.native.predict(this.#checkTask(task, where), toNativeBatch(inputs, where, false)));
  }

  /** Greedy (beamSize 1) or beam-search decoding of a sequence task over the decoder's KV cache. */
  generate(task: string, inputs: ModelInputs, options: GenerateOptions = {}): Generated {
    const where = 'MultiTaskModel.generate';
    this.#checkTask(task, where);
    const kind = this.#config.tasks.find((t) => t.name === task)!.kind;
    if (kind !== 'sequence') throw argumentError(where, `task '${task}' is a ${kind} task; generate needs a sequence task`);
    const beamSize = options.beamSize ?? 1;
    if (!Number.isSafeInteger(beamSize) || beamSize < 1) throw argumentError(where, `'beamSize' must be a positive integer, got ${describe(beamSize)}`);
    const maxLength = options.maxLength ?? 0;
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) throw argumentError(where, `'maxLength' must be a positive integer, got ${describe(maxLength)}`);
    const lengthPenalty = options.lengthPenalty ?? 0;
    if (typeof lengthPenalty !== 'number' || !Number.isFinite(lengthPenalty)) throw argumentError(where, `'lengthPenalty' must be a finite number`);
    const r = this.native.generate(task, toNativeBatch(inputs, where, false), { beamSize, maxLength, lengthPenalty });
    return { sequences: new Tensor(r.sequences), scores: new Tensor(r.scores) };
  }

  /** Parameter counts: shared, per task, trainable (and its fraction of the total), bytes. */
  summary(): ModelSummary {
    const s = this.native.summary();
    return { ...s, trainableFraction: s.total === 0 ? 0 : s.trainable / s.total };
  }

  /** Adds a task to this (possibly trained) model: shared weights are kept, the new task's are fresh. */
  addTask(name: string, head: TaskSpec): this {
    const where = 'MultiTaskModel.addTask';
    if (this.taskNames.includes(name)) throw argumentError(where, `task '${name}' already exists`);
    const task = normalizeTask(name, head);
    this.native.addTask(task);
    this.#config = { ...this.#config, tasks: [...this.#config.tasks, task] };
    return this;
  }

  #checkPart(part: unknown, where: string): string {
    if (typeof part !== 'string' || part.length === 0) throw argumentError(where, `'part' must be a part name, got ${describe(part)}`);
    return part;
  }

  /** Stops gradients for a part: 'backbone', 'embedding', 'encoder', 'decoder', 'sharing', 'heads' or a task name. */
  freeze(part: ModelPart = 'backbone'): this {
    this.native.setTrainable(this.#checkPart(part, 'MultiTaskModel.freeze'), false);
    return this;
  }
  unfreeze(part: ModelPart = 'backbone'): this {
    this.native.setTrainable(this.#checkPart(part, 'MultiTaskModel.unfreeze'), true);
    return this;
  }
  /** Names of the parameters a part selects. */
  partParameterNames(part: ModelPart): string[] {
    return this.native.partParameterNames(this.#checkPart(part, 'MultiTaskModel.partParameterNames'));
  }

  train(mode = true): this {
    this.native.train(checkBoolean(mode, 'MultiTaskModel.train', 'mode'));
    return this;
  }
  eval(): this { return this.train(false); }
  get training(): boolean { return this.native.isTraining(); }
  to(device: Device): this {
    const checked = checkDevice(device, 'MultiTaskModel.to', 'device')!;
    this.native.to(checked);
    this.#device = checked;
    return this;
  }

  /** The model's own parameters (gradients land on them), by name. */
  namedParameters(): [string, Tensor][] {
    const { names, tensors } = this.native.namedParameters();
    return names.map((n, i) => [n, new Tensor(tensors[i]!)]);
  }
  /** Parameters, then buffers, detached (they share storage with the model). */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const list of [this.native.namedParameters(), this.native.namedBuffers()]) {
      list.names.forEach((n, i) => { out[n] = new Tensor(list.tensors[i]!).detach(); });
    }
    return out;
  }
  /** Copies weights in by name; a missing, unexpected or mis-shaped key is refused, naming the key. */
  loadStateDict(stateDict: Record<string, Tensor>, options: { strict?: boolean } = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
    const where = 'MultiTaskModel.loadStateDict';
    const entries = Object.entries(stateDict);
    const r = this.native.loadStateDict(entries.map(([n]) => n), entries.map(([n, t]) => checkTensor(t, where, `stateDict['${n}']`).handle), options.strict ?? true);
    return { missingKeys: r.missing, unexpectedKeys: r.unexpected };
  }

  /** Writes dir/config.json and dir/model.safetensors, each atomically (temporary file, then rename). */
  async save(dir: string): Promise<void> {
    if (typeof dir !== 'string' || dir.length === 0) throw argumentError('MultiTaskModel.save', `'dir' must be a non-empty path`);
    mkdirSync(dir, { recursive: true });
    const weights = path.join(dir, WEIGHTS_FILE);
    const config = path.join(dir, CONFIG_FILE);
    const stateDict = this.stateDict();
    saveTensors(weights, stateDict, { format: 'pt' });  // saveSafetensors writes atomically itself
    const tmp = `${config}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(this.#config, null, 2) + '\n');
    renameSync(tmp, config);
  }

  /** Builds the model of dir/config.json and loads dir/model.safetensors (strict: every key must match). */
  static async load(dir: string, options: { device?: Device } = {}): Promise<MultiTaskModel> {
    const where = 'MultiTaskModel.load';
    const configPath = path.join(dir, CONFIG_FILE);
    const weightsPath = path.join(dir, WEIGHTS_FILE);
    for (const file of [configPath, weightsPath]) if (!existsSync(file)) throw argumentError(where, `${file} does not exist`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (error) {
      throw argumentError(where, `${configPath} is not valid JSON: ${(error as Error).message}`);
    }
    const config = normalizeConfig(raw, configPath);
    const model = new MultiTaskModel(config, 'cpu');
    const tensors = loadTensors(weightsPath);
    try {
      model.loadStateDict(tensors);
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
    const device = checkDevice(options.device ?? 'cpu', where, 'device')!;
    if (device !== 'cpu') model.to(device);
    return model;
  }
}

/** Builds a multi-task model from a spec (validated; every error names its field). */
export function multitask(spec: import('./spec.ts').MultiTaskSpec): MultiTaskModel {
  const { config, device } = normalizeSpec(spec);
  return MultiTaskModel.fromConfig(config, device);
}


