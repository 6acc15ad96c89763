/**
 * Reading the user's own data files: CSV and TSV (through csv-parse: quoting, escaped quotes and
 * multi-line fields) and JSONL, each read as a stream, one record at a time, with the line it
 * starts on, so that every refusal names file:line:column.
 */
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { ErrorCode, TorchError } from '../errors.ts';
import { tensor } from '../tensor.ts';
import { Dataset, type Target } from './dataset.ts';
import { fnv1a } from './phonetics.ts';
import type { TextTokenizer } from './tokenizers.ts';

export const FILE_FORMATS = ['csv', 'tsv', 'jsonl'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** One record of a data file: its fields by column name, and the line (1-based) it starts on. */
export interface FileRecord {
  line: number;
  fields: Record<string, unknown>;
}

/** A data file's format, from its extension (.csv, .tsv, .jsonl or .ndjson). */
export function formatOf(file: string): FileFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new TorchError(
    `${file}: unknown data file format '${ext || '(no extension)'}': expected .csv, .tsv or .jsonl`,
    ErrorCode.INVALID_ARG,
  );
}

/** Refuses a path that is missing, not a regular file, or empty. */
export function checkDataFile(file: string): void {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new TorchError(`${file}: is not a regular file`, ErrorCode.IO);
    size = stat.size;
  } catch (error) {
    if (error instanceof TorchError) throw error;
    throw new TorchError(`${file}: does not exist`, ErrorCode.NOT_FOUND);
  }
  if (size === 0) throw new TorchError(`${file}:1:1: the file is empty`, ErrorCode.BAD_DATA);
}

async function* csvRecords(file: string, delimiter: string): AsyncGenerator<FileRecord> {
  const parser = createReadStream(file).pipe(
    parseCsv({ delimiter, columns: true, info: true, raw: true, bom: true, skip_empty_lines: true, relax_quotes: delimiter === '\t' }),
  );
  let previousEnd = 1; // the header's last line
  try {
    for await (const { record, info, raw } of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
      raw: string;
    }>) {
      // info.lines is the record's last line; its raw text says how many lines it spans.
      const own = raw.replace(/^[\r\n]+/, ''); // skipped empty lines come before it
      const breaks = (own.match(/\n/g) ?? []).length - (own.endsWith('\n') ? 1 : 0);
      yield { line: info.lines - breaks, fields: record };
      previousEnd = info.lines;
    }
  } catch (error) {
    if (error instanceof TorchError) throw error;
    const e = error as { message: string; lines?: number; column?: number | string; code?: string };
    const where = `${file}:${e.lines ?? previousEnd + 1}:${typeof e.column === 'number' ? e.column + 1 : 1}`;
    throw new TorchError(`${where}: malformed ${delimiter === '\t' ? 'TSV' : 'CSV'}: ${e.message}`, ErrorCode.BAD_DATA);
  }
}

async function* jsonlRecords(file: string): AsyncGenerator<FileRecord> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (trimmed === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      const column = /position (\d+)/.exec((error as Error).message)?.[1];
      throw new TorchError(
        `${file}:${line}:${column === undefined ? 1 : Number(column) + 1}: not JSON: ${(error as Error).message}`,
        ErrorCode.BAD_DATA,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TorchError(
        `${file}:${line}:1: a JSONL line must be an object of fields, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
        ErrorCode.BAD_DATA,
      );
    }
    yield { line, fields: value as Record<string, unknown> };
  }
}

/** The records of a CSV, TSV or JSONL file, streamed; refuses a missing or empty file and malformed content. */
export async function* readRecords(file: string): AsyncGenerator<FileRecord> {
  const format = formatOf(file);
  checkDataFile(file);
  let count = 0;
  const records = format === 'jsonl' ? jsonlRecords(file) : csvRecords(file, format === 'csv' ? ',' : '\t');
  for await (const record of records) {
    count++;
    yield record;
  }
  if (count === 0) throw new TorchError(`${file}:1:1: the file has no records`, ErrorCode.BAD_DATA);
}

// ---------------------------------------------------------------------------------------------
// Tasks over files: labels, head kinds, splits, partial labels, shared inputs.

export type FileTaskKind = 'classification' | 'regression' | 'multiLabel' | 'tagging' | 'sequence';
export type DataSplit = 'train' | 'dev' | 'test';

/** One task's declaration (the run config's data.tasks entry, defaults filled). */
export interface FileTaskOptions {
  train: string;
  dev?: string;
  test?: string;
  split?: { dev?: number; test?: number; seed: number };
  text: string;
  pair?: string;
  label: string;
  kind?: FileTaskKind;
  separator: string;
  trainLimit?: number;
  evalLimit?: number;
}

/** A row of a split: where it came from and its fields. */
interface Row {
  file: string;
  line: number;
  fields: Record<string, unknown>;
  columns: string[];
}

/** What a files run stores about its tasks (<run>/data.json), so that predict needs no data file. */
export interface FileTaskInfo {
  kind: FileTaskKind;
  /** Classes (classification), labels (multi-label) or tags (tagging), sorted, from the train split. */
  labels?: string[];
  /** Sequence tasks: the longest target in tokens (the head's maxLength). */
  targetLength?: number;
  inputFields: ('text' | 'pair')[];
}

export interface LoadedFileTask {
  name: string;
  info: FileTaskInfo;
  datasets: Partial<Record<DataSplit, Dataset>>;
}

const present = (v: unknown) => v !== undefined && v !== null && v !== '';

function cellError(row: Row, column: string, message: string): TorchError {
  const index = row.columns.indexOf(column);
  return new TorchError(`${row.file}:${row.line}:${index < 0 ? 1 : index + 1}: column '${column}': ${message}`, ErrorCode.BAD_DATA);
}

/** Every record of a file, read once per run (several tasks and splits may name it). */
export async function readRows(file: string, cache: Map<string, Row[]>): Promise<Row[]> {
  const cached = cache.get(file);
  if (cached) return cached;
  const rows: Row[] = [];
  for await (const { line, fields } of readRecords(file)) rows.push({ file, line, fields, columns: Object.keys(fields) });
  cache.set(file, rows);
  return rows;
}

function checkColumn(rows: Row[], column: string, what: string): void {
  const first = rows[0]!;
  if (formatOf(first.file) !== 'jsonl' && !first.columns.includes(column)) {
    throw new TorchError(
      `${first.file}:1:1: no column '${column}' (the ${what}); the header has ${first.columns.join(', ')}`,
      ErrorCode.BAD_DATA,
    );
  }
}

/** The input fields of a row: its text (a string or, for tagging, words) and pair. */
function inputOf(row: Row, task: FileTaskOptions): { text: string | string[]; pair?: string } {
  const text = row.fields[task.text];
  if (typeof text !== 'string' && !(Array.isArray(text) && text.every((w) => typeof w === 'string'))) {
    throw cellError(
      row,
      task.text,
      `the input must be a string${task.kind === 'tagging' ? ' or an array of words' : ''}, got ${JSON.stringify(text) ?? 'nothing'}`,
    );
  }
  if (task.pair === undefined) return { text };
  const pair = row.fields[task.pair];
  if (typeof pair !== 'string') throw cellError(row, task.pair, `the pair must be a string, got ${JSON.stringify(pair) ?? 'nothing'}`);
  return { text, pair };
}

/** Rows of a split: a file of its own, or the train file's rows the seeded hash places there. The
 * placements of one file under one split rule are computed once (`placements`), for every task and split. */
export function splitRows(rows: Row[], task: FileTaskOptions, split: DataSplit, placements = new Map<string, DataSplit[]>()): Row[] {
  if (!task.split || (split !== 'train' && task.split[split] === undefined)) return rows;
  const dev = task.split.dev ?? 0;
  const test = task.split.test ?? 0;
  const key = `${task.train}\0${task.split.seed}\0${dev}\0${test}\0${task.text}\0${task.pair ?? ''}`;
  let placed = placements.get(key);
  if (!placed) {
    placed = rows.map((row) => {
      const input = inputOf(row, task);
      const u =
        fnv1a(`${task.split!.seed}\0${Array.isArray(input.text) ? input.text.join(' ') : input.text}\0${input.pair ?? ''}`) / 2 ** 32;
      return u < dev ? 'dev' : u < dev + test ? 'test' : 'train';
    });
    placements.set(key, placed);
  }
  return rows.filter((_, i) => placed[i] === split);
}

/** `limit` rows evenly spaced over `rows`. */
function evenly<T>(rows: T[], limit: number | undefined): T[] {
  if (limit === undefined || rows.length <= limit) return rows;
  return Array.from({ length: limit }, (_, i) => rows[Math.floor((i * rows.length) / limit)]!);
}

const wordsOf = (value: string | string[]) => (Array.isArray(value) ? value : value.split(/\s+/).filter((w) => w.length > 0));
const labelsOf = (value: unknown, separator: string): unknown[] | undefined =>
  Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value
          .split(separator)
          .map((l) => l.trim())
          .filter((l) => l.length > 0)
      : undefined;
const numberOf = (value: unknown): number | undefined => {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
};

/** The head kind of a task: declared, or inferred from its labelled train rows. */
export function inferKind(rows: Row[], task: FileTaskOptions): FileTaskKind {
  if (task.kind) return task.kind;
  const values = rows.map((r) => r.fields[task.label]);
  if (values.every((v) => Array.isArray(v))) {
    const tagged = rows.every(
      (r) => Array.isArray(r.fields[task.text]) && (r.fields[task.text] as unknown[]).length === (r.fields[task.label] as unknown[]).length,
    );
    return tagged ? 'tagging' : 'multiLabel';
  }
  if (values.every((v) => numberOf(v) !== undefined) && values.some((v) => !Number.isInteger(numberOf(v)))) return 'regression';
  return 'classification';
}

/** Refuses a label column whose JSON values mix types (strings and numbers, arrays and strings). */
function checkTypes(rows: Row[], column: string): void {
  const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v);
  const first = rows[0];
  if (!first) return;
  const expected = typeOf(first.fields[column]);
  for (const row of rows) {
    const t = typeOf(row.fields[column]);
    if (t !== expected) throw cellError(row, column, `mixed types: ${t} here, ${expected} at line ${first.line}`);
  }
}

/** Per tokenizer: the special tokens before the first segment, and the tokens a space between two words adds. */
const layouts = new WeakMap<TextTokenizer, { prefix: number; gap: number }>();
function layoutOf(tokenizer: TextTokenizer): { prefix: number; gap: number } {
  let layout = layouts.get(tokenizer);
  if (!layout) {
    const bare = (t: string) => tokenizer.encode(t, { addSpecialTokens: false }).ids;
    const full = tokenizer.encode('a').ids;
    const prefix = full.length > bare('a').length ? Math.max(0, full.indexOf(bare('a')[0]!)) : 0;
    layout = { prefix, gap: bare('a b').length - bare('a').length - bare('b').length };
    layouts.set(tokenizer, layout);
  }
  return layout;
}

/**
 * The ids of an input (its words joined by spaces, and its pair) and, with `withWords`, the position
 * of each word's first token (-1 for a word cut by maxLength): what tagging reads its tags at.
 */
export function encodeWords(
  tokenizer: TextTokenizer,
  text: string | string[],
  pair: string | undefined,
  maxLength: number,
  withWords = true,
): { ids: number[]; tokenTypeIds: number[]; words: { word: string; start: number }[] } {
  const joined = Array.isArray(text) ? text.join(' ') : text;
  const encoded = tokenizer.encode(joined, { ...(pair === undefined ? {} : { pair }), maxLength });
  if (!withWords) return { ids: encoded.ids, tokenTypeIds: encoded.tokenTypeIds, words: [] };
  const { prefix, gap } = layoutOf(tokenizer);
  const typeOne = encoded.tokenTypeIds.indexOf(1);
  // The first segment's tokens end before its closing special token (or the pair).
  const end = (typeOne < 0 ? encoded.ids.length : typeOne) - (prefix > 0 ? 1 : 0);
  let at = prefix;
  const words = wordsOf(text).map((word) => {
    const count = tokenizer.encode(word, { addSpecialTokens: false }).ids.length;
    const start = at;
    at += count + gap;
    return { word, start: start < end && count > 0 ? start : -1 };
  });
  return { ids: encoded.ids, tokenTypeIds: encoded.tokenTypeIds, words };
}

/** Everything the run's tasks need from their files, checked before any training. */
export interface FilesInput {
  tasks: Record<string, FileTaskOptions>;
  maxLength: number;
}

/** Rows of each task and split, read once; the texts a tokenizer trains on (every task's train inputs). */
export async function readTaskRows(
  input: FilesInput,
  splits: DataSplit[],
): Promise<{ rows: Record<string, Partial<Record<DataSplit, Row[]>>>; trainTexts: string[] }> {
  const cache = new Map<string, Row[]>();
  const placements = new Map<string, DataSplit[]>();
  const rows: Record<string, Partial<Record<DataSplit, Row[]>>> = {};
  const trainTexts: string[] = [];
  const seen = new Set<string>();
  for (const [name, task] of Object.entries(input.tasks)) {
    rows[name] = {};
    for (const split of splits) {
      const file = split === 'train' ? task.train : (task[split] ?? (task.split?.[split] !== undefined ? task.train : undefined));
      if (file === undefined) continue;
      const all = await readRows(file, cache);
      checkColumn(all, task.text, 'text');
      if (task.pair !== undefined) checkColumn(all, task.pair, 'pair');
      checkColumn(all, task.label, 'label');
      const own = file === task.train && task.split ? splitRows(all, task, split, placements) : all;
      rows[name]![split] = own;
      if (split === 'train') {
        for (const row of own) {
          const key = `${row.file}:${row.line}:${task.text}:${task.pair ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const { text, pair } = inputOf(row, task);
          trainTexts.push(Array.isArray(text) ? text.join(' ') : text);
          if (pair !== undefined) trainTexts.push(pair);
        }
      }
    }
  }
  return { rows, trainTexts };
}

/** The task's kind and label set from its labelled train rows; refuses what cannot train. */
export function taskInfo(name: string, task: FileTaskOptions, trainRows: Row[], tokenizer: TextTokenizer, maxLength: number): FileTaskInfo {
  const labelled = trainRows.filter((r) => present(r.fields[task.label]));
  if (labelled.length === 0)
    throw new TorchError(
      `${task.train}: task '${name}' has no training row with a '${task.label}' label${task.split ? ' in its train split' : ''}`,
      ErrorCode.BAD_DATA,
    );
  checkTypes(labelled, task.label);
  const kind = inferKind(labelled, task);
  const inputFields: FileTaskInfo['inputFields'] = task.pair === undefined ? ['text'] : ['text', 'pair'];
  switch (kind) {
    case 'classification': {
      const labels = [...new Set(labelled.map((r) => String(r.fields[task.label])))].sort();
      if (labels.length < 2)
        throw cellError(
          labelled[0]!,
          task.label,
          `task '${name}' has one class only (${JSON.stringify(labels[0])}) in its training rows: nothing to learn`,
        );
      return { kind, labels, inputFields };
    }
    case 'multiLabel': {
      const labels = [...new Set(labelled.flatMap((r) => (labelsOf(r.fields[task.label], task.separator) ?? []).map(String)))].sort();
      if (labels.length === 0) throw cellError(labelled[0]!, task.label, `task '${name}' has no labels`);
      return { kind, labels, inputFields };
    }
    case 'tagging': {
      const labels = [...new Set(labelled.flatMap((r) => (labelsOf(r.fields[task.label], ' ') ?? []).map(String)))].sort();
      return { kind, labels, inputFields };
    }
    case 'sequence': {
      const longest = labelled.reduce((m, r) => Math.max(m, tokenizer.encode(String(r.fields[task.label]), { maxLength }).ids.length), 0);
      return { kind, targetLength: longest, inputFields };
    }
    default:
      return { kind, inputFields };
  }
}

/** One row's target for its task, checked (errors name file:line:column). */
function targetOf(
  row: Row,
  task: FileTaskOptions,
  info: FileTaskInfo,
  tokenizer: TextTokenizer,
  maxLength: number,
  encoded: ReturnType<typeof encodeWords>,
): Target {
  const value = row.fields[task.label];
  const labels = info.labels ?? [];
  switch (info.kind) {
    case 'classification': {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
        throw cellError(row, task.label, `a class must be a string or number, got ${JSON.stringify(value)}`);
      const id = labels.indexOf(String(value));
      if (id < 0)
        throw cellError(
          row,
          task.label,
          `class ${JSON.stringify(String(value))} does not occur in the training rows (classes: ${labels.join(', ')})`,
        );
      return id;
    }
    case 'regression': {
      const n = numberOf(value);
      if (n === undefined) throw cellError(row, task.label, `a regression target must be a finite number, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'multiLabel': {
      const given = labelsOf(value, task.separator);
      if (!given)
        throw cellError(
          row,
          task.label,
          `multi-label targets are a JSON array or a '${task.separator}'-separated string, got ${JSON.stringify(value)}`,
        );
      const out = new Array<number>(labels.length).fill(0);
      for (const l of given) {
        const id = labels.indexOf(String(l));
        if (id < 0) throw cellError(row, task.label, `label ${JSON.stringify(String(l))} does not occur in the training rows`);
        out[id] = 1;
      }
      return out;
    }
    case 'tagging': {
      const tags = labelsOf(value, ' ');
      const words = encoded.words;
      if (!tags || tags.length !== words.length) throw cellError(row, task.label, `${tags?.length ?? 0} tags for ${words.length} words`);
      const out = new Array<number>(encoded.ids.length).fill(-100);
      tags.forEach((tag, i) => {
        const id = labels.indexOf(String(tag));
        if (id < 0) throw cellError(row, task.label, `tag ${JSON.stringify(String(tag))} does not occur in the training rows`);
        if (words[i]!.start >= 0) out[words[i]!.start] = id; // first sub-token only, as Hugging Face aligns word labels
      });
      return out;
    }
    case 'sequence': {
      if (typeof value !== 'string') throw cellError(row, task.label, `a target text must be a string, got ${JSON.stringify(value)}`);
      return tokenizer.encode(value, { maxLength: Math.max(info.targetLength ?? maxLength, 2) + 1 }).ids.slice(1); // without the start token
    }
  }
}

function taggingDataset(
  encoded: ReturnType<typeof encodeWords>[],
  targets: number[][],
  padId: number,
  info: { labels?: string[]; name: string },
): Dataset {
  const n = encoded.length;
  const width = Math.max(...encoded.map((e) => e.ids.length));
  const ids = new Int32Array(n * width).fill(padId);
  const types = new Int32Array(n * width);
  const tags = new Int32Array(n * width).fill(-100);
  encoded.forEach((e, i) => {
    ids.set(e.ids, i * width);
    types.set(e.tokenTypeIds, i * width);
    tags.set(targets[i]!, i * width);
  });
  const made = [
    tensor(ids, [n, width], { dtype: 'int64' }),
    tensor(
      Int32Array.from(encoded, (e) => e.ids.length),
      [n],
      { dtype: 'int64' },
    ),
    tensor(tags, [n, width], { dtype: 'int64' }),
    tensor(types, [n, width], { dtype: 'int64' }),
  ] as const;
  try {
    return Dataset.fromTensors({
      inputIds: made[0],
      lengths: made[1],
      targets: made[2],
      tokenTypeIds: made[3],
      targetKind: 'tagging',
      padId,
      targetPadId: -100,
      ...info,
    });
  } finally {
    for (const t of made) t.dispose();
  }
}

/**
 * The data sets of every task and split. Rows without the task's label are left out of that task
 * only (partial labels: they count for neither its loss nor its metrics). Tasks whose rows are the
 * same rows of one file share one input tensor (Dataset.withTargets), so a step encodes them once.
 */
export function buildDatasets(
  input: FilesInput,
  rows: Record<string, Partial<Record<DataSplit, Row[]>>>,
  infos: Record<string, FileTaskInfo>,
  tokenizer: TextTokenizer,
): Record<string, Partial<Record<DataSplit, Dataset>>> {
  const encodings = new Map<string, ReturnType<typeof encodeWords>>();
  const shared = new Map<string, Dataset>();
  const out: Record<string, Partial<Record<DataSplit, Dataset>>> = {};
  for (const [name, task] of Object.entries(input.tasks)) {
    out[name] = {};
    const info = infos[name]!;
    for (const [split, all] of Object.entries(rows[name]!) as [DataSplit, Row[]][]) {
      const labelled = evenly(
        all.filter((r) => present(r.fields[task.label])),
        split === 'train' ? task.trainLimit : task.evalLimit,
      );
      if (labelled.length === 0)
        throw new TorchError(
          `${all[0]?.file ?? task.train}: task '${name}' has no ${split} row with a '${task.label}' label`,
          ErrorCode.BAD_DATA,
        );
      const encoded = labelled.map((row) => {
        const withWords = info.kind === 'tagging';
        const key = `${row.file}\0${row.line}\0${task.text}\0${task.pair ?? ''}\0${withWords}`;
        let e = encodings.get(key);
        if (!e) {
          const { text, pair } = inputOf(row, task);
          e = encodeWords(tokenizer, text, pair, input.maxLength, withWords);
          encodings.set(key, e);
        }
        return e;
      });
      const targets = labelled.map((row, i) => targetOf(row, task, info, tokenizer, input.maxLength, encoded[i]!));
      const groupKey = `${split}\0${task.text}\0${task.pair ?? ''}\0${labelled.map((r) => `${r.file}:${r.line}`).join(',')}`;
      const targetKind = info.kind;
      const common = {
        targetKind,
        ...(info.labels && info.kind !== 'regression' ? { labels: info.labels } : {}),
        name: `${name}/${split}`,
      };
      const base = info.kind === 'tagging' ? undefined : shared.get(groupKey);
      const numClasses = info.kind === 'sequence' ? tokenizer.vocabSize : undefined;
      if (base) {
        out[name]![split] = base.withTargets({ ...common, targets, ...(numClasses ? { numClasses } : {}) });
      } else if (info.kind === 'tagging') {
        // Sub-tokens after a word's first hold -100 (ignored), which fromArrays' id checks refuse: the
        // padded tensors are built here, checked natively by fromTensors.
        out[name]![split] = taggingDataset(encoded, targets as number[][], tokenizer.padId, common);
      } else {
        const dataset = Dataset.fromArrays({
          ...common,
          inputIds: encoded.map((e) => e.ids),
          tokenTypeIds: encoded.map((e) => e.tokenTypeIds),
          targets,
          padId: tokenizer.padId,
          vocabSize: tokenizer.vocabSize,
          ...(numClasses ? { numClasses } : {}),
        });
        shared.set(groupKey, dataset);
        out[name]![split] = dataset;
      }
    }
  }
  return out;
}
