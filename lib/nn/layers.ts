/** The leaf blocks: torch.nn.Linear, Embedding, LayerNorm and Dropout (libtorch's own modules). */
import { argumentError } from '../errors.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { optionsObject } from '../validate.ts';
import { Module } from './module.ts';
import { blockOptions, dropoutOptions, embeddingOptions, layerNormOptions, linearOptions } from './options.ts';

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
    const resolved = blockOptions(linearOptions, options, 'Linear');
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
    super('embedding', blockOptions(embeddingOptions, options, 'Embedding'));
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
    super('layerNorm', blockOptions(layerNormOptions, options, 'LayerNorm'));
  }
  forward(input: Tensor): Tensor {
    return this.call(checkTensor(input, 'LayerNorm.forward', 'input').handle);
  }
}

/** torch.nn.Dropout: zeroes elements with probability p in training mode, scaling the rest by 1/(1-p). */
export class Dropout extends Module {
  constructor(options: { p?: number } = {}) {
    super('dropout', blockOptions(dropoutOptions, optionsObject(options, 'Dropout'), 'Dropout'));
  }
  forward(input: Tensor): Tensor {
    return this.call(checkTensor(input, 'Dropout.forward', 'input').handle);
  }
}
