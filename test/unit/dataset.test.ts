import { afterAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const { Dataset } = mt.data;
const made: mt.data.Dataset[] = [];
const keep = (d: mt.data.Dataset) => {
  made.push(d);
  return d;
};
afterAll(() => made.forEach((d) => d.dispose()));

const disposeAll = (b: object) => Object.values(b as Record<string, mt.Tensor | undefined>).forEach((t) => t?.dispose());

describe('Dataset.fromArrays', () => {
  it('pads rows, keeps lengths, and trims a batch to its longest row', () => {
    const ds = keep(
      Dataset.fromArrays({
        inputIds: [[5, 6, 7, 8], [9], [10, 11]],
        targets: [2, 0, 1],
        targetKind: 'classification',
        padId: 1,
        maxLength: 6,
        numClasses: 3,
      }),
    );
    expect(ds.size).toBe(3);
    expect(ds.length).toBe(3);
    expect(ds.maxLength).toBe(6);
    expect(ds.targetKind).toBe('classification');
    const all = ds.tensors();
    expect(all.inputIds.toArray()).toEqual([
      [5, 6, 7, 8, 1, 1],
      [9, 1, 1, 1, 1, 1],
      [10, 11, 1, 1, 1, 1],
    ]);
    expect(all.inputIds.dtype).toBe('int64');
    disposeAll(all);
    const b = ds.batch([2, 1]);
    expect(b.indices.toArray()).toEqual([2, 1]);
    expect(b.inputIds.toArray()).toEqual([
      [10, 11],
      [9, 1],
    ]);
    expect(b.lengths.toArray()).toEqual([2, 1]);
    expect(b.targets!.toArray()).toEqual([1, 0]);
    expect(b.tokenTypeIds).toBeUndefined();
    disposeAll(b);
    const byTensor = mt.tensor([0]);
    const b0 = ds.batch(byTensor);
    expect(b0.inputIds.shape).toEqual([1, 4]);
    disposeAll(b0);
    byTensor.dispose();
  });

  it('pairIds: second segment appended with token type 1', () => {
    const ds = keep(
      Dataset.fromArrays({ inputIds: [[1, 2], [3]], pairIds: [[4], [5, 6, 7]], targets: [0.5, -1], targetKind: 'regression' }),
    );
    const t = ds.tensors();
    expect(t.inputIds.toArray()).toEqual([
      [1, 2, 4, 0],
      [3, 5, 6, 7],
    ]);
    expect(t.tokenTypeIds!.toArray()).toEqual([
      [0, 0, 1, 0],
      [0, 1, 1, 1],
    ]);
    expect(t.targets!.dtype).toBe('float32');
    expect(t.targets!.toArray()).toEqual([0.5, -1]);
    disposeAll(t);
  });

  it('multi-label, sequence and tagging targets', () => {
    const multi = keep(
      Dataset.fromArrays({
        inputIds: [[1], [2]],
        targets: [
          [1, 0, 1],
          [0, 0, 1],
        ],
        targetKind: 'multiLabel',
      }),
    );
    const mb = multi.batch([1]);
    expect(mb.targets!.shape).toEqual([1, 3]);
    expect(mb.targets!.toArray()).toEqual([[0, 0, 1]]);
    disposeAll(mb);

    const seq = keep(
      Dataset.fromArrays({ inputIds: [[1, 2], [3], [4]], targets: [[7, 8, 9, 3], [7, 3], [3]], targetKind: 'sequence', targetPadId: 0 }),
    );
    const sb = seq.batch([1, 2]);
    // Trimmed to the batch's longest target (2), padded with targetPadId.
    expect(sb.targets!.toArray()).toEqual([
      [7, 3],
      [3, 0],
    ]);
    expect(sb.targetLengths!.toArray()).toEqual([2, 1]);
    disposeAll(sb);

    const tag = keep(Dataset.fromArrays({ inputIds: [[1, 2, 3], [4]], targets: [[0, 1, 2], [1]], targetKind: 'tagging', numClasses: 3 }));
    const tb = tag.batch([1]);
    expect(tb.targets!.toArray()).toEqual([[1]]);
    disposeAll(tb);
    const tt = tag.tensors();
    // Tags are padded with -100, the ignore index of PyTorch's cross-entropy.
    expect(tt.targets!.toArray()).toEqual([
      [0, 1, 2],
      [1, -100, -100],
    ]);
    disposeAll(tt);
  });

  it('continuous features and tokenized examples', () => {
    const ds = keep(
      Dataset.fromExamples(
        [
          { inputIds: [1, 2], tokenTypeIds: [0, 1], target: 1 },
          { inputIds: [3], tokenTypeIds: [0], target: 0 },
        ],
        { targetKind: 'classification', features: [[[0.5], [1]], [[2]]], labels: ['no', 'yes'] },
      ),
    );
    expect(ds.labels).toEqual(['no', 'yes']);
    const b = ds.batch([1, 0]);
    // One vector per position, zero past each row's end.
    expect(b.features!.toArray()).toEqual([
      [[2], [0]],
      [[0.5], [1]],
    ]);
    expect(b.tokenTypeIds!.toArray()).toEqual([
      [0, 0],
      [0, 1],
    ]);
    disposeAll(b);
  });

  it('unlabeled data sets (test splits) omit targets: their batches have none', () => {
    const ds = keep(Dataset.fromArrays({ inputIds: [[1], [2]], targetKind: 'classification' }));
    expect(ds.labeled).toBe(false);
    expect(ds.size).toBe(2);
    const b = ds.batch([0, 1]);
    expect(b.targets).toBeUndefined();
    disposeAll(b);
  });
});

describe('Dataset.fromTensors', () => {
  it('takes padded tensors and keeps its own copy', () => {
    const inputIds = mt.tensor([
      [3, 4, 0],
      [5, 0, 0],
    ]);
    const lengths = mt.tensor([2, 1]);
    const targets = mt.tensor([
      [1, 2],
      [3, 0],
    ]);
    const targetLengths = mt.tensor([2, 1]);
    const ds = keep(Dataset.fromTensors({ inputIds, lengths, targets, targetLengths, targetKind: 'sequence' }));
    for (const t of [inputIds, lengths, targets, targetLengths]) t.dispose();
    const b = ds.batch([1]);
    expect(b.inputIds.toArray()).toEqual([[5]]);
    expect(b.targets!.toArray()).toEqual([[3]]);
    disposeAll(b);
  });

  it('shape errors are found natively and name the field', () => {
    const ids = mt.tensor([
      [3, 4],
      [5, 0],
    ]);
    const two = mt.tensor([2, 1]);
    const three = mt.tensor([0, 1, 1]);
    const tooLong = mt.tensor([3, 1]);
    const floats = mt.tensor([
      [0.5, 1],
      [1, 2],
    ]);
    const fail = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as mt.TorchError;
      }
      throw new Error('expected an error');
    };
    expect(fail(() => Dataset.fromTensors({ inputIds: ids, lengths: two, targets: three, targetKind: 'classification' })).message).toMatch(
      /'targets' must have 2 rows \(one per example\), got 3/,
    );
    expect(
      fail(() => Dataset.fromTensors({ inputIds: ids, lengths: tooLong, targets: two, targetKind: 'classification' })).message,
    ).toMatch(/'lengths' must lie in \[1, 2\]/);
    expect(fail(() => Dataset.fromTensors({ inputIds: ids, lengths: two, targets: two, targetKind: 'tagging' })).message).toMatch(
      /'targets' must have 2 dimensions/,
    );
    expect(fail(() => Dataset.fromTensors({ inputIds: floats, lengths: two, targets: two, targetKind: 'classification' })).message).toMatch(
      /'inputIds' must hold integers/,
    );
    expect(fail(() => Dataset.fromTensors({ inputIds: ids, lengths: two, targets: two, targetKind: 'sequence' })).message).toMatch(
      /'targetLengths' is required/,
    );
    expect(
      fail(() => Dataset.fromTensors({ inputIds: [[1]] as never, lengths: two, targets: two, targetKind: 'classification' })).message,
    ).toMatch(/'inputIds' must be a tensor/);
    for (const t of [ids, two, three, tooLong, floats]) t.dispose();
  });
});

describe('Dataset: shuffling and batching', () => {
  const ds = keep(
    Dataset.fromArrays({
      inputIds: Array.from({ length: 50 }, (_, i) => [i + 1]),
      targets: Array.from({ length: 50 }, (_, i) => i % 3),
      targetKind: 'classification',
    }),
  );

  it('the same seed gives the same order, whatever the global RNG does', () => {
    const first = ds.shuffledOrder(42);
    mt.manualSeed(123);
    mt.rand([10]).dispose();
    expect(ds.shuffledOrder(42)).toEqual(first);
    expect(ds.shuffledOrder(43)).not.toEqual(first);
    expect([...first].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('batchIndices: in order, shuffled, dropLast', () => {
    const ordered = ds.batchIndices({ batchSize: 16 });
    expect(ordered.map((b) => b.length)).toEqual([16, 16, 16, 2]);
    expect(ordered[0]!.slice(0, 3)).toEqual([0, 1, 2]);
    const shuffled = ds.batchIndices({ batchSize: 16, seed: 42 });
    expect(shuffled.flat()).toEqual(ds.shuffledOrder(42));
    expect(ds.batchIndices({ batchSize: 16, seed: 42, dropLast: true }).map((b) => b.length)).toEqual([16, 16, 16]);
  });
});

describe('Dataset: bad input', () => {
  const base = { inputIds: [[1, 2], [3]], targets: [0, 1], targetKind: 'classification' as const };
  const cases: [string, Partial<mt.data.DatasetArrays> & Record<string, unknown>, RegExp][] = [
    ['empty data set', { inputIds: [], targets: [] }, /the data set is empty/],
    ['empty row', { inputIds: [[1], []] }, /'inputIds\[1\]' is empty/],
    ['non-integer id', { inputIds: [[1, 2.5], [3]] }, /'inputIds\[0\]\[1\]' must be a non-negative integer id/],
    ['negative id', { inputIds: [[1, -2], [3]] }, /'inputIds\[0\]\[1\]'/],
    ['id out of vocabulary', { vocabSize: 3 }, /'inputIds\[1\]\[0\]' = 3 is out of range for a vocabulary of 3/],
    ['row too long', { maxLength: 1 }, /'inputIds\[0\]' has 2 tokens, more than maxLength 1/],
    ['targets count', { targets: [0] }, /'targets' has 1 entries but 'inputIds' has 2/],
    ['class out of range', { numClasses: 1 }, /'targets\[1\]' = 1 is out of range for 1 classes/],
    ['fractional class', { targets: [0, 0.5] }, /'targets\[1\]' must be a non-negative class id/],
    ['unknown kind', { targetKind: 'ranking' as never }, /'targetKind' must be one of 'classification', 'regression'/],
    ['regression NaN', { targetKind: 'regression', targets: [0, Number.NaN] }, /'targets\[1\]' must be a finite number/],
    ['ragged multi-label', { targetKind: 'multiLabel', targets: [[1, 0], [1]] }, /'targets' is ragged: row 1 has 1 labels, row 0 has 2/],
    [
      'tagging length',
      {
        targetKind: 'tagging',
        targets: [
          [0, 1],
          [0, 1],
        ],
      },
      /'targets\[1\]' has 2 tags but the input has 1 tokens/,
    ],
    ['pairIds rows', { pairIds: [[1]] }, /'pairIds' has 1 rows but 'inputIds' has 2/],
    ['pair and token types', { pairIds: [[1], [2]], tokenTypeIds: [[0, 0], [0]] }, /either 'pairIds' or 'tokenTypeIds'/],
    ['token types shape', { tokenTypeIds: [[0], [0]] }, /'tokenTypeIds\[0\]' has 1 entries but 'inputIds\[0\]' has 2/],
    [
      'ragged features',
      {
        features: [
          [
            [1, 2],
            [3, 4],
          ],
          [[5]],
        ],
      },
      /'features' is ragged: features\[1\]\[0\] must have 2 values/,
    ],
    [
      'features per example',
      {
        features: [
          [1, 2],
          [3, 4],
        ] as never,
      },
      /'features' must hold one vector per token of each row/,
    ],
    ['inputIds not arrays', { inputIds: 'abc' as never }, /'inputIds' must be an array of id arrays/],
  ];
  for (const [name, change, message] of cases) {
    it(name, () => {
      let error: unknown;
      try {
        Dataset.fromArrays({ ...base, ...change } as mt.data.DatasetArrays);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(mt.TorchError);
      expect((error as mt.TorchError).code).toBe('ERR_INVALID_ARG');
      expect((error as Error).message).toMatch(message);
    });
  }

  it('batch indices and batch sizes are checked; disposed data sets refuse use', () => {
    const ds = Dataset.fromArrays(base);
    expect(() => ds.batch([])).toThrow(/'indices' is empty/);
    expect(() => ds.batch([0, 2])).toThrow(/'indices\[1\]' = 2 is out of range for 2 examples/);
    const bad = mt.tensor([5]);
    expect(() => ds.batch(bad)).toThrow(/'indices' must lie in \[0, 2\)/);
    bad.dispose();
    expect(() => ds.batchIndices({ batchSize: 0 })).toThrow(/'batchSize' must be positive/);
    ds.dispose();
    expect(ds.isDisposed).toBe(true);
    let error: unknown;
    try {
      ds.batch([0]);
    } catch (e) {
      error = e;
    }
    expect((error as mt.TorchError).code).toBe('ERR_DISPOSED');
  });

  it('memory held by tensors passed in is released', () => {
    const before = mt.memory().tensors;
    const ds = Dataset.fromArrays({ ...base, targetKind: 'classification' });
    expect(mt.memory().tensors).toBe(before);
    ds.dispose();
  });
});
