/** mt.nn: Transformer blocks with torch.nn's names, options and numerics. */
export * as functional from './functional.ts';
export { Module } from './module.ts';
export type { LoadStateDictResult } from './module.ts';
export { Linear, Embedding, LayerNorm, Dropout } from './layers.ts';
export type { LinearOptions, EmbeddingOptions, LayerNormOptions } from './layers.ts';
export { SinusoidalPositionalEncoding, LearnedPositionalEncoding } from './positional.ts';
export type { PositionalEncodingOptions } from './positional.ts';
export { MultiheadAttention, generateSquareSubsequentMask } from './attention.ts';
export type { MultiheadAttentionOptions, AttentionForwardOptions } from './attention.ts';
export { TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder, DecoderCache } from './transformer.ts';
export type {
  Activation,
  TransformerLayerOptions,
  TransformerStackOptions,
  EncoderLayerForwardOptions,
  EncoderForwardOptions,
  DecoderForwardOptions,
  DecoderStackForwardOptions,
} from './transformer.ts';
