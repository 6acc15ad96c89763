/** mt.nn.functional: the torch.nn.functional calls a Transformer and its losses need. */
import { argumentError } from '../errors.ts';
import { native } from '../native.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { nnDefault } from './check.ts';
import { checkBoolean, checkInt, checkNumber, checkOneOf, checkShape, optionsObject } from '../validate.ts';

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTIONS = ['mean', 'sum', 'none'] as const;
const ops = native.ops;

function optTensor(value: unknown, where: string, name: string) {
  return value === undefined || value === null ? undefined : checkTensor(value, where, name).handle;
}
function reduction(value: unknown, where: string): Reduction {
  return value === undefined ? 'mean' : checkOneOf(value, REDUCTIONS, where, 'reduction');
}

export interface CrossEntropyOptions {
  weight?: Tensor;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
}
/** F.cross_entropy: input (N, C, ...) logits; target class indices (N, ...) or class probabilities. */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  options = optionsObject(options, 'crossEntropy');
  const where = 'crossEntropy';
  const smoothing = options.labelSmoothing === undefined ? 0 : checkNumber(options.labelSmoothing, where, 'labelSmoothing');
  // [0, 1), as the heads' labelSmoothing: at 1 the target is uniform and the labels count for nothing.
  if (!(smoothing >= 0 && smoothing < 1)) throw argumentError(where, `'labelSmoothing' must be in [0, 1), got ${smoothing}`);
  return new Tensor(
    ops.crossEntropy(
      checkTensor(input, where, 'input').handle,
      checkTensor(target, where, 'target').handle,
      optTensor(options.weight, where, 'weight'),
      reduction(options.reduction, where),
      options.ignoreIndex === undefined ? -100 : checkInt(options.ignoreIndex, where, 'ignoreIndex'),
      smoothing,
    ) as never,
  );
}

export function nllLoss(input: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  options = optionsObject(options, 'nllLoss');
  const where = 'nllLoss';
  // PyTorch's nll_loss has no label smoothing: an option that would do nothing is refused.
  if ('labelSmoothing' in options)
    throw argumentError(
      where,
      "has no 'labelSmoothing' (it takes log-probabilities as they are): use crossEntropy on logits for label smoothing",
    );
  return new Tensor(
    ops.nllLoss(
      checkTensor(input, where, 'input').handle,
      checkTensor(target, where, 'target').handle,
      optTensor(options.weight, where, 'weight'),
      reduction(options.reduction, where),
      options.ignoreIndex === undefined ? -100 : checkInt(options.ignoreIndex, where, 'ignoreIndex'),
    ) as never,
  );
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  options = optionsObject(options, 'mseLoss');
  const where = 'mseLoss';
  return new Tensor(
    ops.mseLoss(
      checkTensor(input, where, 'input').handle,
      checkTensor(target, where, 'target').handle,
      reduction(options.reduction, where),
    ) as never,
  );
}

export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  const where = 'binaryCrossEntropyWithLogits';
  return new Tensor(
    ops.binaryCrossEntropyWithLogits(
      checkTensor(input, where, 'input').handle,
      checkTensor(target, where, 'target').handle,
      optTensor(options.weight, where, 'weight'),
      optTensor(options.posWeight, where, 'posWeight'),
      reduction(options.reduction, where),
    ) as never,
  );
}

/** F.embedding(input, weight, { paddingIdx }): rows of weight picked by integer indices. */
export function embedding(input: Tensor, weight: Tensor, options: { paddingIdx?: number } = {}): Tensor {
  options = optionsObject(options, 'embedding');
  const where = 'embedding';
  return new Tensor(
    ops.embedding(
      checkTensor(weight, where, 'weight').handle,
      checkTensor(input, where, 'input').handle,
      options.paddingIdx === undefined ? -1 : checkInt(options.paddingIdx, where, 'paddingIdx'),
    ) as never,
  );
}

/** F.linear: input @ weight^T + bias. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const where = 'linear';
  return new Tensor(
    ops.linear(
      checkTensor(input, where, 'input').handle,
      checkTensor(weight, where, 'weight').handle,
      optTensor(bias, where, 'bias'),
    ) as never,
  );
}

export function layerNorm(
  input: Tensor,
  normalizedShape: number[],
  weight?: Tensor,
  bias?: Tensor,
  eps = nnDefault<number>('layerNorm', 'eps'),
): Tensor {
  const where = 'layerNorm';
  return new Tensor(
    ops.layerNorm(
      checkTensor(input, where, 'input').handle,
      checkShape(normalizedShape, where, 'normalizedShape'),
      optTensor(weight, where, 'weight'),
      optTensor(bias, where, 'bias'),
      checkNumber(eps, where, 'eps'),
    ) as never,
  );
}

export function softmax(input: Tensor, dim: number): Tensor {
  return checkTensor(input, 'softmax', 'input').softmax(dim);
}
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return checkTensor(input, 'logSoftmax', 'input').logSoftmax(dim);
}
export function relu(input: Tensor): Tensor {
  return checkTensor(input, 'relu', 'input').relu();
}
export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return checkTensor(input, 'gelu', 'input').gelu(approximate);
}
export function dropout(input: Tensor, options: { p?: number; training?: boolean } = {}): Tensor {
  options = optionsObject(options, 'dropout');
  const training = options.training === undefined ? true : checkBoolean(options.training, 'dropout', 'training');
  return checkTensor(input, 'dropout', 'input').dropout(options.p ?? 0.5, training);
}

export interface ScaledDotProductAttentionOptions {
  /** Broadcastable to (..., L, S). As torch.nn.functional.scaled_dot_product_attention: bool true =
   * MAY attend (the opposite of MultiheadAttention's masks); a float mask is added to the scores. */
  attnMask?: Tensor;
  /** Dropout on the attention weights. Default 0. */
  dropoutP?: number;
  /** The causal mask (query i attends to keys 0..i); excludes attnMask. Default false. */
  isCausal?: boolean;
}

/**
 * softmax(q kᵀ / √E + mask) v for query (..., L, E), key (..., S, E), value (..., S, Ev), through
 * libtorch's fused kernel (torch.nn.functional.scaled_dot_product_attention on 2.x, its private
 * predecessor on 1.13).
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: ScaledDotProductAttentionOptions = {},
): Tensor {
  options = optionsObject(options, 'scaledDotProductAttention');
  const where = 'scaledDotProductAttention';
  const q = checkTensor(query, where, 'query');
  const k = checkTensor(key, where, 'key');
  const v = checkTensor(value, where, 'value');
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2) throw argumentError(where, `'query', 'key' and 'value' must have at least 2 dimensions`);
  if (q.shape[q.ndim - 1] !== k.shape[k.ndim - 1])
    throw argumentError(where, `'query' [${q.shape}] and 'key' [${k.shape}] must have the same last dimension`);
  if (k.shape[k.ndim - 2] !== v.shape[v.ndim - 2])
    throw argumentError(where, `'key' [${k.shape}] and 'value' [${v.shape}] must have the same length`);
  const dropoutP = options.dropoutP === undefined ? 0 : checkNumber(options.dropoutP, where, 'dropoutP');
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw argumentError(where, `'dropoutP' must be between 0 and 1, got ${dropoutP}`);
  const isCausal = options.isCausal === undefined ? false : checkBoolean(options.isCausal, where, 'isCausal');
  const mask = optTensor(options.attnMask, where, 'attnMask');
  if (mask !== undefined && isCausal) throw argumentError(where, `'attnMask' and 'isCausal' cannot both be given`);
  const [output] = native.nnFunctional.scaledDotProductAttention(q.handle, k.handle, v.handle, mask, dropoutP, isCausal, false);
  return new Tensor(output);
}
