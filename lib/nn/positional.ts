/** Positional encodings added to (B, L, dModel) embeddings, then dropout; `offset` is the position of
 * the first row (incremental decoding encodes position n alone). */
import { argumentError } from '../errors.ts';
import { Tensor } from '../tensor.ts';
import { checkInt } from '../validate.ts';
import { checkInput } from './check.ts';
import { Module } from './module.ts';
import { blockOptions, positionalEncodingOptions } from './options.ts';

export interface PositionalEncodingOptions {
  dModel: number;
  maxLen: number;
  dropout?: number;
}

abstract class PositionalEncoding extends Module {
  readonly dModel: number;
  readonly maxLen: number;
  protected constructor(kind: string, where: string, options: PositionalEncodingOptions) {
    const resolved = blockOptions(positionalEncodingOptions, options, where);
    super(kind, resolved);
    this.dModel = resolved.dModel;
    this.maxLen = resolved.maxLen;
  }
  forward(input: Tensor, offset = 0): Tensor {
    const where = `${this.constructor.name}.forward`;
    const x = checkInput(input, where, 'input', 3, this.dModel);
    checkInt(offset, where, 'offset');
    if (offset < 0 || offset + x.shape[1]! > this.maxLen) {
      throw argumentError(where, `positions ${offset}..${offset + x.shape[1]! - 1} exceed maxLen ${this.maxLen}`);
    }
    return this.call(x.handle, offset);
  }
}

/** The fixed sin/cos encoding of "Attention Is All You Need" (the PyTorch tutorial's table, buffer `pe`). */
export class SinusoidalPositionalEncoding extends PositionalEncoding {
  constructor(options: PositionalEncodingOptions) {
    super('sinusoidalPositionalEncoding', 'SinusoidalPositionalEncoding', options);
  }
}

/** A learned table, parameter `weight` (maxLen, dModel), as an nn.Embedding over positions. */
export class LearnedPositionalEncoding extends PositionalEncoding {
  constructor(options: PositionalEncodingOptions) {
    super('learnedPositionalEncoding', 'LearnedPositionalEncoding', options);
  }
}
