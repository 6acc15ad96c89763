/**
 * GLUE loaders: the nine tasks read from a directory in the standard GLUE layout (as written by the
 * GLUE download script: `<dir>/CoLA/train.tsv`, `<dir>/MNLI/dev_matched.tsv`, ...). Nothing is
 * downloaded; `dir` may be the GLUE root (holding the task folders) or one task's folder.
 *
 * Files are tab-separated and read without quote handling (GLUE sentences contain raw quotes).
 * Columns are found by header name where the file has a header, by position in CoLA's headerless
 * train/dev files. Rows whose column count differs from the header's (QQP's train file has some)
 * are skipped and counted in `skipped`. Test files have no labels: their data sets are unlabeled.
 *
 * Label vocabularies (id = position), as in the GLUE baselines and Hugging Face's processors:
 *   CoLA ['0', '1'] (unacceptable, acceptable); SST-2 ['0', '1'] (negative, positive);
 *   MRPC, QQP ['0', '1'] (not paraphrase/duplicate, paraphrase/duplicate);
 *   MNLI ['contradiction', 'entailment', 'neutral']; QNLI, RTE ['entailment', 'not_entailment'];
 *   WNLI ['0', '1']; STS-B is regression (the similarity score, 0 to 5).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argumentError, TorchError } from '../errors.ts';
import { MAX_TEXT_DATA_BYTES, readTextFile } from '../files.ts';
import { checkInt, checkOneOf, describe, optionsObject } from '../validate.ts';
import { Dataset } from './dataset.ts';
import type { TextTokenizer, TruncationStrategy } from './tokenizers.ts';

export const TASKS = ['cola', 'sst2', 'mrpc', 'stsb', 'qqp', 'mnli', 'qnli', 'rte', 'wnli'] as const;
export type GlueTask = (typeof TASKS)[number];

/** Column of a field: a header name, or a position for headerless files. */
type Column = string | number;
interface FileLayout {
  header: boolean;
  text: Column;
  pair?: Column;
  label?: Column;
  id?: Column;
}
interface TaskSpec {
  folder: string;
  labels: string[] | 'regression';
  splits: Record<string, { file: string; layout: FileLayout }>;
}

const BINARY = ['0', '1'];
const NLI2 = ['entailment', 'not_entailment'];

// Layouts shared by several files: the test files of the sentence-pair tasks, which drop the label.
const pairWithIndex = (text: string, pair: string, label?: string): FileLayout => ({
  header: true,
  id: 'index',
  text,
  pair,
  ...(label ? { label } : {}),
});

export const TASK_SPECS: Record<GlueTask, TaskSpec> = {
  cola: {
    folder: 'CoLA',
    labels: BINARY,
    splits: {
      // source, label, original label ('*' when unacceptable), sentence: no header.
      train: { file: 'train.tsv', layout: { header: false, text: 3, label: 1 } },
      dev: { file: 'dev.tsv', layout: { header: false, text: 3, label: 1 } },
      test: { file: 'test.tsv', layout: { header: true, id: 'index', text: 'sentence' } },
    },
  },
  sst2: {
    folder: 'SST-2',
    labels: BINARY,
    splits: {
      train: { file: 'train.tsv', layout: { header: true, text: 'sentence', label: 'label' } },
      dev: { file: 'dev.tsv', layout: { header: true, text: 'sentence', label: 'label' } },
      test: { file: 'test.tsv', layout: { header: true, id: 'index', text: 'sentence' } },
    },
  },
  mrpc: {
    folder: 'MRPC',
    labels: BINARY,
    splits: {
      train: { file: 'train.tsv', layout: { header: true, text: '#1 String', pair: '#2 String', label: 'Quality' } },
      dev: { file: 'dev.tsv', layout: { header: true, text: '#1 String', pair: '#2 String', label: 'Quality' } },
      test: { file: 'test.tsv', layout: pairWithIndex('#1 String', '#2 String') },
    },
  },
  stsb: {
    folder: 'STS-B',
    labels: 'regression',
    splits: {
      // index genre filename year old_index source1 source2 sentence1 sentence2 score
      train: { file: 'train.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'score') },
      dev: { file: 'dev.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'score') },
      test: { file: 'test.tsv', layout: pairWithIndex('sentence1', 'sentence2') },
    },
  },
  qqp: {
    folder: 'QQP',
    labels: BINARY,
    splits: {
      train: { file: 'train.tsv', layout: { header: true, id: 'id', text: 'question1', pair: 'question2', label: 'is_duplicate' } },
      dev: { file: 'dev.tsv', layout: { header: true, id: 'id', text: 'question1', pair: 'question2', label: 'is_duplicate' } },
      test: { file: 'test.tsv', layout: { header: true, id: 'id', text: 'question1', pair: 'question2' } },
    },
  },
  mnli: {
    folder: 'MNLI',
    labels: ['contradiction', 'entailment', 'neutral'],
    splits: {
      // Train has label1 then gold_label, dev label1..label5 then gold_label: the name finds it.
      train: { file: 'train.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'gold_label') },
      dev_matched: { file: 'dev_matched.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'gold_label') },
      dev_mismatched: { file: 'dev_mismatched.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'gold_label') },
      test_matched: { file: 'test_matched.tsv', layout: pairWithIndex('sentence1', 'sentence2') },
      test_mismatched: { file: 'test_mismatched.tsv', layout: pairWithIndex('sentence1', 'sentence2') },
    },
  },
  qnli: {
    folder: 'QNLI',
    labels: NLI2,
    splits: {
      train: { file: 'train.tsv', layout: pairWithIndex('question', 'sentence', 'label') },
      dev: { file: 'dev.tsv', layout: pairWithIndex('question', 'sentence', 'label') },
      test: { file: 'test.tsv', layout: pairWithIndex('question', 'sentence') },
    },
  },
  rte: {
    folder: 'RTE',
    labels: NLI2,
    splits: {
      train: { file: 'train.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'label') },
      dev: { file: 'dev.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'label') },
      test: { file: 'test.tsv', layout: pairWithIndex('sentence1', 'sentence2') },
    },
  },
  wnli: {
    folder: 'WNLI',
    labels: BINARY,
    splits: {
      train: { file: 'train.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'label') },
      dev: { file: 'dev.tsv', layout: pairWithIndex('sentence1', 'sentence2', 'label') },
      test: { file: 'test.tsv', layout: pairWithIndex('sentence1', 'sentence2') },
    },
  },
};

/** One example as read from the file. */
export interface GlueExample {
  /** The file's index/id column where it has one, else the row number (0-based, data rows only). */
  id: string;
  text: string;
  pair?: string;
  /** Class id in the task's label vocabulary, or the STS-B score; undefined in test files. */
  label?: number;
}

export interface GlueExamples {
  task: GlueTask;
  split: string;
  file: string;
  examples: GlueExample[];
  /** The label vocabulary, or 'regression' (STS-B). */
  labels: string[] | 'regression';
  hasLabels: boolean;
  /** Malformed rows skipped (wrong column count). */
  skipped: number;
}

function normalizeTask(task: unknown): GlueTask {
  const name = typeof task === 'string' ? task.toLowerCase().replace(/[-_]/g, '') : task;
  return checkOneOf(name, TASKS, 'glue', 'task');
}

/** The splits a task has: train, dev, test; MNLI has dev/test _matched and _mismatched. */
export function splits(task: GlueTask | string): string[] {
  return Object.keys(TASK_SPECS[normalizeTask(task)].splits);
}

function taskFile(dir: string, spec: TaskSpec, file: string): string {
  const inTaskFolder = path.join(dir, spec.folder, file);
  if (existsSync(inTaskFolder)) return inTaskFolder;
  const direct = path.join(dir, file);
  if (path.basename(path.resolve(dir)) === spec.folder && existsSync(direct)) return direct;
  throw new TorchError(
    `glue: no ${spec.folder} file '${file}' in ${dir} (expected ${inTaskFolder}); GLUE is not downloaded, point 'dir' at a copy in the standard layout`,
    'ERR_NOT_FOUND',
  );
}

/** Reads one split's examples (text, label ids) without tokenizing. */
export function readExamples(dir: string, taskName: GlueTask | string, options: { split?: string } = {}): GlueExamples {
  options = optionsObject(options, 'readExamples');
  if (typeof dir !== 'string') throw argumentError('glue', `'dir' must be a directory path, got ${describe(dir)}`);
  const task = normalizeTask(taskName);
  const spec = TASK_SPECS[task];
  const split = options.split ?? 'train';
  if (typeof split !== 'string' || !Object.hasOwn(spec.splits, split)) {
    throw argumentError(
      'glue',
      `'split' must be one of ${Object.keys(spec.splits)
        .map((s) => `'${s}'`)
        .join(', ')} for ${spec.folder}, got ${describe(split)}`,
    );
  }
  const { file, layout } = spec.splits[split]!;
  const filePath = taskFile(dir, spec, file);
  // GLUE files are UTF-8; MRPC's header may carry a byte-order mark.
  const lines = readTextFile(filePath, 'glue', MAX_TEXT_DATA_BYTES)
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let columns = -1;
  const position = new Map<string, number>();
  let first = 0;
  if (layout.header) {
    const header = (lines[0] ?? '').split('\t');
    header.forEach((name, i) => position.set(name.trim(), i));
    columns = header.length;
    first = 1;
  }
  const col = (c: Column | undefined): number | undefined => {
    if (c === undefined) return undefined;
    if (typeof c === 'number') return c;
    const at = position.get(c);
    if (at === undefined) throw new TorchError(`glue: ${filePath} has no '${c}' column (header: ${lines[0]})`, 'ERR_BAD_DATA');
    return at;
  };
  const textCol = col(layout.text)!;
  const pairCol = col(layout.pair);
  const labelCol = col(layout.label);
  const idCol = col(layout.id);
  const needed = Math.max(textCol, pairCol ?? 0, labelCol ?? 0, idCol ?? 0) + 1;
  const vocabulary = spec.labels === 'regression' ? undefined : new Map(spec.labels.map((l, i) => [l, i]));
  const examples: GlueExample[] = [];
  let skipped = 0;
  for (let n = first; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.length === 0) continue;
    const fields = line.split('\t');
    if (columns >= 0 ? fields.length !== columns : fields.length < needed) {
      skipped++;
      continue;
    }
    const example: GlueExample = { id: idCol === undefined ? String(examples.length) : fields[idCol]!, text: fields[textCol]! };
    if (pairCol !== undefined) example.pair = fields[pairCol]!;
    if (labelCol !== undefined) {
      const raw = fields[labelCol]!.trim();
      if (vocabulary) {
        const id = vocabulary.get(raw);
        if (id === undefined)
          throw new TorchError(`glue: ${filePath}:${n + 1}: label '${raw}' is not one of ${spec.labels}`, 'ERR_BAD_DATA');
        example.label = id;
      } else {
        const score = Number(raw);
        if (raw === '' || !Number.isFinite(score))
          throw new TorchError(`glue: ${filePath}:${n + 1}: score '${raw}' is not a number`, 'ERR_BAD_DATA');
        example.label = score;
      }
    }
    examples.push(example);
  }
  if (examples.length === 0) throw new TorchError(`glue: ${filePath} has no examples`, 'ERR_BAD_DATA');
  return { task, split, file: filePath, examples, labels: spec.labels, hasLabels: labelCol !== undefined, skipped };
}

export interface GlueLoadOptions {
  /** 'train' (default), 'dev', 'test'; MNLI: 'dev_matched', 'dev_mismatched', 'test_matched', 'test_mismatched'. */
  split?: string;
  /** Tokens per example, special tokens included (default 128). */
  maxLength?: number;
  truncation?: TruncationStrategy;
  /** Keep only this many examples, evenly spaced over the file (a run config's trainLimit / evalLimit). */
  limit?: number;
}

/**
 * Loads one split as a native data set: each example (and its pair) encoded by `tokenizer` with
 * truncation to `maxLength`, targets as class ids (`classification`) or scores (`regression`,
 * STS-B). Test splits have no labels: their data sets are unlabeled (`labeled` false). The data set's `labels` hold the label vocabulary.
 */
export function load(dir: string, task: GlueTask | string, tokenizer: TextTokenizer, options: GlueLoadOptions = {}): Dataset {
  options = optionsObject(options, 'load');
  if (typeof tokenizer?.encode !== 'function')
    throw argumentError('glue.load', `'tokenizer' must be a tokenizer (CharTokenizer, SubwordTokenizer), got ${describe(tokenizer)}`);
  const maxLength = options.maxLength === undefined ? 128 : checkInt(options.maxLength, 'glue.load', 'maxLength');
  const read = readExamples(dir, task, { split: options.split });
  if (options.limit !== undefined) {
    const limit = checkInt(options.limit, 'glue.load', 'limit');
    if (limit < 1) throw argumentError('glue.load', `'limit' must be positive, got ${limit}`);
    const all = read.examples;
    if (all.length > limit) read.examples = Array.from({ length: limit }, (_, i) => all[Math.floor((i * all.length) / limit)]!);
  }
  const encodings = read.examples.map((e) => tokenizer.encode(e.text, { pair: e.pair, maxLength, truncation: options.truncation }));
  const pairTask = read.examples[0]!.pair !== undefined;
  return Dataset.fromExamples(
    encodings.map((enc, i) => ({
      inputIds: enc.ids,
      ...(pairTask ? { tokenTypeIds: enc.tokenTypeIds } : {}),
      ...(read.hasLabels ? { target: read.examples[i]!.label! } : {}),
    })),
    {
      targetKind: read.labels === 'regression' ? 'regression' : 'classification',
      padId: tokenizer.padId,
      vocabSize: tokenizer.vocabSize,
      ...(read.labels === 'regression' ? {} : { labels: read.labels }),
      name: `glue/${read.task}/${read.split}`,
    },
  );
}
