/** torch.nn.TransformerEncoderLayer / TransformerEncoder / TransformerDecoderLayer / TransformerDecoder,
 * batch-first, with torch's parameter names; each forward is one native call. */
import { argumentError } from '../errors.ts';
import { native, type NativeDecoderCache } from '../native.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { checkInput, checkMask, checkOptions } from './check.ts';
import { handleOf, Module } from './module.ts';
import { blockOptions, transformerLayerOptions, transformerStackOptions, type Activation } from './options.ts';
import { optionsObject } from '../validate.ts';

export type { Activation };

/** torch.nn.TransformerEncoderLayer's / TransformerDecoderLayer's arguments (batch_first is always true). */
export interface TransformerLayerOptions {
  dModel: number;
  nhead: number;
  /** Default 2048, as torch. */
  dimFeedforward?: number;
  /** Default 0.1, as torch. */
  dropout?: number;
  /** Default 'relu'. */
  activation?: Activation;
  /** Default 1e-5. */
  layerNormEps?: number;
  /** Pre-norm (x + f(norm(x))) instead of post-norm (norm(x + f(x))). Default false. */
  normFirst?: boolean;
}

export interface TransformerStackOptions extends TransformerLayerOptions {
  numLayers: number;
  /** A final LayerNorm named `norm` after the last layer (torch's `norm` argument). Default false. */
  norm?: boolean;
}

// Defaults: the native TransformerLayerOptions' (torch's), through lib/nn/options.ts.
const layerOptions = (options: unknown, where: string): Required<TransformerLayerOptions> =>
  blockOptions(transformerLayerOptions, options, where);
const stackOptions = (options: unknown, where: string): Required<TransformerStackOptions> =>
  blockOptions(transformerStackOptions, options, where);

/** The masks of an encoder forward, checked against src (B, S, dModel). */
function encoderArgs(
  module: { dModel: number; nhead: number },
  where: string,
  src: Tensor,
  mask: unknown,
  keyPaddingMask: unknown,
  maskName: string,
) {
  const x = checkInput(src, where, 'src', 3, module.dModel);
  const [batch, len] = x.shape as [number, number];
  const m = checkMask(mask, where, maskName, [
    [len, len],
    [batch * module.nhead, len, len],
  ]);
  const kpm = checkMask(keyPaddingMask, where, 'srcKeyPaddingMask', [[batch, len]]);
  return [x.handle, handleOf(m), handleOf(kpm)] as const;
}

export interface EncoderLayerForwardOptions {
  /** (S, S) or (B·nhead, S, S): bool true = not allowed; floats are added. */
  srcMask?: Tensor;
  /** (B, S): bool true = padding. */
  srcKeyPaddingMask?: Tensor;
}

export class TransformerEncoderLayer extends Module {
  readonly options: Required<TransformerLayerOptions>;
  get dModel(): number {
    return this.options.dModel;
  }
  get nhead(): number {
    return this.options.nhead;
  }
  constructor(options: TransformerLayerOptions) {
    const resolved = layerOptions(options, 'TransformerEncoderLayer');
    super('transformerEncoderLayer', resolved);
    this.options = resolved;
  }
  /** src (B, S, dModel) → (B, S, dModel). */
  forward(src: Tensor, options: EncoderLayerForwardOptions = {}): Tensor {
    options = optionsObject(options, 'TransformerEncoderLayer.forward');
    const where = 'TransformerEncoderLayer.forward';
    const o = checkOptions(options, where);
    return this.call(...encoderArgs(this, where, src, o.srcMask, o.srcKeyPaddingMask, 'srcMask'));
  }
}

export interface EncoderForwardOptions {
  /** (S, S) or (B·nhead, S, S): bool true = not allowed; floats are added. */
  mask?: Tensor;
  /** (B, S): bool true = padding. */
  srcKeyPaddingMask?: Tensor;
}

export class TransformerEncoder extends Module {
  readonly options: Required<TransformerStackOptions>;
  get dModel(): number {
    return this.options.dModel;
  }
  get nhead(): number {
    return this.options.nhead;
  }
  constructor(options: TransformerStackOptions) {
    const resolved = stackOptions(options, 'TransformerEncoder');
    super('transformerEncoder', resolved);
    this.options = resolved;
  }
  /** src (B, S, dModel) → (B, S, dModel), all layers in one native call. */
  forward(src: Tensor, options: EncoderForwardOptions = {}): Tensor {
    options = optionsObject(options, 'TransformerEncoder.forward');
    const where = 'TransformerEncoder.forward';
    const o = checkOptions(options, where);
    return this.call(...encoderArgs(this, where, src, o.mask, o.srcKeyPaddingMask, 'mask'));
  }
}

export interface DecoderForwardOptions {
  /** (T, T) or (B·nhead, T, T), e.g. generateSquareSubsequentMask(T). Not allowed with a cache. */
  tgtMask?: Tensor;
  /** (T, S) or (B·nhead, T, S). */
  memoryMask?: Tensor;
  /** (B, T); with a cache (B, cached + T). */
  tgtKeyPaddingMask?: Tensor;
  /** (B, S). */
  memoryKeyPaddingMask?: Tensor;
}

function decoderArgs(
  module: { dModel: number; nhead: number },
  where: string,
  tgt: Tensor,
  memory: Tensor,
  options: unknown,
  cached: number,
) {
  const o = checkOptions(options, where);
  const x = checkInput(tgt, where, 'tgt', 3, module.dModel);
  const mem = checkInput(memory, where, 'memory', 3, module.dModel);
  const [batch, tgtLen] = x.shape as [number, number];
  const srcLen = mem.shape[1]!;
  if (mem.shape[0] !== batch) throw argumentError(where, `'tgt' [${x.shape}] and 'memory' [${mem.shape}] must have the same batch size`);
  const h = module.nhead;
  const tgtMask = checkMask(o.tgtMask, where, 'tgtMask', [
    [tgtLen, tgtLen],
    [batch * h, tgtLen, tgtLen],
  ]);
  const memoryMask = checkMask(o.memoryMask, where, 'memoryMask', [
    [tgtLen, srcLen],
    [batch * h, tgtLen, srcLen],
  ]);
  const tgtKpm = checkMask(o.tgtKeyPaddingMask, where, 'tgtKeyPaddingMask', [[batch, cached + tgtLen]]);
  const memKpm = checkMask(o.memoryKeyPaddingMask, where, 'memoryKeyPaddingMask', [[batch, srcLen]]);
  return [x.handle, mem.handle, handleOf(tgtMask), handleOf(memoryMask), handleOf(tgtKpm), handleOf(memKpm)] as const;
}

export class TransformerDecoderLayer extends Module {
  readonly options: Required<TransformerLayerOptions>;
  get dModel(): number {
    return this.options.dModel;
  }
  get nhead(): number {
    return this.options.nhead;
  }
  constructor(options: TransformerLayerOptions) {
    const resolved = layerOptions(options, 'TransformerDecoderLayer');
    super('transformerDecoderLayer', resolved);
    this.options = resolved;
  }
  /** tgt (B, T, dModel), memory (B, S, dModel) → (B, T, dModel). */
  forward(tgt: Tensor, memory: Tensor, options: DecoderForwardOptions = {}): Tensor {
    options = optionsObject(options, 'TransformerDecoderLayer.forward');
    return this.call(...decoderArgs(this, 'TransformerDecoderLayer.forward', tgt, memory, options, 0));
  }
}

/**
 * The key/value cache of one TransformerDecoder for incremental decoding (decoder.newCache()):
 * per layer, self-attention keys/values grow by each step's tokens, cross-attention keys/values
 * are computed from the memory once. Pass it to forward() with only the new target positions.
 */
export class DecoderCache {
  /** @internal */
  readonly handle: NativeDecoderCache;
  /** @internal */
  readonly owner: TransformerDecoder;
  /** @internal */
  constructor(handle: NativeDecoderCache, owner: TransformerDecoder) {
    this.handle = handle;
    this.owner = owner;
  }
  /** Target positions decoded so far. */
  get length(): number {
    return native.decoderCacheLength(this.handle);
  }
  /** Keeps batch rows `indices` (int64, e.g. the surviving beams), in that order. */
  reorder(indices: Tensor): void {
    const t = checkTensor(indices, 'DecoderCache.reorder', 'indices');
    if (t.ndim !== 1 || (t.dtype !== 'int64' && t.dtype !== 'int32')) {
      throw argumentError('DecoderCache.reorder', `'indices' must be a 1-D int64 tensor, got ${t.dtype} [${t.shape}]`);
    }
    native.decoderCacheReorder(this.handle, t.handle);
  }
  /** Forgets every step (and the memory's keys/values): the next forward starts a new sequence. */
  clear(): void {
    native.decoderCacheClear(this.handle);
  }
}

export interface DecoderStackForwardOptions extends DecoderForwardOptions {
  /** Incremental decoding: tgt holds only positions after the cached ones; self-attention is causal. */
  cache?: DecoderCache;
}

export class TransformerDecoder extends Module {
  readonly options: Required<TransformerStackOptions>;
  get dModel(): number {
    return this.options.dModel;
  }
  get nhead(): number {
    return this.options.nhead;
  }
  constructor(options: TransformerStackOptions) {
    const resolved = stackOptions(options, 'TransformerDecoder');
    super('transformerDecoder', resolved);
    this.options = resolved;
  }
  /** An empty key/value cache for incremental decoding with this decoder. */
  newCache(): DecoderCache {
    return new DecoderCache(this.native.newCache(), this);
  }

  /** tgt (B, T, dModel), memory (B, S, dModel) → (B, T, dModel), all layers in one native call.
   * With a cache, the outputs equal the last T rows of a full causal forward over every position. */
  forward(tgt: Tensor, memory: Tensor, options: DecoderStackForwardOptions = {}): Tensor {
    options = optionsObject(options, 'TransformerDecoder.forward');
    const where = 'TransformerDecoder.forward';
    const o = checkOptions(options, where);
    let cached = 0;
    if (o.cache !== undefined) {
      if (!(o.cache instanceof DecoderCache) || o.cache.owner !== this) {
        throw argumentError(where, `'cache' must be a DecoderCache made by this decoder's newCache()`);
      }
      if (o.tgtMask !== undefined) throw argumentError(where, `'tgtMask' must be left out with a cache (self-attention is causal)`);
      cached = o.cache.length;
    }
    const args = decoderArgs(this, where, tgt, memory, o, cached);
    return this.call(...args, o.cache?.handle);
  }
}
