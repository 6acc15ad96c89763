/**
 * The PyTorch oracle for parity tests: cases are declared once, written to a temporary JSON file,
 * run by test/parity/oracles/ops.py under Debian's python3-torch in ONE process per test file, and
 * the JavaScript side runs the same case and compares outputs and gradients.
 * Expected numbers always come from PyTorch; nothing here is typed by hand.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import * as mt from '../../lib/index.ts';

export const PYTHON = process.env.MTL_TORCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../parity/oracles/ops.py', import.meta.url));

export type DType = mt.DType;
export interface InputSpec {
  data: (number | boolean)[];
  shape: number[];
  dtype: DType;
  requiresGrad?: boolean;
}
/** {$t: i} is input i; {$dtype: 'int64'} a dtype; arrays nest. */
export type Arg = number | boolean | string | null | { $t: number } | { $dtype: DType } | Arg[] | { [k: string]: Arg };
export type JsResult = mt.Tensor | mt.Tensor[] | { values: mt.Tensor; indices: mt.Tensor };

export interface Case {
  name: string;
  /** camelCase torch name; the Python side snake-cases it. */
  op?: string;
  /** method: x0.op(...); torch: torch.op / mt.op; F: torch.nn.functional.op / mt.nn.functional.op. */
  call?: 'method' | 'torch' | 'F';
  inputs?: InputSpec[];
  args?: Arg[];
  kwargs?: Record<string, Arg>;
  /** A Python expression replacing op/args; inputs are x0, x1, ... */
  py?: string;
  /** Python statements that set `result` (for backward/no_grad sequences). */
  pyExec?: string;
  /** The JavaScript side when it is not `op` called with the same positional args. */
  js?: (x: mt.Tensor[]) => JsResult;
  /** Call the in-place method on a clone of input 0 so gradients reach the leaf. */
  clone?: boolean;
  seed?: number;
  /** When PyTorch raises for this case (an op not implemented for a dtype on this build), the
   * JavaScript side must raise a TorchError too; when PyTorch succeeds, values are compared. */
  sameErrors?: boolean;
  /** Forward tolerance; defaults by dtype (fp32/fp64 1e-5 relative). */
  rtol?: number;
  atol?: number;
}

interface OutputResult {
  data: (number | boolean | string)[];
  shape: number[];
  dtype: string;
}
export interface CaseResult {
  outputs: OutputResult[];
  weights: ((number | string)[] | null)[];
  grads: ((number | string)[] | null)[];
  error?: string;
}

/** Runs every case in PyTorch once and returns the results by name. */
export function runReference(cases: Case[]): { torch: string; results: Record<string, CaseResult> } {
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case name ${c.name}`);
    names.add(c.name);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-torch-ref-'));
  try {
    const input = path.join(dir, 'cases.json');
    const output = path.join(dir, 'results.json');
    writeFileSync(input, JSON.stringify(cases.map(({ js: _js, rtol: _r, atol: _a, sameErrors: _s, ...rest }) => rest)));
    execFileSync(PYTHON, [SCRIPT, input, output], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    return JSON.parse(readFileSync(output, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function decode(values: (number | boolean | string | bigint)[]): number[] {
  return values.map((v) => {
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'bigint') return Number(v);
    if (v === 'nan') return NaN;
    if (v === 'inf') return Infinity;
    if (v === '-inf') return -Infinity;
    return v as number;
  });
}

/** A flat list of numbers out of a tensor (bool as 0/1, int64 as numbers). */
export function flatValues(t: mt.Tensor): number[] {
  const data = t.dataSync();
  return data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data as Float32Array);
}

/**
 * Element-wise |actual - expected| <= atol + rtol * |expected|; NaN matches NaN, infinities must
 * be equal. Reports the first mismatching index with both values.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what = 'values'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let first = -1;
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let ok: boolean;
    if (Number.isNaN(e) || Number.isNaN(a)) ok = Number.isNaN(e) && Number.isNaN(a);
    else if (!Number.isFinite(e) || !Number.isFinite(a)) ok = a === e;
    else ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first >= 0) {
    throw new Error(
      `${what}: ${count} of ${expected.length} values differ; first at flat index ${first}: ` +
        `got ${actual[first]}, expected ${expected[first]} (rtol ${rtol}, atol ${atol})`,
    );
  }
}

export function defaultTolerance(dtype: string): { rtol: number; atol: number } {
  if (dtype === 'float16') return { rtol: 1e-3, atol: 1e-3 };
  if (dtype === 'bfloat16') return { rtol: 1e-2, atol: 1e-2 };
  if (dtype === 'float32' || dtype === 'float64') return { rtol: 1e-5, atol: 1e-6 };
  return { rtol: 0, atol: 0 };
}
const GRAD_RTOL = 1e-4;
const GRAD_ATOL = 1e-5;

/** The JavaScript tensor for an input spec: built from a typed array, as users do. */
export function makeInput(spec: InputSpec): mt.Tensor {
  let typed: Float64Array | BigInt64Array | Uint8Array;
  if (spec.dtype === 'bool') typed = Uint8Array.from(spec.data, (v) => (v ? 1 : 0));
  else if (spec.dtype.startsWith('float') || spec.dtype === 'bfloat16') typed = Float64Array.from(spec.data as number[]);
  else typed = BigInt64Array.from(spec.data as number[], (v) => BigInt(v));
  return mt.tensor(typed, spec.shape, { dtype: spec.dtype, requiresGrad: spec.requiresGrad ?? false });
}

function jsArg(arg: Arg, inputs: mt.Tensor[]): unknown {
  if (Array.isArray(arg)) return arg.map((a) => jsArg(a, inputs));
  if (arg !== null && typeof arg === 'object') {
    if ('$t' in arg) return inputs[arg.$t as number];
    if ('$dtype' in arg) return arg.$dtype;
    return Object.fromEntries(Object.entries(arg).map(([k, v]) => [k, jsArg(v, inputs)]));
  }
  return arg;
}

function runJs(c: Case, inputs: mt.Tensor[]): mt.Tensor[] {
  let result: JsResult;
  if (c.js) {
    result = c.js(inputs);
  } else {
    if (!c.op) throw new Error(`case ${c.name}: needs op or js`);
    const args = (c.args ?? []).map((a) => jsArg(a, inputs));
    const call = c.call ?? (inputs.length > 0 ? 'method' : 'torch');
    if (call === 'method') {
      const self = c.clone ? inputs[0]!.clone() : inputs[0]!;
      const out = (self as unknown as Record<string, (...a: unknown[]) => JsResult>)[c.op]!(...args);
      result = c.op.endsWith('_') ? self : out;
    } else {
      const ns = (call === 'F' ? mt.nn.functional : mt) as unknown as Record<string, (...a: unknown[]) => JsResult>;
      // mt.nn.functional takes PyTorch's keyword arguments as a trailing options object.
      if (call === 'F' && c.kwargs) args.push(jsArg(c.kwargs, inputs));
      result = ns[c.op]!(...args);
    }
  }
  if (result instanceof mt.Tensor) return [result];
  if (Array.isArray(result)) return result;
  return [result.values, result.indices];
}

/** Runs a case in JavaScript and checks outputs, dtypes, shapes and gradients against PyTorch's. */
export function checkCase(c: Case, ref: CaseResult | undefined): void {
  expect(ref, `no PyTorch result for ${c.name}`).toBeDefined();
  if (ref!.error && c.sameErrors) {
    expect(
      () =>
        mt.tidy(() => {
          runJs(c, (c.inputs ?? []).map(makeInput));
        }),
      `${c.name}: PyTorch raised ${ref!.error}`,
    ).toThrow(mt.TorchError);
    return;
  }
  if (ref!.error) throw new Error(`PyTorch raised for ${c.name}: ${ref!.error}`);
  mt.tidy(() => {
    const inputs = (c.inputs ?? []).map(makeInput);
    if (c.seed !== undefined) mt.manualSeed(c.seed);
    const outputs = runJs(c, inputs);
    expect(outputs.length, `${c.name}: number of outputs`).toBe(ref!.outputs.length);
    let loss: mt.Tensor | undefined;
    outputs.forEach((out, i) => {
      const expected = ref!.outputs[i]!;
      expect(out.dtype, `${c.name}: output ${i} dtype`).toBe(expected.dtype);
      expect(out.shape, `${c.name}: output ${i} shape`).toEqual(expected.shape);
      const tol = defaultTolerance(expected.dtype);
      expectClose(flatValues(out), decode(expected.data), c.rtol ?? tol.rtol, c.atol ?? tol.atol, `${c.name}: output ${i}`);
      const w = ref!.weights[i];
      expect(out.requiresGrad, `${c.name}: output ${i} requiresGrad`).toBe(w !== null && w !== undefined);
      if (w) {
        const weights = mt.tensor(Float32Array.from(decode(w)), out.shape).to(out.dtype);
        const term = out.mul(weights).sum();
        loss = loss === undefined ? term : loss.add(term);
      }
    });
    if (loss) loss.backward();
    inputs.forEach((input, i) => {
      const expected = ref!.grads[i];
      if (!c.inputs![i]!.requiresGrad) return;
      const grad = input.grad;
      if (expected === null || expected === undefined) {
        expect(grad, `${c.name}: grad of input ${i} should be null`).toBeNull();
        return;
      }
      expect(grad, `${c.name}: grad of input ${i}`).not.toBeNull();
      expect(grad!.shape).toEqual(input.shape);
      const tol =
        input.dtype === 'float16' || input.dtype === 'bfloat16' ? defaultTolerance(input.dtype) : { rtol: GRAD_RTOL, atol: GRAD_ATOL };
      expectClose(flatValues(grad!), decode(expected), tol.rtol, tol.atol, `${c.name}: grad of input ${i}`);
    });
  });
}

// ---- deterministic input data (a small LCG, values exact in float32) ----
export class Data {
  private state: number;
  constructor(seed = 1) {
    this.state = seed >>> 0;
  }
  private next(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state / 4294967296;
  }
  /** Uniform in [lo, hi), rounded to float32. */
  uniform(n: number, lo = -2, hi = 2): number[] {
    return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * this.next()));
  }
  ints(n: number, lo: number, hi: number): number[] {
    return Array.from({ length: n }, () => lo + Math.floor((hi - lo) * this.next()));
  }
  bools(n: number): boolean[] {
    return Array.from({ length: n }, () => this.next() < 0.5);
  }
}
