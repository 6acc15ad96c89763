/**
 * Weights on disk: the safetensors format, readable by PyTorch (`safetensors.torch.load_file`) and
 * every other safetensors reader. Reading and writing run in native/core/safetensors.cc; this file
 * validates arguments and turns name/tensor lists into records.
 */
import { argumentError } from './errors.ts';
import { native } from './native.ts';
import { Tensor } from './tensor.ts';
import { describe } from './validate.ts';

/** Tensors by name, as `Module.stateDict()` returns them. */
export type StateDict = Record<string, Tensor> | Map<string, Tensor>;

export interface LoadedTensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

function checkPath(path: unknown, where: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw argumentError(where, `'path' must be a non-empty string, got ${describe(path)}`);
  }
  if (path.includes('\0')) throw argumentError(where, `'path' must not contain a NUL character`);
  return path;
}

function entriesOf(stateDict: unknown, where: string): [string, Tensor][] {
  let entries: [unknown, unknown][];
  if (stateDict instanceof Map) {
    entries = [...stateDict.entries()];
  } else if (typeof stateDict === 'object' && stateDict !== null && !Array.isArray(stateDict) && !(stateDict instanceof Tensor)) {
    if (Object.getOwnPropertySymbols(stateDict).length > 0) {
      throw argumentError(where, `'stateDict' keys must be strings, got a symbol`);
    }
    entries = Object.entries(stateDict);
  } else {
    throw argumentError(where, `'stateDict' must be a record or Map of tensors, got ${describe(stateDict)}`);
  }
  for (const [name, value] of entries) {
    if (typeof name !== 'string') throw argumentError(where, `'stateDict' keys must be strings, got ${describe(name)}`);
    if (name === '__metadata__') throw argumentError(where, `'stateDict' cannot hold a tensor named '__metadata__'`);
    if (!(value instanceof Tensor)) {
      throw argumentError(where, `'stateDict["${name}"]' must be a Tensor, got ${describe(value)}`);
    }
  }
  return entries as [string, Tensor][];
}

function checkMetadata(metadata: unknown, where: string): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata) || metadata instanceof Map) {
    throw argumentError(where, `'metadata' must be a record of strings, got ${describe(metadata)}`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw argumentError(where, `'metadata["${key}"]' must be a string, got ${describe(value)}`);
  }
  return { ...(metadata as Record<string, string>) };
}

/**
 * Saves tensors (from any device) to a safetensors file, with optional string metadata. The file
 * appears complete or not at all: it is written next to `path` and then renamed over it.
 */
export function save(path: string, stateDict: StateDict, metadata?: Record<string, string>): void {
  const where = 'save';
  checkPath(path, where);
  const entries = entriesOf(stateDict, where);
  const checkedMetadata = checkMetadata(metadata, where);
  native.saveSafetensors(
    path,
    entries.map(([name]) => name),
    entries.map(([, t]) => t.handle),
    checkedMetadata,
  );
}

/** Loads every tensor of a safetensors file, and its metadata; tensors are on the CPU. */
export function loadWithMetadata(path: string): LoadedTensors {
  checkPath(path, 'load');
  const { names, tensors, metadata } = native.loadSafetensors(path);
  // fromEntries defines own properties, so even a tensor named "__proto__" stays a plain entry.
  return { tensors: Object.fromEntries(names.map((name, i) => [name, new Tensor(tensors[i]!)])), metadata };
}

/** Loads every tensor of a safetensors file onto the CPU, by name. */
export function load(path: string): Record<string, Tensor> {
  return loadWithMetadata(path).tensors;
}
