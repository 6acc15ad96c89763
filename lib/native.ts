/**
 * Loads the native addon and declares, in one place, the TypeScript types of its surface.
 * A local build (build/Release) wins; else the prebuild under prebuilds/<platform>-<arch>/ whose tag
 * equals the libtorch found (e.g. `mtl_torch.napi8-torch1.13.0-cxx11abi1-cpu.node`; see
 * scripts/prebuilds.cjs), never another.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, TorchError } from './errors.ts';
import type { ProgressEvent } from './train/trainer.ts';

/**
 * An opaque handle to a native at::Tensor (a slot of native/napi/tensor.cc's handle table). It
 * holds no finalizer: wrap every handle a native call returns in one lib Tensor (whose
 * FinalizationRegistry is the GC safety net) or dispose it.
 */
/** The caching allocator that serves CPU tensors (see hostAllocator() in lib/tensor.ts). */
export interface HostAllocatorState {
  /** Whether freed CPU tensor blocks (64 KiB and more) are kept for reuse. */
  caching: boolean;
  /** Most bytes the cache keeps (MTL_TORCH_HOST_CACHE_MB; default 2 GiB). */
  cacheLimit: number;
  /** Bytes of free blocks kept now. */
  cachedBytes: number;
  /** Allocations served from the cache. */
  hits: number;
  /** Cacheable allocations that went to the system. */
  misses: number;
  /** Why the cache is off, when it is. */
  reason?: string;
}

export interface NativeTensor {
  readonly __nativeTensor: unique symbol;
}

type T = NativeTensor;
// A tensor, or a scalar (a number outside [2^52, 2^53), where handles live, or a BigInt).
type Operand = T | number | boolean | bigint;
type Opt<V> = V | undefined;
// The op table is also called by name with run-time argument lists (tensor.ts's generated methods); the
// typed entries below must fit this index signature, which only `any[]` parameters allow.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OpFn = (...args: any[]) => T | T[] | undefined;

/** The op table of native/napi/tensor_ops.cc; argument order follows PyTorch's signatures. */
export interface NativeOps extends Record<string, OpFn> {
  add(self: T, other: Operand, alpha?: number): T;
  sub(self: T, other: Operand, alpha?: number): T;
  sum(self: T, dim?: number | number[], keepdim?: boolean, dtype?: string): T;
  mean(self: T, dim?: number | number[], keepdim?: boolean, dtype?: string): T;
  max(self: T, dim?: number, keepdim?: boolean): T | T[];
  min(self: T, dim?: number, keepdim?: boolean): T | T[];
  split(self: T, sizes: number | number[], dim?: number): T[];
  chunk(self: T, chunks: number, dim?: number): T[];
  topk(self: T, k: number, dim?: number, largest?: boolean, sorted?: boolean): T[];
  sort(self: T, dim?: number, descending?: boolean): T[];
  cat(tensors: T[], dim?: number): T;
  stack(tensors: T[], dim?: number): T;
}

/** An opaque handle to a decoder's key/value cache (native/core/nn/kv_cache.h). */
export interface NativeDecoderCache {
  readonly __nativeDecoderCache: unique symbol;
}

/** native/napi/module_methods.h: torch.nn.Module's generic methods, on every native module. */
export interface NativeModuleBase {
  /** The module's own tensors (shared storage), in torch.nn's order and names. */
  namedParameters(): { names: string[]; tensors: T[] };
  namedBuffers(): { names: string[]; tensors: T[] };
  /** Throws (listing every bad key) unless accepted; returns the non-fatal keys of a non-strict load. */
  /** `source`: the file the tensors were read from, named in refusals. */
  loadStateDict(names: string[], tensors: T[], strict: boolean, source?: string): { missing: string[]; unexpected: string[] };
  train(mode: boolean): void;
  isTraining(): boolean;
  to(device: Opt<string>, dtype: Opt<string>): void;
  setRequiresGrad(value: boolean): void;
}

/** native/napi/module.cc: one class for every block kind of native/core/nn. */
export interface NativeModule extends NativeModuleBase {
  /** Arguments and results depend on the kind; lib/nn/ declares each. */
  forward(...args: unknown[]): T | (T | null)[];
  newCache(): NativeDecoderCache;
  kind(): string;
}

/** The tensors of a native data set (native/core/data/dataset.h); optional ones may be absent. */
export interface NativeDatasetTensors {
  inputIds: T;
  lengths: T;
  tokenTypeIds?: T;
  /** Absent for an unlabeled data set. */
  targets?: T;
  targetLengths?: T;
  features?: T;
}

/** One batch drawn from a native data set, padding trimmed to the batch's longest row. */
export interface NativeBatch extends NativeDatasetTensors {
  indices: T;
}

/** native/napi/dataset.cc: a handle owning a core mtl::data::Dataset. */
export interface NativeDatasetHandle {
  size(): number;
  maxLength(): number;
  padId(): number;
  targetKind(): string;
  batch(indices: T): NativeBatch;
  batchIndices(batchSize: number, seed?: number | bigint, dropLast?: boolean): T[];
  shuffledOrder(seed: number | bigint): T;
  tensors(): NativeDatasetTensors;
  dispose(): void;
  isDisposed(): boolean;
}

/** native/napi/metrics.cc: metrics over tensors (native/core/metrics/metrics.h). */
export interface NativeMetrics {
  accuracy(predictions: T, targets: T): number;
  f1(predictions: T, targets: T, positive?: number): number;
  f1Macro(predictions: T, targets: T, numClasses?: number): number;
  matthewsCorrelation(predictions: T, targets: T): number;
  pearson(x: T, y: T): number;
  spearman(x: T, y: T): number;
  averageRanks(values: T): T;
  editDistance(hypothesis: T, reference: T): number;
  sequenceErrors(
    hypotheses: T,
    hypothesisLengths: T | number,
    references: T,
    referenceLengths: T | number,
  ): {
    edits: number;
    referenceTokens: number;
    wrongSequences: number;
    sequences: number;
    tokenErrorRate: number;
    sequenceErrorRate: number;
  };
  glueTaskScore(task: string, metrics: Record<string, number>): number;
  glueAverage(tasks: Record<string, Record<string, number>>): number;
}

/** native/napi/distributed.cc: a distributed::ProcessGroup; join runs the rendezvous on a worker thread. */
export interface NativeProcessGroupHandle {
  join(options: {
    masterAddr: string;
    masterPort: number;
    rank: number;
    worldSize: number;
    localRank: number;
    backend: string;
    device: string;
    timeoutMs: number;
    heartbeatMs: number;
    glooInterface?: string;
  }): Promise<void>;
  info(): { rank: number; worldSize: number; localRank: number; backend: string; device: string; timeoutMs: number };
  barrier(): Promise<void>;
  abort(reason: string): void;
  destroy(): Promise<void>;
  broadcastModel(model: NativeMultiTaskModel, root: number): void;
}

/** native/napi/trainer.cc: a train::Trainer; fit and evaluate run on a worker thread. */
export interface NativeTrainerHandle {
  fit(
    trainSets: Record<string, NativeDatasetHandle>,
    evalSets: Record<string, NativeDatasetHandle> | undefined,
    settings: object,
    onEvent?: (event: ProgressEvent) => void,
  ): Promise<unknown>;
  evaluate(evalSets: Record<string, NativeDatasetHandle>): Promise<Record<string, Record<string, number>>>;
  step(batches: Record<string, NativeModelBatch>): {
    losses: Record<string, number>;
    lambdas: Record<string, number>;
    learningRate: number;
    skipped: boolean;
    reason?: string;
  };
  abort(): void;
  saveCheckpoint(path: string): void;
  loadCheckpoint(path: string): void;
  weightingParameters(): T[];
  stepsDone(): number;
}

/** native/napi/model.cc: a handle owning a core mtl::model::MultiTaskModelImpl. */
export interface NativeMultiTaskModel extends NativeModuleBase {
  forward(batches: Record<string, NativeModelBatch>, computeLoss: boolean): Record<string, { outputs: T; loss?: T }>;
  predict(task: string, batch: NativeModelBatch): T;
  /** What predict and generate compute in (native/core/nn/inference.h). */
  setPrecision(precision: 'fp32' | 'bf16' | 'int8'): void;
  precision(): 'fp32' | 'bf16' | 'int8';
  generate(
    task: string,
    batch: NativeModelBatch,
    options: { beamSize: number; maxLength: number; lengthPenalty: number },
  ): { sequences: T; scores: T };
  predictTasks(
    tasks: string[],
    batch: NativeModelBatch,
    options: { beamSize: number; maxLength: number; lengthPenalty: number },
  ): Promise<Record<string, { outputs?: T; predictions: T; scores?: T }>>;
  addTask(task: object): void;
  removeLastTask(): void;
  summary(): { total: number; shared: number; trainable: number; bytes: number; perTask: Record<string, number> };
  setTrainable(part: string, trainable: boolean): void;
  partParameterNames(part: string): string[];
  /** The trainer's view (TrainableModel): parameter groups, and how many shared / last-shared tensors. */
  parameterGroups(): { groups: { name: string; parameterNames: string[] }[]; sharedParameters: number; lastSharedParameters: number };
  /** The backbone's hidden states (B, L, E) and pooled output (B, E), with autograd. */
  encode(batch: NativeModelBatch): { hidden: T; pooled?: T };
  /** Copies a Hugging Face checkpoint directory into this model (native/core/model/pretrained.h). */
  loadPretrained(dir: string): void;
  /** The encoder under the checkpoint's names; task '' exports the shared layers only. */
  exportPretrained(modelType: string, config: object, task: string): { names: string[]; tensors: T[] };
}

/** native/napi/model.cc: readPretrained(dir), a Hugging Face directory's architecture. */
export interface NativePretrained {
  modelType: string;
  config: Record<string, unknown>;
  input: { vocabSize: number; maxLength: number; padId: number; features: number };
  encoder: Record<string, unknown> & { numLayers: number };
}

/** The tensors of one task's batch (native/napi/train_convert.cc: batchOf). */
export interface NativeModelBatch {
  indices?: T;
  inputIds?: T;
  lengths?: T;
  tokenTypeIds?: T;
  features?: T;
  targets?: T;
  targetLengths?: T;
}

export interface NativeAddon {
  /** With a process group: data parallel; `config` (the model's and trainer's options as text) must agree across ranks. */
  NativeTrainer: new (
    model: NativeMultiTaskModel,
    options: object,
    group?: NativeProcessGroupHandle,
    config?: string,
  ) => NativeTrainerHandle;
  NativeProcessGroup: { new (): NativeProcessGroupHandle; availableBackends(): string[] };
  /** native/napi/registry.cc: every registered kind's defaults and capabilities, and the core structs' defaults. */
  registry(): unknown;
  NativeModule: new (kind: string, options: object) => NativeModule;
  NativeMultiTaskModel: new (config: object, device?: string) => NativeMultiTaskModel;
  readPretrained(dir: string): NativePretrained;
  decoderCacheLength(cache: NativeDecoderCache): number;
  decoderCacheReorder(cache: NativeDecoderCache, indices: T): void;
  decoderCacheClear(cache: NativeDecoderCache): void;
  nnFunctional: {
    scaledDotProductAttention(
      query: T,
      key: T,
      value: T,
      attnMask: Opt<T>,
      dropoutP: number,
      isCausal: boolean,
      needWeights: boolean,
    ): [T, T | null];
    squareSubsequentMask(size: number, dtype?: string, device?: string): T;
  };
  ops: NativeOps;
  NativeDataset: {
    new (tensors: NativeDatasetTensors, targetKind: string, padId: number, targetPadId: number): NativeDatasetHandle;
    /** base's examples with other targets, sharing its input tensors. */
    new (
      base: NativeDatasetHandle,
      targets: Pick<NativeDatasetTensors, 'targets' | 'targetLengths'>,
      targetKind: string,
      targetPadId: number,
    ): NativeDatasetHandle;
  };
  metrics: NativeMetrics;
  fromData(data: ArrayBufferView, shape: number[], dtype?: string, device?: string, requiresGrad?: boolean): T;
  shape(t: T): number[];
  dtype(t: T): string;
  device(t: T): string;
  numel(t: T): number;
  requiresGrad(t: T): boolean;
  setRequiresGrad(t: T, value: boolean): void;
  grad(t: T): T | null;
  zeroGrad(t: T): void;
  isLeaf(t: T): boolean;
  retainGrad(t: T): void;
  backward(t: T, gradient: Opt<T>, retainGraph: boolean): void;
  dataSync(t: T): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
  data(t: T): Promise<Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array>;
  item(t: T): number | boolean;
  dispose(t: T): void;
  isDisposed(t: T): boolean;
  memory(): { tensors: number; bytes: number };
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number | bigint): void;
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  runtimeInfo(): { torch: string; cuda: boolean; cudaDeviceCount: number; napiVersion: number };
  hostAllocator(): HostAllocatorState;
  releaseHostMemory(): number;
  /** Writes a safetensors file atomically; names[i] names tensors[i]. */
  saveSafetensors(path: string, names: string[], tensors: T[], metadata?: Record<string, string>): void;
  /** Reads a safetensors file onto the CPU, tensors in the file's order. */
  loadSafetensors(path: string): { names: string[]; tensors: T[]; metadata: Record<string, string> };
  setErrorClass(cls: new (message: string, code: ErrorCode) => Error): void;
}

export const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** What scripts/find-libtorch.cjs reports about a libtorch (the fields the loader uses). */
interface FoundLibtorch {
  source: string;
  torchDir: string;
  version: string;
  tag: string;
}
const finder = require(path.join(packageRoot, 'scripts', 'find-libtorch.cjs')) as {
  findLibtorch(): FoundLibtorch;
  describe(torchDir: string, source?: string): FoundLibtorch;
};
/** scripts/prebuilds.cjs: which prebuild fits, the libtorch link, the messages. */
interface PrebuildSelection {
  dir: string;
  match: string | null;
  shipped: { file: string; tag: string; reasons: string[] }[];
}
const prebuilds = require(path.join(packageRoot, 'scripts', 'prebuilds.cjs')) as {
  selectPrebuild(found: FoundLibtorch): PrebuildSelection;
  linkLibtorch(dir: string, found: FoundLibtorch): string;
  noPrebuildMessage(found: FoundLibtorch, selection: PrebuildSelection, why: string): string;
  noLibtorchMessage(): string;
};

// The libtorch a prebuild must match. The install script records the libtorch it matched a prebuild
// to: re-reading that libtorch's files is cheap and tells whether it changed since, while a new
// search may start Python. LIBTORCH / Torch_DIR / MTL_TORCH_PREBUILDS in the environment mean search.
const record = path.join(packageRoot, 'build', 'selected-prebuild.json');
function libtorchForPrebuilds(): FoundLibtorch {
  const env = process.env;
  if (!env.LIBTORCH && !env.Torch_DIR && !env.MTL_TORCH_ONLY_ENV && !env.MTL_TORCH_PREBUILDS && existsSync(record)) {
    try {
      const recorded = JSON.parse(readFileSync(record, 'utf8')) as { tag: string; torchDir: string; source: string };
      const now = finder.describe(recorded.torchDir, recorded.source);
      if (now.tag === recorded.tag) return now;
    } catch {
      // gone or unreadable: search again
    }
  }
  return finder.findLibtorch();
}

function loadAddon(): NativeAddon {
  // MTL_TORCH_ADDON names a binary to load; else the local build, else the prebuild of the libtorch found.
  if (process.env.MTL_TORCH_ADDON) return require(path.resolve(process.env.MTL_TORCH_ADDON)) as NativeAddon;
  const local = path.join(packageRoot, 'build', 'Release', 'mtl_torch.node');
  if (existsSync(local)) return require(local) as NativeAddon;
  const fail = (message: string): never => {
    throw new TorchError(`mtl-torch: no native addon could be loaded (no local build at ${local}).\n${message}`, ErrorCode.ADDON_LOAD);
  };
  let found: FoundLibtorch;
  try {
    found = libtorchForPrebuilds();
  } catch (error) {
    return fail(`${(error as Error).message}\n${prebuilds.noLibtorchMessage()}`);
  }
  // Only the prebuild whose tag equals this libtorch's: another would load and then fail or
  // miscompute at its first call into libtorch.
  const selection = prebuilds.selectPrebuild(found);
  if (!selection.match) return fail(prebuilds.noPrebuildMessage(found, selection, 'no prebuilt addon fits the libtorch found.'));
  let addon: NativeAddon;
  try {
    prebuilds.linkLibtorch(selection.dir, found);
    addon = require(selection.match) as NativeAddon;
  } catch (error) {
    return fail(
      prebuilds.noPrebuildMessage(
        found,
        selection,
        `the prebuilt addon for libtorch ${found.tag} did not load: ${(error as Error).message.split('\n')[0]}`,
      ),
    );
  }
  if (!existsSync(record) && !process.env.MTL_TORCH_PREBUILDS) {
    try {
      // Install scripts may not have run (npm's allowScripts, --ignore-scripts): record the choice now.
      mkdirSync(path.dirname(record), { recursive: true });
      writeFileSync(
        record,
        JSON.stringify({ file: path.basename(selection.match), tag: found.tag, torchDir: found.torchDir, source: found.source }) + '\n',
      );
    } catch {
      // read-only installation: the next load searches again
    }
  }
  return addon;
}

export const native: NativeAddon = loadAddon();
native.setErrorClass(TorchError);
