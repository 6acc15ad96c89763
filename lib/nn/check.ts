/** Input checks shared by the mt.nn blocks' forwards (their constructor options are zod schemas, lib/nn/options.ts); every message names the block and the field. */
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import * as schemas from '../schema.ts';
import { checkBoolean, describe } from '../validate.ts';

const FLOAT_DTYPES = ['float32', 'float64', 'float16', 'bfloat16'];

/** The native default of a block's option (mt.registry.defaults.nn), typed by the caller. */
export function nnDefault<T>(block: keyof typeof schemas.registry.defaults.nn, option: string): T {
  const value = schemas.registry.defaults.nn[block][option];
  if (value === undefined) throw new TorchError(`mt.nn: the addon publishes no default for ${block}.${option}`, ErrorCode.NATIVE);
  return value as T;
}

export function checkOptions(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw argumentError(where, `options must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function optionalBoolean(value: unknown, fallback: boolean, where: string, name: string): boolean {
  return value === undefined ? fallback : checkBoolean(value, where, name);
}

/** A floating tensor of `ndim` dimensions whose last size (if given) is `features`. */
export function checkInput(value: unknown, where: string, name: string, ndim: number, features?: number): Tensor {
  const t = checkTensor(value, where, name);
  const shape = t.shape;
  if (shape.length !== ndim) throw argumentError(where, `'${name}' must have ${ndim} dimensions, got shape [${shape}]`);
  if (features !== undefined && shape[ndim - 1] !== features) {
    throw argumentError(where, `'${name}' must have ${features} features in its last dimension, got shape [${shape}]`);
  }
  return t;
}

/** An optional bool or floating mask whose shape is one of `shapes` (torch's accepted mask shapes). */
export function checkMask(value: unknown, where: string, name: string, shapes: number[][]): Tensor | undefined {
  if (value === undefined || value === null) return undefined;
  const t = checkTensor(value, where, name);
  const dtype = t.dtype;
  if (dtype !== 'bool' && !FLOAT_DTYPES.includes(dtype)) {
    throw argumentError(where, `'${name}' must be a bool or floating tensor, got ${dtype}`);
  }
  const shape = t.shape;
  if (!shapes.some((s) => s.length === shape.length && s.every((d, i) => d === shape[i]))) {
    throw argumentError(where, `'${name}' must have shape ${shapes.map((s) => `[${s}]`).join(' or ')}, got [${shape}]`);
  }
  return t;
}
