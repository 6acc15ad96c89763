import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const { glue } = mt.data;
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'glue');
const tokenizer = new mt.data.CharTokenizer({ alphabet: ' abcdefghijklmnopqrstuvwxyz', lowercase: true });
const made: mt.data.Dataset[] = [];
const load = (task: string, split?: string, maxLength = 64) => {
  const ds = glue.load(dir, task, tokenizer, { split, maxLength });
  made.push(ds);
  return ds;
};
afterAll(() => made.forEach((d) => d.dispose()));

describe('glue.readExamples: every task layout', () => {
  it('CoLA: headerless train/dev (label col 1, sentence col 3), test with an index header', () => {
    const train = glue.readExamples(dir, 'cola');
    expect(train.examples.map((e) => e.label)).toEqual([1, 0, 1]);
    expect(train.examples[1]!.text).toBe('They drank the pub "dry".');
    expect(train.examples[0]!.pair).toBeUndefined();
    const test = glue.readExamples(dir, 'CoLA', { split: 'test' });
    expect(test.hasLabels).toBe(false);
    expect(test.examples.map((e) => e.id)).toEqual(['0', '1']);
    expect(test.examples[1]!.text).toBe('The car honked "down" the road.');
  });

  it('SST-2: sentence/label header; raw quotes kept', () => {
    const train = glue.readExamples(dir, 'sst2');
    expect(train.examples.map((e) => e.label)).toEqual([0, 1, 1]);
    expect(train.examples[2]!.text).toBe('" a gorgeous film ');
    expect(glue.readExamples(dir, 'SST-2', { split: 'test' }).examples[0]!.text).toBe('uneasy mishmash of styles and genres .');
  });

  it('MRPC: Quality / #1 String / #2 String, header with a byte-order mark', () => {
    const train = glue.readExamples(dir, 'mrpc');
    expect(train.examples.map((e) => e.label)).toEqual([1, 0]);
    expect(train.examples[0]!.pair).toMatch(/^Referring to him/);
    const test = glue.readExamples(dir, 'mrpc', { split: 'test' });
    expect(test.hasLabels).toBe(false);
    expect(test.examples[0]!.text).toMatch(/^PCCW/);
  });

  it('STS-B: 10 columns, sentences in columns 7 and 8, score last as a regression value', () => {
    const train = glue.readExamples(dir, 'sts-b');
    expect(train.labels).toBe('regression');
    expect(train.examples.map((e) => e.label)).toEqual([5, 3.8, 3.8]);
    expect(train.examples[0]).toMatchObject({ text: 'A plane is taking off.', pair: 'An air plane is taking off.' });
    const test = glue.readExamples(dir, 'stsb', { split: 'test' });
    expect(test.examples[0]).toMatchObject({ text: 'A girl is styling her hair.', pair: 'A girl is brushing her hair.' });
    expect(test.examples[0]!.label).toBeUndefined();
  });

  it('QQP: question1/question2/is_duplicate, malformed rows skipped and counted', () => {
    const train = glue.readExamples(dir, 'qqp');
    expect(train.skipped).toBe(2);
    expect(train.examples.map((e) => e.id)).toEqual(['133273', '402555', '360472']);
    expect(train.examples.map((e) => e.label)).toEqual([0, 1, 1]);
    const test = glue.readExamples(dir, 'qqp', { split: 'test' });
    expect(test.examples[0]!.pair).toMatch(/^Find the remainder/);
  });

  it('MNLI: sentence1/2 in columns 8/9, gold_label last; both dev and test sets', () => {
    expect(glue.splits('mnli')).toEqual(['train', 'dev_matched', 'dev_mismatched', 'test_matched', 'test_mismatched']);
    const train = glue.readExamples(dir, 'mnli');
    // Row 2's label1 says entailment but gold_label (the last column) says contradiction.
    expect(train.examples.map((e) => e.label)).toEqual([2, 1, 0]);
    expect(train.labels).toEqual(['contradiction', 'entailment', 'neutral']);
    const matched = glue.readExamples(dir, 'mnli', { split: 'dev_matched' });
    expect(matched.examples.map((e) => e.label)).toEqual([2, 0]);
    const mismatched = glue.readExamples(dir, 'mnli', { split: 'dev_mismatched' });
    expect(mismatched.examples.map((e) => e.label)).toEqual([0, 1, 1]);
    expect(mismatched.examples[2]!.text).toBe('"Perhaps," he said.');
    for (const split of ['test_matched', 'test_mismatched']) {
      const test = glue.readExamples(dir, 'mnli', { split });
      expect(test.hasLabels).toBe(false);
      expect(test.examples).toHaveLength(1);
    }
    expect(() => glue.readExamples(dir, 'mnli', { split: 'dev' })).toThrow(/'split' must be one of 'train', 'dev_matched'/);
  });

  it('QNLI, RTE (entailment/not_entailment) and WNLI (0/1)', () => {
    expect(glue.readExamples(dir, 'qnli').examples.map((e) => e.label)).toEqual([1, 0]);
    expect(glue.readExamples(dir, 'qnli').examples[0]!.text).toBe('When did the third Digimon series begin?');
    expect(glue.readExamples(dir, 'rte').examples.map((e) => e.label)).toEqual([1, 0]);
    expect(glue.readExamples(dir, 'wnli').examples.map((e) => e.label)).toEqual([1, 1, 1, 0]);
    for (const task of ['qnli', 'rte', 'wnli']) expect(glue.readExamples(dir, task, { split: 'test' }).hasLabels).toBe(false);
  });

  it('accepts the task folder itself as dir', () => {
    expect(glue.readExamples(path.join(dir, 'RTE'), 'rte', { split: 'dev' }).examples).toHaveLength(1);
  });
});

describe('glue.load: native data sets', () => {
  it('builds class data sets with label vocabularies and pair token types', () => {
    const ds = load('rte', 'train');
    expect(ds.size).toBe(2);
    expect(ds.targetKind).toBe('classification');
    expect(ds.labels).toEqual(['entailment', 'not_entailment']);
    expect(ds.name).toBe('glue/rte/train');
    const b = ds.batch([0, 1]);
    expect(b.targets!.toArray()).toEqual([1, 0]);
    expect(b.tokenTypeIds).toBeDefined();
    // <bos> sentence1 <sep> sentence2 <eos>: type 0 through <sep>, then 1.
    const types = (b.tokenTypeIds!.toArray() as number[][])[0]!;
    const ids = (b.inputIds.toArray() as number[][])[0]!;
    expect(ids[0]).toBe(tokenizer.bosId);
    const sep = ids.indexOf(tokenizer.sepId);
    expect(types.slice(0, sep + 1).every((t) => t === 0)).toBe(true);
    expect(types[sep + 1]).toBe(1);
    expect(Math.max(...(b.lengths.toArray() as number[]))).toBeLessThanOrEqual(64);
    Object.values(b).forEach((t) => t?.dispose());
  });

  it('STS-B is regression; single-sentence tasks have no token types', () => {
    const stsb = load('stsb', 'train');
    expect(stsb.targetKind).toBe('regression');
    const t = stsb.tensors();
    expect(Array.from(t.targets!.dataSync() as Float32Array)).toEqual([5, Math.fround(3.8), Math.fround(3.8)]);
    Object.values(t).forEach((x) => x?.dispose());
    const cola = load('cola', 'dev');
    expect(cola.tensors().tokenTypeIds).toBeUndefined();
  });

  it('test splits load as unlabeled data sets', () => {
    for (const [task, split] of [
      ['cola', 'test'],
      ['sst2', 'test'],
      ['mrpc', 'test'],
      ['stsb', 'test'],
      ['qqp', 'test'],
      ['mnli', 'test_matched'],
      ['mnli', 'test_mismatched'],
      ['qnli', 'test'],
      ['rte', 'test'],
      ['wnli', 'test'],
    ] as const) {
      const ds = load(task, split);
      expect(ds.labeled, `${task}/${split}`).toBe(false);
      expect(ds.size).toBeGreaterThan(0);
    }
  });

  it('every task and split loads', () => {
    for (const task of glue.TASKS) {
      for (const split of glue.splits(task)) expect(load(task, split).size, `${task}/${split}`).toBeGreaterThan(0);
    }
  });

  it('truncates to maxLength', () => {
    const ds = load('mrpc', 'train', 20);
    expect(ds.maxLength).toBe(20);
  });

  it('works with a WordPiece tokenizer trained on the training text', () => {
    const texts = glue.readExamples(dir, 'mrpc').examples.flatMap((e) => [e.text, e.pair!]);
    const wordpiece = mt.data.SubwordTokenizer.trainWordPiece(texts, { vocabSize: 120 });
    const ds = glue.load(dir, 'mrpc', wordpiece, { maxLength: 32 });
    made.push(ds);
    const t = ds.tensors();
    const ids = (t.inputIds.toArray() as number[][])[0]!;
    expect(ids[0]).toBe(wordpiece.tokenToId('[CLS]'));
    expect(ids.filter((id) => id === wordpiece.tokenToId('[SEP]'))).toHaveLength(2);
    Object.values(t).forEach((x) => x?.dispose());
  });
});

describe('glue: bad input', () => {
  it('names the problem', () => {
    expect(() => glue.readExamples(dir, 'squad')).toThrow(/'task' must be one of/);
    expect(() => glue.readExamples(dir, 'rte', { split: 'validation' })).toThrow(/'split' must be one of 'train', 'dev', 'test'/);
    expect(() => glue.readExamples(path.join(dir, 'nowhere'), 'rte')).toThrow(/no RTE file 'train.tsv'/);
    expect(() => glue.load(dir, 'rte', {} as never)).toThrow(/'tokenizer' must be a tokenizer/);
    try {
      glue.readExamples(path.join(dir, 'nowhere'), 'rte');
    } catch (error) {
      expect(error).toBeInstanceOf(mt.TorchError);
      expect((error as mt.TorchError).code).toBe('ERR_NOT_FOUND');
    }
  });
});

describe('glue: bad data files', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'mt-glue-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (task: string, file: string, text: string) => {
    mkdirSync(path.join(root, task), { recursive: true });
    writeFileSync(path.join(root, task, file), text);
  };
  const failure = (fn: () => unknown): mt.TorchError => {
    try {
      fn();
    } catch (error) {
      return error as mt.TorchError;
    }
    throw new Error('expected an error');
  };

  it('a label outside the vocabulary names the file and line', () => {
    write('RTE', 'train.tsv', 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tmaybe\n');
    const error = failure(() => glue.readExamples(root, 'rte'));
    expect(error.code).toBe('ERR_BAD_DATA');
    expect(error.message).toMatch(/RTE\/train.tsv:3: label 'maybe' is not one of entailment,not_entailment/);
  });

  it('a score that is not a number', () => {
    write(
      'STS-B',
      'dev.tsv',
      'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\thigh\n',
    );
    expect(glue.readExamples.bind(null, root, 'stsb', { split: 'dev' })).toThrow(/score 'high' is not a number/);
  });

  it('a header without the expected column, and a file without examples', () => {
    write('SST-2', 'train.tsv', 'text\tlabel\nfine\t1\n');
    expect(() => glue.readExamples(root, 'sst2')).toThrow(/has no 'sentence' column/);
    write('SST-2', 'dev.tsv', 'sentence\tlabel\n');
    expect(() => glue.readExamples(root, 'sst2', { split: 'dev' })).toThrow(/has no examples/);
  });
});
