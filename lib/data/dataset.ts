/**
 * mt.data.Dataset: a native-resident data set. Rows are tokenized once, padded and stored as
 * libtorch tensors (native/core/data/dataset.h), so a training loop in C++ draws batches without
 * crossing into JavaScript. This file validates JavaScript input (errors name the field and row)
 * and packs it into typed arrays.
 */
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { native, type NativeBatch, type NativeDatasetHandle, type NativeDatasetTensors } from '../native.ts';
import { taskSchemas, type TaskKind } from '../model/spec.ts';
import { registry, type RegistryEntry } from '../schema.ts';
import { Tensor, tensor } from '../tensor.ts';
import { checkBoolean, checkInt, checkOneOf, describe } from '../validate.ts';

/**
 * What each example's target is: the kind of the task (its head) it is for. Each head publishes its
 * target layout (native/core/model/heads/*.cc, `data::TargetLayout`; `mt.registry.head[kind].targets`),
 * and a data set builds the targets of any registered head from it:
 * - int64 [N] (`classification`): one class id;
 * - float32 [N] (`regression`): one real value;
 * - float32 [N, K] (`multiLabel`): one 0/1 (or soft) value per label;
 * - int64 [N, T] trimmed to target lengths (`sequence`): an output token sequence, e.g. phonemes,
 *   padded with `targetPadId`;
 * - int64 [N, L] trimmed to the inputs (`tagging`): one class id per input token, padded with `targetPadId`.
 */
export type TargetKind = TaskKind;

/** A head's target layout as the registry publishes it (native/napi/registry.cc). */
type TargetLayout = NonNullable<RegistryEntry['targets']>;
/** The layouts a data set can build, by `${dtype}/${dims}/${trim}`. */
type Builder = 'classIds' | 'values' | 'valueRows' | 'tokenSequences' | 'tokenTags';
const BUILDERS: Record<string, Builder> = {
  'int64/1/none': 'classIds',
  'float32/1/none': 'values',
  'float32/2/none': 'valueRows',
  'int64/2/toTargetLengths': 'tokenSequences',
  'int64/2/toInputs': 'tokenTags',
};
// In the order of the heads' schema lines (lib/model/spec.ts), whose kinds are the registry's (checked there).
const LAYOUTS = new Map<string, TargetLayout & { builder: Builder }>(
  Object.keys(taskSchemas).map((kind) => {
    const layout = registry.head[kind]!.targets;
    const builder = layout === undefined ? undefined : BUILDERS[`${layout.dtype}/${layout.dims}/${layout.trim}`];
    // A head whose layout no builder fits is a build error, refused when the package loads.
    if (layout === undefined || builder === undefined) {
      throw new TorchError(
        `mt.data: head '${kind}' publishes target layout ${JSON.stringify(layout)}, which no data set builder reads (lib/data/dataset.ts BUILDERS)`,
        ErrorCode.NATIVE,
      );
    }
    return [kind, { ...layout, builder }];
  }),
);
/** Every registered head's kind: the target kinds a data set accepts. */
export const TARGET_KINDS: readonly TargetKind[] = [...LAYOUTS.keys()] as TargetKind[];
const layoutOf = (kind: TargetKind) => LAYOUTS.get(kind)!;
export type Target = number | number[];

/** The widest rows and the most (row × position) cells of a data set built from arrays. */
const MAX_WIDTH = 1_000_000;
const MAX_CELLS = 2 ** 31;

export interface DatasetArrays {
  /** Token ids of each example (rows may differ in length; they are right-padded with `padId`).
   * Optional only with per-position `features`. */
  inputIds?: number[][];
  /** A second segment per example: appended to `inputIds`, with token type 1 (the first segment has 0). */
  pairIds?: number[][];
  /** Segment of each token, as `inputIds`; exclusive with `pairIds`. */
  tokenTypeIds?: number[][];
  /** One per example; omitted for an unlabeled data set (predict only: fit and evaluate refuse it). */
  targets?: Target[];
  targetKind: TargetKind;
  /** Id that pads input rows (default 0). */
  padId?: number;
  /** Padded width; rows longer than this are refused (default: the longest row). */
  maxLength?: number;
  /** When given, every input id must lie in [0, vocabSize). */
  vocabSize?: number;
  /** Class count for `class` and `tagging`, target vocabulary size for `sequence`: bounds the targets. */
  numClasses?: number;
  /** Pads `sequence` and `tagging` targets (default: `padId` for sequence, -100 for tagging, the ignore
   * index of PyTorch's cross-entropy). */
  targetPadId?: number;
  /**
   * Continuous features, one vector per input position (row i has a vector for each of its tokens,
   * all of one width): what an `input.features` model embeds. With features, `inputIds` may be
   * omitted: the rows' lengths come from the features.
   */
  features?: number[][][];
  /** Names of the classes, in id order (kept for reports; e.g. a GLUE task's label vocabulary). */
  labels?: string[];
  /** A name for messages and reports (e.g. 'glue/rte/dev'). */
  name?: string;
}

/** A tokenized example, as the tokenizers produce it, with its target. */
export interface TokenizedExample {
  inputIds: number[];
  tokenTypeIds?: number[];
  /** Omitted by every example of an unlabeled data set. */
  target?: Target;
}

/** Dataset.withTargets: another task's targets for the same examples. */
export interface WithTargetsOptions {
  /** One per example, in the forms of DatasetArrays.targets. */
  targets: Target[];
  targetKind: TargetKind;
  /** Bounds class ids (class, tagging) or target ids (sequence). */
  numClasses?: number;
  /** Pads sequence and tagging targets (defaults as in DatasetArrays). */
  targetPadId?: number;
  labels?: string[];
  name?: string;
}

export type DatasetOptions = Omit<DatasetArrays, 'inputIds' | 'pairIds' | 'tokenTypeIds' | 'targets'>;

/** The tensors of Dataset.fromTensors (see TargetKind for the target layouts). */
export interface DatasetTensors {
  inputIds: Tensor;
  lengths: Tensor;
  /** Omitted for an unlabeled data set. */
  targets?: Tensor;
  targetKind: TargetKind;
  tokenTypeIds?: Tensor;
  targetLengths?: Tensor;
  features?: Tensor;
  padId?: number;
  targetPadId?: number;
  labels?: string[];
  name?: string;
}

/** One batch, as tensors (padding trimmed to the batch's longest row). The caller disposes them. */
export interface Batch {
  indices: Tensor;
  inputIds: Tensor;
  lengths: Tensor;
  tokenTypeIds?: Tensor;
  /** Absent for an unlabeled data set. */
  targets?: Tensor;
  targetLengths?: Tensor;
  features?: Tensor;
}

const WHERE = 'Dataset.fromArrays';

function checkIdRows(value: unknown, field: string, bound: number | undefined, allowEmptyRows: boolean, where = WHERE): number[][] {
  if (!Array.isArray(value)) throw argumentError(where, `'${field}' must be an array of id arrays, got ${describe(value)}`);
  value.forEach((row, i) => {
    if (!Array.isArray(row)) throw argumentError(where, `'${field}[${i}]' must be an array of ids, got ${describe(row)}`);
    if (!allowEmptyRows && row.length === 0) throw argumentError(where, `'${field}[${i}]' is empty`);
    for (let j = 0; j < row.length; j++) {
      const id = row[j];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw argumentError(where, `'${field}[${i}][${j}]' must be a non-negative integer id, got ${describe(id)}`);
      }
      if (bound !== undefined && id >= bound) {
        throw argumentError(where, `'${field}[${i}][${j}]' = ${id} is out of range for a vocabulary of ${bound}`);
      }
    }
  });
  return value as number[][];
}

// Right-pads rows into one Int32Array [rows, width].
export function padRows(rows: readonly number[][], width: number, pad: number): Int32Array {
  const out = new Int32Array(rows.length * width).fill(pad);
  rows.forEach((row, i) => out.set(row, i * width));
  return out;
}

function longTensor(data: Int32Array, shape: number[]): Tensor {
  return tensor(data, shape, { dtype: 'int64' });
}

/** The features tensor [N, width, F] (zero past each row's end). */
function featureTensor(features: unknown, rows: number[][], width: number): Tensor {
  const n = rows.length;
  if (!Array.isArray(features) || features.length !== n)
    throw argumentError(WHERE, `'features' must be an array with one row per example (${n})`);
  const finite = (v: unknown, at: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw argumentError(WHERE, `'features${at}' must be a finite number, got ${describe(v)}`);
    return v;
  };
  const first = features.find((row) => Array.isArray(row) && row.length > 0);
  if (!Array.isArray(first) || !Array.isArray(first[0]))
    throw argumentError(WHERE, "'features' must hold one vector per token of each row (number[][][])");
  const f = (first[0] as number[]).length;
  const flat = new Float32Array(n * width * f);
  features.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== rows[i]!.length) {
      throw argumentError(
        WHERE,
        `'features[${i}]' must have one vector per token (${rows[i]!.length}), got ${Array.isArray(row) ? row.length : describe(row)}`,
      );
    }
    row.forEach((vector, t) => {
      if (!Array.isArray(vector) || vector.length !== f)
        throw argumentError(WHERE, `'features' is ragged: features[${i}][${t}] must have ${f} values`);
      vector.forEach((v, j) => {
        flat[(i * width + t) * f + j] = finite(v, `[${i}][${t}][${j}]`);
      });
    });
  });
  return tensor(flat, [n, width, f]);
}

/** The row facts that targets are checked and padded against. */
interface TargetShape {
  /** Tokens of each input row (tagging targets have one tag per token). */
  rowLengths: number[];
  /** Padded width of the input rows. */
  width: number;
  padId: number;
  targetPadId: number | undefined;
  /** Class count (class, tagging) or target vocabulary (sequence) bounding the ids. */
  classBound: number | undefined;
}

/**
 * The id that pads token targets: those trimmed to the inputs (a tag per token) default to -100,
 * cross-entropy's ignore index, so padding positions carry no loss; token sequences to `padId`.
 */
function defaultTargetPadId(kind: TargetKind, padId: number, given: number | undefined, where: string): number {
  if (given !== undefined) return checkInt(given, where, 'targetPadId');
  return layoutOf(kind).trim === 'toInputs' ? -100 : padId;
}

/** The target tensors of `kind` (laid out as its head publishes) from JavaScript targets, each checked (errors name the entry). */
function targetTensors(
  where: string,
  kind: TargetKind,
  targets: Target[],
  shape: TargetShape,
  make: (t: Tensor) => Tensor,
): { targets: Tensor; targetLengths?: Tensor; targetPadId: number } {
  const n = shape.rowLengths.length;
  const result = { targetPadId: shape.padId } as { targets: Tensor; targetLengths?: Tensor; targetPadId: number };
  switch (layoutOf(kind).builder) {
    case 'classIds': {
      const values = targets.map((t, i) => {
        if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
          throw argumentError(where, `'targets[${i}]' must be a non-negative class id, got ${describe(t)}`);
        }
        if (shape.classBound !== undefined && t >= shape.classBound)
          throw argumentError(where, `'targets[${i}]' = ${t} is out of range for ${shape.classBound} classes`);
        return t;
      });
      result.targets = make(longTensor(Int32Array.from(values), [n]));
      break;
    }
    case 'values': {
      const values = targets.map((t, i) => {
        if (typeof t !== 'number' || !Number.isFinite(t))
          throw argumentError(where, `'targets[${i}]' must be a finite number, got ${describe(t)}`);
        return t;
      });
      result.targets = make(tensor(Float32Array.from(values), [n]));
      break;
    }
    case 'valueRows': {
      const first = targets[0];
      const k = Array.isArray(first) ? first.length : -1;
      const flat = new Float32Array(n * Math.max(k, 0));
      targets.forEach((t, i) => {
        if (!Array.isArray(t)) throw argumentError(where, `'targets[${i}]' must be an array of label values, got ${describe(t)}`);
        if (t.length !== k) throw argumentError(where, `'targets' is ragged: row ${i} has ${t.length} labels, row 0 has ${k}`);
        t.forEach((v, j) => {
          if (typeof v !== 'number' || !Number.isFinite(v))
            throw argumentError(where, `'targets[${i}][${j}]' must be a finite number, got ${describe(v)}`);
          flat[i * k + j] = v;
        });
      });
      if (k === 0) throw argumentError(where, "'targets' rows have no labels");
      result.targets = make(tensor(flat, [n, k]));
      break;
    }
    case 'tokenSequences': {
      result.targetPadId = defaultTargetPadId(kind, shape.padId, shape.targetPadId, where);
      const sequences = checkIdRows(targets, 'targets', shape.classBound, true, where);
      const targetWidth = Math.max(
        1,
        sequences.reduce((m, row) => Math.max(m, row.length), 0),
      );
      result.targets = make(longTensor(padRows(sequences, targetWidth, result.targetPadId), [n, targetWidth]));
      result.targetLengths = make(
        longTensor(
          Int32Array.from(sequences, (row) => row.length),
          [n],
        ),
      );
      break;
    }
    case 'tokenTags': {
      result.targetPadId = defaultTargetPadId(kind, shape.padId, shape.targetPadId, where);
      const tags = checkIdRows(targets, 'targets', shape.classBound, true, where);
      tags.forEach((row, i) => {
        if (row.length !== shape.rowLengths[i])
          throw argumentError(where, `'targets[${i}]' has ${row.length} tags but the input has ${shape.rowLengths[i]!} tokens`);
      });
      result.targets = make(longTensor(padRows(tags, shape.width, result.targetPadId), [n, shape.width]));
      break;
    }
  }
  return result;
}

export class Dataset {
  /** @internal The native handle; the trainer passes it to C++. */
  readonly handle: NativeDatasetHandle;
  readonly targetKind: TargetKind;
  /** Class names in id order, when known. */
  readonly labels: string[] | undefined;
  /** False for a data set without targets (e.g. a GLUE test split): it can be predicted on, not trained or evaluated on. */
  readonly labeled: boolean;
  readonly name: string | undefined;

  /** @internal Use Dataset.fromArrays / fromExamples. */
  constructor(handle: NativeDatasetHandle, targetKind: TargetKind, info: { labels?: string[]; labeled?: boolean; name?: string } = {}) {
    this.handle = handle;
    this.targetKind = targetKind;
    this.labels = info.labels;
    this.labeled = info.labeled ?? true;
    this.name = info.name;
  }

  /** Builds a data set from JavaScript arrays; see DatasetArrays for the fields. */
  static fromArrays(arraysIn: DatasetArrays): Dataset {
    const arrays = arraysIn;
    if (typeof arrays !== 'object' || arrays === null) throw argumentError(WHERE, `expected an options object, got ${describe(arrays)}`);
    const kind = checkOneOf(arrays.targetKind, TARGET_KINDS, WHERE, 'targetKind');
    const padId = arrays.padId === undefined ? 0 : checkInt(arrays.padId, WHERE, 'padId');
    const vocabSize = arrays.vocabSize === undefined ? undefined : checkInt(arrays.vocabSize, WHERE, 'vocabSize');
    if (vocabSize !== undefined && vocabSize <= 0) throw argumentError(WHERE, `'vocabSize' must be positive, got ${vocabSize}`);
    const numClasses = arrays.numClasses === undefined ? undefined : checkInt(arrays.numClasses, WHERE, 'numClasses');
    // Features without token ids: placeholder ids (padId + 1) give each row its length.
    const positionRows = arrays.inputIds === undefined && Array.isArray(arrays.features) ? arrays.features : undefined;
    const inputIds = positionRows
      ? positionRows.map((row, i) => {
          if (!Array.isArray(row))
            throw argumentError(WHERE, `'features[${i}]' must be an array of per-token vectors, got ${describe(row)}`);
          return new Array<number>(row.length).fill(padId + 1);
        })
      : checkIdRows(arrays.inputIds, 'inputIds', vocabSize, true);
    const n = inputIds.length;
    if (n === 0) throw argumentError(WHERE, "the data set is empty ('inputIds' has no rows)");

    // Rows with their second segment appended, and the token types that tell the two apart.
    let rows = inputIds;
    let tokenTypes: number[][] | undefined;
    if (arrays.pairIds !== undefined && arrays.tokenTypeIds !== undefined) {
      throw argumentError(WHERE, "give either 'pairIds' or 'tokenTypeIds', not both");
    }
    if (arrays.pairIds !== undefined) {
      const pairs = checkIdRows(arrays.pairIds, 'pairIds', vocabSize, true);
      if (pairs.length !== n) throw argumentError(WHERE, `'pairIds' has ${pairs.length} rows but 'inputIds' has ${n}`);
      rows = inputIds.map((row, i) => row.concat(pairs[i]!));
      tokenTypes = inputIds.map((row, i) => [...new Array<number>(row.length).fill(0), ...new Array<number>(pairs[i]!.length).fill(1)]);
    } else if (arrays.tokenTypeIds !== undefined) {
      tokenTypes = checkIdRows(arrays.tokenTypeIds, 'tokenTypeIds', undefined, true);
      if (tokenTypes.length !== n) throw argumentError(WHERE, `'tokenTypeIds' has ${tokenTypes.length} rows but 'inputIds' has ${n}`);
      tokenTypes.forEach((row, i) => {
        if (row.length !== inputIds[i]!.length) {
          throw argumentError(WHERE, `'tokenTypeIds[${i}]' has ${row.length} entries but 'inputIds[${i}]' has ${inputIds[i]!.length}`);
        }
      });
    }
    rows.forEach((row, i) => {
      if (row.length === 0) throw argumentError(WHERE, `'inputIds[${i}]' is empty`);
    });
    const longest = rows.reduce((m, row) => Math.max(m, row.length), 0);
    const width = arrays.maxLength === undefined ? longest : checkInt(arrays.maxLength, WHERE, 'maxLength');
    if (width <= 0) throw argumentError(WHERE, `'maxLength' must be positive, got ${width}`);
    // The padded (n, width) id matrix is built here: a width far beyond any model's is a mistake.
    if (width > MAX_WIDTH) throw argumentError(WHERE, `'maxLength' must be at most ${MAX_WIDTH}, got ${width}`);
    if (n * width > MAX_CELLS)
      throw new TorchError(
        `${WHERE}: ${n} rows of ${width} ids exceed the ${MAX_CELLS} cells a data set built from arrays may hold`,
        ErrorCode.TOO_LARGE,
      );
    const tooLong = rows.findIndex((row) => row.length > width);
    if (tooLong >= 0) {
      throw argumentError(
        WHERE,
        `'inputIds[${tooLong}]' has ${rows[tooLong]!.length} tokens, more than maxLength ${width} (truncate when tokenizing)`,
      );
    }

    const labeled = arrays.targets !== undefined;
    if (labeled && !Array.isArray(arrays.targets))
      throw argumentError(WHERE, `'targets' must be an array, got ${describe(arrays.targets)}`);
    if (labeled && arrays.targets!.length !== n)
      throw argumentError(WHERE, `'targets' has ${arrays.targets!.length} entries but 'inputIds' has ${n}`);
    const labels = arrays.labels;
    if (labels !== undefined && (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string'))) {
      throw argumentError(WHERE, "'labels' must be an array of strings");
    }
    const classBound = numClasses ?? labels?.length;

    const created: Tensor[] = [];
    const make = (t: Tensor): Tensor => {
      created.push(t);
      return t;
    };
    try {
      const fields: NativeDatasetTensors = {
        inputIds: make(longTensor(padRows(rows, width, padId), [n, width])).handle,
        lengths: make(
          longTensor(
            Int32Array.from(rows, (row) => row.length),
            [n],
          ),
        ).handle,
      };
      if (tokenTypes) fields.tokenTypeIds = make(longTensor(padRows(tokenTypes, width, 0), [n, width])).handle;
      let targetPadId = defaultTargetPadId(kind, padId, arrays.targetPadId, WHERE);
      if (labeled) {
        const built = targetTensors(
          WHERE,
          kind,
          arrays.targets!,
          { rowLengths: rows.map((row) => row.length), width, padId, targetPadId: arrays.targetPadId, classBound },
          make,
        );
        fields.targets = built.targets.handle;
        if (built.targetLengths) fields.targetLengths = built.targetLengths.handle;
        targetPadId = built.targetPadId;
      }
      if (arrays.features !== undefined) {
        const built = featureTensor(arrays.features, rows, width);
        fields.features = make(built).handle;
      }
      const name = arrays.name === undefined ? undefined : String(arrays.name);
      return new Dataset(new native.NativeDataset(fields, kind, padId, targetPadId), kind, { labels, labeled, name });
    } finally {
      // The data set holds its own (converted, contiguous) copies.
      for (const t of created) t.dispose();
    }
  }

  /**
   * Builds a data set from tensors already padded (e.g. made by another pipeline): `inputIds` int
   * [N, L] right-padded, `lengths` [N], and the targets in the layout of `targetKind` (see TargetKind;
   * `targetLengths` [N] for sequences). The data set keeps its own contiguous CPU copy, so the
   * tensors may be disposed afterwards. Shapes are checked natively; errors name the field.
   */
  static fromTensors(tensors: DatasetTensors): Dataset {
    const where = 'Dataset.fromTensors';
    if (typeof tensors !== 'object' || tensors === null)
      throw argumentError(where, `expected an object of tensors, got ${describe(tensors)}`);
    const kind = checkOneOf(tensors.targetKind, TARGET_KINDS, where, 'targetKind');
    const fields = {} as NativeDatasetTensors;
    for (const name of ['inputIds', 'lengths', 'targets', 'tokenTypeIds', 'targetLengths', 'features'] as const) {
      const value = tensors[name];
      if (value === undefined) {
        if (
          name === 'inputIds' ||
          name === 'lengths' ||
          (name === 'targetLengths' && layoutOf(kind).trim === 'toTargetLengths' && tensors.targets !== undefined)
        ) {
          throw argumentError(where, `'${name}' is required`);
        }
        continue;
      }
      if (!(value instanceof Tensor)) throw argumentError(where, `'${name}' must be a tensor, got ${describe(value)}`);
      fields[name] = value.handle;
    }
    const padId = tensors.padId === undefined ? 0 : checkInt(tensors.padId, where, 'padId');
    const targetPadId = defaultTargetPadId(kind, padId, tensors.targetPadId, where);
    return new Dataset(new native.NativeDataset(fields, kind, padId, targetPadId), kind, {
      labels: tensors.labels,
      labeled: tensors.targets !== undefined,
      name: tensors.name,
    });
  }

  /** Builds a data set from tokenized examples (e.g. `tokenizer.encode(...)` results with a target). */
  static fromExamples(examples: TokenizedExample[], options: DatasetOptions): Dataset {
    if (!Array.isArray(examples)) throw argumentError('Dataset.fromExamples', `'examples' must be an array, got ${describe(examples)}`);
    const withTypes = examples.some((e) => e?.tokenTypeIds !== undefined);
    const labeled = examples.some((e) => e?.target !== undefined);
    examples.forEach((e, i) => {
      if (typeof e !== 'object' || e === null) throw argumentError('Dataset.fromExamples', `'examples[${i}]' must be an object`);
      if (withTypes && e.tokenTypeIds === undefined)
        throw argumentError('Dataset.fromExamples', `'examples[${i}].tokenTypeIds' is missing (other examples have it)`);
      if (labeled && e.target === undefined)
        throw argumentError('Dataset.fromExamples', `'examples[${i}].target' is missing (other examples have one)`);
    });
    return Dataset.fromArrays({
      ...options,
      inputIds: examples.map((e) => e.inputIds),
      ...(withTypes ? { tokenTypeIds: examples.map((e) => e.tokenTypeIds!) } : {}),
      ...(labeled ? { targets: examples.map((e) => e.target!) } : {}),
    });
  }

  /**
   * The same examples with another task's targets: for multi-task data where one input carries
   * several labels (a word's pronunciation, stress and syllable count). The new data set shares
   * this one's input tensors, without a copy, and `Trainer.fit` gives tasks whose data sets share
   * inputs the same rows at each step, so the model encodes each batch once for all of them.
   * Targets take the forms of `Dataset.fromArrays`, one per example.
   */
  withTargets(options: WithTargetsOptions): Dataset {
    const where = 'Dataset.withTargets';
    if (typeof options !== 'object' || options === null) throw argumentError(where, `expected an options object, got ${describe(options)}`);
    const kind = checkOneOf(options.targetKind, TARGET_KINDS, where, 'targetKind');
    const held = this.handle.tensors();
    const rowLengths = Array.from(native.dataSync(held.lengths), Number);
    for (const t of Object.values(held)) if (t !== undefined) native.dispose(t);
    if (!Array.isArray(options.targets)) throw argumentError(where, `'targets' must be an array, got ${describe(options.targets)}`);
    if (options.targets.length !== rowLengths.length) {
      throw argumentError(where, `'targets' has ${options.targets.length} entries but the data set has ${rowLengths.length} examples`);
    }
    const labels = options.labels;
    if (labels !== undefined && (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string'))) {
      throw argumentError(where, "'labels' must be an array of strings");
    }
    const numClasses = options.numClasses === undefined ? undefined : checkInt(options.numClasses, where, 'numClasses');
    const created: Tensor[] = [];
    const make = (t: Tensor): Tensor => {
      created.push(t);
      return t;
    };
    try {
      const built = targetTensors(
        where,
        kind,
        options.targets,
        {
          rowLengths,
          width: this.maxLength,
          padId: this.padId,
          targetPadId: options.targetPadId,
          classBound: numClasses ?? labels?.length,
        },
        make,
      );
      const fields = { targets: built.targets.handle, ...(built.targetLengths ? { targetLengths: built.targetLengths.handle } : {}) };
      const handle = new native.NativeDataset(this.handle, fields, kind, built.targetPadId);
      return new Dataset(handle, kind, { labels, name: options.name === undefined ? undefined : String(options.name) });
    } finally {
      for (const t of created) t.dispose();
    }
  }

  /** Number of examples. */
  get size(): number {
    return this.handle.size();
  }
  get length(): number {
    return this.size;
  }
  /** The id that pads input rows. */
  get padId(): number {
    return this.handle.padId();
  }
  /** Padded width of the stored input rows. */
  get maxLength(): number {
    return this.handle.maxLength();
  }

  /** The rows `indices`, padding trimmed to their longest input (and longest target for sequences). */
  batch(indices: number[] | Tensor): Batch {
    let owned: Tensor | undefined;
    if (Array.isArray(indices)) {
      indices.forEach((v, i) => checkInt(v, 'Dataset.batch', `indices[${i}]`));
      if (indices.length === 0) throw argumentError('Dataset.batch', "'indices' is empty");
      const bad = indices.findIndex((v) => v < 0 || v >= this.size);
      if (bad >= 0) throw argumentError('Dataset.batch', `'indices[${bad}]' = ${indices[bad]} is out of range for ${this.size} examples`);
      owned = tensor(Float64Array.from(indices), [indices.length], { dtype: 'int64' });
    } else if (!(indices instanceof Tensor)) {
      throw argumentError('Dataset.batch', `'indices' must be an array of row numbers or a tensor, got ${describe(indices)}`);
    }
    try {
      return wrapBatch(this.handle.batch((owned ?? (indices as Tensor)).handle));
    } finally {
      owned?.dispose();
    }
  }

  /** A permutation of the rows drawn from `seed` alone (independent of mt.manualSeed). */
  shuffledOrder(seed: number): number[] {
    checkInt(seed, 'Dataset.shuffledOrder', 'seed');
    const t = new Tensor(this.handle.shuffledOrder(seed));
    try {
      return Array.from(t.dataSync() as BigInt64Array, Number);
    } finally {
      t.dispose();
    }
  }

  /** Row indices grouped into batches: in order, or shuffled by `seed`; the last batch may be short unless dropLast. */
  batchIndices(options: { batchSize: number; seed?: number; dropLast?: boolean }): number[][] {
    const where = 'Dataset.batchIndices';
    const batchSize = checkInt(options?.batchSize, where, 'batchSize');
    if (batchSize <= 0) throw argumentError(where, `'batchSize' must be positive, got ${batchSize}`);
    const seed = options.seed === undefined ? undefined : checkInt(options.seed, where, 'seed');
    const dropLast = options.dropLast === undefined ? false : checkBoolean(options.dropLast, where, 'dropLast');
    return this.handle.batchIndices(batchSize, seed, dropLast).map((h) => {
      const t = new Tensor(h);
      try {
        return Array.from(t.dataSync() as BigInt64Array, Number);
      } finally {
        t.dispose();
      }
    });
  }

  /** The whole data set as tensors (sharing its storage), for inspection. The caller disposes them. */
  tensors(): Omit<Batch, 'indices'> {
    const t = this.handle.tensors();
    return wrapTensors(t);
  }

  dispose(): void {
    this.handle.dispose();
  }
  get isDisposed(): boolean {
    return this.handle.isDisposed();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function wrapTensors(t: NativeDatasetTensors): Omit<Batch, 'indices'> {
  const out: Omit<Batch, 'indices'> = {
    inputIds: new Tensor(t.inputIds),
    lengths: new Tensor(t.lengths),
  };
  if (t.targets) out.targets = new Tensor(t.targets);
  if (t.tokenTypeIds) out.tokenTypeIds = new Tensor(t.tokenTypeIds);
  if (t.targetLengths) out.targetLengths = new Tensor(t.targetLengths);
  if (t.features) out.features = new Tensor(t.features);
  return out;
}

function wrapBatch(b: NativeBatch): Batch {
  return { indices: new Tensor(b.indices), ...wrapTensors(b) };
}
