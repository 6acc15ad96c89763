/**
 * Validation at the edge, written once. Every option object of the API and of run configs is
 * checked by one zod schema per concept (model spec, trainer options, run config, and each sharing
 * scheme, head, weighting method, sampler, strategy, optimizer and schedule), which gives the
 * TypeScript types, the defaults and the field-path errors
 * (`trainer.weighting.temperature: expected a number > 0, got "2"`); the run config's JSON Schema
 * is generated from the same schemas. Native code trusts what passed here.
 *
 * Defaults are written once, in the native options structs: `native()` marks a field whose default
 * the addon's registry reports (native/core/registry.h), and `kinds()` builds one schema per
 * registered kind, refusing at load a schema whose kinds differ from the registry's.
 */
import { z } from 'zod';
import { argumentError, ErrorCode, TorchError } from './errors.ts';
import { native as addon } from './native.ts';
import { DEVICE_PATTERN, describe, type Device } from './validate.ts';

// ---- primitives ----

export const int = z.int();
export const positiveInt = z.int().min(1, { error: 'expected an integer > 0' });
export const nonNegativeInt = z.int().min(0, { error: 'expected an integer >= 0' });
/** float32's largest value: options reach tensors of float32 (a learning rate scales the weights), so larger ones overflow there. */
export const FLOAT32_MAX = 3.4028234663852886e38;
const float32Range = { error: `expected a number <= ${FLOAT32_MAX.toPrecision(5)} (float32's largest)` };
export const positiveNumber = z.number().positive().max(FLOAT32_MAX, float32Range);
export const nonNegativeNumber = z.number().nonnegative().max(FLOAT32_MAX, float32Range);
/** Any number a float32 holds. */
export const float32 = z
  .number()
  .min(-FLOAT32_MAX, { error: `expected a number >= ${(-FLOAT32_MAX).toPrecision(5)} (float32's lowest)` })
  .max(FLOAT32_MAX, float32Range);
/** [0, 1) */
export const fraction = z.number().min(0).lt(1);
/** [0, 1] */
export const probability = z.number().min(0).max(1);
export const nonEmptyString = z.string().min(1);
/** A device name as given ('cpu', 'cuda', 'cuda:N'); `device` types it as a Device. */
export const deviceName = z.string().regex(DEVICE_PATTERN, "expected 'cpu', 'cuda' or 'cuda:N'");
export const device = deviceName.transform((d) => d as Device);

// ---- the native registry ----

export interface RegistryEntry {
  defaults: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  /** Heads only: the layout of their targets (data::TargetLayout), from which data sets build them. */
  targets?: { dtype: 'int64' | 'float32'; dims: number; trim: 'none' | 'toInputs' | 'toTargetLengths' };
}
export type Concept = 'sharing' | 'head' | 'weighting' | 'sampler' | 'strategy' | 'optimizer' | 'schedule' | 'pretrained';
export type Registry = Record<Concept, Record<string, RegistryEntry>> & {
  defaults: Record<'input' | 'encoder' | 'generate' | 'trainer' | 'fit' | 'earlyStopping', Record<string, unknown>> & {
    /** The mt.nn blocks' defaults, from their native options structs (native/napi/registry.cc describeNnDefaults). */
    nn: Record<
      'transformerLayer' | 'transformerStack' | 'multiheadAttention' | 'positionalEncoding' | 'linear' | 'layerNorm' | 'dropout',
      Record<string, unknown>
    >;
  };
};

export const registry = addon.registry() as Registry;

/** The capabilities the core reports for a kind of a concept. */
export function capabilities<T extends Record<string, unknown>>(concept: Concept, kind: string): T {
  return registry[concept][kind]!.capabilities as T;
}

// ---- defaults from the registry ----

const NATIVE_DEFAULT = Symbol('native default');
type Marked = z.ZodType & { [NATIVE_DEFAULT]?: true };

/** A field whose default is the native options struct's (see withDefaults). */
export function native<T extends z.ZodType>(schema: T): z.ZodDefault<T> {
  const marked = schema.default(undefined as never) as z.ZodDefault<T> & Marked;
  marked[NATIVE_DEFAULT] = true;
  return marked;
}

/** The shape with every native() field given its default from `defaults` (a native struct's JSON). */
export function withDefaults<S extends z.ZodRawShape>(shape: S, defaults: Record<string, unknown>, owner: string): S {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    if ((field as Marked)[NATIVE_DEFAULT]) {
      if (!(key in defaults)) throw new Error(`mtl-torch: the addon reports no default for ${owner}.${key}; the addon and lib/ differ`);
      const inner = (field as z.ZodDefault<z.ZodType>).unwrap();
      const value = defaults[key];
      out[key] = typeof value === 'object' && value !== null ? inner.prefault(value as never) : inner.default(value as never);
    } else {
      out[key] = field;
    }
  }
  return out as unknown as S;
}

type KindShapes = Record<string, z.ZodRawShape>;
export type KindSchemas<S extends KindShapes> = {
  [K in keyof S & string]: z.ZodObject<S[K] & { kind: z.ZodLiteral<K> }, z.core.$strict>;
};

/**
 * One strict schema per kind of a concept, `{ kind: '<name>', ...options }`, with the options'
 * defaults from the registry. The kinds must be exactly the registry's (a kind added on one side
 * only is a build error, reported when the package loads).
 */
export function kinds<S extends KindShapes>(concept: Concept, shapes: S): KindSchemas<S> {
  const registered = Object.keys(registry[concept]).sort();
  const declared = Object.keys(shapes).sort();
  if (registered.join() !== declared.join()) {
    throw new Error(`mtl-torch: ${concept} kinds differ between the addon (${registered.join(', ')}) and lib/ (${declared.join(', ')})`);
  }
  const out: Record<string, z.ZodType> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    out[name] = z.strictObject({ kind: z.literal(name), ...withDefaults(shape, registry[concept][name]!.defaults, `${concept}.${name}`) });
  }
  return out as KindSchemas<S>;
}

/** The union of a concept's kinds, discriminated by `kind`. */
export function union<S extends KindShapes>(schemas: KindSchemas<S>) {
  return z.discriminatedUnion('kind', Object.values(schemas) as unknown as [z.ZodObject, ...z.ZodObject[]]) as unknown as z.ZodType<
    z.output<KindSchemas<S>[keyof S & string]>,
    z.input<KindSchemas<S>[keyof S & string]>
  >;
}

/** What a kind's factory takes: its options without `kind`. */
export type FactoryOptions<T> = T extends unknown ? Omit<T, 'kind'> : never;

/**
 * mt.<concept>.<kind>(options?) for every kind: validates `{ kind, ...options }` and returns the
 * complete object. `argumentOf` adapts kinds whose factory takes another argument (a number, a map).
 */
export function factories<
  S extends KindShapes,
  A extends Partial<Record<keyof S & string, (...args: never[]) => object>> = Record<never, never>,
>(
  concept: string,
  schemas: KindSchemas<S>,
  argumentOf: A = {} as A,
): {
  [K in keyof S & string]: K extends keyof A
    ? A[K] extends (...args: infer P) => object
      ? (...args: P) => z.output<KindSchemas<S>[K]>
      : never
    : (options?: FactoryOptions<z.input<KindSchemas<S>[K]>>) => z.output<KindSchemas<S>[K]>;
} {
  const out: Record<string, (arg?: unknown) => unknown> = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const adapt = (argumentOf as Record<string, ((arg: unknown) => object) | undefined>)[name];
    out[name] = (arg?: unknown) => {
      const options = adapt ? adapt(arg) : arg === undefined ? {} : arg;
      if (typeof options !== 'object' || options === null || Array.isArray(options)) {
        throw argumentError(`${concept}.${name}`, `expected an options object, got ${describe(options)}`);
      }
      return parse(schema as z.ZodType, { ...options, kind: name }, `${concept}.${name}`);
    };
  }
  return out as never;
}

// ---- parsing with field-path errors ----

const ARTICLE: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  function: 'a function',
  bigint: 'a bigint',
  record: 'an object',
};

function bound(issue: { origin?: string; inclusive?: boolean }, below: boolean, limit: unknown): string {
  const op = below ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
  switch (issue.origin) {
    case 'array':
    case 'set':
      return `${below ? 'at least' : 'at most'} ${limit} item${limit === 1 ? '' : 's'}`;
    case 'string':
      return `${below ? 'at least' : 'at most'} ${limit} character${limit === 1 ? '' : 's'}`;
    case 'int':
      return `an integer ${op} ${limit}`;
    default:
      return `a number ${op} ${limit}`;
  }
}

/** One zod issue as "path: message". */
export function formatIssue(issue: z.core.$ZodIssue, root: string): string {
  const path = [root, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  const input = (issue as { input?: unknown }).input;
  const got = `, got ${describe(input)}`;
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message =
        input === undefined
          ? `is required (${ARTICLE[issue.expected] ?? issue.expected})`
          : `expected ${ARTICLE[issue.expected] ?? issue.expected}${got}`;
      break;
    case 'too_small':
    case 'too_big': {
      // A schema's own wording ('expected an integer > 0') wins over the generic bound.
      const limit = issue.code === 'too_small' ? bound(issue, true, issue.minimum) : bound(issue, false, issue.maximum);
      message = issue.message.startsWith('expected') ? issue.message : `expected ${limit}`;
      if (issue.origin !== 'array') message += got;
      break;
    }
    case 'invalid_value':
      message = `expected ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}${got}`;
      break;
    case 'invalid_key': {
      // A record's key refused by its key schema: say why, naming the key (it is the path's end).
      const inner = (issue as { issues?: z.core.$ZodIssue[] }).issues?.[0];
      message = inner ? formatIssue({ ...inner, path: [] } as z.core.$ZodIssue, '').replace(/^: /, '') : issue.message;
      break;
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${path ? `${path}.` : ''}${key}: is not an option here`).join('; ');
    case 'invalid_union': {
      const discriminator = (issue as { discriminator?: string }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (discriminator && options) {
        const value = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[discriminator] : input;
        message = `expected ${options.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`;
      } else {
        // A union of object shapes: report the branch the value came closest to (fewest issues, then
        // the deepest), so `encoder.numLayers: expected an integer` beats "is not valid".
        const branches = ((issue as { errors?: z.core.$ZodIssue[][] }).errors ?? []).filter((b) => b.length > 0);
        const depth = (b: z.core.$ZodIssue[]) => b[0]!.path.length;
        const best = branches.sort((a, b) => a.length - b.length || depth(b) - depth(a))[0];
        if (best && input !== undefined && typeof input === 'object') {
          return formatIssue({ ...best[0]!, path: [...issue.path, ...best[0]!.path] } as z.core.$ZodIssue, root);
        }
        // A plain value: the branch of its type that refused it (`expected an integer > 0, got 0`), or
        // the types the union takes.
        const ofItsType = branches.find((b) => b[0]!.code !== 'invalid_type');
        if (ofItsType && input !== undefined) {
          return formatIssue({ ...ofItsType[0]!, path: [...issue.path, ...ofItsType[0]!.path] } as z.core.$ZodIssue, root);
        }
        const expected = [
          ...new Set(branches.flatMap((b) => (b[0]!.code === 'invalid_type' ? [ARTICLE[b[0]!.expected] ?? String(b[0]!.expected)] : []))),
        ];
        message =
          input === undefined ? 'is required' : expected.length > 0 ? `expected ${expected.join(' or ')}${got}` : `is not valid${got}`;
      }
      break;
    }
    default:
      message = issue.message;
  }
  return `${path}: ${message}`;
}

/**
 * The parsed value, or a TorchError (ERR_INVALID_ARG) naming the first bad field from `where`
 * (e.g. 'trainer' → "trainer.batchSize: expected an integer > 0, got 0").
 */
export function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw new TorchError(formatIssue(result.error.issues[0]!, where), ErrorCode.INVALID_ARG);
}
