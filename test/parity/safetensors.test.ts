/**
 * mt.save / mt.load (native/core/safetensors.cc): exact round trips of every dtype, interop with
 * PyTorch through python/safetensors_io.py (its test modes: test/parity/oracles/safetensors_io_modes.py), the on-disk layout, and a fuzz-style sweep of
 * corrupted files, each of which must be refused with a TorchError (never a crash or a hang).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import type { Tensor } from '../../lib/index.ts';
import { native } from '../../lib/native.ts';
import { PYTHON } from '../helpers/reference.ts';
import { requireTool } from '../helpers/tools.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mtl-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
const freshPath = (stem = 'file') => path.join(dir, `${stem}-${fileCounter++}.safetensors`);

const ITEM_SIZE: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 };

/** Every dtype, with the values that catch byte-order and rounding mistakes. */
function everyDtype(): Record<string, Tensor> {
  return {
    f32: mt.tensor(new Float32Array([1.5, -0, Infinity, -Infinity, NaN, 3.4028234663852886e38, 1e-45]), [7]),
    f64: mt.tensor(new Float64Array([Math.PI, -0, 5e-324, Number.MAX_VALUE, NaN, -1]), [2, 3]),
    f16: mt.tensor(new Float32Array([0.1, -2.5, 65504, 6.1e-5, Infinity]), [5]).half(),
    bf16: mt.tensor(new Float32Array([0.1, -2.5, 3.3e38, 1e-38, -Infinity, 7]), [3, 2]).bfloat16(),
    i32: mt.tensor(new Int32Array([-2147483648, 2147483647, 0, -1]), [2, 2]),
    i64: mt.tensor(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -7n]), [4]),
    u8: mt.tensor(new Uint8Array([0, 1, 127, 128, 255]), [5], { dtype: 'uint8' }),
    mask: mt.tensor([
      [true, false, true],
      [false, false, true],
    ]),
    scalar: mt.tensor(new Float32Array([-3.25]), []),
    empty: mt.zeros([0]),
    emptyInner: mt.zeros([2, 0, 3], { dtype: 'int64' }),
  };
}

/** The values as bytes (float16/bfloat16 widened to float32 exactly), for bit-exact comparison. */
function bytesOf(t: Tensor): Uint8Array {
  const data = t.dataSync();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function expectSameTensor(actual: Tensor | undefined, expected: Tensor, name: string): void {
  expect(actual, name).toBeDefined();
  expect(actual!.dtype, name).toBe(expected.dtype);
  expect(actual!.shape, name).toEqual(expected.shape);
  expect(actual!.device, name).toBe('cpu');
  expect(Buffer.from(bytesOf(actual!)).equals(Buffer.from(bytesOf(expected))), `${name} values`).toBe(true);
}

/** Splits a file into its header (parsed) and data buffer, checking the reference writer's layout rules. */
function parseLayout(bytes: Buffer): { header: Record<string, any>; headerLength: number; order: string[] } {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  expect(headerLength % 8, 'header padded to a multiple of 8').toBe(0);
  const text = bytes.subarray(8, 8 + headerLength).toString('utf8');
  expect(text.startsWith('{')).toBe(true);
  expect(text.slice(text.lastIndexOf('}') + 1), 'only spaces pad the header').toMatch(/^ {0,7}$/);
  const header = JSON.parse(text) as Record<string, any>;
  const order = Object.keys(header).filter((k) => k !== '__metadata__');
  let cursor = 0;
  for (const name of order) {
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = header[name];
    expect(begin, `${name} follows the previous tensor`).toBe(cursor);
    expect(end - begin).toBe((shape as number[]).reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype]!);
    expect(begin % ITEM_SIZE[dtype]!, `${name} aligned to its element size`).toBe(0);
    cursor = end;
  }
  expect(8 + headerLength + cursor, 'data buffer fully used').toBe(bytes.length);
  return { header, headerLength, order };
}

describe('save and load', () => {
  it('round-trips every dtype bit for bit, 0-dim and empty tensors included', () => {
    const file = freshPath();
    const tensors = everyDtype();
    mt.save(file, tensors);
    const loaded = mt.load(file);
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) expectSameTensor(loaded[name], t, name);
  });

  it('keeps metadata, accepts a Map, and keeps the given order within one element size', () => {
    const file = freshPath();
    const names = ['zeta', 'alpha', 'layers.10.w', 'layers.2.w', 'ünïcödé ✓'];
    const sd = new Map(names.map((n, i) => [n, mt.full([2], i)] as const));
    mt.save(file, sd as Map<string, Tensor>, { format: 'pt', note: 'quote " backslash \\ newline \n ✓' });
    const { tensors, metadata } = mt.loadWithMetadata(file);
    expect(Object.keys(tensors)).toEqual(names);
    expect(metadata).toEqual({ format: 'pt', note: 'quote " backslash \\ newline \n ✓' });
    names.forEach((n, i) => expect(tensors[n]!.toArray()).toEqual([i, i]));
    expect(mt.loadWithMetadata(freshPathWith({ a: mt.ones([1]) })).metadata).toEqual({});
  });

  it('writes non-contiguous tensors and tensors that require grad as their values', () => {
    const base = mt.arange(0, 6).reshape([2, 3]).float();
    const w = mt.randn([3], { requiresGrad: true });
    const file = freshPathWith({ t: base.t(), w });
    const loaded = mt.load(file);
    expect(loaded.t!.toArray()).toEqual(base.t().toArray());
    expect(loaded.t!.shape).toEqual([3, 2]);
    expectSameTensor(loaded.w, w.detach(), 'w');
    expect(loaded.w!.requiresGrad).toBe(false);
  });

  it.skipIf(!mt.cuda.isAvailable())(
    `saves CUDA tensors and loads them onto the CPU${mt.cuda.isAvailable() ? '' : ' (skipped: no CUDA device)'}`,
    () => {
      const onGpu = { w: mt.randn([4, 5], { device: 'cuda' }).bfloat16(), t: mt.randn([3, 2], { device: 'cuda' }).t() };
      const loaded = mt.load(freshPathWith(onGpu));
      for (const [name, t] of Object.entries(onGpu)) expectSameTensor(loaded[name], t.to('cpu'), name);
    },
  );

  it('does not turn a tensor or metadata key named __proto__ into a prototype', () => {
    const sd = Object.fromEntries([
      ['__proto__', mt.ones([1])],
      ['x', mt.zeros([1])],
    ]) as Record<string, Tensor>;
    const loaded = mt.load(freshPathWith(sd));
    expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
    expect(Object.keys(loaded)).toEqual(['__proto__', 'x']);
    const { metadata } = mt.loadWithMetadata(freshPathWith({ x: mt.ones([1]) }, JSON.parse('{"__proto__":"p","k":"v"}')));
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.entries(metadata)).toEqual([
      ['__proto__', 'p'],
      ['k', 'v'],
    ]);
  });

  it('replaces a file atomically and leaves no temporary file, also when it fails', () => {
    const file = freshPath('atomic');
    mt.save(file, { a: mt.ones([3]) });
    mt.save(file, { b: mt.zeros([2]) });
    expect(Object.keys(mt.load(file))).toEqual(['b']);
    expect(() => mt.save(path.join(dir, 'missing-folder', 'x.safetensors'), { a: mt.ones([1]) })).toThrow(mt.TorchError);
    expect(() => mt.save(dir, { a: mt.ones([1]) })).toThrow(mt.TorchError); // a folder cannot be replaced
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses bad arguments, naming them', () => {
    const t = mt.ones([1]);
    const cases: [() => unknown, RegExp][] = [
      [() => mt.save('', { t }), /save: 'path' must be a non-empty string/],
      [() => mt.save(42 as unknown as string, { t }), /'path' must be a non-empty string/],
      [() => mt.save('a\0b', { t }), /NUL/],
      [() => mt.save(freshPath(), null as unknown as Record<string, Tensor>), /'stateDict' must be a record or Map/],
      [() => mt.save(freshPath(), [t] as unknown as Record<string, Tensor>), /'stateDict' must be a record or Map/],
      [() => mt.save(freshPath(), { t: [1, 2] } as unknown as Record<string, Tensor>), /'stateDict\["t"\]' must be a Tensor/],
      [() => mt.save(freshPath(), new Map([[1, t]]) as unknown as Map<string, Tensor>), /keys must be strings/],
      [() => mt.save(freshPath(), { [Symbol('s')]: t } as unknown as Record<string, Tensor>), /keys must be strings/],
      [() => mt.save(freshPath(), { __metadata__: t }), /__metadata__/],
      [() => mt.save(freshPath(), { t }, { n: 1 } as unknown as Record<string, string>), /'metadata\["n"\]' must be a string/],
      [() => mt.save(freshPath(), { t }, 'x' as unknown as Record<string, string>), /'metadata' must be a record/],
      [() => mt.load(''), /load: 'path' must be a non-empty string/],
      [() => mt.load(path.join(dir, 'does-not-exist.safetensors')), /no such file/],
      [() => mt.load(dir), /not a regular file/],
    ];
    for (const [call, message] of cases) expect(call, String(message)).toThrow(message);
    // What TypeScript cannot pass (a record has no duplicate keys) is still refused natively.
    const h = t.handle;
    const nativeCases: [() => unknown, RegExp][] = [
      [() => native.saveSafetensors(freshPath(), ['a', 'a'], [h, h]), /two tensors are named 'a'/],
      [() => native.saveSafetensors(freshPath(), ['a'], [h, h]), /differ in length/],
      [() => native.saveSafetensors(freshPath(), [1 as unknown as string], [h]), /names\[0\] must be a string/],
      [() => native.saveSafetensors(freshPath(), ['a'], [h], { k: 1 as unknown as string }), /metadata values must be strings/],
      [() => native.loadSafetensors(5 as unknown as string), /argument 0 must be a string/],
    ];
    for (const [call, message] of nativeCases) {
      expect(call, String(message)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) }));
    }
    const disposed = mt.ones([1]);
    disposed.dispose();
    expect(() => mt.save(freshPath(), { disposed })).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });
});

function freshPathWith(sd: Record<string, Tensor>, metadata?: Record<string, string>): string {
  const file = freshPath();
  mt.save(file, sd, metadata);
  return file;
}

// ---- PyTorch interop, through the pure-Python oracle (two Python runs in all) ----

const python = PYTHON;
const oracle = path.join(import.meta.dirname, 'oracles', 'safetensors_io_modes.py');
const torchFile = path.join(dir, 'torch.safetensors');
const torchValues = path.join(dir, 'torch.json');
// One Python run at load time both probes for torch and writes the file the tests read.
const pythonProblem = (() => {
  try {
    execFileSync(python, [oracle, 'create', torchFile, torchValues, '7'], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `${python} with torch is not available: ${(error as Error).message.split('\n')[0]}`;
  }
})();

interface ValueSpec {
  dtype: string;
  shape: number[];
  values: (number | string | boolean)[];
}

function tensorFromSpec(spec: ValueSpec): Tensor {
  const { dtype, shape, values } = spec;
  if (dtype === 'int64')
    return mt.tensor(
      BigInt64Array.from(values as string[], (v) => BigInt(v)),
      shape,
    );
  if (dtype === 'bool')
    return mt.tensor(
      Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0)),
      shape,
      { dtype: 'bool' },
    );
  if (dtype === 'int32') return mt.tensor(Int32Array.from(values as number[]), shape);
  if (dtype === 'uint8') return mt.tensor(Uint8Array.from(values as number[]), shape, { dtype: 'uint8' });
  // float16/bfloat16/float32 values are exact in float32, so the conversion back rounds nothing.
  const floats = (values as (number | string)[]).map(floatFromJson);
  const data = dtype === 'float64' ? Float64Array.from(floats) : Float32Array.from(floats);
  return mt.tensor(data, shape, { dtype: dtype as mt.DType });
}

// JSON has no NaN, infinities or -0: the oracle's JSON spells them "nan", "inf", "-inf", "-0".
function floatFromJson(v: number | string): number {
  if (typeof v === 'number') return v;
  return v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v); // Number('nan') is NaN, Number('-0') is -0
}
function floatToJson(v: number): number | string {
  if (Object.is(v, -0)) return '-0';
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

function specOf(t: Tensor): ValueSpec {
  const data = t.dataSync();
  const values =
    t.dtype === 'bool'
      ? Array.from(data as Uint8Array, (v) => v !== 0)
      : data instanceof BigInt64Array
        ? Array.from(data, String)
        : t.dtype.startsWith('int') || t.dtype === 'uint8'
          ? Array.from(data as Int32Array)
          : Array.from(data as Float32Array, floatToJson);
  return { dtype: t.dtype, shape: t.shape, values };
}

describe.skipIf(!requireTool('python3 with torch', pythonProblem))(
  `PyTorch interop${pythonProblem ? ` (skipped: ${pythonProblem})` : ''}`,
  () => {
    it("loads a PyTorch-written file with PyTorch's exact values and metadata", () => {
      const expected = JSON.parse(readFileSync(torchValues, 'utf8')) as {
        __metadata__: Record<string, string>;
        tensors: Record<string, ValueSpec>;
      };
      const { tensors, metadata } = mt.loadWithMetadata(torchFile);
      expect(metadata).toEqual(expected.__metadata__);
      expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected.tensors).sort());
      expect(new Set(Object.values(tensors).map((t) => t.dtype))).toEqual(
        new Set(['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool']),
      );
      for (const [name, spec] of Object.entries(expected.tensors)) expectSameTensor(tensors[name], tensorFromSpec(spec), name);
    });

    it('re-saves a PyTorch-written file byte for byte (same layout rules as the reference writer)', () => {
      const original = readFileSync(torchFile);
      parseLayout(original);
      const { tensors, metadata } = mt.loadWithMetadata(torchFile);
      const file = freshPath();
      mt.save(file, tensors, metadata);
      expect(readFileSync(file).equals(original)).toBe(true);
    });

    it('writes files PyTorch reads with the same values, and reads back what PyTorch computed from them', () => {
      // int64 values stay clear of overflow in x * 2 + 1.
      const tensors = { ...everyDtype(), i64: mt.tensor(new BigInt64Array([-(2n ** 60n), 2n ** 60n, 2n ** 53n + 1n, -7n]), [4]) };
      const metadata = { format: 'pt', writer: 'mtl-torch' };
      const mine = freshPath('mine');
      const theirs = freshPath('theirs');
      const expectedFile = path.join(dir, 'expected.json');
      mt.save(mine, tensors, metadata);
      const specs = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, specOf(t)]));
      writeFileSync(expectedFile, JSON.stringify({ __metadata__: metadata, tensors: specs }));
      execFileSync(python, [oracle, 'roundtrip', mine, expectedFile, theirs], { stdio: 'pipe' });
      const back = mt.loadWithMetadata(theirs);
      expect(back.metadata).toEqual(metadata);
      for (const [name, t] of Object.entries(tensors)) {
        const transformed = t.dtype === 'bool' ? t.logicalNot() : t.mul(2).add(1);
        expectSameTensor(back.tensors[name], transformed, name);
      }
      parseLayout(readFileSync(theirs));
    });
  },
);

describe('layout', () => {
  it('pads the header to 8 bytes, tiles the data buffer, and aligns every tensor', () => {
    const file = freshPathWith(everyDtype(), { a: 'b' });
    const { header, order } = parseLayout(readFileSync(file));
    expect(header.__metadata__).toEqual({ a: 'b' });
    // Larger elements first; the given order within one size.
    expect(order).toEqual(['f64', 'i64', 'emptyInner', 'f32', 'i32', 'scalar', 'empty', 'f16', 'bf16', 'u8', 'mask']);
    expect(header.bf16).toEqual({ dtype: 'BF16', shape: [3, 2], data_offsets: header.bf16.data_offsets });
  });
});

// ---- corrupted files ----

const encoder = new TextEncoder();

/** A file from a header given as text (unpadded) and a data buffer. */
function fileFrom(headerText: string | Uint8Array, data: Uint8Array = new Uint8Array(0), claimedLength?: bigint): Buffer {
  const header = typeof headerText === 'string' ? encoder.encode(headerText) : headerText;
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(claimedLength ?? BigInt(header.length));
  return Buffer.concat([prefix, header, data]);
}

function expectRefused(bytes: Uint8Array, label: string, message?: RegExp): void {
  const file = path.join(dir, 'corrupt.safetensors');
  writeFileSync(file, bytes);
  let error: unknown;
  try {
    mt.load(file);
  } catch (e) {
    error = e;
  }
  expect(error, `${label}: refused`).toBeInstanceOf(mt.TorchError);
  expect((error as mt.TorchError).code, label).toBe('ERR_INVALID_ARG');
  if (message) expect((error as Error).message, label).toMatch(message);
}

/** A header entry; shape and offsets are JSON text, so that literals like 2.0 or 2^64 stay as written. */
const entry = (dtype: string, shape: string, offsets: string) => `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;
const F32x2 = entry('F32', '[2]', '[0,8]');
const eight = new Uint8Array(8);

describe('corrupted files are refused with a TorchError', () => {
  const valid = readFileSync(
    freshPathWith(
      {
        w: mt.randn([3, 4]),
        b: mt.randn([4]).bfloat16(),
        ids: mt.tensor([1, 2, 3]),
        m: mt.tensor([true, false]),
      },
      { k: 'v' },
    ),
  );
  const headerEnd = 8 + Number(valid.readBigUInt64LE(0));

  it('accepts the uncorrupted file (sanity)', () => {
    const file = path.join(dir, 'valid.safetensors');
    writeFileSync(file, valid);
    expect(Object.keys(mt.load(file)).sort()).toEqual(['b', 'ids', 'm', 'w']);
  });

  it('refuses every truncation of the header and some of the data', () => {
    const lengths = new Set<number>();
    for (let n = 0; n < Math.min(valid.length, 200); n++) lengths.add(n);
    for (const n of [headerEnd, headerEnd + 1, headerEnd + 7, valid.length - 4, valid.length - 1]) lengths.add(n);
    for (const n of lengths) expectRefused(valid.subarray(0, n), `truncated to ${n} bytes`);
    expectRefused(valid.subarray(0, 5), 'five bytes', /fewer than the 8-byte header length/);
  });

  it('refuses header lengths that are huge or beyond the file, without allocating them', () => {
    const before = process.memoryUsage().rss;
    const withLength = (n: bigint) => {
      const b = Buffer.from(valid);
      b.writeBigUInt64LE(n, 0);
      return b;
    };
    expectRefused(withLength(2n ** 63n), '2^63', /exceeds the limit/);
    expectRefused(withLength(2n ** 64n - 1n), '2^64-1', /exceeds the limit/);
    expectRefused(withLength(2n ** 40n), '2^40', /exceeds the limit/);
    expectRefused(withLength(100_000_000n), 'the cap, beyond the file', /more than the .* bytes that follow/);
    expectRefused(withLength(BigInt(valid.length - 8 + 1)), 'one byte beyond the file', /truncated/);
    expectRefused(withLength(0n), 'zero', /does not start with/);
    expectRefused(withLength(BigInt(headerEnd - 8 - 1)), 'one byte short');
    expectRefused(withLength(BigInt(headerEnd - 8 + 8)), 'eight bytes long');
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('refuses malformed JSON', () => {
    const cases: [string, RegExp?][] = [
      ['{"a":' + F32x2, /unexpected end of input/],
      ['{"a', /missing closing quote/],
      ['{"a":{"dtype":"F3', /missing closing quote/],
      ['{"a\u0001":' + F32x2 + '}', /control character U\+0001/],
      ['{"a\\x":' + F32x2 + '}', /forbidden character after backslash/],
      ['{"\\ud800":' + F32x2 + '}', /surrogate/],
      ['{"a":' + F32x2 + ',}', /unexpected '}'; expected string literal/],
      ['{"a":' + F32x2 + '}x', /expected end of input/],
      ['{"a":' + F32x2 + ' "b"}', /unexpected string literal; expected '}'/],
      ['{"a" ' + F32x2 + '}', /expected ':'/],
      ['{"a":' + F32x2 + '}}', /expected end of input/],
      ['[]', /does not start with '\{'/],
      ['"str"', /does not start with/],
      ['42', /does not start with/],
      ['null', /does not start with/],
      [' {}', /does not start with/],
      ['{"a":' + '{"x":'.repeat(10_000) + '0' + '}'.repeat(10_000) + '}', /nests deeper than/],
      ['{"a":{"x":' + '['.repeat(10_000) + ']'.repeat(10_000) + ',"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', /nests deeper than/],
      ['{"a":{"x":' + '['.repeat(10_000), /nests deeper than/],
      ['{"a":[1]}', /tensor 'a' is not described by an object/],
      ['{"a":"F32"}', /tensor 'a' is not described by an object/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":tru}}', /invalid literal/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":nul}}', /invalid literal/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":01}}', /unexpected number literal/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":-}}', /expected digit after '-'/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1.}}', /expected digit after '\.'/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":@}}', /invalid literal/],
    ];
    for (const [text, message] of cases) expectRefused(fileFrom(text, eight), text.slice(0, 60), message);
    const badUtf8 = Buffer.concat([Buffer.from('{"a'), Buffer.from([0xff]), Buffer.from('":' + F32x2 + '}')]);
    expectRefused(fileFrom(badUtf8, eight), 'invalid UTF-8', /ill-formed UTF-8/);
    const overlong = Buffer.concat([Buffer.from('{"'), Buffer.from([0xc0, 0xaf]), Buffer.from('":' + F32x2 + '}')]);
    expectRefused(fileFrom(overlong, eight), 'overlong UTF-8', /ill-formed UTF-8/);
  });

  it('refuses wrong types and values for dtype, shape and offsets', () => {
    const cases: [string, RegExp][] = [
      [entry('F32', '"2"', '[0,8]'), /tensor 'a': 'shape' must be an array/],
      [entry('F32', '[2.0]', '[0,8]'), /a dimension must be a non-negative integer/],
      [entry('F32', '[2e0]', '[0,8]'), /a dimension must be a non-negative integer/],
      [entry('F32', '[-2]', '[0,8]'), /a dimension must be a non-negative integer/],
      [entry('F32', '[true]', '[0,8]'), /a dimension must be a non-negative integer/],
      [entry('F32', '[[2]]', '[0,8]'), /nests deeper than/],
      [entry('F32', 'null', '[0,8]'), /'shape' must be an array/],
      [entry('F32', '[2]', '[0]'), /data_offsets must be \[begin, end\]/],
      [entry('F32', '[2]', '[0,8,8]'), /data_offsets must be \[begin, end\]/],
      [entry('F32', '[2]', '[8,0]'), /end before they begin/],
      [entry('F32', '[2]', '["0","8"]'), /data_offsets must be a non-negative integer/],
      [entry('F32', '[2]', '[0.0,8.5]'), /data_offsets must be a non-negative integer/],
      [entry('F32', '[2]', '[-1,7]'), /data_offsets must be a non-negative integer/],
      [entry('F32', '[2]', '[0,18446744073709551616]'), /data_offsets must be a non-negative integer below 2\^64/],
      [entry('F32', '[4294967296,4294967296,4294967296]', '[0,8]'), /overflows 64 bits/],
      [entry('F32', '[9223372036854775807,2]', '[0,8]'), /overflows 64 bits/],
      [entry('F32', '[4611686018427387904,4611686018427387904,0]', '[0,8]'), /overflows 64 bits/],
      [entry('F32', '[0,4611686018427387904,4611686018427387904]', '[0,8]'), /overflows 64 bits/],
      [entry('F32', '[9223372036854775808]', '[0,8]'), /larger than 2\^63 - 1/],
      [entry('F32', '[3]', '[0,8]'), /has 8 bytes but its dtype and shape need 12/],
      [entry('F32', '[2]', '[0,16]'), /ends at byte 16 of a data buffer of 8 bytes/],
      [entry('F8_E4M3', '[8]', '[0,8]'), /does not read/],
      [entry('f32', '[2]', '[0,8]'), /does not read/],
      [entry('I8', '[8]', '[0,8]'), /does not read/],
      ['{"dtype":7,"shape":[2],"data_offsets":[0,8]}', /'dtype' must be a string/],
      ['{"shape":[2],"data_offsets":[0,8]}', /lacks 'dtype'/],
      ['{"dtype":"F32","data_offsets":[0,8]}', /lacks 'shape'/],
      ['{"dtype":"F32","shape":[2]}', /lacks 'data_offsets'/],
      ['{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}', /tensor 'a' has two 'dtype' fields/],
    ];
    for (const [value, message] of cases) expectRefused(fileFrom(`{"a":${value}}`, eight), value, message);
  });

  it('refuses overlapping, out-of-range and gapped offsets, duplicates and bad metadata', () => {
    const twelve = new Uint8Array(12);
    const cases: [string, Uint8Array, RegExp][] = [
      [`{"a":${entry('F32', '[2]', '[0,8]')},"b":${entry('F32', '[2]', '[4,12]')}}`, twelve, /overlaps/],
      [`{"a":${entry('F32', '[2]', '[0,8]')},"b":${entry('F32', '[2]', '[0,8]')}}`, eight, /overlaps/],
      [`{"a":${entry('F32', '[2]', '[0,8]')},"e":${entry('F32', '[0]', '[4,4]')}}`, eight, /overlaps/],
      [
        `{"a":${entry('F32', '[1]', '[0,4]')},"b":${entry('F32', '[1]', '[8,12]')}}`,
        twelve,
        /bytes 4 to 8 of the data buffer belong to no tensor/,
      ],
      [`{"a":${entry('F32', '[2]', '[4,12]')}}`, twelve, /bytes 0 to 4/],
      [`{"a":${entry('F32', '[2]', '[0,8]')}}`, twelve, /last 4 bytes of the data buffer belong to no tensor/],
      [`{"a":${entry('F32', '[2]', '[8,16]')}}`, eight, /ends at byte 16/],
      [`{"a":${F32x2},"a":${F32x2}}`, eight, /the header names 'a' twice/],
      [`{"__metadata__":{"k":1},"a":${F32x2}}`, eight, /__metadata__ value of 'k' is not a string/],
      [`{"__metadata__":["k"],"a":${F32x2}}`, eight, /__metadata__ is not an object/],
      [`{"__metadata__":{"k":"v","k":"w"},"a":${F32x2}}`, eight, /key 'k' twice/],
      [`{"__metadata__":{},"__metadata__":{},"a":${F32x2}}`, eight, /names '__metadata__' twice/],
      [`{"m":${entry('BOOL', '[2]', '[0,2]')}}`, new Uint8Array([1, 2]), /neither 0 nor 1/],
      [`{"${'n'.repeat(500)}":${entry('F32', '[3]', '[0,8]')}}`, eight, /tensor 'n{64}\.\.\.' has 8 bytes/],
    ];
    for (const [text, data, message] of cases) expectRefused(fileFrom(text, data), text.slice(0, 60), message);
  });

  it('never crashes on random byte flips in the header (seeded)', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    let refused = 0;
    for (let trial = 0; trial < 400; trial++) {
      const bytes = Buffer.from(valid);
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) {
        // Mostly inside the JSON, sometimes in the length prefix.
        const at = random() < 0.1 ? Math.floor(random() * 8) : 8 + Math.floor(random() * (headerEnd - 8));
        bytes[at] = random() < 0.5 ? bytes[at]! ^ (1 << Math.floor(random() * 8)) : Math.floor(random() * 256);
      }
      const file = path.join(dir, 'flipped.safetensors');
      writeFileSync(file, bytes);
      try {
        const loaded = mt.load(file); // a flip inside a name or metadata value can leave a valid file
        for (const t of Object.values(loaded)) expect(t.numel).toBeGreaterThanOrEqual(0);
      } catch (error) {
        expect(error, `trial ${trial}`).toBeInstanceOf(mt.TorchError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(200);
  });
});
