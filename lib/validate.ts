/** Argument checks shared by the whole TypeScript API: each names the function and argument. */
import { argumentError } from './errors.ts';

export const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'] as const;
export type DType = (typeof DTYPES)[number];
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** A device name: 'cpu', 'cuda' or 'cuda:N' (the one pattern; lib/schema.ts's device schema uses it). */
export const DEVICE_PATTERN = /^(cpu|cuda|cuda:\d{1,3})$/;

/** How an argument reads in a refusal ("got 3", "got \"abc\"", "got an array", "got Tensor"): the one wording of lib/. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  return (value as object).constructor?.name === 'Object' ? 'an object' : ((value as object).constructor?.name ?? 'an object');
}

export function checkInt(value: unknown, where: string, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw argumentError(where, `'${name}' must be an integer, got ${describe(value)}`);
  }
  return value;
}

export function checkOptionalInt(value: unknown, where: string, name: string): number | undefined {
  return value === undefined ? undefined : checkInt(value, where, name);
}

export function checkNumber(value: unknown, where: string, name: string): number {
  if (typeof value !== 'number') throw argumentError(where, `'${name}' must be a number, got ${describe(value)}`);
  return value;
}

export function checkBoolean(value: unknown, where: string, name: string): boolean {
  if (typeof value !== 'boolean') throw argumentError(where, `'${name}' must be a boolean, got ${describe(value)}`);
  return value;
}

export function checkDims(value: unknown, where: string, name: string): number | number[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkInt(v, where, `${name}[${i}]`));
    return value as number[];
  }
  return checkInt(value, where, name);
}

export function checkShape(value: unknown, where: string, name = 'shape'): number[] {
  if (!Array.isArray(value)) throw argumentError(where, `'${name}' must be an array of sizes, got ${describe(value)}`);
  value.forEach((v, i) => {
    checkInt(v, where, `${name}[${i}]`);
    if ((v as number) < 0) throw argumentError(where, `'${name}[${i}]' must not be negative, got ${v}`);
  });
  return value as number[];
}

export function checkDtype(value: unknown, where: string, name = 'dtype'): DType | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(DTYPES as readonly string[]).includes(value)) {
    throw argumentError(where, `'${name}' must be one of ${DTYPES.join(', ')}, got ${describe(value)}`);
  }
  return value as DType;
}

export function checkDevice(value: unknown, where: string, name = 'device'): Device | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !DEVICE_PATTERN.test(value)) {
    throw argumentError(where, `'${name}' must be 'cpu', 'cuda' or 'cuda:N', got ${describe(value)}`);
  }
  return value as Device;
}

export function checkOneOf<V extends string>(value: unknown, options: readonly V[], where: string, name: string): V {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw argumentError(where, `'${name}' must be one of ${options.map((o) => `'${o}'`).join(', ')}, got ${describe(value)}`);
  }
  return value as V;
}

/** An options argument: an object (not null, not an array), or the default. */
export function optionsObject<T>(value: T, where: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw argumentError(where, `'options' must be an object, got ${describe(value)}`);
  }
  return value;
}
