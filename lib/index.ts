/** mtl-torch: multi-task Transformer models built and trained from TypeScript on libtorch. */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { native, packageRoot } from './native.ts';

export * as data from './data/index.ts';
export * as metrics from './data/metrics.ts';

export { ErrorCode, TorchError } from './errors.ts';
export type { DType, Device } from './validate.ts';
export {
  Tensor,
  tensor,
  zeros,
  ones,
  empty,
  full,
  rand,
  randn,
  randint,
  arange,
  linspace,
  eye,
  zerosLike,
  onesLike,
  randLike,
  randnLike,
  fullLike,
  cat,
  stack,
  where,
  noGrad,
  enableGrad,
  isGradEnabled,
  manualSeed,
  setNumThreads,
  getNumThreads,
  maxThreads,
  memory,
  hostAllocator,
  releaseHostMemory,
  tidy,
  keep,
  dispose,
} from './tensor.ts';
export type { CreateOptions, TensorLike, TypedData, NestedArray } from './tensor.ts';
export type { HostAllocatorState } from './native.ts';
export { save, load, loadWithMetadata } from './serialization.ts';
export type { StateDict, LoadedTensors } from './serialization.ts';

const runtime = native.runtimeInfo();
const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };

export const version = { package: pkg.version, torch: runtime.torch, cuda: runtime.cuda } as const;

export const cuda = {
  isAvailable: (): boolean => runtime.cuda,
  deviceCount: (): number => runtime.cudaDeviceCount,
};

export * as nn from './nn/index.ts';
export { multitask, MultiTaskModel, sharing, tasks, estimateParameters } from './model/index.ts';
export { limits, setLimits } from './limits.ts';
/** Hugging Face model directories: mt.pretrained.encoder(dir) for a spec's encoder, mt.pretrained.tokenizer(dir). */
export * as pretrained from './model/pretrained-api.ts';
export type * from './model/index.ts';

// libtorch's default intra-op pool can be a single thread; use the machine's cores, as PyTorch does.
native.setNumThreads(availableParallelism());

export * from './train/index.ts';

/** Data-parallel training over processes and machines (c10d: Gloo on CPU, NCCL on CUDA). */
export * as distributed from './distributed.ts';

/** What the native core registers: every sharing scheme, head, weighting method, sampler, strategy,
 * optimizer and schedule, with its defaults and capabilities. */
export { registry } from './schema.ts';

/** Raw text in, answers out: mt.loadRun(dir) and its predict (lib/predict). */
export { loadRun, formatPrediction } from './predict/predictor.ts';
export type * from './predict/predictor.ts';
/** Serving a run over HTTP (Fastify): mt.serve(runOrDir, options), mt.servePlugin (lib/serve). */
export { serve, servePlugin, closeOnSignals } from './serve/server.ts';
export type { ServeOptions, ServeSettings, ServePluginOptions } from './serve/server.ts';
