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
import { Dataset, padRows, type Target } from './dataset.ts';
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

/** A row of a split: where it came from, its place among the file's records, and the fields the
 * run's tasks read (the file's other columns are not kept). `columns` is the record's column list,
 * one array shared by every record with the same columns (a CSV's header). */
interface Row {
  file: string;
  line: number;
  index: number;
  fields: Record<string, unknown>;
  columns: readonly string[];
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

/** Every record of a file, read once per run (several tasks and splits may name it), keeping only
 * the columns in `keep` (every column any task over the file reads). */
export async function readRows(file: string, cache: Map<string, Row[]>, keep: ReadonlySet<string>): Promise<Row[]> {
  const cached = cache.get(file);
  if (cached) return cached;
  const rows: Row[] = [];
  const columnLists = new Map<string, readonly string[]>();
  for await (const { line, fields } of readRecords(file)) {
    const names = Object.keys(fields);
    const listKey = names.join('\0');
    let columns = columnLists.get(listKey);
    if (!columns) columnLists.set(listKey, (columns = names));
    const kept: Record<string, unknown> = {};
    for (const name of keep) if (name in fields) kept[name] = fields[name];
    rows.push({ file, line, index: rows.length, fields: kept, columns });
  }
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
  const seen = new Map<string, Uint8Array>(); // per file and input columns: the rows already taken
  const fileOf = (task: FileTaskOptions, split: DataSplit) =>
    split === 'train' ? task.train : (task[split] ?? (task.split?.[split] !== undefined ? task.train : undefined));
  const columnsRead = new Map<string, Set<string>>();
  for (const task of Object.values(input.tasks)) {
    for (const split of splits) {
      const file = fileOf(task, split);
      if (file === undefined) continue;
      const columns = columnsRead.get(file) ?? new Set<string>();
      for (const column of [task.text, task.pair, task.label]) if (column !== undefined) columns.add(column);
      columnsRead.set(file, columns);
    }
  }
  for (const [name, task] of Object.entries(input.tasks)) {
    rows[name] = {};
    for (const split of splits) {
      const file = fileOf(task, split);
      if (file === undefined) continue;
      const all = await readRows(file, cache, columnsRead.get(file)!);
      checkColumn(all, task.text, 'text');
      if (task.pair !== undefined) checkColumn(all, task.pair, 'pair');
      checkColumn(all, task.label, 'label');
      const own = file === task.train && task.split ? splitRows(all, task, split, placements) : all;
      rows[name]![split] = own;
      if (split === 'train') {
        const key = `${file}\0${task.text}\0${task.pair ?? ''}`;
        let taken = seen.get(key);
        if (!taken) seen.set(key, (taken = new Uint8Array(all.length)));
        for (const row of own) {
          if (taken[row.index]) continue;
          taken[row.index] = 1;
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
  tokens: { length: number; wordStarts: ArrayLike<number> },
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
      const starts = tokens.wordStarts;
      if (!tags || tags.length !== starts.length) throw cellError(row, task.label, `${tags?.length ?? 0} tags for ${starts.length} words`);
      const out = new Array<number>(tokens.length).fill(-100);
      tags.forEach((tag, i) => {
        const id = labels.indexOf(String(tag));
        if (id < 0) throw cellError(row, task.label, `tag ${JSON.stringify(String(tag))} does not occur in the training rows`);
        if (starts[i]! >= 0) out[starts[i]!] = id; // first sub-token only, as Hugging Face aligns word labels
      });
      return out;
    }
    case 'sequence': {
      if (typeof value !== 'string') throw cellError(row, task.label, `a target text must be a string, got ${JSON.stringify(value)}`);
      return tokenizer.encode(value, { maxLength: Math.max(info.targetLength ?? maxLength, 2) + 1 }).ids.slice(1); // without the start token
    }
  }
}

/** A growable Int32Array. */
class IntBuffer {
  data = new Int32Array(1 << 12);
  length = 0;
  push(values: ArrayLike<number>): number {
    const at = this.length;
    if (at + values.length > this.data.length) {
      const grown = new Int32Array(Math.max(this.data.length * 2, at + values.length));
      grown.set(this.data.subarray(0, at));
      this.data = grown;
    }
    this.data.set(values, at);
    this.length += values.length;
    return at;
  }
  view(at: number, length: number): Int32Array {
    return this.data.subarray(at, at + length);
  }
}

/**
 * The encoded inputs of one file's rows under one reading (text and pair columns, with or without
 * word positions), packed into typed arrays by row index: each row is encoded once, however many
 * tasks and splits take it, and no per-row JavaScript arrays stay alive while the data sets are cut.
 */
class EncodedRows {
  private readonly ids = new IntBuffer();
  private readonly types = new IntBuffer();
  private readonly wordStarts = new IntBuffer();
  private readonly at: Int32Array;
  private readonly lengths: Int32Array;
  private readonly wordAt: Int32Array;
  private readonly wordCounts: Int32Array;
  constructor(
    rowCount: number,
    private readonly withWords: boolean,
  ) {
    this.at = new Int32Array(rowCount).fill(-1);
    this.lengths = new Int32Array(rowCount);
    this.wordAt = new Int32Array(withWords ? rowCount : 0);
    this.wordCounts = new Int32Array(withWords ? rowCount : 0);
  }
  has(index: number): boolean {
    return this.at[index]! >= 0;
  }
  add(index: number, encoded: ReturnType<typeof encodeWords>): void {
    this.at[index] = this.ids.push(encoded.ids);
    this.types.push(encoded.tokenTypeIds);
    this.lengths[index] = encoded.ids.length;
    if (this.withWords) {
      this.wordAt[index] = this.wordStarts.push(encoded.words.map((w) => w.start));
      this.wordCounts[index] = encoded.words.length;
    }
  }
  length(index: number): number {
    return this.lengths[index]!;
  }
  tokens(index: number): { length: number; wordStarts: Int32Array } {
    return {
      length: this.lengths[index]!,
      wordStarts: this.withWords ? this.wordStarts.view(this.wordAt[index]!, this.wordCounts[index]!) : new Int32Array(0),
    };
  }
  /** The rows `indices` right-padded: ids [n, width], token types, lengths. */
  padded(indices: Int32Array, padId: number): { ids: Int32Array; types: Int32Array; lengths: Int32Array; width: number } {
    const n = indices.length;
    let width = 1;
    for (const i of indices) width = Math.max(width, this.lengths[i]!);
    const ids = new Int32Array(n * width).fill(padId);
    const types = new Int32Array(n * width);
    const lengths = new Int32Array(n);
    indices.forEach((index, row) => {
      const length = this.lengths[index]!;
      ids.set(this.ids.view(this.at[index]!, length), row * width);
      types.set(this.types.view(this.at[index]!, length), row * width);
      lengths[row] = length;
    });
    return { ids, types, lengths, width };
  }
}

/** A data set of the padded input rows, without targets (targets come per task through withTargets),
 * or with tagging's per-token tags, padded with -100. */
function inputDataset(
  rows: ReturnType<EncodedRows['padded']>,
  padId: number,
  info: { targetKind: FileTaskKind; labels?: string[]; name: string },
  tags?: number[][],
): Dataset {
  const n = rows.lengths.length;
  const shape = [n, rows.width];
  const made = [
    tensor(rows.ids, shape, { dtype: 'int64' }),
    tensor(rows.lengths, [n], { dtype: 'int64' }),
    tensor(rows.types, shape, { dtype: 'int64' }),
  ];
  if (tags) {
    made.push(tensor(padRows(tags, rows.width, -100), shape, { dtype: 'int64' }));
  }
  try {
    return Dataset.fromTensors({
      inputIds: made[0]!,
      lengths: made[1]!,
      tokenTypeIds: made[2]!,
      ...(tags ? { targets: made[3]!, targetPadId: -100 } : {}),
      padId,
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
 * Each input is encoded once into packed arrays, and the input text of the rows is let go before the
 * tensors are made, so memory follows the tensors rather than the text.
 */
export function buildDatasets(
  input: FilesInput,
  rows: Record<string, Partial<Record<DataSplit, Row[]>>>,
  infos: Record<string, FileTaskInfo>,
  tokenizer: TextTokenizer,
): Record<string, Partial<Record<DataSplit, Dataset>>> {
  const readingOf = (task: FileTaskOptions, file: string, withWords: boolean) => `${file}\0${task.text}\0${task.pair ?? ''}\0${withWords}`;
  const fileRows = new Map<string, number>();
  // Each task's labelled rows per split, limited.
  const chosen: Record<string, Partial<Record<DataSplit, Row[]>>> = {};
  for (const [name, task] of Object.entries(input.tasks)) {
    chosen[name] = {};
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
      chosen[name]![split] = labelled;
    }
  }
  for (const taskRows of Object.values(rows))
    for (const all of Object.values(taskRows))
      for (const row of all) fileRows.set(row.file, Math.max(fileRows.get(row.file) ?? 0, row.index + 1));
  // Every input encoded once.
  const encodings = new Map<string, EncodedRows>();
  for (const [name, task] of Object.entries(input.tasks)) {
    const withWords = infos[name]!.kind === 'tagging';
    for (const labelled of Object.values(chosen[name]!)) {
      for (const row of labelled) {
        const key = readingOf(task, row.file, withWords);
        let encoded = encodings.get(key);
        if (!encoded) encodings.set(key, (encoded = new EncodedRows(fileRows.get(row.file)!, withWords)));
        if (encoded.has(row.index)) continue;
        const { text, pair } = inputOf(row, task);
        const made = encodeWords(tokenizer, text, pair, input.maxLength, withWords);
        if (made.ids.length === 0) throw cellError(row, task.text, 'the input has no tokens');
        encoded.add(row.index, made);
      }
    }
  }
  // The input text is not read again (a column that is also some task's label stays).
  const labelColumns = new Set(Object.values(input.tasks).map((t) => t.label));
  const inputColumns = new Set(
    Object.values(input.tasks)
      .flatMap((t) => [t.text, t.pair])
      .filter((c): c is string => c !== undefined && !labelColumns.has(c)),
  );
  for (const taskRows of Object.values(rows))
    for (const all of Object.values(taskRows)) for (const row of all) for (const column of inputColumns) delete row.fields[column];

  const shared = new Map<string, { indices: Int32Array; dataset: Dataset }[]>();
  const out: Record<string, Partial<Record<DataSplit, Dataset>>> = {};
  for (const [name, task] of Object.entries(input.tasks)) {
    out[name] = {};
    const info = infos[name]!;
    for (const [split, labelled] of Object.entries(chosen[name]!) as [DataSplit, Row[]][]) {
      const file = labelled[0]!.file;
      const encoded = encodings.get(readingOf(task, file, info.kind === 'tagging'))!;
      const indices = Int32Array.from(labelled, (r) => r.index);
      const targets = labelled.map((row) => targetOf(row, task, info, tokenizer, input.maxLength, encoded.tokens(row.index)));
      const common = {
        targetKind: info.kind,
        ...(info.labels && info.kind !== 'regression' ? { labels: info.labels } : {}),
        name: `${name}/${split}`,
      };
      if (info.kind === 'tagging') {
        // Sub-tokens after a word's first hold -100 (ignored): the tags are padded with the inputs.
        out[name]![split] = inputDataset(encoded.padded(indices, tokenizer.padId), tokenizer.padId, common, targets as number[][]);
        continue;
      }
      // Tasks over the same rows of one file share the input tensors.
      const groupKey = `${split}\0${readingOf(task, file, false)}\0${indices.length}`;
      const candidates = shared.get(groupKey) ?? [];
      let base = candidates.find((c) => c.indices.every((v, i) => v === indices[i]))?.dataset;
      if (!base) {
        base = inputDataset(encoded.padded(indices, tokenizer.padId), tokenizer.padId, { ...common, name: `${file}/${split}` });
        shared.set(groupKey, [...candidates, { indices, dataset: base }]);
      }
      const numClasses = info.kind === 'sequence' ? tokenizer.vocabSize : undefined;
      out[name]![split] = base.withTargets({ ...common, targets, ...(numClasses ? { numClasses } : {}) });
    }
  }
  return out;
}
