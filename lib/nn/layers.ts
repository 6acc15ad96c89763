/** The leaf blocks: torch.nn.Linear, Embedding, LayerNorm and Dropout (libtorch's own modules). */
import { argumentError } from '../errors.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { checkInt, optionsObject } from '../validate.ts';
import { checkOptions, nnDefault, optionalBoolean, positiveInt, positiveNumber, probability } from './check.ts';
import { Module } from './module.ts';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
}

/** torch.nn.Linear: y = x Wᵀ + b; parameters `weight` (out, in) and `bias` (out). */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(options: LinearOptions) {
    const where = 'Linear';
    const o = checkOptions(options, where);
    const resolved = {
      inFeatures: positiveInt(o.inFeatures, where, 'inFeatures'),
      outFeatures: positiveInt(o.outFeatures, where, 'outFeatures'),
      bias: optionalBoolean(o.bias, nnDefault('linear', 'bias'), where, 'bias'),
    };
    super('linear', resolved);
    this.inFeatures = resolved.inFeatures;
    this.outFeatures = resolved.outFeatures;
  }
  forward(input: Tensor): Tensor {
    const t = checkTensor(input, 'Linear.forward', 'input');
    if (t.shape[t.shape.length - 1] !== this.inFeatures) {
      throw argumentError('Linear.forward', `'input' must have ${this.inFeatures} features in its last dimension, got shape [${t.shape}]`);
    }
    return this.call(t.handle);
  }
}

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  paddingIdx?: number;
}

/** torch.nn.Embedding: rows of `weight` (numEmbeddings, embeddingDim); the paddingIdx row starts at
 * zero and gets no gradient. */
export class Embedding extends Module {
  constructor(options: EmbeddingOptions) {
    const where = 'Embedding';
    const o = checkOptions(options, where);
    const numEmbeddings = positiveInt(o.numEmbeddings, where, 'numEmbeddings');
    const resolved: Record<string, number> = { numEmbeddings, embeddingDim: positiveInt(o.embeddingDim, where, 'embeddingDim') };
    if (o.paddingIdx !== undefined) {
      const p = checkInt(o.paddingIdx, where, 'paddingIdx');
      if (p < -numEmbeddings || p >= numEmbeddings) {
        throw argumentError(where, `'paddingIdx' must be within [-${numEmbeddings}, ${numEmbeddings - 1}], got ${p}`);
      }
      resolved.paddingIdx = p < 0 ? p + numEmbeddings : p;
    }
    super('embedding', resolved);
  }
  forward(input: Tensor): Tensor {
    const t = checkTensor(input, 'Embedding.forward', 'input');
    if (t.dtype !== 'int64' && t.dtype !== 'int32')
      throw argumentError('Embedding.forward', `'input' must hold int64 or int32 indices, got ${t.dtype}`);
    return this.call(t.handle);
  }
}

export interface LayerNormOptions {
  normalizedShape: number | number[];
  eps?: number;
  elementwiseAffine?: boolean;
}

/** torch.nn.LayerNorm over the trailing `normalizedShape` dimensions; parameters `weight`, `bias`. */
export class LayerNorm extends Module {
  constructor(options: LayerNormOptions) {
    const where = 'LayerNorm';
    const o = checkOptions(options, where);
    const shape = Array.isArray(o.normalizedShape) ? o.normalizedShape : [o.normalizedShape];
    if (shape.length === 0) throw argumentError(where, `'normalizedShape' must not be empty`);
    shape.forEach((d, i) => positiveInt(d, where, `normalizedShape[${i}]`));
    super('layerNorm', {
      normalizedShape: shape,
      eps: positiveNumber(o.eps, nnDefault('layerNorm', 'eps'), where, 'eps'),
      elementwiseAffine: optionalBoolean(o.elementwiseAffine, nnDefault('layerNorm', 'elementwiseAffine'), where, 'elementwiseAffine'),
    });
  }
  forward(input: Tensor): Tensor {
    return this.call(checkTensor(input, 'LayerNorm.forward', 'input').handle);
  }
}

/** torch.nn.Dropout: zeroes elements with probability p in training mode, scaling the rest by 1/(1-p). */
export class Dropout extends Module {
  constructor(options: { p?: number } = {}) {
    options = optionsObject(options, 'Dropout');
    const o = checkOptions(options, 'Dropout');
    super('dropout', { p: probability(o.p, nnDefault('dropout', 'p'), 'Dropout', 'p') });
  }
  forward(input: Tensor): Tensor {
    return this.call(checkTensor(input, 'Dropout.forward', 'input').handle);
  }
}
