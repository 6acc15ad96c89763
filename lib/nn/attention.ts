/** torch.nn.MultiheadAttention (batch-first) and the causal mask helper. */
import { argumentError } from '../errors.ts';
import { native, type NativeTensor } from '../native.ts';
import { Tensor } from '../tensor.ts';
import { checkInt, checkDevice, checkDtype, type Device, type DType, optionsObject } from '../validate.ts';
import { checkInput, checkMask, checkOptions, optionalBoolean } from './check.ts';
import { handleOf, Module } from './module.ts';
import { blockOptions, multiheadAttentionOptions } from './options.ts';

export interface MultiheadAttentionOptions {
  embedDim: number;
  numHeads: number;
  /** Dropout on the attention weights in training mode. Default 0. */
  dropout?: number;
  /** Biases of the in- and out-projections. Default true. */
  bias?: boolean;
  /** Key and value features when they differ from embedDim (then q/k/v_proj_weight replace in_proj_weight). */
  kdim?: number;
  vdim?: number;
}

export interface AttentionForwardOptions {
  /** (B, S): bool true = this key is padding and is ignored; a float mask is added to the scores. */
  keyPaddingMask?: Tensor;
  /** (T, S) or (B·numHeads, T, S): bool true = not allowed; a float mask is added to the scores. */
  attnMask?: Tensor;
  /** Return the attention weights (this takes the plain path; without it attention runs through
   * libtorch's fused kernel). Default false — torch's default is true, but most callers discard them. */
  needWeights?: boolean;
  /** Average the weights over heads, (B, T, S), rather than (B, numHeads, T, S). Default true. */
  averageAttnWeights?: boolean;
}

/** torch.nn.MultiheadAttention(batch_first=True): parameters in_proj_weight, in_proj_bias,
 * out_proj.weight, out_proj.bias (q/k/v_proj_weight with kdim/vdim). */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly kdim: number;
  readonly vdim: number;

  constructor(options: MultiheadAttentionOptions) {
    const resolved = blockOptions(multiheadAttentionOptions, options, 'MultiheadAttention');
    super('multiheadAttention', resolved);
    this.embedDim = resolved.embedDim;
    this.numHeads = resolved.numHeads;
    this.kdim = resolved.kdim;
    this.vdim = resolved.vdim;
  }

  /** query (B, T, embedDim), key (B, S, kdim), value (B, S, vdim) → output (B, T, embedDim). */
  forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionForwardOptions = {}): { output: Tensor; weights: Tensor | null } {
    const where = 'MultiheadAttention.forward';
    const q = checkInput(query, where, 'query', 3, this.embedDim);
    const k = checkInput(key, where, 'key', 3, this.kdim);
    const v = checkInput(value, where, 'value', 3, this.vdim);
    const [batch, tgtLen] = q.shape as [number, number];
    const srcLen = k.shape[1]!;
    if (k.shape[0] !== batch || v.shape[0] !== batch || v.shape[1] !== srcLen) {
      throw argumentError(
        where,
        `'query' [${q.shape}], 'key' [${k.shape}] and 'value' [${v.shape}] must share the batch size, and key and value the length`,
      );
    }
    const o = checkOptions(options, where);
    const keyPaddingMask = checkMask(o.keyPaddingMask, where, 'keyPaddingMask', [[batch, srcLen]]);
    const attnMask = checkMask(o.attnMask, where, 'attnMask', [
      [tgtLen, srcLen],
      [batch * this.numHeads, tgtLen, srcLen],
    ]);
    const needWeights = optionalBoolean(o.needWeights, false, where, 'needWeights');
    const average = optionalBoolean(o.averageAttnWeights, true, where, 'averageAttnWeights');
    const [output, weights] = this.native.forward(
      q.handle,
      k.handle,
      v.handle,
      handleOf(keyPaddingMask),
      handleOf(attnMask),
      needWeights,
      average,
    ) as [NativeTensor, NativeTensor | null];
    return { output: new Tensor(output), weights: weights === null ? null : new Tensor(weights) };
  }
}

/** torch.nn.Transformer.generate_square_subsequent_mask(n): (n, n) float, -inf above the diagonal
 * (position i may attend to positions ≤ i), 0 elsewhere. */
export function generateSquareSubsequentMask(size: number, options: { dtype?: DType; device?: Device } = {}): Tensor {
  options = optionsObject(options, 'generateSquareSubsequentMask');
  const where = 'generateSquareSubsequentMask';
  const n = checkInt(size, where, 'size');
  if (n < 0) throw argumentError(where, `'size' must not be negative, got ${n}`);
  const dtype = checkDtype(options.dtype, where);
  if (dtype !== undefined && !['float32', 'float64', 'float16', 'bfloat16'].includes(dtype)) {
    throw argumentError(where, `'dtype' must be a floating type (the mask holds -inf), got ${dtype}`);
  }
  return new Tensor(native.nnFunctional.squareSubsequentMask(n, dtype, checkDevice(options.device, where)));
}
