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
  throw new TorchError(`${file}: unknown data file format '${ext || '(no extension)'}': expected .csv, .tsv or .jsonl`, ErrorCode.INVALID_ARG);
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
  const parser = createReadStream(file).pipe(parseCsv({ delimiter, columns: true, info: true, raw: true, bom: true, skip_empty_lines: true, relax_quotes: delimiter === '\t' }));
  let previousEnd = 1;  // the header's last line
  try {
    for await (const { record, info, raw } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number }; raw: string }>) {
      // info.lines is the record's last line; its raw text says how many lines it spans.
      const own = raw.replace(/^[\r\n]+/, '');  // skipped empty lines come before it
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
      throw new TorchError(`${file}:${line}:${column === undefined ? 1 : Number(column) + 1}: not JSON: ${(error as Error).message}`, ErrorCode.BAD_DATA);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TorchError(`${file}:${line}:1: a JSONL line must be an object of fields, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`, ErrorCode.BAD_DATA);
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
