/**
 * `mt.multitask(spec)` and the MultiTaskModel class: a native multi-task Transformer
 * (native/core/model) with its TypeScript API. The spec is checked in spec.ts; the native model is
 * built from the normalized config, which is also what `save` writes as config.json.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { copyFileAtomic, makeDirectory, readJsonFile, writeFileAtomic } from '../files.ts';
import { native, type NativeModelBatch, type NativeMultiTaskModel, type NativeTensor } from '../native.ts';
import { Module } from '../nn/module.ts';
import { capabilities, native as nativeDefault, nonNegativeInt, parse, positiveInt, registry, withDefaults } from '../schema.ts';
import { load as loadTensors, loadWithMetadata, save as saveTensors } from '../serialization.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { checkDevice, checkOneOf, describe, type Device, optionsObject } from '../validate.ts';
import { z } from 'zod';
import { familyOf } from './pretrained.ts';
import { checkBudget, normalizeConfig, normalizeSpec, normalizeTask, type ModelConfig, type SharingSpec, type TaskSpec } from './spec.ts';

/** What a sharing scheme's .cc publishes of itself (native/core/model/sharing.h SharingCapabilities). */
interface SharingCapabilities {
  encodesOncePerBatch: boolean;
  exportable: boolean;
  adapters: boolean;
  perTaskLayers: boolean;
  sharedDecoder: boolean;
}
const sharingCapabilities = (sharing: SharingSpec) => capabilities<SharingCapabilities & Record<string, unknown>>('sharing', sharing.kind);
/** The encoder layers all tasks share: the scheme's `sharedLayers` where tasks have their own top layers, else all of them. */
function sharedLayersOf(sharing: SharingSpec, numLayers: number): number {
  return sharingCapabilities(sharing).perTaskLayers ? (sharing as { sharedLayers: number }).sharedLayers : numLayers;
}

/** A model's inputs: token ids (B, L) or features (B, L, F), with lengths (B) (else padding is inputIds == padId). */
export interface ModelInputs {
  inputIds?: Tensor;
  features?: Tensor;
  lengths?: Tensor;
  /** (B, L) segment ids (0 first text, 1 its pair), read by encoders with token types (BERT); absent: 0. */
  tokenTypeIds?: Tensor;
}

/** The backbone's output (model.encode). */
export interface Encoding {
  /** (B, L, E): the embedding and the shared encoder layers. */
  hidden: Tensor;
  /** (B, E): tanh(pooler(hidden[:, 0])), when the encoder has a pooler (BERT, RoBERTa checkpoints). */
  pooled?: Tensor;
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

/** One task's result of MultiTaskModel.predictTasks. */
export interface TaskPredictions {
  /** What `predict` gives: class ids, values, 0/1 labels, tag ids; for sequence tasks the generated ids (B, T). */
  predictions: Tensor;
  /** The head's raw outputs (logits or values); absent for sequence tasks. */
  outputs?: Tensor;
  /** Sequence tasks: each generated sequence's sum of log-probabilities (B). */
  scores?: Tensor;
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
const ADAPTER_FORMAT = 'mtl-torch/adapter';
/** A model directory's tokenizer files, copied along by savePretrained. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'sentencepiece.bpe.model',
];

/** A task's parameter under a name free of the task's ("adapters.sst2.layers.0..." -> "sharing.layers.0..."). */
function adapterKey(name: string, task: string): string {
  const [scope, owner, ...rest] = name.split('.');
  if (owner !== task) throw new Error(`mtl-torch: ${name} is not task ${task}'s`);
  return `${scope === 'tasks' ? 'head' : 'sharing'}.${rest.join('.')}`;
}

const BATCH_FIELDS = ['indices', 'inputIds', 'features', 'lengths', 'tokenTypeIds', 'targets', 'targetLengths'] as const;

/**
 * A batch as the native bindings take it (handles of its tensors): the one converter for every
 * call that passes a batch (forward, predict, generate, Trainer.step). Without `targets`, only the
 * input fields are passed.
 */
export function nativeBatch(batch: unknown, where: string, withTargets: boolean): NativeModelBatch {
  if (typeof batch !== 'object' || batch === null)
    throw argumentError(where, `'batch' must be an object of tensors, got ${describe(batch)}`);
  const out: NativeModelBatch = {};
  for (const key of BATCH_FIELDS) {
    if (!withTargets && (key === 'targets' || key === 'targetLengths')) continue;
    const value = (batch as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = checkTensor(value, where, `batch.${key}`).handle;
  }
  if (!out.inputIds && !out.features) throw argumentError(where, `'batch' needs inputIds or features`);
  return out;
}

const GenerateOptionsSchema = z
  .strictObject(
    withDefaults(
      {
        /** 1: greedy. */
        beamSize: nativeDefault(positiveInt.max(1024)),
        /** Most generated tokens, EOS included; 0: the task's maxLength. */
        maxLength: nativeDefault(nonNegativeInt),
        /** Ranks the final beams by score / length^lengthPenalty. */
        lengthPenalty: nativeDefault(z.number()),
      },
      registry.defaults.generate,
      'generate',
    ),
  )
  .refine((o) => o.lengthPenalty === 0 || o.beamSize > 1, {
    message: 'only ranks beams: it has no effect with beamSize 1',
    path: ['lengthPenalty'],
  });

/** The precisions of inference (MultiTaskModel.precision). */
export const PRECISIONS = ['fp32', 'bf16', 'int8'] as const;
export type InferencePrecision = (typeof PRECISIONS)[number];

export class MultiTaskModel extends Module<NativeMultiTaskModel> {
  #config: ModelConfig;
  #device: Device;

  private constructor(config: ModelConfig, device: Device) {
    super(new native.NativeMultiTaskModel(config, device));
    this.#config = config;
    this.#device = device;
  }

  /** @internal use mt.multitask(spec) */
  static fromConfig(config: ModelConfig, device: Device): MultiTaskModel {
    return new MultiTaskModel(config, device);
  }

  /** The normalized config (a copy): what config.json holds. */
  get config(): ModelConfig {
    return structuredClone(this.#config);
  }
  get device(): Device {
    return this.#device;
  }
  get taskNames(): string[] {
    return this.#config.tasks.map((t) => t.name);
  }

  #checkTask(task: unknown, where: string): string {
    if (typeof task !== 'string' || !this.taskNames.includes(task)) {
      throw argumentError(where, `'task' must be one of ${this.taskNames.join(', ')}, got ${describe(task)}`);
    }
    return task;
  }

  #results(raw: Record<string, { outputs: NativeTensor; loss?: NativeTensor }>): Record<string, TaskOutput> {
    const out: Record<string, TaskOutput> = {};
    for (const [task, r] of Object.entries(raw))
      out[task] = { outputs: new Tensor(r.outputs), ...(r.loss ? { loss: new Tensor(r.loss) } : {}) };
    return out;
  }

  /** Outputs of one task, and its loss when the batch has targets. */
  forward(task: string, batch: TaskBatch): TaskOutput {
    const where = 'MultiTaskModel.forward';
    this.#checkTask(task, where);
    const nb = nativeBatch(batch, where, true);
    return this.#results(this.native.forward({ [task]: nb }, nb.targets !== undefined))[task]!;
  }

  /**
   * Several tasks over the same inputs: the shared encoder runs once. `targets` gives each task's
   * targets (a task mapped to null gets outputs only); losses are computed when every task has targets.
   */
  forwardMany(inputs: ModelInputs, targets: Record<string, Tensor | null>): Record<string, TaskOutput> {
    const where = 'MultiTaskModel.forwardMany';
    if (typeof targets !== 'object' || targets === null) throw argumentError(where, `'targets' must be a record of tensors by task`);
    const shared = nativeBatch(inputs, where, false);
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
    return new Tensor(this.native.predict(this.#checkTask(task, where), nativeBatch(inputs, where, false)));
  }

  /**
   * The precision predict, predictTasks and generate compute in (training is unaffected): 'fp32',
   * 'bf16' (autocast on the model's device; on CPU through oneDNN) or 'int8' (dynamic quantization
   * of the linear layers, CPU only). See docs/serving.md for what each costs in accuracy.
   */
  get precision(): InferencePrecision {
    return this.native.precision();
  }

  set precision(value: InferencePrecision) {
    this.native.setPrecision(checkOneOf(value, PRECISIONS, 'MultiTaskModel.precision', 'precision'));
  }

  /** Greedy (beamSize 1) or beam-search decoding of a sequence task over the decoder's KV cache. */
  generate(task: string, inputs: ModelInputs, options: GenerateOptions = {}): Generated {
    options = optionsObject(options, 'MultiTaskModel.generate');
    const where = 'MultiTaskModel.generate';
    this.#checkTask(task, where);
    const kind = this.#config.tasks.find((t) => t.name === task)!.kind;
    if (!registry.head[kind]!.capabilities.generates)
      throw argumentError(where, `task '${task}' is a ${kind} task; generate needs a sequence task`);
    const resolved = parse(GenerateOptionsSchema, options, `${where}.options`);
    const r = this.native.generate(task, nativeBatch(inputs, where, false), resolved);
    return { sequences: new Tensor(r.sequences), scores: new Tensor(r.scores) };
  }

  /**
   * Inference for several tasks of the same inputs, on a native worker thread (the JavaScript thread
   * stays free): the shared encoder runs once, then each head predicts (its raw outputs and its
   * predictions, as `forward` and `predict` give them) or generates (sequence tasks, with `options`).
   * Runs in eval mode (no dropout) without gradients whatever the model's mode, and leaves the mode as
   * it was. While it runs the model is busy: fits, steps and changes (and a second predictTasks) are refused.
   */
  async predictTasks(tasks: string[], inputs: ModelInputs, options: GenerateOptions = {}): Promise<Record<string, TaskPredictions>> {
    const where = 'MultiTaskModel.predictTasks';
    if (!Array.isArray(tasks) || tasks.length === 0)
      throw argumentError(where, `'tasks' must be a non-empty array of task names, got ${describe(tasks)}`);
    tasks.forEach((t) => this.#checkTask(t, where));
    if (new Set(tasks).size !== tasks.length) throw argumentError(where, `'tasks' names a task twice`);
    const resolved = parse(GenerateOptionsSchema, optionsObject(options, where), `${where}.options`);
    const raw = await this.native.predictTasks(tasks, nativeBatch(inputs, where, false), resolved);
    const out: Record<string, TaskPredictions> = {};
    for (const [task, r] of Object.entries(raw)) {
      out[task] = {
        predictions: new Tensor(r.predictions),
        ...(r.outputs ? { outputs: new Tensor(r.outputs) } : {}),
        ...(r.scores ? { scores: new Tensor(r.scores) } : {}),
      };
    }
    return out;
  }

  /** The backbone's hidden states and, with a pooler, its pooled output (with autograd): what a pretrained encoder computes. */
  encode(inputs: ModelInputs): Encoding {
    const r = this.native.encode(nativeBatch(inputs, 'MultiTaskModel.encode', false));
    return { hidden: new Tensor(r.hidden), ...(r.pooled ? { pooled: new Tensor(r.pooled) } : {}) };
  }

  /**
   * Writes the encoder as a Hugging Face model directory of its checkpoint's family: config.json
   * (the source's, with the layer count exported), model.safetensors under the base model's names,
   * and the source's tokenizer files. transformers' AutoModel (and mt.pretrained.encoder) load it
   * with the same outputs. Exports the shared encoder; with a layerwise scheme give `task`, whose
   * own top layers complete it. Adapters, LoRA, MMoE experts and fullyShared's task embeddings are
   * not part of a BERT: those models are refused unless `backbone: true` asks for the shared
   * backbone alone (save a task's adapter weights with saveAdapter).
   */
  async savePretrained(dir: string, options: { task?: string; backbone?: boolean } = {}): Promise<void> {
    const where = 'MultiTaskModel.savePretrained';
    if (typeof dir !== 'string' || dir.length === 0) throw argumentError(where, `'dir' must be a non-empty path`);
    const info = this.#config.pretrained;
    if (!info)
      throw argumentError(
        where,
        'this model was not built from a pretrained encoder (mt.pretrained.encoder): it has no Hugging Face layout to write',
      );
    const sharing = this.#config.sharing;
    const task = options.task === undefined ? undefined : this.#checkTask(options.task, where);
    const sharedLayers = sharedLayersOf(sharing, this.#config.encoder.numLayers);
    const ownLayers = sharedLayers < this.#config.encoder.numLayers;
    if (ownLayers && task === undefined) {
      throw argumentError(
        where,
        `each task has its own top ${this.#config.encoder.numLayers - sharedLayers} layers (${sharing.kind}): give { task } to export that task's encoder`,
      );
    }
    if (task !== undefined && !ownLayers)
      throw argumentError(where, `'task' selects a layerwise task's own layers; this model's encoder is the same for every task`);
    if (!sharingCapabilities(sharing).exportable && options.backbone !== true) {
      throw argumentError(
        where,
        `the ${sharing.kind} scheme's per-task parts are not part of a ${info.modelType} encoder: pass { backbone: true } to export the shared backbone alone (and saveAdapter for a task's adapter weights)`,
      );
    }
    const exported = this.native.exportPretrained(info.modelType, info.config, task ?? '');
    const tensors = Object.fromEntries(exported.names.map((name, i) => [name, new Tensor(exported.tensors[i]!)]));
    const layers = task === undefined ? sharedLayers : this.#config.encoder.numLayers;
    const config = { ...info.config, [familyOf(info.modelType).layersKey]: layers };
    makeDirectory(dir, where);
    try {
      saveTensors(path.join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
    writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n', where);
    for (const file of TOKENIZER_FILES) {
      const from = path.join(info.source, file);
      if (existsSync(from) && path.resolve(dir) !== info.source) copyFileAtomic(from, path.join(dir, file), where);
    }
  }

  /**
   * Saves one task's adapter (adapters) or LoRA (lora) weights and its head to a safetensors file,
   * with what loadAdapter needs to check and rebuild them (the scheme's options, the head, the
   * encoder's size). The shared backbone is not in it.
   */
  saveAdapter(task: string, file: string): void {
    const where = 'MultiTaskModel.saveAdapter';
    this.#checkTask(task, where);
    const sharing = this.#config.sharing;
    if (!sharingCapabilities(sharing).adapters) {
      throw argumentError(where, `saves a task's adapters or LoRA weights; this model's sharing is ${sharing.kind}`);
    }
    if (typeof file !== 'string' || file.length === 0) throw argumentError(where, `'file' must be a non-empty path`);
    const owned = new Set(this.partParameterNames(task));
    const tensors: Record<string, Tensor> = {};
    for (const [name, t] of this.namedParameters()) if (owned.has(name)) tensors[adapterKey(name, task)] = t;
    const { name: _name, ...head } = this.#config.tasks.find((t) => t.name === task)!;
    const { dModel, numLayers } = this.#config.encoder;
    saveTensors(file, tensors, {
      format: ADAPTER_FORMAT,
      task,
      sharing: JSON.stringify(sharing),
      head: JSON.stringify(head),
      encoder: JSON.stringify({ dModel, numLayers }),
    });
  }

  /**
   * Loads a file of saveAdapter into this model as task `options.task` (default: the saved task's
   * name): a task the model lacks is added with the saved head; an existing one must have the same
   * head. The model's scheme and encoder size must be the saved ones.
   */
  loadAdapter(file: string, options: { task?: string } = {}): this {
    const where = 'MultiTaskModel.loadAdapter';
    if (typeof file !== 'string' || !existsSync(file))
      throw new TorchError(`${where}: ${describe(file)} does not exist`, ErrorCode.NOT_FOUND);
    const { tensors, metadata } = loadWithMetadata(file);
    try {
      if (metadata.format !== ADAPTER_FORMAT)
        throw new TorchError(`${where}: ${file} is not an adapter file (saveAdapter writes them)`, ErrorCode.BAD_DATA);
      const sharing = this.#config.sharing;
      if (metadata.sharing !== JSON.stringify(sharing)) {
        throw argumentError(where, `${file} holds ${metadata.sharing}, but this model's sharing is ${JSON.stringify(sharing)}`);
      }
      const { dModel, numLayers } = this.#config.encoder;
      if (metadata.encoder !== JSON.stringify({ dModel, numLayers })) {
        throw argumentError(
          where,
          `${file} was saved for an encoder ${metadata.encoder}, this one is ${JSON.stringify({ dModel, numLayers })}`,
        );
      }
      const task = options.task ?? metadata.task;
      if (typeof task !== 'string')
        throw new TorchError(`${where}: ${file} names no task (metadata 'task'), and options.task is not given`, ErrorCode.BAD_DATA);
      let head: TaskSpec;
      try {
        head = JSON.parse(metadata.head ?? '') as TaskSpec;
      } catch {
        throw new TorchError(
          `${where}: ${file}'s metadata 'head' is ${metadata.head === undefined ? 'absent' : 'not JSON'} (saveAdapter writes the task's head there)`,
          ErrorCode.BAD_DATA,
        );
      }
      const existing = this.#config.tasks.find((t) => t.name === task);
      if (existing) {
        const { name: _name, ...own } = existing;
        if (JSON.stringify(own) !== JSON.stringify(head))
          throw argumentError(where, `task '${task}' has the head ${JSON.stringify(own)}, the file ${metadata.head}`);
      }
      const config = this.#config;
      if (!existing) this.addTask(task, head);
      try {
        const owned = this.partParameterNames(task);
        const renamed: Record<string, Tensor> = {};
        for (const name of owned) {
          const saved = tensors[adapterKey(name, task)];
          if (!saved) throw new TorchError(`${where}: ${file} has no '${adapterKey(name, task)}'`, ErrorCode.BAD_DATA);
          renamed[name] = saved;
        }
        const extra = Object.keys(tensors).filter((key) => !owned.some((name) => adapterKey(name, task) === key));
        if (extra.length > 0)
          throw new TorchError(
            `${where}: ${file} holds '${extra[0]}', which task '${task}' has not (${extra.length} such entries)`,
            ErrorCode.BAD_DATA,
          );
        // Shapes, kinds and finite values: the rule of every weight loader, naming the file.
        this.loadStateDictFrom(renamed, false, file);
      } catch (error) {
        // A refused file leaves the model as it was: the task it added is taken back.
        if (!existing) {
          this.native.removeLastTask();
          this.#config = config;
        }
        throw error;
      }
      return this;
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
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
    const task = normalizeTask(name, head, where);
    if (sharingCapabilities(this.#config.sharing).sharedDecoder && 'decoderLayers' in task && task.decoderLayers > 0) {
      // Every head shares the one decoder built for the model's first tasks.
      const layers = Math.max(0, ...this.#config.tasks.map((t) => ('decoderLayers' in t ? t.decoderLayers : 0)));
      if (task.decoderLayers > layers) {
        throw argumentError(
          where,
          `tasks.${name}.decoderLayers (${task.decoderLayers}) exceeds the shared decoder's ${layers} layers (${this.#config.sharing.kind})`,
        );
      }
    }
    checkBudget({ ...this.#config, tasks: [...this.#config.tasks, task] }, where);
    this.native.addTask(task);
    this.#config = { ...this.#config, tasks: [...this.#config.tasks, task] };
    return this;
  }

  #checkPart(part: unknown, where: string): string {
    if (typeof part !== 'string' || part.length === 0) throw argumentError(where, `'part' must be a part name, got ${describe(part)}`);
    return part;
  }

  /** Stops gradients for a part ('backbone', 'embedding', 'encoder', 'decoder', 'sharing', 'heads' or a
   * task name), or for the parameters whose names start with one of `prefixes`. */
  override freeze(part: ModelPart | string[] = 'backbone'): this {
    if (Array.isArray(part)) return super.freeze(part);
    this.native.setTrainable(this.#checkPart(part, 'MultiTaskModel.freeze'), false);
    return this;
  }
  override unfreeze(part: ModelPart | string[] = 'backbone'): this {
    if (Array.isArray(part)) return super.unfreeze(part);
    this.native.setTrainable(this.#checkPart(part, 'MultiTaskModel.unfreeze'), true);
    return this;
  }
  /** Names of the parameters a part selects. */
  partParameterNames(part: ModelPart): string[] {
    return this.native.partParameterNames(this.#checkPart(part, 'MultiTaskModel.partParameterNames'));
  }

  /** Moves the model to a device (its weights stay float32; precision is the trainer's). */
  override to(device: Device): this {
    const checked = checkDevice(device, 'MultiTaskModel.to', 'device')!;
    super.to(checked);
    this.#device = checked;
    return this;
  }

  /**
   * Writes dir/config.json and dir/model.safetensors, each atomically (a temporary file, flushed to
   * the disk, then renamed: see lib/files.ts); a symbolic link, device or folder at either path is
   * refused, never replaced.
   */
  async save(dir: string): Promise<void> {
    const where = 'MultiTaskModel.save';
    if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0'))
      throw argumentError(where, `'dir' must be a non-empty path, got ${describe(dir)}`);
    makeDirectory(dir, where);
    const weights = path.join(dir, WEIGHTS_FILE);
    const config = path.join(dir, CONFIG_FILE);
    const stateDict = this.stateDict();
    saveTensors(weights, stateDict, { format: 'pt' }); // the native writer follows the same rules
    writeFileAtomic(config, JSON.stringify(this.#config, null, 2) + '\n', where);
  }

  /**
   * Builds the model of dir/config.json and loads dir/model.safetensors (strict: every key must
   * match). Both must be regular files; the config is checked completely (the spec's rules, the
   * size limits and the parameter budget) before anything is allocated. The model comes back in
   * eval mode (no dropout); predict and generate run in eval mode whatever the mode.
   */
  static async load(dir: string, options: { device?: Device } = {}): Promise<MultiTaskModel> {
    options = optionsObject(options, 'MultiTaskModel.load');
    const where = 'MultiTaskModel.load';
    if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0'))
      throw argumentError(where, `'dir' must be a non-empty path, got ${describe(dir)}`);
    const device = checkDevice(options.device ?? 'cpu', where, 'device')!;
    const configPath = path.join(dir, CONFIG_FILE);
    const weightsPath = path.join(dir, WEIGHTS_FILE);
    const config = normalizeConfig(readJsonFile(configPath, where, MAX_MODEL_CONFIG_BYTES), configPath);
    const tensors = loadTensors(weightsPath);
    let model: MultiTaskModel | undefined;
    try {
      model = new MultiTaskModel(config, 'cpu');
      // Names, shapes, kinds and finite values: the rule of every weight loader, naming the file.
      model.loadStateDictFrom(tensors, true, weightsPath);
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
    if (device !== 'cpu') model.to(device);
    return model.eval(); // a loaded model is for inference (as transformers' from_pretrained): train() to fine-tune
  }
}

/** config.json of a model is a few kilobytes; a larger one is refused unread. */
const MAX_MODEL_CONFIG_BYTES = 1024 * 1024;

/**
 * Builds a multi-task model from a spec (validated; every error names its field). With a pretrained
 * encoder (mt.pretrained.encoder(dir)), the checkpoint's weights are loaded into the embedding, the
 * encoder layers (the first `layers`; a layerwise scheme's per-task layers get the layers they stand
 * for) and the pooler; the heads and the scheme's own parts start fresh.
 */
export function multitask(spec: import('./spec.ts').MultiTaskSpec): MultiTaskModel {
  const { config, device, weights } = normalizeSpec(spec);
  const model = MultiTaskModel.fromConfig(config, 'cpu');
  if (weights !== undefined) model.native.loadPretrained(weights);
  if (device !== 'cpu') model.to(device);
  // Pretrained weights come back in eval mode, as from transformers' from_pretrained (the Trainer
  // switches to training mode itself; call train() for a hand-written loop); a fresh model trains.
  return weights !== undefined ? model.eval() : model;
}
