/**
 * Files read and written by lib/ (config.json, run folders, reports), under the same rules as the
 * native writer (native/core/file_io.h):
 *  - only a regular file is read, opened non-blocking (a FIFO or a device never blocks the event
 *    loop or streams forever) and checked on the opened descriptor, up to a size cap;
 *  - only a regular file, or nothing, is replaced: a symbolic link, device, FIFO or folder at the
 *    path is refused;
 *  - a write goes to ".<name>.tmp-<pid>-<random>" in the target's folder, is flushed (fsync),
 *    renamed over the target, and the folder is flushed; temporaries of writers that died are removed
 *    by the next write or read of the same target. MTL_TORCH_NO_FSYNC=1 skips the flushes (faster;
 *    atomic against the process dying, not against a power loss).
 * Every failure is a TorchError: ERR_NOT_FOUND for a missing file, ERR_IO for the rest, ERR_TOO_LARGE
 * for a file over its cap.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ErrorCode, TorchError } from './errors.ts';

/** The largest JSON config read (config.json, run configs, tokenizer files are far smaller). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** The largest text data file read whole (a GLUE TSV; MNLI's training set is about 80 MB): under V8's longest string. */
export const MAX_TEXT_DATA_BYTES = 500 * 1024 * 1024;

function fsyncDisabled(): boolean {
  const value = process.env.MTL_TORCH_NO_FSYNC;
  return value !== undefined && value !== '' && value !== '0';
}

/** A file-system error as a TorchError naming the operation and the path. */
export function ioError(where: string, action: string, file: string, error: unknown): TorchError {
  if (error instanceof TorchError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOENT' ? 'no such file or folder' : code ? `${code}: ${(error as Error).message.replace(/^[A-Z]+: /, '')}` : String(error);
  return new TorchError(`${where}: cannot ${action} '${file}': ${why}`, code === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.IO);
}

function kindOf(stats: {
  isSymbolicLink(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function temporaryPrefix(target: string): string {
  return `.${path.basename(target)}.tmp-`;
}

/** Removes temporaries of `target` whose writer process no longer runs. */
export function removeStaleTemporaries(target: string): void {
  const prefix = temporaryPrefix(target);
  let names: string[];
  try {
    names = readdirSync(path.dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (!match) continue;
    try {
      process.kill(Number(match[1]), 0);
      continue; // its writer runs
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    const stale = path.join(path.dirname(target), name);
    try {
      if (lstatSync(stale).isFile()) unlinkSync(stale);
    } catch {
      // gone already
    }
  }
}

/** Opens `file` for reading, non-blocking, and checks on the descriptor that it is a regular file. */
function openRegularFile(file: string, where: string): { fd: number; stats: Stats } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw ioError(where, 'read', file, error);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new TorchError(`${where}: cannot read '${file}': not a regular file (${kindOf(stats)})`, ErrorCode.IO);
    return { fd, stats };
  } catch (error) {
    closeSync(fd);
    throw ioError(where, 'read', file, error);
  }
}

/** The content of a regular file of at most `maxBytes`, as UTF-8 text. */
export function readTextFile(file: string, where: string, maxBytes = MAX_CONFIG_BYTES): string {
  const { fd, stats } = openRegularFile(file, where);
  try {
    if (stats.size > maxBytes) {
      throw new TorchError(
        `${where}: '${file}' has ${stats.size} bytes, more than the ${maxBytes} read from such a file`,
        ErrorCode.TOO_LARGE,
      );
    }
    const buffer = Buffer.alloc(stats.size);
    let offset = 0;
    while (offset < buffer.length) {
      const got = readSync(fd, buffer, offset, buffer.length - offset, offset);
      if (got === 0) break;
      offset += got;
    }
    removeStaleTemporaries(file);
    return buffer.subarray(0, offset).toString('utf8');
  } catch (error) {
    throw ioError(where, 'read', file, error);
  } finally {
    closeSync(fd);
  }
}

/** JSON from a regular file (readTextFile), refused with the parser's message when malformed. */
export function readJsonFile(file: string, where: string, maxBytes = MAX_CONFIG_BYTES): unknown {
  const text = readTextFile(file, where, maxBytes);
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text); // a UTF-8 byte-order mark is no part of the JSON
  } catch (error) {
    throw new TorchError(`${where}: ${file} is not valid JSON: ${(error as Error).message}`, ErrorCode.BAD_DATA);
  }
}

/**
 * Appends `text` to the regular file `file` whole or not at all: a write that fails part way (a full
 * disk: ENOSPC) is cut back to the file's previous length, so a log of lines never holds a torn one.
 * No flush per append (a log's lines are many); a power loss can still cut the file's tail.
 */
export function appendWhole(file: string, text: string, where: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
  } catch (error) {
    throw ioError(where, 'append to', file, error);
  }
  let size = -1;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new TorchError(`${where}: cannot append to '${file}': it is ${kindOf(stats)}`, ErrorCode.IO);
    size = stats.size;
    const data = Buffer.from(text, 'utf8');
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
  } catch (error) {
    if (size >= 0) {
      try {
        ftruncateSync(fd, size);
      } catch {
        // The cut-back failed too: the reader drops a torn last line (see the run log).
      }
    }
    throw ioError(where, 'append to', file, error);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `file` atomically (see above). */
export function writeFileAtomic(file: string, data: string | Uint8Array, where: string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  replaceAtomically(file, where, (fd) => {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  });
}

/** Copies the regular file `from` to `file` atomically (see above), a chunk at a time: a model's weights can be large. */
export function copyFileAtomic(from: string, file: string, where: string): void {
  const { fd: source, stats } = openRegularFile(from, where);
  try {
    const chunk = Buffer.alloc(Math.min(Math.max(stats.size, 1), 1 << 20));
    replaceAtomically(file, where, (fd) => {
      for (let position = 0; ;) {
        const got = readSync(source, chunk, 0, chunk.length, position);
        if (got === 0) break;
        for (let offset = 0; offset < got;) offset += writeSync(fd, chunk, offset, got - offset);
        position += got;
      }
    });
  } finally {
    closeSync(source);
  }
}

/** The atomic replacement behind writeFileAtomic and copyFileAtomic: `fill` writes the temporary file's content. */
function replaceAtomically(file: string, where: string, fill: (fd: number) => void): void {
  try {
    const existing = lstatSync(file);
    if (!existing.isFile()) {
      throw new TorchError(
        `${where}: cannot write '${file}': it is ${kindOf(existing)}, and only a regular file is replaced`,
        ErrorCode.IO,
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(where, 'write', file, error);
  }
  removeStaleTemporaries(file);
  const temporary = path.join(path.dirname(file), `${temporaryPrefix(file)}${process.pid}-${randomBytes(8).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx');
    fill(fd);
    if (!fsyncDisabled()) fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    renameSync(temporary, file);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temporary);
    } catch {
      // never created, or renamed
    }
    throw ioError(where, 'write', file, error);
  }
  if (!fsyncDisabled()) {
    try {
      const folder = openSync(path.dirname(file), constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        fsyncSync(folder);
      } finally {
        closeSync(folder);
      }
    } catch {
      // a folder that cannot be opened for reading: the rename stands, unflushed
    }
  }
}

/**
 * Creates `dir` and its missing parents (mkdir -p), one level at a time: Node's recursive mkdir
 * never returns for some paths (a folder under /proc), and a path through a file is refused.
 */
export function makeDirectory(dir: string, where: string): void {
  const absolute = path.resolve(dir);
  const missing: string[] = [];
  for (let current = absolute; ; current = path.dirname(current)) {
    try {
      const stats = statSync(current);
      if (!stats.isDirectory())
        throw new TorchError(`${where}: cannot create the folder '${dir}': '${current}' is ${kindOf(stats)}`, ErrorCode.IO);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(where, 'create the folder', dir, error);
      missing.push(current);
      if (path.dirname(current) === current) break;
    }
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(where, 'create the folder', folder, error);
    }
  }
}
