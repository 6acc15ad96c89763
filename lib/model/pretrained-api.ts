/** mt.pretrained: the public part of ./pretrained.ts. */
export { encoder, tokenizer, MODEL_TYPES as modelTypes } from './pretrained.ts';
