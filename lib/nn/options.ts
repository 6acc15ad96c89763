/**
 * The mt.nn blocks' constructor options as zod schemas, like every other option object of the API
 * (lib/schema.ts): strict (an unknown option is refused, not ignored), with field-path errors, and
 * each default taken from the block's native options struct (mt.registry.defaults.nn) through
 * `native()`, so a default is written once, in C++.
 */
import { z } from 'zod';
import { native, parse, positiveInt, positiveNumber, probability, registry, withDefaults } from '../schema.ts';
import { checkOptions } from './check.ts';

type NnBlock = keyof typeof registry.defaults.nn;

/** A strict object whose native() fields default to the block's native options struct. */
function block<S extends z.ZodRawShape>(name: NnBlock, shape: S) {
  return z.strictObject(withDefaults(shape, registry.defaults.nn[name], `nn.${name}`));
}

/** `a` must be a multiple of `b` (torch's embed_dim % num_heads check), said with both values. */
function divisible<T extends Record<string, unknown>>(a: keyof T & string, b: keyof T & string) {
  return [
    (o: T) => (o[a] as number) % (o[b] as number) === 0,
    { error: (issue: { input: unknown }) => divisibleMessage(issue.input as T, a, b) },
  ] as const;
}
const divisibleMessage = (o: Record<string, unknown>, a: string, b: string) => `'${a}' (${o[a]}) must be divisible by '${b}' (${o[b]})`;

export const linearOptions = block('linear', { inFeatures: positiveInt, outFeatures: positiveInt, bias: native(z.boolean()) });

export const embeddingOptions = z
  .strictObject({ numEmbeddings: positiveInt, embeddingDim: positiveInt, paddingIdx: z.int().optional() })
  .refine((o) => o.paddingIdx === undefined || (o.paddingIdx >= -o.numEmbeddings && o.paddingIdx < o.numEmbeddings), {
    error: (issue) => {
      const o = issue.input as { numEmbeddings: number; paddingIdx: number };
      return `'paddingIdx' must be within [-${o.numEmbeddings}, ${o.numEmbeddings - 1}], got ${o.paddingIdx}`;
    },
  })
  // torch stores a negative index counted from the end.
  .transform((o) => (o.paddingIdx !== undefined && o.paddingIdx < 0 ? { ...o, paddingIdx: o.paddingIdx + o.numEmbeddings } : o));

export const layerNormOptions = block('layerNorm', {
  normalizedShape: z.union([positiveInt.transform((d) => [d]), z.array(positiveInt).min(1)]),
  eps: native(positiveNumber),
  elementwiseAffine: native(z.boolean()),
});

export const dropoutOptions = block('dropout', { p: native(probability) });

export const multiheadAttentionOptions = block('multiheadAttention', {
  embedDim: positiveInt,
  numHeads: positiveInt,
  dropout: native(probability),
  bias: native(z.boolean()),
  kdim: positiveInt.optional(),
  vdim: positiveInt.optional(),
})
  .refine(...divisible('embedDim', 'numHeads'))
  // Key and value features default to embedDim, as torch's kdim/vdim=None.
  .transform((o) => ({ ...o, kdim: o.kdim ?? o.embedDim, vdim: o.vdim ?? o.embedDim }));

export const positionalEncodingOptions = block('positionalEncoding', {
  dModel: positiveInt,
  maxLen: positiveInt,
  dropout: native(probability),
});

const ACTIVATIONS = ['relu', 'gelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
const layerShape = {
  dModel: positiveInt,
  nhead: positiveInt,
  dimFeedforward: native(positiveInt),
  dropout: native(probability),
  activation: native(z.enum(ACTIVATIONS)),
  layerNormEps: native(positiveNumber),
  normFirst: native(z.boolean()),
};

export const transformerLayerOptions = block('transformerLayer', layerShape).refine(...divisible('dModel', 'nhead'));

/** A stack's options: its layers' (with their defaults) and its own. */
export const transformerStackOptions = z
  .strictObject({
    ...withDefaults(layerShape, registry.defaults.nn.transformerLayer, 'nn.transformerLayer'),
    ...withDefaults({ numLayers: positiveInt, norm: native(z.boolean()) }, registry.defaults.nn.transformerStack, 'nn.transformerStack'),
  })
  .refine(...divisible('dModel', 'nhead'));

/**
 * A block's options parsed by its schema; errors name the block and the field
 * (`TransformerEncoder.dropout: expected a number <= 1, got 1.5`).
 */
export function blockOptions<T extends z.ZodType>(schema: T, options: unknown, where: string): z.output<T> {
  return parse(schema, checkOptions(options, where), where);
}
