/**
 * Talking to test/parity/oracles/nn_blocks.py, the PyTorch oracle of the mt.nn tests: tensors travel
 * as JSON ({ shape, dtype, data }, exact for float32 since JSON numbers are doubles), the script runs
 * once per test file with every case batched, and results come back the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import * as mt from '../../../lib/index.ts';
import { native, type NativeTensor } from '../../../lib/native.ts';

import { PYTHON } from '../../helpers/reference.ts';

export { PYTHON };
const SCRIPT = path.resolve(import.meta.dirname, './nn_blocks.py');

/** JSON has no infinities (causal masks hold -Infinity): non-finite numbers travel as strings. */
export interface WireTensor {
  shape: number[];
  dtype: string;
  data: (number | string)[];
}

export function toWire(t: mt.Tensor): WireTensor {
  const data = Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);
  return { shape: t.shape, dtype: t.dtype, data: data.map((x) => (Number.isFinite(x) ? x : String(x))) };
}

export function fromWire(wire: WireTensor): mt.Tensor {
  const w = { ...wire, data: wire.data.map(Number) };
  if (w.dtype === 'bool') return mt.tensor(Uint8Array.from(w.data), w.shape).bool();
  if (w.dtype === 'int64') return mt.tensor(BigInt64Array.from(w.data.map((x) => BigInt(x))), w.shape);
  if (w.dtype === 'float64') return mt.tensor(Float64Array.from(w.data), w.shape);
  return mt.tensor(Float32Array.from(w.data), w.shape);
}

export function wireRecord(record: Record<string, mt.Tensor | undefined>): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(record)) if (t !== undefined) out[name] = toWire(t);
  return out;
}

/** Runs the oracle once over every case; returns its results by case name. */
export function runReference<R>(mode: 'parity' | 'reference', cases: Record<string, unknown>): Record<string, R> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-nn-ref-'));
  try {
    const source = path.join(dir, 'cases.json');
    const target = path.join(dir, 'results.json');
    writeFileSync(source, JSON.stringify(cases));
    const run = spawnSync(PYTHON, [SCRIPT, mode, source, target], { encoding: 'utf8', timeout: 300_000 });
    if (run.status !== 0) {
      throw new Error(`${PYTHON} ${SCRIPT} ${mode} failed (status ${run.status}): ${run.error?.message ?? ''}\n${run.stderr}`);
    }
    return JSON.parse(readFileSync(target, 'utf8')) as Record<string, R>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Elementwise |actual - expected| <= tol * (1 + |expected|): relative for large values, absolute
 * near zero. Reports the worst element. */
export function expectClose(actual: mt.Tensor | null | undefined, expected: WireTensor, tol: number, label: string): void {
  expect(actual, `${label}: missing`).toBeTruthy();
  expect(actual!.shape, `${label}: shape`).toEqual(expected.shape);
  const a = actual!.dataSync() as Float32Array;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const e = Number(expected.data[i]!);
    const excess = Math.abs(a[i]! - e) / (1 + Math.abs(e));
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  expect(worst, `${label}: worst relative error ${worst} at ${at} (${a[at]} vs ${expected.data[at]})`).toBeLessThanOrEqual(tol);
}

/** torch.equal and torch.allclose (the op table has them; Tensor has no methods for them yet). */
export function equal(a: mt.Tensor, b: mt.Tensor): boolean {
  return new mt.Tensor(native.ops.equal(a.handle, b.handle) as NativeTensor).item() as boolean;
}
export function allClose(a: mt.Tensor, b: mt.Tensor, rtol = 1e-5, atol = 1e-6): boolean {
  return new mt.Tensor(native.ops.allclose(a.handle, b.handle, rtol, atol) as NativeTensor).item() as boolean;
}
