/**
 * Tensors: a thin TypeScript object over a native at::Tensor handle. Every op runs in libtorch;
 * this file only validates arguments, names them in errors, and manages lifetimes.
 */
import { availableParallelism } from 'node:os';
import { argumentError, TorchError } from './errors.ts';
import { native, type HostAllocatorState, type NativeTensor } from './native.ts';
import {
  checkBoolean,
  checkDevice,
  checkDims,
  checkDtype,
  checkInt,
  checkNumber,
  checkOptionalInt,
  checkShape,
  describe,
  optionsObject,
  type Device,
  type DType,
} from './validate.ts';

export type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export type TensorLike = Tensor | number | boolean;
export type NestedArray<V> = V | NestedArray<V>[];
export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

const ops = native.ops;

// Tensors created inside tidy() are tracked here so that the scope can dispose them.
const scopes: Set<Tensor>[] = [];

// The garbage-collector safety net: a tensor collected without dispose() frees its native tensor
// through this registry. FinalizationRegistry.register + unregister cost ~0.5-1 µs per object
// (measured), more than the whole op, so registration is lazy: a new Tensor goes on the `young`
// list, and a sweep registers only the young tensors not yet disposed: every YOUNG_BATCH tensors
// and once per microtask checkpoint (the end of the current synchronous run). Most tensors of an
// op chain are disposed by then and never touch the registry. A disposed handle is stale natively
// (its slot's generation moved on), so a late finalizer is harmless.
const YOUNG_BATCH = 1024;
const NEW = 0;
const REGISTERED = 1;
const DISPOSED = 2;
const registry = new FinalizationRegistry<NativeTensor>((handle) => {
  try {
    native.dispose(handle);
  } catch {
    // the environment is going away
  }
});
const young: (Tensor | undefined)[] = new Array<Tensor | undefined>(YOUNG_BATCH).fill(undefined);
let youngCount = 0;
let sweepQueued = false;

// The class merges with the interface below, which adds the generated unary/binary op methods.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Tensor {
  /** @internal The native handle; wrap native results with `new Tensor(handle)`, once per handle. */
  readonly handle: NativeTensor;
  /** NEW (on the young list), REGISTERED (with the registry) or DISPOSED. */
  #life = NEW;

  constructor(handle: NativeTensor) {
    this.handle = handle;
    young[youngCount++] = this;
    if (youngCount === YOUNG_BATCH) Tensor.#sweep();
    else if (!sweepQueued) {
      sweepQueued = true;
      queueMicrotask(Tensor.#sweep);
    }
    if (scopes.length > 0) scopes[scopes.length - 1]!.add(this);
  }

  static #sweep(this: void): void {
    sweepQueued = false;
    const count = youngCount;
    youngCount = 0;
    for (let i = 0; i < count; i++) {
      const t = young[i]!;
      young[i] = undefined; // the list must not keep a tensor from the collector
      if (t.#life === NEW) {
        t.#life = REGISTERED;
        registry.register(t, t.handle, t);
      }
    }
  }

  /** Whether `value` is a Tensor made by mt (not an object that only has Tensor's prototype). */
  static isTensor(value: unknown): value is Tensor {
    return typeof value === 'object' && value !== null && #life in value;
  }

  get shape(): number[] {
    return native.shape(this.handle);
  }
  get dtype(): DType {
    return native.dtype(this.handle) as DType;
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  get numel(): number {
    return native.numel(this.handle);
  }
  get ndim(): number {
    return this.shape.length;
  }
  size(dim?: number): number | number[] {
    const shape = this.shape;
    if (dim === undefined) return shape;
    checkInt(dim, 'size', 'dim');
    const d = dim < 0 ? dim + shape.length : dim;
    if (d < 0 || d >= shape.length) throw argumentError('size', `'dim' ${dim} is out of range for ${shape.length} dimensions`);
    return shape[d]!;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  set requiresGrad(value: boolean) {
    native.setRequiresGrad(this.handle, checkBoolean(value, 'requiresGrad', 'value'));
  }
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }
  /** The accumulated gradient, or null. Each read returns a new handle to the same storage. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** Drops the accumulated gradient (PyTorch's `t.grad = None`). */
  zeroGrad(): void {
    native.zeroGrad(this.handle);
  }
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    options = optionsObject(options, 'Tensor.backward');
    if (gradient !== undefined) checkTensor(gradient, 'backward', 'gradient');
    const retain = options.retainGraph === undefined ? false : checkBoolean(options.retainGraph, 'backward', 'retainGraph');
    native.backward(this.handle, gradient?.handle, retain);
  }

  // ---- data out ----
  /** The values as a typed array of the matching type (float16/bfloat16 as Float32Array, bool as Uint8Array). */
  dataSync(): TypedData {
    return native.dataSync(this.handle);
  }
  /** Like dataSync(), with the device copy done off the JavaScript thread. */
  data(): Promise<TypedData> {
    return native.data(this.handle);
  }
  item(): number | boolean {
    return native.item(this.handle);
  }
  toArray(): NestedArray<number | boolean> {
    const flat = this.dataSync();
    const values: (number | boolean)[] =
      this.dtype === 'bool'
        ? Array.from(flat as Uint8Array, (v) => v !== 0)
        : flat instanceof BigInt64Array
          ? Array.from(flat, Number)
          : Array.from(flat as Float32Array);
    const shape = this.shape;
    if (shape.length === 0) return values[0]!;
    const build = (dim: number, offset: number): NestedArray<number | boolean> => {
      const size = shape[dim]!;
      if (dim === shape.length - 1) return values.slice(offset, offset + size);
      const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: size }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  // ---- memory ----
  /** Frees the native tensor now. Using it afterwards throws TorchError ERR_DISPOSED. */
  dispose(): void {
    if (!Tensor.isTensor(this)) throw argumentError('dispose', `'this' is not a Tensor made by mt, got ${describe(this)}`);
    const life = this.#life;
    if (life === DISPOSED) return;
    if (life === REGISTERED) registry.unregister(this);
    this.#life = DISPOSED;
    native.dispose(this.handle);
  }
  get isDisposed(): boolean {
    return native.isDisposed(this.handle);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- ops with more than one operand kind or optional arguments ----
  add(other: TensorLike, alpha?: number): Tensor {
    return wrap(ops.add(this.handle, operand(other, 'add'), optNumber(alpha, 'add', 'alpha')));
  }
  sub(other: TensorLike, alpha?: number): Tensor {
    return wrap(ops.sub(this.handle, operand(other, 'sub'), optNumber(alpha, 'sub', 'alpha')));
  }
  add_(other: TensorLike, alpha?: number): this {
    ops.add_(this.handle, operand(other, 'add_'), optNumber(alpha, 'add_', 'alpha'));
    return this;
  }
  sub_(other: TensorLike, alpha?: number): this {
    ops.sub_(this.handle, operand(other, 'sub_'), optNumber(alpha, 'sub_', 'alpha'));
    return this;
  }
  mul_(other: TensorLike): this {
    ops.mul_(this.handle, operand(other, 'mul_'));
    return this;
  }
  div_(other: TensorLike): this {
    ops.div_(this.handle, operand(other, 'div_'));
    return this;
  }
  fill_(value: number | boolean): this {
    ops.fill_(this.handle, scalar(value, 'fill_', 'value'));
    return this;
  }
  zero_(): this {
    ops.zero_(this.handle);
    return this;
  }
  copy_(source: Tensor): this {
    ops.copy_(this.handle, checkTensor(source, 'copy_', 'source').handle);
    return this;
  }
  clamp_(min?: number, max?: number): this {
    ops.clamp_(this.handle, optNumber(min, 'clamp_', 'min'), optNumber(max, 'clamp_', 'max'));
    return this;
  }

  matmul(other: Tensor): Tensor {
    return wrap(ops.matmul(this.handle, checkTensor(other, 'matmul', 'other').handle));
  }
  mm(other: Tensor): Tensor {
    return wrap(ops.mm(this.handle, checkTensor(other, 'mm', 'other').handle));
  }
  bmm(other: Tensor): Tensor {
    return wrap(ops.bmm(this.handle, checkTensor(other, 'bmm', 'other').handle));
  }
  outer(other: Tensor): Tensor {
    return wrap(ops.outer(this.handle, checkTensor(other, 'outer', 'other').handle));
  }

  sum(dim?: number | number[], keepdim = false, options: { dtype?: DType } = {}): Tensor {
    options = optionsObject(options, 'Tensor.sum');
    return wrap(ops.sum(this.handle, optDims(dim, 'sum'), checkBoolean(keepdim, 'sum', 'keepdim'), checkDtype(options.dtype, 'sum')));
  }
  mean(dim?: number | number[], keepdim = false, options: { dtype?: DType } = {}): Tensor {
    options = optionsObject(options, 'Tensor.mean');
    return wrap(ops.mean(this.handle, optDims(dim, 'mean'), checkBoolean(keepdim, 'mean', 'keepdim'), checkDtype(options.dtype, 'mean')));
  }
  prod(dim?: number, keepdim = false): Tensor {
    return wrap(ops.prod(this.handle, checkOptionalInt(dim, 'prod', 'dim'), checkBoolean(keepdim, 'prod', 'keepdim')));
  }
  /** max() is the largest element; max(dim) gives values and indices along dim. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    return this.#extremum('max', dim, keepdim);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    return this.#extremum('min', dim, keepdim);
  }
  #extremum(name: 'max' | 'min', dim: number | undefined, keepdim: boolean) {
    if (dim === undefined) return wrap(ops[name](this.handle));
    const [values, indices] = ops[name](this.handle, checkInt(dim, name, 'dim'), checkBoolean(keepdim, name, 'keepdim')) as NativeTensor[];
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(ops.argmax(this.handle, checkOptionalInt(dim, 'argmax', 'dim'), checkBoolean(keepdim, 'argmax', 'keepdim')));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return wrap(ops.argmin(this.handle, checkOptionalInt(dim, 'argmin', 'dim'), checkBoolean(keepdim, 'argmin', 'keepdim')));
  }
  /** Standard deviation, unbiased (Bessel-corrected) by default as in PyTorch. */
  std(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    return wrap(
      ops.std(this.handle, optDims(dim, 'std'), checkBoolean(unbiased, 'std', 'unbiased'), checkBoolean(keepdim, 'std', 'keepdim')),
    );
  }
  var(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    return wrap(
      ops.var(this.handle, optDims(dim, 'var'), checkBoolean(unbiased, 'var', 'unbiased'), checkBoolean(keepdim, 'var', 'keepdim')),
    );
  }
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return wrap(ops.logsumexp(this.handle, checkDims(dim, 'logsumexp', 'dim'), checkBoolean(keepdim, 'logsumexp', 'keepdim')));
  }
  all(dim?: number, keepdim = false): Tensor {
    return wrap(ops.all(this.handle, checkOptionalInt(dim, 'all', 'dim'), checkBoolean(keepdim, 'all', 'keepdim')));
  }
  any(dim?: number, keepdim = false): Tensor {
    return wrap(ops.any(this.handle, checkOptionalInt(dim, 'any', 'dim'), checkBoolean(keepdim, 'any', 'keepdim')));
  }
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return wrap(ops.norm(this.handle, checkNumber(p, 'norm', 'p'), optDims(dim, 'norm'), checkBoolean(keepdim, 'norm', 'keepdim')));
  }
  cumsum(dim: number): Tensor {
    return wrap(ops.cumsum(this.handle, checkInt(dim, 'cumsum', 'dim')));
  }

  reshape(shape: number[]): Tensor {
    return wrap(ops.reshape(this.handle, checkDims(shape, 'reshape', 'shape')));
  }
  view(shape: number[]): Tensor {
    return wrap(ops.view(this.handle, checkDims(shape, 'view', 'shape')));
  }
  permute(dims: number[]): Tensor {
    return wrap(ops.permute(this.handle, checkDims(dims, 'permute', 'dims')));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(ops.transpose(this.handle, checkInt(dim0, 'transpose', 'dim0'), checkInt(dim1, 'transpose', 'dim1')));
  }
  squeeze(dim?: number): Tensor {
    return wrap(ops.squeeze(this.handle, checkOptionalInt(dim, 'squeeze', 'dim')));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(ops.unsqueeze(this.handle, checkInt(dim, 'unsqueeze', 'dim')));
  }
  expand(shape: number[]): Tensor {
    return wrap(ops.expand(this.handle, checkDims(shape, 'expand', 'shape')));
  }
  repeat(repeats: number[]): Tensor {
    return wrap(ops.repeat(this.handle, checkDims(repeats, 'repeat', 'repeats')));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(ops.flatten(this.handle, checkInt(startDim, 'flatten', 'startDim'), checkInt(endDim, 'flatten', 'endDim')));
  }
  split(splitSize: number | number[], dim = 0): Tensor[] {
    return ops.split(this.handle, checkDims(splitSize, 'split', 'splitSize'), checkInt(dim, 'split', 'dim')).map((h) => new Tensor(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ops.chunk(this.handle, checkInt(chunks, 'chunk', 'chunks'), checkInt(dim, 'chunk', 'dim')).map((h) => new Tensor(h));
  }

  select(dim: number, index: number): Tensor {
    return wrap(ops.select(this.handle, checkInt(dim, 'select', 'dim'), checkInt(index, 'select', 'index')));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(
      ops.narrow(this.handle, checkInt(dim, 'narrow', 'dim'), checkInt(start, 'narrow', 'start'), checkInt(length, 'narrow', 'length')),
    );
  }
  /** PyTorch's t[start:end:step] along dim. */
  slice(dim = 0, start?: number, end?: number, step = 1): Tensor {
    return wrap(
      ops.slice(
        this.handle,
        checkInt(dim, 'slice', 'dim'),
        checkOptionalInt(start, 'slice', 'start'),
        checkOptionalInt(end, 'slice', 'end'),
        checkInt(step, 'slice', 'step'),
      ),
    );
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(ops.indexSelect(this.handle, checkInt(dim, 'indexSelect', 'dim'), checkTensor(index, 'indexSelect', 'index').handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(ops.gather(this.handle, checkInt(dim, 'gather', 'dim'), checkTensor(index, 'gather', 'index').handle));
  }
  scatter(dim: number, index: Tensor, source: Tensor | number): Tensor {
    return wrap(
      ops.scatter(
        this.handle,
        checkInt(dim, 'scatter', 'dim'),
        checkTensor(index, 'scatter', 'index').handle,
        operand(source, 'scatter', 'source'),
      ),
    );
  }
  scatterAdd(dim: number, index: Tensor, source: Tensor): Tensor {
    return wrap(
      ops.scatterAdd(
        this.handle,
        checkInt(dim, 'scatterAdd', 'dim'),
        checkTensor(index, 'scatterAdd', 'index').handle,
        checkTensor(source, 'scatterAdd', 'source').handle,
      ),
    );
  }
  maskedFill(mask: Tensor, value: TensorLike): Tensor {
    return wrap(ops.maskedFill(this.handle, checkTensor(mask, 'maskedFill', 'mask').handle, operand(value, 'maskedFill', 'value')));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [values, indices] = ops.topk(
      this.handle,
      checkInt(k, 'topk', 'k'),
      checkInt(dim, 'topk', 'dim'),
      checkBoolean(largest, 'topk', 'largest'),
      checkBoolean(sorted, 'topk', 'sorted'),
    );
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = ops.sort(this.handle, checkInt(dim, 'sort', 'dim'), checkBoolean(descending, 'sort', 'descending'));
    return { values: new Tensor(values!), indices: new Tensor(indices!) };
  }
  clamp(min?: number, max?: number): Tensor {
    if (min === undefined && max === undefined) throw argumentError('clamp', "at least one of 'min' and 'max' must be given");
    return wrap(ops.clamp(this.handle, optNumber(min, 'clamp', 'min'), optNumber(max, 'clamp', 'max')));
  }
  triu(diagonal = 0): Tensor {
    return wrap(ops.triu(this.handle, checkInt(diagonal, 'triu', 'diagonal')));
  }
  tril(diagonal = 0): Tensor {
    return wrap(ops.tril(this.handle, checkInt(diagonal, 'tril', 'diagonal')));
  }
  multinomial(numSamples: number, replacement = false): Tensor {
    return wrap(
      ops.multinomial(
        this.handle,
        checkInt(numSamples, 'multinomial', 'numSamples'),
        checkBoolean(replacement, 'multinomial', 'replacement'),
      ),
    );
  }

  softmax(dim: number): Tensor {
    return wrap(ops.softmax(this.handle, checkInt(dim, 'softmax', 'dim')));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(ops.logSoftmax(this.handle, checkInt(dim, 'logSoftmax', 'dim')));
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    if (approximate !== 'none' && approximate !== 'tanh')
      throw argumentError('gelu', `'approximate' must be 'none' or 'tanh', got ${describe(approximate)}`);
    return wrap(ops.gelu(this.handle, approximate));
  }
  dropout(p = 0.5, training = true): Tensor {
    checkNumber(p, 'dropout', 'p');
    if (!(p >= 0 && p <= 1)) throw argumentError('dropout', `'p' must be between 0 and 1, got ${p}`);
    return wrap(ops.dropout(this.handle, p, checkBoolean(training, 'dropout', 'training')));
  }

  // ---- conversions ----
  /** to('float16'), to('cuda'), to({ dtype, device }). */
  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    let dtype: DType | undefined;
    let device: Device | undefined;
    if (typeof target === 'string') {
      if ((target as string).startsWith('cpu') || (target as string).startsWith('cuda')) device = checkDevice(target, 'to', 'target');
      else dtype = checkDtype(target, 'to', 'target');
    } else if (target && typeof target === 'object') {
      dtype = checkDtype(target.dtype, 'to');
      device = checkDevice(target.device, 'to');
      if (dtype === undefined && device === undefined)
        throw argumentError('to', "'target' names neither a dtype nor a device: it would do nothing");
    } else {
      throw argumentError('to', `'target' must be a dtype, a device or { dtype, device }, got ${describe(target)}`);
    }
    return wrap(ops.to(this.handle, dtype, device));
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${checkInt(index, 'cuda', 'index')}`);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  half(): Tensor {
    return this.to('float16');
  }
  bfloat16(): Tensor {
    return this.to('bfloat16');
  }
  int(): Tensor {
    return this.to('int32');
  }
  long(): Tensor {
    return this.to('int64');
  }
  bool(): Tensor {
    return this.to('bool');
  }
}

// ---- table-generated methods: the same shape of call for many ops ----
const UNARY_OPS = [
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'abs',
  'neg',
  'tanh',
  'sigmoid',
  'relu',
  'silu',
  'sin',
  'cos',
  'floor',
  'ceil',
  'round',
  'sign',
  'reciprocal',
  'square',
  'log1p',
  'expm1',
  'erf',
  'logicalNot',
  'isnan',
  'isinf',
  'isfinite',
  't',
  'contiguous',
  'clone',
  'detach',
] as const;
const BINARY_OPS = [
  'mul',
  'div',
  'pow',
  'remainder',
  'maximum',
  'minimum',
  'atan2',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'logicalAnd',
  'logicalOr',
  'logicalXor',
] as const;
type UnaryMethods = { [K in (typeof UNARY_OPS)[number]]: () => Tensor };
type BinaryMethods = { [K in (typeof BINARY_OPS)[number]]: (other: TensorLike) => Tensor };
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Tensor extends UnaryMethods, BinaryMethods {}

for (const name of UNARY_OPS) {
  const op = ops[name]!;
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor) {
      return new Tensor(op(this.handle) as NativeTensor);
    },
    writable: true,
    configurable: true,
  });
}
for (const name of BINARY_OPS) {
  const op = ops[name]!;
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor, other: TensorLike) {
      return new Tensor(op(this.handle, operand(other, name)) as NativeTensor);
    },
    writable: true,
    configurable: true,
  });
}

// ---- helpers ----
function wrap(handle: NativeTensor | NativeTensor[] | undefined): Tensor {
  return new Tensor(handle as NativeTensor);
}

export function checkTensor(value: unknown, where: string, name: string): Tensor {
  if (!Tensor.isTensor(value)) {
    const lookAlike = value instanceof Tensor ? " (an object with Tensor's prototype, not a tensor mt made)" : '';
    throw argumentError(where, `'${name}' must be a Tensor, got ${describe(value)}${lookAlike}`);
  }
  return value;
}

// Native handles are the numbers in [2^52, 2^53) (native/napi/tensor.cc); a scalar there goes as
// a BigInt (the same int64 scalar natively: every double in that range is an integer).
const HANDLE_BASE = 2 ** 52;
const HANDLE_END = 2 ** 53;

function operand(value: unknown, where: string, name = 'other'): NativeTensor | number | boolean | bigint {
  if (value instanceof Tensor) return value.handle;
  if (typeof value === 'number') return value >= HANDLE_BASE && value < HANDLE_END ? BigInt(value) : value;
  if (typeof value === 'boolean') return value;
  throw argumentError(where, `'${name}' must be a Tensor, number or boolean, got ${describe(value)}`);
}

function scalar(value: unknown, where: string, name: string): number | boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  throw argumentError(where, `'${name}' must be a number or boolean, got ${describe(value)}`);
}

function optNumber(value: unknown, where: string, name: string): number | undefined {
  return value === undefined ? undefined : checkNumber(value, where, name);
}

function optDims(value: unknown, where: string): number | number[] | undefined {
  return value === undefined ? undefined : checkDims(value, where, 'dim');
}

// ---- creation ----
function checkOptions(options: CreateOptions | undefined, where: string): CreateOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw argumentError(where, `'options' must be an object, got ${describe(options)}`);
  checkDtype(options.dtype, where);
  checkDevice(options.device, where);
  if (options.requiresGrad !== undefined) checkBoolean(options.requiresGrad, where, 'requiresGrad');
  return options;
}

function finish(handle: NativeTensor | NativeTensor[] | undefined, options: CreateOptions): Tensor {
  const t = wrap(handle);
  if (options.requiresGrad) native.setRequiresGrad(t.handle, true);
  return t;
}

/** Most dimensions a nested array may have (deeper nesting is refused before any recursion). */
export const MAX_DIMS = 64;

function inferShape(data: unknown[], where: string): number[] {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    if (shape.length === MAX_DIMS) throw argumentError(where, `nested arrays must have at most ${MAX_DIMS} dimensions`);
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

/** The values each integer dtype holds; floating dtypes take any number (overflow gives ±Infinity, as in PyTorch). */
const INTEGER_RANGES: Partial<Record<DType, [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint8: [0n, 255n],
};

/** Refuses a value the target dtype cannot hold (C++ would wrap it or leave it undefined): `data` is
 * checked only when it would be converted to an integer dtype. */
function checkRange(values: ArrayLike<number | bigint>, dtype: DType, where: string): void {
  const range = INTEGER_RANGES[dtype];
  if (range === undefined) return;
  const [low, high] = range;
  const lowNumber = Number(low),
    highNumber = Number(high) + 1; // exact powers of two
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const inside = typeof v === 'bigint' ? v >= low && v <= high : v >= lowNumber && v < highNumber; // false for NaN
    if (!inside) {
      throw argumentError(
        where,
        `${typeof v === 'bigint' ? `${v}n` : v} is outside the range of ${dtype} [${low}, ${high}]${dtype === 'int64' && typeof v === 'number' ? "; give dtype: 'float32' or 'float64' for a floating-point tensor" : ''}`,
      );
    }
  }
}

const TYPED_DTYPES: [new (...args: never[]) => ArrayBufferView, DType | 'int8' | 'int16'][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [BigInt64Array, 'int64'],
  [Uint8Array, 'uint8'],
  [Int8Array, 'int8'],
  [Int16Array, 'int16'],
];

/**
 * mt.tensor(nestedArray | number | boolean, options?) or mt.tensor(typedArray, shape?, options?).
 * Nested numbers are int64 when all are integers, float32 otherwise; booleans are bool.
 */
export function tensor(
  data: NestedArray<number | boolean | bigint> | TypedData | Int8Array | Int16Array,
  shapeOrOptions?: number[] | CreateOptions,
  maybeOptions?: CreateOptions,
): Tensor {
  if (ArrayBuffer.isView(data)) {
    const source = TYPED_DTYPES.find(([type]) => data instanceof type);
    if (source === undefined) {
      throw argumentError(
        'tensor',
        `'data' must be a Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array, Int8Array or Int16Array, got ${describe(data)}`,
      );
    }
    // A view of a SharedArrayBuffer is copied first: another thread may write it while it is read.
    const array = (data.buffer instanceof ArrayBuffer ? data : (data as TypedData).slice()) as TypedData;
    const shape = Array.isArray(shapeOrOptions) ? checkShape(shapeOrOptions, 'tensor') : [array.length];
    const options = checkOptions(Array.isArray(shapeOrOptions) ? maybeOptions : shapeOrOptions, 'tensor');
    const expected = shape.reduce((a, b) => a * b, 1);
    if (expected !== array.length)
      throw argumentError('tensor', `'shape' [${shape.join(', ')}] holds ${expected} elements but data has ${array.length}`);
    if (options.dtype !== undefined && options.dtype !== source[1])
      checkRange(array as ArrayLike<number | bigint>, options.dtype, 'tensor');
    return finish(native.fromData(array, shape, options.dtype, options.device, false), options);
  }
  if (Array.isArray(shapeOrOptions)) throw argumentError('tensor', "'shape' is only accepted with typed-array data");
  const options = checkOptions(shapeOrOptions, 'tensor');
  const shape = Array.isArray(data) ? inferShape(data, 'tensor') : [];
  const flat: unknown[] = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data];
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected || !isRectangular(data, shape, 0)) {
    throw argumentError('tensor', 'nested arrays must be rectangular (every row of a dimension the same length)');
  }
  let kind: 'bool' | 'int' | 'float' | 'bigint' | undefined;
  for (const v of flat) {
    const k =
      typeof v === 'boolean'
        ? 'bool'
        : typeof v === 'bigint'
          ? 'bigint'
          : typeof v === 'number'
            ? Number.isInteger(v)
              ? 'int'
              : 'float'
            : undefined;
    if (k === undefined) throw argumentError('tensor', `'data' must hold numbers, booleans or bigints, got ${describe(v)}`);
    if (kind === undefined || kind === k) kind = k;
    else if ((kind === 'int' && k === 'float') || (kind === 'float' && k === 'int')) kind = 'float';
    else throw argumentError('tensor', `'data' mixes ${kind} and ${k} values`);
  }
  let typed: TypedData;
  let inferred: DType;
  if (kind === 'bool') {
    typed = Uint8Array.from(flat as boolean[], (b) => (b ? 1 : 0));
    inferred = 'bool';
  } else if (kind === 'bigint') {
    typed = BigInt64Array.from(flat as bigint[]);
    inferred = 'int64';
  } else if (kind === 'int') {
    typed = Float64Array.from(flat as number[]);
    inferred = 'int64';
  } else {
    typed = Float64Array.from(flat as number[]);
    inferred = 'float32';
  }
  if (kind === 'bigint' || kind === 'int' || (kind === 'float' && options.dtype !== undefined)) {
    checkRange(kind === 'bigint' ? (flat as bigint[]) : (typed as Float64Array), options.dtype ?? inferred, 'tensor');
  }
  return finish(native.fromData(typed, shape, options.dtype ?? inferred, options.device, false), options);
}

function isRectangular(data: unknown, shape: number[], dim: number): boolean {
  if (dim === shape.length) return !Array.isArray(data);
  if (!Array.isArray(data) || data.length !== shape[dim]) return false;
  return data.every((row) => isRectangular(row, shape, dim + 1));
}

function shapeFactory(name: 'zeros' | 'ones' | 'empty' | 'rand' | 'randn') {
  return (shape: number[], options?: CreateOptions): Tensor => {
    const o = checkOptions(options, name);
    return finish(ops[name](checkShape(shape, name), o.dtype, o.device), o);
  };
}
export const zeros = shapeFactory('zeros');
export const ones = shapeFactory('ones');
export const empty = shapeFactory('empty');
/** Uniform samples from [0, 1). */
export const rand = shapeFactory('rand');
/** Standard normal samples; with the same seed, PyTorch's on CPU. */
export const randn = shapeFactory('randn');
export function full(shape: number[], value: number | boolean, options?: CreateOptions): Tensor {
  const o = checkOptions(options, 'full');
  return finish(ops.full(checkShape(shape, 'full'), scalar(value, 'full', 'value'), o.dtype, o.device), o);
}
/** Integers drawn uniformly from [low, high), as torch.randint(low, high, size). */
export function randint(low: number, high: number, shape: number[], options?: CreateOptions): Tensor {
  const o = checkOptions(options, 'randint');
  checkInt(low, 'randint', 'low');
  checkInt(high, 'randint', 'high');
  if (high <= low) throw argumentError('randint', `'high' (${high}) must be greater than 'low' (${low})`);
  return finish(ops.randint(low, high, checkShape(shape, 'randint'), o.dtype, o.device), o);
}
/** arange(end) or arange(start, end, step?): int64 when all are integers, else float32 (as PyTorch). */
export function arange(startOrEnd: number, end?: number, step = 1, options?: CreateOptions): Tensor {
  const o = checkOptions(options, 'arange');
  const start = end === undefined ? 0 : checkNumber(startOrEnd, 'arange', 'start');
  const stop = end === undefined ? checkNumber(startOrEnd, 'arange', 'end') : checkNumber(end, 'arange', 'end');
  checkNumber(step, 'arange', 'step');
  if (step === 0) throw argumentError('arange', "'step' must not be zero");
  return finish(ops.arange(start, stop, step, o.dtype, o.device), o);
}
export function linspace(start: number, end: number, steps: number, options?: CreateOptions): Tensor {
  const o = checkOptions(options, 'linspace');
  checkInt(steps, 'linspace', 'steps');
  if (steps < 0) throw argumentError('linspace', `'steps' must not be negative, got ${steps}`);
  return finish(ops.linspace(checkNumber(start, 'linspace', 'start'), checkNumber(end, 'linspace', 'end'), steps, o.dtype, o.device), o);
}
export function eye(n: number, m?: number, options?: CreateOptions): Tensor {
  const o = checkOptions(options, 'eye');
  checkInt(n, 'eye', 'n');
  if (m !== undefined) checkInt(m, 'eye', 'm');
  return finish(ops.eye(n, m, o.dtype, o.device), o);
}
function likeFactory(name: 'zerosLike' | 'onesLike' | 'randLike' | 'randnLike') {
  return (input: Tensor, options?: CreateOptions): Tensor => {
    const o = checkOptions(options, name);
    return finish(ops[name](checkTensor(input, name, 'input').handle, o.dtype, o.device), o);
  };
}
export const zerosLike = likeFactory('zerosLike');
export const onesLike = likeFactory('onesLike');
export const randLike = likeFactory('randLike');
export const randnLike = likeFactory('randnLike');
export function fullLike(input: Tensor, value: number | boolean, options?: CreateOptions): Tensor {
  const o = checkOptions(options, 'fullLike');
  return finish(ops.fullLike(checkTensor(input, 'fullLike', 'input').handle, scalar(value, 'fullLike', 'value'), o.dtype, o.device), o);
}

function checkTensorList(tensors: unknown, where: string): NativeTensor[] {
  if (!Array.isArray(tensors) || tensors.length === 0) throw argumentError(where, `'tensors' must be a non-empty array of Tensors`);
  return tensors.map((t, i) => checkTensor(t, where, `tensors[${i}]`).handle);
}
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(ops.cat(checkTensorList(tensors, 'cat'), checkInt(dim, 'cat', 'dim')));
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(ops.stack(checkTensorList(tensors, 'stack'), checkInt(dim, 'stack', 'dim')));
}
export function where(condition: Tensor, input: TensorLike, other: TensorLike): Tensor {
  return wrap(
    ops.where(checkTensor(condition, 'where', 'condition').handle, operand(input, 'where', 'input'), operand(other, 'where', 'other')),
  );
}

// ---- grad mode, seeding, threads, memory ----
/** Runs fn with gradient recording off (torch.no_grad). fn must be synchronous. */
export function noGrad<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw argumentError('noGrad', `'fn' must be a function, got ${describe(fn)}`);
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}
export function enableGrad<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw argumentError('enableGrad', `'fn' must be a function, got ${describe(fn)}`);
  const previous = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** Seeds libtorch's generators as torch.manual_seed does: the same seed gives PyTorch's numbers on CPU. */
export function manualSeed(seed: number): void {
  checkInt(seed, 'manualSeed', 'seed');
  if (seed < 0) throw argumentError('manualSeed', `'seed' must not be negative, got ${seed}`);
  native.manualSeed(seed);
}
export function setNumThreads(threads: number): void {
  checkInt(threads, 'setNumThreads', 'threads');
  if (threads < 1) throw argumentError('setNumThreads', `'threads' must be at least 1, got ${threads}`);
  const most = maxThreads();
  if (threads > most) {
    throw argumentError(
      'setNumThreads',
      `'threads' must be at most ${most} (${THREADS_PER_CORE} per core of this machine's ${availableParallelism()}), got ${threads}`,
    );
  }
  native.setNumThreads(threads);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Intra-op threads per core that setNumThreads allows: more only oversubscribes the cores, and
 * thousands of threads can exhaust a process's thread limit (thread-pool creation then hangs). */
export const THREADS_PER_CORE = 4;
export function maxThreads(): number {
  return THREADS_PER_CORE * availableParallelism();
}

/** Live native tensors and the bytes they hold. */
export function memory(): { tensors: number; bytes: number } {
  return native.memory();
}

/**
 * The caching allocator in front of libtorch's CPU allocator: freed tensor blocks of 64 KiB and
 * more are kept, by size class, for the next allocation of that class, so a training loop stops
 * page-faulting its activations in again every step (a third of a CPU Transformer step
 * otherwise). It keeps at most MTL_TORCH_HOST_CACHE_MB (default 2048) MiB; MTL_TORCH_MALLOC=system
 * turns it off. Hit and miss counts tell whether a workload reuses its blocks.
 */
export function hostAllocator(): HostAllocatorState {
  return native.hostAllocator();
}

/** Gives the blocks the cache keeps back to the system (and trims malloc's heap); returns their bytes. */
export function releaseHostMemory(): number {
  return native.releaseHostMemory();
}

/**
 * Runs fn and disposes every tensor it created, except those it returns (a Tensor, or Tensors
 * inside returned arrays and plain objects). fn must be synchronous.
 */
export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw argumentError('tidy', `'fn' must be a function, got ${describe(fn)}`);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TorchError('tidy: fn must be synchronous (it returned a Promise)', 'ERR_INVALID_ARG');
  }
  const kept = new Set<Tensor>();
  try {
    collectTensors(result, kept, 'tidy');
  } catch (error) {
    for (const t of scope) t.dispose();
    throw error;
  }
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Keeps a tensor created inside tidy() alive after the scope ends. */
export function keep<V extends Tensor>(t: V): V {
  for (const scope of scopes) scope.delete(t);
  return t;
}

/** The Tensors in a value, however deeply nested (walked with a stack of its own, not recursion). */
function collectTensors(root: unknown, into: Set<Tensor>, where: string): void {
  const seen = new Set<unknown>();
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (Tensor.isTensor(value)) {
      into.add(value);
      continue;
    }
    if (value instanceof Tensor)
      throw argumentError(where, `found an object with Tensor's prototype that is not a tensor mt made, got ${describe(value)}`);
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    // (a loop, not push(...items): a spread of a long array overflows the call stack too)
    const items = Array.isArray(value)
      ? value
      : value instanceof Map
        ? [...value.values()]
        : Object.getPrototypeOf(value) === Object.prototype
          ? Object.values(value)
          : [];
    for (let i = items.length - 1; i >= 0; i--) pending.push(items[i]);
  }
}

/** Disposes every Tensor in a value (a Tensor, an array, a plain object). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collectTensors(value, found, 'dispose');
  for (const t of found) t.dispose();
}
