/**
 * What the fuzzer calls: each generator makes one random call of a part of the API (tensors, ops,
 * nn blocks, models, data sets, trainer options, fits, save/load, model folders, checkpoints) from a
 * pool of ordinary and hostile values. A call that gives input the library must refuse carries
 * `bad` (the class of bad input); if it is accepted, the class is reported. Any outcome other than
 * success or a TorchError with a listed code is an escape; a crash or hang ends the batch.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as mt from '../../../lib/index.ts';

export interface Fuzz {
  random(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  /** A folder of this batch's own. */
  scratch: string;
}

export interface Call {
  run(): unknown;
  /** Set when the input must be refused: names its class. */
  bad?: string;
  label?: string;
  cleanup?(): void;
}

export interface Generator {
  name: string;
  weight: number;
  make(f: Fuzz): Call;
}

// ---- values ----

// No value between 5 and 2^40: one that acts as a size must be tiny or fail to allocate at once
// (a size of 2^31 would allocate gigabytes and end the batch through the OOM killer, not the library).
const HOSTILE_NUMBERS = [
  0,
  1,
  2,
  3,
  -1,
  -2,
  0.5,
  1.5,
  -0.5,
  NaN,
  Infinity,
  -Infinity,
  -(2 ** 31),
  2 ** 44,
  2 ** 53,
  2 ** 62,
  2 ** 63,
  2 ** 64,
  -(2 ** 63),
  1e300,
  -1e300,
  Number.MIN_VALUE,
  -0,
];
const SMALL = [0, 1, 2, 3, 4];
const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];

function anyValue(f: Fuzz, depth = 0): unknown {
  switch (f.int(depth > 1 ? 9 : 12)) {
    case 0:
      return f.pick(HOSTILE_NUMBERS);
    case 1:
      return f.pick(SMALL);
    case 2:
      return f.pick(['', 'x', 'cpu', 'cuda', 'cuda:99', '__proto__', 'constructor', 'float32', 'int64', '\u0000', 'a'.repeat(300)]);
    case 3:
      return f.pick([true, false]);
    case 4:
      return f.pick([null, undefined]);
    case 5:
      return f.pick([2n ** 63n, -1n, 0n, 2n ** 64n, 5n]);
    case 6:
      return f.pick([() => 1, Symbol('s'), new Date(0), new Map(), /x/]);
    case 7:
      return f.pick([
        new Float32Array(3),
        new Int32Array(2),
        new Uint16Array(2),
        new DataView(new ArrayBuffer(4)),
        new Float32Array(new SharedArrayBuffer(8)),
      ]);
    case 8:
      return mt.tensor(f.pick([[1, 2], [[1.5]], [true], [0]]));
    case 9:
      return Array.from({ length: f.int(4) }, () => anyValue(f, depth + 1));
    case 10:
      return Object.fromEntries(
        Array.from({ length: f.int(3) }, () => [f.pick(['a', 'b', 'kind', '__proto__', 'dtype', 'x']), anyValue(f, depth + 1)]),
      );
    default:
      return Object.create(null);
  }
}

function shape(f: Fuzz): number[] {
  return Array.from({ length: f.int(4) }, () => f.pick([1, 2, 3, 1, 2, 0]));
}

function smallTensor(f: Fuzz): mt.Tensor {
  const s = shape(f);
  const dtype = f.pick(['float32', 'float32', 'int64', 'bool', 'float64', 'int32']) as mt.DType;
  const t = dtype === 'bool' ? mt.rand(s).gt(0.5) : dtype.startsWith('int') ? mt.randint(-3, 5, s, { dtype }) : mt.randn(s, { dtype });
  if (f.chance(0.1) && t.dtype.startsWith('float')) t.requiresGrad = true;
  return t;
}

function operand(f: Fuzz): unknown {
  return f.chance(0.6) ? smallTensor(f) : f.chance(0.7) ? f.pick(HOSTILE_NUMBERS) : anyValue(f);
}

function argument(f: Fuzz): unknown {
  switch (f.int(6)) {
    case 0:
      return f.pick([-3, -2, -1, 0, 1, 2, 3, 4]);
    case 1:
      return Array.from({ length: f.int(4) }, () => f.pick([-1, 0, 1, 2, 3]));
    case 2:
      return operand(f);
    case 3:
      return f.pick([true, false, 'none', 'tanh', 'mean', 'sum']);
    case 4:
      return f.pick(HOSTILE_NUMBERS);
    default:
      return anyValue(f);
  }
}

// ---- fixtures reused across calls ----

let tinyModel: mt.MultiTaskModel | undefined;
function model(): mt.MultiTaskModel {
  tinyModel ??= mt.multitask({
    input: { vocabSize: 12, maxLength: 6 },
    encoder: { numLayers: 1, dModel: 8, nhead: 2, dimFeedforward: 16, dropout: 0 },
    tasks: {
      c: mt.tasks.classification({ classes: 3 }),
      r: mt.tasks.regression(),
      s: mt.tasks.sequence({ vocabSize: 7, maxLength: 5 }),
      t: mt.tasks.tagging({ classes: 4 }),
    },
  });
  return tinyModel;
}

let sets: Record<string, mt.data.Dataset> | undefined;
function dataSets(): Record<string, mt.data.Dataset> {
  sets ??= {
    c: mt.data.Dataset.fromArrays({
      inputIds: [[1, 2, 3], [4, 5], [6], [7, 8, 9]],
      targets: [0, 1, 2, 1],
      targetKind: 'classification',
      vocabSize: 12,
    }),
    r: mt.data.Dataset.fromArrays({
      inputIds: [
        [1, 2],
        [3, 4, 5],
        [6, 7],
      ],
      targets: [0.5, -1, 2],
      targetKind: 'regression',
      vocabSize: 12,
    }),
  };
  return sets;
}

/** A valid checkpoint of `model()` after two steps, written once per batch. */
let checkpointFile: string | undefined;
async function checkpoint(f: Fuzz): Promise<string> {
  if (checkpointFile) return checkpointFile;
  const dir = path.join(f.scratch, 'checkpoint');
  await new mt.Trainer(model(), { batchSize: 2 }).fit(dataSets(), { steps: 2, checkpointDir: dir });
  checkpointFile = path.join(dir, 'checkpoint.safetensors');
  return checkpointFile;
}

let savedModelDir: string | undefined;
async function savedModel(f: Fuzz): Promise<string> {
  if (savedModelDir) return savedModelDir;
  savedModelDir = path.join(f.scratch, 'model');
  await model().save(savedModelDir);
  return savedModelDir;
}

/** Paths that must never be read as data or replaced by a write. */
function hostilePath(f: Fuzz): string {
  const special = path.join(f.scratch, 'special');
  if (!existsSync(special)) {
    mkdirSync(special, { recursive: true });
    execFileSync('mkfifo', [path.join(special, 'fifo')]);
    symlinkSync('/dev/zero', path.join(special, 'zero'));
    symlinkSync(path.join(special, 'missing-target'), path.join(special, 'dangling'));
    mkdirSync(path.join(special, 'folder'));
    writeFileSync(path.join(special, 'empty'), '');
    writeFileSync(path.join(special, 'garbage'), Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) & 255)));
  }
  return f.pick(
    ['fifo', 'zero', 'dangling', 'folder', 'empty', 'garbage', 'missing', 'folder/', 'no/such/dir/file']
      .map((n) => path.join(special, n))
      .concat(['', '/dev/null', '/proc/self/mem', '/', 'a\u0000b']),
  );
}

// ---- generators ----

const tensorMethods = Object.getOwnPropertyNames(mt.Tensor.prototype).filter((name) => {
  // Skip what only returns data, frees, or is an accessor.
  if (['constructor', 'dispose', 'data', 'dataSync', 'toArray', 'item', 'toString', 'cuda'].includes(name)) return false;
  const descriptor = Object.getOwnPropertyDescriptor(mt.Tensor.prototype, name);
  return typeof descriptor?.value === 'function';
});

const functionalNames = Object.keys(mt.nn.functional) as (keyof typeof mt.nn.functional)[];

export const generators: Generator[] = [
  {
    name: 'tensor-create',
    weight: 10,
    make(f) {
      const kind = f.int(6);
      if (kind === 0) {
        // Integers outside int64: must be refused unless a floating dtype is asked for.
        const value = f.pick([2 ** 64, 1e300, -(2 ** 64), 2 ** 63]);
        return { bad: 'integer outside int64', run: () => mt.tensor([1, value]) };
      }
      if (kind === 1) {
        const value = f.pick([2n ** 63n, -(2n ** 63n) - 1n, 2n ** 70n]);
        return { bad: 'bigint outside int64', run: () => mt.tensor([value]) };
      }
      if (kind === 2) {
        const [dtype, value] = f.pick([
          ['uint8', 256],
          ['uint8', -1],
          ['int32', 2 ** 31],
          ['int32', -(2 ** 31) - 1],
          ['int64', NaN],
          ['int64', Infinity],
        ] as const);
        return { bad: `${value} into ${dtype}`, run: () => mt.tensor([value], { dtype: dtype as mt.DType }) };
      }
      if (kind === 3) {
        let nested: unknown = 1;
        const depth = f.pick([1, 10, 64, 65, 1000, 100_000]);
        for (let i = 0; i < depth; i++) nested = [nested];
        return { label: `depth ${depth}`, run: () => mt.tensor(nested as number[]) };
      }
      const data = anyValue(f);
      const options = f.chance(0.5)
        ? anyValue(f)
        : { dtype: f.pick([...DTYPES, 'int8', 'x']), device: f.pick(['cpu', 'cuda', 'cuda:7', undefined]) };
      return {
        run: () =>
          ArrayBuffer.isView(data)
            ? mt.tensor(data as Float32Array, anyValue(f) as number[], options as mt.CreateOptions)
            : mt.tensor(data as number[], options as mt.CreateOptions),
      };
    },
  },
  {
    name: 'tensor-factory',
    weight: 6,
    make(f) {
      const name = f.pick([
        'zeros',
        'ones',
        'empty',
        'rand',
        'randn',
        'full',
        'randint',
        'arange',
        'linspace',
        'eye',
        'zerosLike',
        'fullLike',
        'cat',
        'stack',
        'where',
      ] as const);
      const args = Array.from({ length: f.int(5) }, () => (f.chance(0.4) ? shape(f) : argument(f)));
      return { label: name, run: () => (mt[name] as (...a: unknown[]) => unknown)(...args) };
    },
  },
  {
    name: 'tensor-method',
    weight: 30,
    make(f) {
      const name = f.pick(tensorMethods);
      const self = smallTensor(f);
      const args = Array.from({ length: f.int(4) }, () => argument(f));
      return { label: name, run: () => (self as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args) };
    },
  },
  {
    name: 'tensor-lifecycle',
    weight: 5,
    make(f) {
      const t = smallTensor(f);
      const kind = f.int(6);
      if (kind === 0) {
        t.dispose();
        return { run: () => t.add(1) };
      }
      if (kind === 1) return { run: () => t.sum().backward() };
      if (kind === 2) return { run: () => mt.noGrad(anyValue(f) as () => unknown) };
      if (kind === 3) return { run: () => mt.tidy(() => Promise.resolve(t)) };
      if (kind === 4) return { run: () => mt.setNumThreads(f.pick([0, -1, 1.5, 1000, 2 ** 31, NaN, 2])) };
      return { run: () => mt.manualSeed(f.pick(HOSTILE_NUMBERS)) };
    },
  },
  {
    name: 'functional',
    weight: 8,
    make(f) {
      const name = f.pick(functionalNames);
      const args = Array.from({ length: 1 + f.int(4) }, () => (f.chance(0.7) ? smallTensor(f) : argument(f)));
      return { label: name, run: () => (mt.nn.functional[name] as (...a: unknown[]) => unknown)(...args) };
    },
  },
  {
    name: 'nn-block',
    weight: 8,
    make(f) {
      const blocks = [
        'Linear',
        'Embedding',
        'LayerNorm',
        'Dropout',
        'MultiheadAttention',
        'TransformerEncoderLayer',
        'TransformerEncoder',
        'TransformerDecoderLayer',
        'TransformerDecoder',
        'SinusoidalPositionalEncoding',
        'LearnedPositionalEncoding',
      ] as const;
      const name = f.pick(blocks);
      const size = () => f.pick([1, 2, 4, 8, 0, -1, 1.5, 2 ** 20, 2 ** 44, NaN]);
      const options = f.chance(0.2)
        ? anyValue(f)
        : {
            inFeatures: size(),
            outFeatures: size(),
            numEmbeddings: size(),
            embeddingDim: size(),
            normalizedShape: f.chance(0.5) ? size() : [size(), size()],
            embedDim: f.pick([4, 8]),
            numHeads: f.pick([1, 2, 3]),
            dModel: f.pick([4, 8, 2 ** 16]),
            nhead: f.pick([1, 2, 3]),
            numLayers: f.pick([1, 2, 0, 300, 1e9]),
            dimFeedforward: f.pick([8, 16, 2 ** 20]),
            maxLen: f.pick([4, 16, 2 ** 44]),
            dropout: f.pick([0, 0.1, 1, -1, NaN]),
            p: f.pick([0.5, 2, NaN]),
          };
      return {
        label: name,
        run: () => {
          const block = new (mt.nn[name] as new (o: unknown) => { forward(...a: unknown[]): unknown })(options);
          return block.forward(
            ...Array.from({ length: 1 + f.int(3) }, () => (f.chance(0.8) ? mt.randn([2, 3, f.pick([4, 8, 2])]) : argument(f))),
          );
        },
      };
    },
  },
  {
    name: 'model-spec',
    weight: 4,
    make(f) {
      const size = () => f.pick([1, 2, 4, 8, 0, -1, 1.5, NaN, 1e9, 65536, '8']);
      const spec = f.chance(0.15)
        ? anyValue(f)
        : {
            input: f.chance(0.5) ? { vocabSize: size(), maxLength: size() } : { features: size(), maxLength: size(), padId: size() },
            encoder: {
              numLayers: f.pick([1, 2, 1e9, 0]),
              dModel: f.pick([8, 16, 65536, 7]),
              nhead: f.pick([2, 1, 3]),
              dropout: f.pick([0, 0.5, NaN, 1]),
            },
            sharing: f.pick([
              undefined,
              mt.sharing.sharedEncoder(),
              mt.sharing.fullyShared(),
              { kind: 'layerwise', sharedLayers: size() },
              { kind: 'mmoe', experts: size() },
              { kind: 'adapters', reduction: size() },
              { kind: 'lora', rank: size() },
              {},
              { kind: 'bogus' },
            ]),
            tasks: f.chance(0.2)
              ? JSON.parse(`{"__proto__": {"kind": "regression"}}`)
              : {
                  [f.pick(['a', 'b', '__proto__', 'constructor', '1x', 'x'.repeat(70), 'toString'])]: f.pick([
                    { kind: 'classification', classes: size() },
                    { kind: 'regression' },
                    { kind: 'sequence', vocabSize: size(), maxLength: size() },
                    { kind: 'tagging', classes: size() },
                    { kind: 'multiLabel', labels: size() },
                    { kind: 'classification', classes: 2, labelSmoothing: NaN },
                    {},
                  ]),
                },
          };
      const reserved =
        typeof spec === 'object' &&
        spec !== null &&
        typeof (spec as { tasks?: object }).tasks === 'object' &&
        Object.keys((spec as { tasks: object }).tasks).some((n) => ['__proto__', 'constructor', 'toString'].includes(n));
      return { ...(reserved ? { bad: 'reserved task name' } : {}), run: () => mt.multitask(spec as mt.MultiTaskSpec).summary() };
    },
  },
  {
    name: 'model-call',
    weight: 12,
    make(f) {
      const m = model();
      const task = f.pick(['c', 'r', 's', 't', 'x', '__proto__']);
      const width = f.pick([1, 3, 6]);
      const rows = f.pick([1, 2]);
      const idsKind = f.int(6);
      const inputIds =
        idsKind === 0
          ? mt.randn([rows, width])
          : idsKind === 1
            ? mt.tensor(Array.from({ length: rows }, () => Array.from({ length: width }, () => f.pick([0, 1, 5, 11, 12, -1]))))
            : idsKind === 2
              ? mt.zeros([rows, width], { dtype: 'int64' })
              : mt.randint(1, 12, [rows, width]);
      const lengthsKind = f.int(5);
      const lengths =
        lengthsKind === 0
          ? undefined
          : lengthsKind === 1
            ? mt.tensor(Array.from({ length: rows }, () => f.pick([1, width])))
            : lengthsKind === 2
              ? mt.tensor(Array.from({ length: rows }, () => f.pick([0, -1, width + 1, width])))
              : lengthsKind === 3
                ? mt.tensor(Array.from({ length: rows }, () => 1.5))
                : mt.tensor([1, 1, 1]);
      const lengthValues = lengths ? (lengths.toArray() as number[]) : [];
      const ids = inputIds.toArray() as number[][];
      const bad =
        idsKind === 0
          ? 'float inputIds'
          : idsKind === 1 && ids.flat().some((id) => id < 0 || id >= 12)
            ? 'ids outside the vocabulary'
            : lengthsKind === 2 && lengthValues.some((l) => l < 1 || l > width)
              ? 'lengths outside [1, width]'
              : lengthsKind === 3
                ? 'float lengths'
                : lengthsKind === 4 && rows !== 3
                  ? 'lengths of another batch size'
                  : (idsKind === 2 || (idsKind === 1 && ids.some((row) => row.every((id) => id === 0)))) && lengthsKind === 0
                    ? 'a row of padding only'
                    : undefined;
      const targets = f.chance(0.5) ? smallTensor(f) : undefined;
      const constructed = f.chance(0.9);
      const batch = constructed ? { inputIds, lengths, targets } : anyValue(f);
      const method = f.pick(['forward', 'predict', 'generate'] as const);
      const known = ['c', 'r', 's', 't'].includes(task);
      return {
        label: `${method} ${task}`,
        ...(bad && known && constructed ? { bad } : {}),
        run: () => {
          if (method === 'generate')
            return m.generate(
              task,
              batch as mt.ModelInputs,
              f.chance(0.5) ? { beamSize: f.pick([1, 2, 0, 2000]), maxLength: f.pick([1, 3, 0, -1]) } : (anyValue(f) as mt.GenerateOptions),
            );
          return method === 'forward' ? m.forward(task, batch as mt.TaskBatch) : m.predict(task, batch as mt.ModelInputs);
        },
      };
    },
  },
  {
    name: 'model-mutate',
    weight: 2,
    make(f) {
      const m = model();
      const kind = f.int(4);
      if (kind === 0) return { run: () => m.freeze(anyValue(f) as string) && m.unfreeze('backbone') };
      if (kind === 1) return { run: () => m.partParameterNames(anyValue(f) as string) };
      if (kind === 2) {
        const sd = m.stateDict();
        const key = f.pick(Object.keys(sd));
        const replaced = { ...sd, [key]: f.chance(0.5) ? smallTensor(f) : (anyValue(f) as mt.Tensor) };
        return { run: () => m.loadStateDict(replaced) };
      }
      // A model of its own: addTask changes it.
      const own = mt.multitask({
        input: { vocabSize: 5, maxLength: 3 },
        encoder: { numLayers: 1, dModel: 4, nhead: 1 },
        tasks: { a: mt.tasks.regression() },
      });
      const name = f.pick(['b', 'a', '__proto__', 'constructor', '', 'x y', 5]);
      return {
        ...(['a', '__proto__', 'constructor'].includes(name as string) ? { bad: 'reserved or duplicate task name' } : {}),
        run: () => own.addTask(name as string, f.chance(0.7) ? mt.tasks.regression() : (anyValue(f) as mt.TaskSpec)),
      };
    },
  },
  {
    name: 'dataset',
    weight: 6,
    make(f) {
      const rows = () =>
        Array.from({ length: f.int(4) }, () => Array.from({ length: f.int(4) }, () => f.pick([0, 1, 2, 5, -1, 1.5, 2 ** 63, NaN])));
      const arrays = f.chance(0.2)
        ? anyValue(f)
        : {
            inputIds: f.chance(0.9) ? rows() : anyValue(f),
            targets: f.chance(0.8) ? Array.from({ length: f.int(4) }, () => f.pick([0, 1, 2, -1, 1.5, NaN, [1, 2]])) : undefined,
            targetKind: f.pick(['classification', 'regression', 'sequence', 'tagging', 'multiLabel', 'bogus']),
            padId: f.pick([undefined, 0, -1, 1.5]),
            vocabSize: f.pick([undefined, 3, 0, -1]),
            numClasses: f.pick([undefined, 2, 0]),
            maxLength: f.pick([undefined, 1, 0, 2 ** 40]),
          };
      return { run: () => mt.data.Dataset.fromArrays(arrays as mt.data.DatasetArrays) };
    },
  },
  {
    name: 'trainer-options',
    weight: 6,
    make(f) {
      const factory = (concept: Record<string, (...a: never[]) => unknown>) => {
        const name = f.pick(Object.keys(concept));
        try {
          return f.chance(0.5)
            ? (concept[name] as (...a: unknown[]) => unknown)(f.chance(0.5) ? undefined : anyValue(f))
            : f.pick([{}, { kind: name }, { kind: 'bogus' }, null, anyValue(f)]);
        } catch {
          return {};
        }
      };
      const options = f.chance(0.1)
        ? anyValue(f)
        : {
            strategy: factory(mt.strategy as never),
            weighting: factory(mt.weighting as never),
            ...(f.chance(0.5) ? { sampler: factory(mt.sampler as never) } : {}),
            optimizer: factory(mt.optim as never),
            schedule: factory(mt.schedule as never),
            batchSize: f.pick([1, 8, 0, -1, 1.5, NaN, 2 ** 40]),
            clipGradNorm: f.pick([0, 1, -1, NaN, Infinity]),
            precision: f.pick(['fp32', 'bf16', 'fp16', 'x']),
            accumulateSteps: f.pick([1, 2, 0]),
            seed: f.pick([0, -1, 2 ** 64]),
          };
      const empty =
        typeof options === 'object' &&
        options !== null &&
        Object.values(options).some((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
      return { ...(empty ? { bad: 'an empty factory object' } : {}), run: () => new mt.Trainer(model(), options as mt.TrainerOptions) };
    },
  },
  {
    name: 'fit',
    weight: 1,
    make(f) {
      const settings = f.chance(0.3)
        ? anyValue(f)
        : {
            steps: f.pick([1, 2, 0, -1, 1.5, NaN]),
            epochs: f.pick([undefined, 1, 0]),
            evalEvery: f.pick([undefined, 1, 0]),
            progressEvery: f.pick([undefined, 1]),
            earlyStopping: f.pick([
              undefined,
              { metric: 'bogus' },
              { metric: '__proto__.x' },
              { metric: 'c.accuracy' },
              { metric: 'loss', patience: 0 },
            ]),
            checkpointDir: f.pick([undefined, path.join(f.scratch, 'fit'), hostilePath(f)]),
            checkpointEvery: f.pick([undefined, 1, -1]),
            resumeFrom: f.pick([undefined, hostilePath(f)]),
            onProgress: f.pick([
              undefined,
              () => {
                throw new Error('listener');
              },
              () => {},
            ]),
            evalSets: f.pick([undefined, dataSets(), { c: dataSets().c }, { x: dataSets().c }, {}]),
          };
      const trainSets = f.chance(0.85) ? f.pick([dataSets(), { c: dataSets().c }]) : anyValue(f);
      const bogusMetric =
        typeof settings === 'object' &&
        settings !== null &&
        ['bogus', '__proto__.x'].includes((settings as { earlyStopping?: { metric?: string } }).earlyStopping?.metric ?? '');
      return {
        ...(bogusMetric ? { bad: 'an unknown earlyStopping metric' } : {}),
        run: () => new mt.Trainer(model(), { batchSize: 2 }).fit(trainSets as Record<string, mt.data.Dataset>, settings as mt.FitOptions),
      };
    },
  },
  {
    name: 'save-load',
    weight: 6,
    make(f) {
      const kind = f.int(5);
      if (kind === 0) return { run: () => mt.save(hostilePath(f), { w: mt.ones([2]) }), bad: undefined };
      if (kind === 1) return { run: () => mt.load(hostilePath(f)) };
      if (kind === 2) {
        const file = path.join(f.scratch, `ok-${f.int(4)}.safetensors`);
        const dict = f.chance(0.7) ? { a: smallTensor(f), b: smallTensor(f) } : anyValue(f);
        return {
          run: () => mt.save(file, dict as Record<string, mt.Tensor>, f.chance(0.8) ? undefined : (anyValue(f) as Record<string, string>)),
        };
      }
      // A valid file with some bytes changed, or cut short.
      const file = path.join(f.scratch, 'mutated.safetensors');
      mt.save(file, { a: mt.ones([3, 2]), b: mt.tensor([1, 2, 3]) }, { format: 'pt' });
      const bytes = readFileSync(file);
      const mutated = f.chance(0.3) ? bytes.subarray(0, f.int(bytes.length)) : Buffer.from(bytes);
      for (let i = 0; i < 1 + f.int(4) && mutated.length > 0; i++)
        mutated[f.int(Math.min(mutated.length, f.chance(0.7) ? 80 : mutated.length))] = f.int(256);
      writeFileSync(file, mutated);
      return { run: () => mt.load(file) };
    },
  },
  {
    name: 'model-folder',
    weight: 3,
    make(f) {
      return {
        run: async () => {
          const source = await savedModel(f);
          const dir = path.join(f.scratch, `folder-${f.int(3)}`);
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir);
          copyFileSync(path.join(source, 'model.safetensors'), path.join(dir, 'model.safetensors'));
          const config = JSON.parse(readFileSync(path.join(source, 'config.json'), 'utf8'));
          switch (f.int(6)) {
            case 0:
              symlinkSync(hostilePath(f).replace('\u0000', '') || '/dev/zero', path.join(dir, 'config.json'));
              break;
            case 1:
              config.encoder[f.pick(['numLayers', 'dModel', 'nhead', 'dimFeedforward'])] = f.pick(HOSTILE_NUMBERS);
              writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
              break;
            case 2:
              config.tasks.push({ ...config.tasks[0], name: f.pick(['__proto__', 'c', 'constructor']) });
              writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
              break;
            case 3:
              writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config).slice(0, f.int(200)));
              break;
            case 4:
              rmSync(path.join(dir, 'model.safetensors'));
              symlinkSync(hostilePath(f).replace('\u0000', '') || '/dev/zero', path.join(dir, 'model.safetensors'));
              writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
              break;
            default:
              config.input[f.pick(['vocabSize', 'maxLength', 'padId'])] = f.pick(HOSTILE_NUMBERS);
              writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
          }
          return mt.MultiTaskModel.load(f.chance(0.9) ? dir : (anyValue(f) as string));
        },
      };
    },
  },
  {
    name: 'checkpoint',
    weight: 2,
    make(f) {
      const replacement = (t: mt.Tensor) => {
        switch (f.int(6)) {
          case 0:
            return mt.zeros([...t.shape, 1]);
          case 1:
            return t.to(t.dtype === 'int64' ? 'float32' : 'int64');
          case 2:
            return t.dtype.startsWith('float')
              ? mt.fullLike(t, f.pick([NaN, Infinity, -1e30]))
              : mt.fullLike(t, f.pick([-1, -(2 ** 40), 2 ** 40, 1000]));
          case 3:
            return mt.zeros([0]);
          case 4:
            return mt.randint(0, 256, t.shape, { dtype: 'uint8' });
          default:
            return t.dtype.startsWith('float') ? mt.fullLike(t, -1) : mt.fullLike(t, -1);
        }
      };
      const call: Call = {
        run: async () => {
          const file = await checkpoint(f);
          const { tensors, metadata } = mt.loadWithMetadata(file);
          const key = f.pick(Object.keys(tensors));
          const edit = f.int(5);
          let bad: string | undefined;
          if (edit === 0) {
            delete tensors[key];
            bad = 'a missing entry';
          } else if (edit === 1) {
            tensors[`${key}.extra`] = mt.zeros([1]);
            bad = 'an unknown entry';
          } else if (edit === 2) {
            const entry = f.pick(Object.keys(metadata).filter((k) => k !== 'format'));
            const value = f.pick(['', 'x', 'a,b', 'sgd']);
            if (metadata[entry] !== value) bad = 'other metadata';
            metadata[entry] = value;
          } else {
            const before = tensors[key]!;
            const after = replacement(before);
            const sameLayout = after.dtype === before.dtype && after.shape.join() === before.shape.join();
            if (!sameLayout) bad = 'an entry of another dtype or shape';
            else if (after.dtype.startsWith('float') && !(after.isfinite().all().item() as boolean)) bad = 'a non-finite entry';
            tensors[key] = after;
          }
          call.bad = bad;
          const edited = path.join(f.scratch, 'edited.safetensors');
          mt.save(edited, tensors, metadata);
          const strategy = f.chance(0.3) ? { strategy: mt.strategy.alternating({ every: 'epoch' }), sampler: mt.sampler.roundRobin() } : {};
          if (strategy.strategy) call.bad = undefined; // refused for its strategy whatever the edit
          return new mt.Trainer(model(), { batchSize: 2, ...strategy }).fit(dataSets(), { steps: 3, resumeFrom: edited });
        },
      };
      return call;
    },
  },
  {
    // Issue #25 items 9 and 10: errors that were not the library's, and values that meant nothing.
    name: 'refusals',
    weight: 3,
    make(f) {
      const lookAlike = () => f.pick([Object.create(mt.Tensor.prototype), { handle: 2 ** 52, shape: [2], dtype: 'float32' }]);
      switch (f.int(10)) {
        case 0:
          return { bad: 'tidy of a non-function', run: () => mt.tidy(f.pick([smallTensor(f), 1, null, 'x', {}]) as never) };
        case 1: {
          let nested: unknown = smallTensor(f);
          const depth = f.pick([10, 10_000, 200_000]);
          for (let i = 0; i < depth; i++) nested = [nested];
          return { label: `dispose at depth ${depth}`, run: () => mt.dispose(nested) };
        }
        case 2:
          return {
            bad: 'a task that is not a head',
            run: () =>
              mt.multitask({
                input: { vocabSize: 12, maxLength: 6 },
                encoder: { numLayers: 1, dModel: 8, nhead: 2 },
                tasks: { [f.pick(['constructor', 'a', 'toString'])]: f.pick([3, 'x', null, []]) } as never,
              }),
          };
        case 3:
          return {
            bad: 'glueTaskScore of odd objects',
            run: () =>
              mt.metrics.glueTaskScore(
                f.pick([
                  Object.create(null),
                  [],
                  5,
                  {
                    toString: () => {
                      throw new Error('x');
                    },
                  },
                  'cola',
                ]) as never,
                f.pick([[], Object.create(null), null, 3, { matthews: '1' }]) as never,
              ),
          };
        case 4: {
          const use = f.int(4);
          // dispose and tidy walk plain objects (a plain { handle, ... } is data to them): only the prototype fake is bad there.
          const fake = use < 2 ? Object.create(mt.Tensor.prototype) : lookAlike();
          return {
            bad: 'a tensor look-alike',
            run: () =>
              use === 0
                ? mt.dispose([fake])
                : use === 1
                  ? mt.tidy(() => fake)
                  : use === 2
                    ? model().loadStateDict({ 'tasks.c.out.bias': fake })
                    : smallTensor(f).add(fake),
          };
        }
        case 5:
          return {
            bad: 'nllLoss labelSmoothing',
            run: () =>
              mt.nn.functional.nllLoss(mt.randn([2, 3]).logSoftmax(1), mt.tensor([0, 2], { dtype: 'int64' }), {
                labelSmoothing: f.pick([NaN, 2, -0.5, 0.1, 0]),
              } as never),
          };
        case 6:
          return {
            bad: 'crossEntropy labelSmoothing outside [0, 1)',
            run: () =>
              mt.nn.functional.crossEntropy(mt.randn([2, 3]), mt.tensor([0, 2], { dtype: 'int64' }), {
                labelSmoothing: f.pick([NaN, 2, -0.5, 1, Infinity]),
              }),
          };
        case 7:
          return {
            bad: 'to({}) does nothing',
            run: () => smallTensor(f).to(f.pick([{}, { dtype: undefined }, { device: undefined }]) as never),
          };
        case 8:
          return {
            bad: 'loop.step beyond the fit',
            run: async () => {
              const { tensors, metadata } = mt.loadWithMetadata(await checkpoint(f));
              tensors['loop.step'] = mt.tensor(f.pick([2n ** 62n, 4n, 1000n, -1n]), { dtype: 'int64' });
              const edited = path.join(f.scratch, 'step.safetensors');
              mt.save(edited, tensors, metadata);
              return new mt.Trainer(model(), { batchSize: 2 }).fit(dataSets(), { steps: 3, resumeFrom: edited });
            },
          };
        default:
          return {
            label: 'a config.json with a UTF-8 byte-order mark',
            run: async () => {
              const dir = path.join(f.scratch, 'bom-model');
              if (!existsSync(dir)) {
                await model().save(dir);
                writeFileSync(path.join(dir, 'config.json'), '\ufeff' + readFileSync(path.join(dir, 'config.json'), 'utf8'));
              }
              return mt.MultiTaskModel.load(dir);
            },
          };
      }
    },
  },
];
