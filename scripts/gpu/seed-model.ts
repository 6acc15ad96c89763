/**
 * The seed's model (the product brief's GLUE setup, configs/glue-seed-scratch.json): a shared 12-layer
 * Transformer encoder (d=512, 8 heads, ff 2048, dropout 0.1) and three classification tasks, each
 * with a 2-layer decoder, on sequences of 128 tokens; and a 'tiny' model of the same structure for
 * dry runs on the CPU. Shared by scripts/gpu/seed-throughput.ts and scripts/gpu/train-bf16.ts.
 */
import * as mt from '../../lib/index.ts';
import { Dataset } from '../../lib/data/dataset.ts';

export interface ModelShape {
  layers: number; // encoder layers
  dModel: number;
  heads: number;
  ff: number; // feed-forward width
  seq: number; // tokens per example (every row full length: no padding)
  decoderLayers: number; // per task
  classes: number[]; // one classification task per entry
  vocab: number;
  dropout: number;
}

// vocab 30522: BERT's WordPiece vocabulary, as the GLUE runs tokenize. 'small' is the benchmark
// model of scripts/bench/common.ts (smallModel), 'tiny' a dry-run size of the seed's structure.
export const SHAPES = {
  small: { layers: 4, dModel: 256, heads: 4, ff: 1024, seq: 64, decoderLayers: 2, classes: [2, 3, 5], vocab: 1000, dropout: 0.1 },
  seed: { layers: 12, dModel: 512, heads: 8, ff: 2048, seq: 128, decoderLayers: 2, classes: [2, 3, 5], vocab: 30522, dropout: 0.1 },
  tiny: { layers: 2, dModel: 64, heads: 4, ff: 256, seq: 32, decoderLayers: 2, classes: [2, 3, 5], vocab: 1000, dropout: 0.1 },
} satisfies Record<string, ModelShape>;
export type SizeName = keyof typeof SHAPES;

export function sizeNamed(name: string): SizeName {
  if (!(name in SHAPES)) throw new Error(`--size must be one of ${Object.keys(SHAPES).join(', ')}, got '${name}'`);
  return name as SizeName;
}

export const taskNames = (shape: ModelShape) => shape.classes.map((_, i) => `task${i}`);

export function describeShape(shape: ModelShape): string {
  return (
    `${shape.layers}-layer encoder d=${shape.dModel} (${shape.heads} heads, ff ${shape.ff}), ` +
    `${shape.classes.length} classification tasks with ${shape.decoderLayers}-layer decoders, seq ${shape.seq}, vocab ${shape.vocab}`
  );
}

export function buildModel(shape: ModelShape, device: mt.Device) {
  return mt.multitask({
    input: { vocabSize: shape.vocab, maxLength: shape.seq },
    encoder: { numLayers: shape.layers, dModel: shape.dModel, nhead: shape.heads, dimFeedforward: shape.ff, dropout: shape.dropout },
    sharing: mt.sharing.sharedEncoder(),
    tasks: Object.fromEntries(
      taskNames(shape).map((name, i) => [
        name,
        mt.tasks.classification({ classes: shape.classes[i]!, decoderLayers: shape.decoderLayers }),
      ]),
    ),
    device,
  });
}

/** `rows` full-length rows of random token ids (1 .. vocab-1: no padding). */
export function tokenRows(shape: ModelShape, rows: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: shape.seq }, () => 1 + Math.floor(Math.random() * (shape.vocab - 1))));
}

/**
 * Each task's own rows (separate inputs), with learnable targets: the class is a function of the
 * first token, so a loss that does not fall means the training is broken.
 */
export function learnableSets(
  shape: ModelShape,
  rows: number,
): { sets: Record<string, Dataset>; arrays: Record<string, { inputIds: number[][]; targets: number[] }> } {
  const sets: Record<string, Dataset> = {};
  const arrays: Record<string, { inputIds: number[][]; targets: number[] }> = {};
  taskNames(shape).forEach((name, i) => {
    const inputIds = tokenRows(shape, rows);
    const targets = inputIds.map((r) => r[0]! % shape.classes[i]!);
    arrays[name] = { inputIds, targets };
    sets[name] = Dataset.fromArrays({ inputIds, targets, targetKind: 'classification' });
  });
  return { sets, arrays };
}

/**
 * Waits until the device has run every kernel queued so far (torch.cuda.synchronize for work on
 * the default stream, which is where libtorch queues the trainer's kernels, from any host thread):
 * a read of one value of the model's first parameter has to wait for them. No-op cost on the CPU.
 */
export function finishDeviceWork(model: mt.MultiTaskModel): void {
  const [, first] = model.namedParameters()[0]!;
  mt.tidy(() => first.flatten().select(0, 0).item());
}

/**
 * Model FLOPs of one training step (forward + backward), counted from the shape: every matrix
 * multiply-add is 2 FLOPs and the backward pass costs twice the forward, so a weight matrix that
 * touches n vectors costs 6·(its size)·n; embeddings (lookups), norms, softmax, dropout, the loss
 * and the optimizer are not counted, as in the usual MFU definition. With L encoder layers, d, ff,
 * S tokens per example, Ld decoder layers and C classes per task:
 *
 *   encoder, per input token:     6·N_enc + 12·L·S·d
 *       N_enc = L·(4d² + 2·d·ff)  (Q, K, V and output projections; the two feed-forward matrices)
 *       12·L·S·d                  (attention's QKᵀ and weights·V: 2·S·d multiply-adds per token and
 *                                  layer forward, ×2 FLOPs, ×3 with backward)
 *   each task's decoder, per example (one learned query attends to the S memory tokens):
 *       6·Ld·(2d²·S)              cross-attention's K and V projections of the S memory tokens
 *     + 6·Ld·(6d² + 2·d·ff)       the query's self-attention (4d²), cross-attention Q and output
 *                                  projections (2d²) and feed-forward
 *     + 6·Ld·(2·S·d + 2·d)        cross-attention over S keys, self-attention over 1 key
 *     + 6·d·C                     the output layer
 *
 *   FLOPs/step = tokens·(6·N_enc + 12·L·S·d) + examples·(decoder per example), summed over tasks,
 *   with tokens = examples·S for each task's own batch (separate inputs).
 *
 * The plain 6·N·tokens over every non-embedding parameter would overcount: the decoders' weights
 * see one query per example, not every token.
 */
export function trainingFlops(shape: ModelShape, batchPerTask: number) {
  const { layers: L, dModel: d, ff, seq: S, decoderLayers: Ld } = shape;
  const nEncoder = L * (4 * d * d + 2 * d * ff);
  const encoderPerToken = 6 * nEncoder + 12 * L * S * d;
  const decoderPerExample = (classes: number) =>
    6 * Ld * (2 * d * d * S) + 6 * Ld * (6 * d * d + 2 * d * ff) + 6 * Ld * (2 * S * d + 2 * d) + 6 * d * classes;
  const tokens = shape.classes.length * batchPerTask * S;
  let perStep = tokens * encoderPerToken;
  for (const c of shape.classes) perStep += batchPerTask * decoderPerExample(c);
  // The naive count: every non-embedding weight matrix on every token (decoder self-attention 4d²,
  // cross-attention 4d², feed-forward 2·d·ff per layer; the output layer d·C).
  const nDecoders = shape.classes.reduce((sum, c) => sum + Ld * (8 * d * d + 2 * d * ff) + d * c, 0);
  const naive = 6 * (nEncoder + nDecoders) * tokens + 12 * L * S * d * tokens;
  return {
    perStep,
    tokens,
    perToken: perStep / tokens,
    nEncoder,
    nDecoders,
    naive,
    formula:
      `FLOPs/step = tokens·(6·N_enc + 12·L·S·d) + Σ_tasks B·[6·Ld·(2d²·S + 6d² + 2·d·ff + 2·S·d + 2·d) + 6·d·C], ` +
      `N_enc = L·(4d² + 2·d·ff) = ${(nEncoder / 1e6).toFixed(2)}M; L=${L} d=${d} ff=${ff} S=${S} Ld=${Ld} B=${batchPerTask} C=${shape.classes.join('/')}, tokens = ${tokens}`,
  };
}
