/**
 * Parity of every tensor op with PyTorch: test/parity/oracles/ops.py runs the same cases in torch
 * (Debian's python3-torch, once for the whole file); forward values must match to 1e-5 relative
 * (fp32/fp64) and gradients of sum(output * weights) to 1e-4.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { type Arg, type Case, type CaseResult, checkCase, Data, type DType, type InputSpec, runReference } from '../helpers/reference.ts';

const rng = new Data(7);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** Float input with gradient, values uniform in [lo, hi). */
const f = (shape: number[], opts: { lo?: number; hi?: number; dtype?: DType; grad?: boolean } = {}): InputSpec => ({
  data: rng.uniform(size(shape), opts.lo ?? -2, opts.hi ?? 2),
  shape,
  dtype: opts.dtype ?? 'float32',
  requiresGrad: opts.grad ?? true,
});
const ints = (shape: number[], lo: number, hi: number, dtype: DType = 'int64'): InputSpec => ({
  data: rng.ints(size(shape), lo, hi),
  shape,
  dtype,
});
const bools = (shape: number[]): InputSpec => ({ data: rng.bools(size(shape)), shape, dtype: 'bool' });
const t = (i: number): Arg => ({ $t: i });
const dt = (d: DType): Arg => ({ $dtype: d });

const cases: Case[] = [];
const add = (c: Case) => cases.push(c);
const groups = new Map<string, string[]>();
function group(name: string, fn: () => void): void {
  const before = cases.length;
  fn();
  groups.set(
    name,
    cases.slice(before).map((c) => c.name),
  );
}

// ---------------------------------------------------------------- creation
group('creation', () => {
  add({ name: 'zeros', op: 'zeros', args: [[2, 3]] });
  add({ name: 'zeros int32', op: 'zeros', args: [[2, 3]], kwargs: { dtype: dt('int32') }, js: () => mt.zeros([2, 3], { dtype: 'int32' }) });
  add({ name: 'ones', op: 'ones', args: [[4]] });
  add({ name: 'ones bool', op: 'ones', args: [[2, 2]], kwargs: { dtype: dt('bool') }, js: () => mt.ones([2, 2], { dtype: 'bool' }) });
  add({ name: 'ones float64 0-d', op: 'ones', args: [[]], kwargs: { dtype: dt('float64') }, js: () => mt.ones([], { dtype: 'float64' }) });
  add({ name: 'full float', op: 'full', args: [[2, 3], 1.5] });
  add({ name: 'full int infers int64', op: 'full', args: [[3], 7] });
  add({ name: 'full bool', op: 'full', args: [[2], true] });
  add({
    name: 'full float16',
    op: 'full',
    args: [[2], 0.1],
    kwargs: { dtype: dt('float16') },
    js: () => mt.full([2], 0.1, { dtype: 'float16' }),
  });
  add({ name: 'arange end', op: 'arange', args: [5] });
  add({ name: 'arange start end', op: 'arange', args: [-2, 3] });
  add({ name: 'arange float step', op: 'arange', args: [0, 1, 0.125] });
  add({ name: 'arange negative step', op: 'arange', args: [3, -3, -1.5] });
  add({
    name: 'arange float64',
    op: 'arange',
    args: [0, 5, 2],
    kwargs: { dtype: dt('float64') },
    js: () => mt.arange(0, 5, 2, { dtype: 'float64' }),
  });
  add({ name: 'linspace', op: 'linspace', args: [0, 1, 5] });
  add({ name: 'linspace 7', op: 'linspace', args: [-1, 2.5, 7] });
  add({
    name: 'linspace float64',
    op: 'linspace',
    args: [-3, 3, 11],
    kwargs: { dtype: dt('float64') },
    js: () => mt.linspace(-3, 3, 11, { dtype: 'float64' }),
  });
  add({ name: 'eye', op: 'eye', args: [3] });
  add({ name: 'eye rectangular', op: 'eye', args: [2, 4] });
  add({ name: 'eye int64', op: 'eye', args: [3], kwargs: { dtype: dt('int64') }, js: () => mt.eye(3, undefined, { dtype: 'int64' }) });
  add({
    name: 'tensor nested ints',
    py: 'torch.tensor([[1, 2], [3, 4]])',
    js: () =>
      mt.tensor([
        [1, 2],
        [3, 4],
      ]),
  });
  add({
    name: 'tensor nested floats',
    py: 'torch.tensor([[1.5, 2], [-3.25, 4]])',
    js: () =>
      mt.tensor([
        [1.5, 2],
        [-3.25, 4],
      ]),
  });
  add({ name: 'tensor bools', py: 'torch.tensor([True, False, True])', js: () => mt.tensor([true, false, true]) });
  add({ name: 'tensor scalar', py: 'torch.tensor(2.5)', js: () => mt.tensor(2.5) });
  add({
    name: 'tensor float64 typed',
    py: 'torch.tensor([0.1, 0.2], dtype=torch.float64)',
    js: () => mt.tensor(new Float64Array([0.1, 0.2])),
  });
  add({ name: 'tensor float32 rounds', py: 'torch.tensor([0.1, 1e-8, 3.3333333])', js: () => mt.tensor([0.1, 1e-8, 3.3333333]) });
  add({ name: 'zerosLike', op: 'zerosLike', call: 'torch', inputs: [f([2, 3], { grad: false })], args: [t(0)] });
  add({ name: 'onesLike int', op: 'onesLike', call: 'torch', inputs: [ints([3], 0, 5)], args: [t(0)] });
  add({
    name: 'onesLike dtype',
    op: 'onesLike',
    call: 'torch',
    inputs: [ints([3], 0, 5)],
    args: [t(0)],
    kwargs: { dtype: dt('float64') },
    js: ([x]) => mt.onesLike(x!, { dtype: 'float64' }),
  });
  add({ name: 'fullLike', op: 'fullLike', call: 'torch', inputs: [f([2, 2], { grad: false })], args: [t(0), -0.75] });
  // manualSeed: the same seed gives PyTorch's numbers.
  add({ name: 'rand seeded', op: 'rand', args: [[3, 4]], seed: 0 });
  add({ name: 'randn seeded', op: 'randn', args: [[2, 3, 5]], seed: 42 });
  add({ name: 'randn large seeded', op: 'randn', args: [[1000]], seed: 123 });
  add({
    name: 'rand float64 seeded',
    op: 'rand',
    args: [[5]],
    kwargs: { dtype: dt('float64') },
    seed: 7,
    js: () => mt.rand([5], { dtype: 'float64' }),
  });
  add({
    name: 'randn float64 seeded',
    op: 'randn',
    args: [[6]],
    kwargs: { dtype: dt('float64') },
    seed: 8,
    js: () => mt.randn([6], { dtype: 'float64' }),
  });
  add({ name: 'randint seeded', op: 'randint', args: [0, 10, [20]], seed: 3 });
  add({ name: 'randint negative range', op: 'randint', args: [-5, 5, [4, 4]], seed: 4 });
  add({
    name: 'randint int32',
    op: 'randint',
    args: [0, 100, [8]],
    kwargs: { dtype: dt('int32') },
    seed: 5,
    js: () => mt.randint(0, 100, [8], { dtype: 'int32' }),
  });
  add({ name: 'randLike seeded', op: 'randLike', call: 'torch', inputs: [f([3, 2], { grad: false })], args: [t(0)], seed: 11 });
  add({ name: 'randnLike seeded', op: 'randnLike', call: 'torch', inputs: [f([3, 2], { grad: false })], args: [t(0)], seed: 12 });
  add({
    name: 'seed sequence',
    pyExec: 'torch.manual_seed(9)\na = torch.rand(3)\nb = torch.randn(2)\nc = torch.randint(0, 7, (4,))\nresult = (a, b, c)',
    js: () => {
      mt.manualSeed(9);
      return [mt.rand([3]), mt.randn([2]), mt.randint(0, 7, [4])];
    },
  });
});

// ---------------------------------------------------------------- dtypes and to()
const ALL: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];
group('dtypes', () => {
  const source = [0, 1.5, 2.75, 37.25, 99, 0.5, 200, 3];
  for (const from of ALL) {
    const isFloat = from.startsWith('float') || from === 'bfloat16';
    const data = from === 'bool' ? source.map((v, i) => i % 3 === 0) : isFloat ? source : source.map(Math.floor);
    for (const to of ALL) {
      add({ name: `to ${from} -> ${to}`, op: 'to', inputs: [{ data, shape: [2, 4], dtype: from }], args: [dt(to)] });
    }
  }
  add({ name: 'to float64 keeps grad', op: 'to', inputs: [f([3])], args: [dt('float64')] });
  add({ name: 'to float16 grad', op: 'to', inputs: [f([3])], args: [dt('float16')] });
  add({ name: 'double()', op: 'double', inputs: [f([2])] });
  add({ name: 'long()', op: 'long', inputs: [f([4], { grad: false, lo: -5, hi: 5 })] });
  add({
    name: 'float16 arithmetic',
    py: 'x0 * x1 + x0',
    js: ([a, b]) => a!.mul(b!).add(a!),
    inputs: [f([5], { dtype: 'float16', grad: false }), f([5], { dtype: 'float16', grad: false })],
  });
  add({
    name: 'bfloat16 arithmetic',
    py: 'x0 * x1 - 1',
    js: ([a, b]) => a!.mul(b!).sub(1),
    inputs: [f([5], { dtype: 'bfloat16', grad: false }), f([5], { dtype: 'bfloat16', grad: false })],
  });
});

// ---------------------------------------------------------------- arithmetic
group('arithmetic', () => {
  for (const op of ['add', 'sub', 'mul', 'div']) {
    add({ name: `${op} same shape`, op, inputs: [f([2, 3]), f([2, 3], op === 'div' ? { lo: 0.5, hi: 2 } : {})], args: [t(1)] });
    add({ name: `${op} broadcast row`, op, inputs: [f([2, 3]), f([3], op === 'div' ? { lo: 0.5, hi: 2 } : {})], args: [t(1)] });
    add({ name: `${op} broadcast both`, op, inputs: [f([4, 1, 3]), f([2, 1], op === 'div' ? { lo: 0.5, hi: 2 } : {})], args: [t(1)] });
    add({ name: `${op} scalar`, op, inputs: [f([2, 3])], args: [2.5] });
    add({ name: `${op} int scalar`, op, inputs: [f([3])], args: [3] });
    add({ name: `${op} 0-d tensor`, op, inputs: [f([2, 2]), f([], { lo: 1, hi: 2 })], args: [t(1)] });
    add({ name: `${op} int64`, op, inputs: [ints([5], -10, 10), ints([5], 1, 5)], args: [t(1)] });
    add({ name: `${op} int64 with float scalar`, op, inputs: [ints([4], -10, 10)], args: [2.5] });
    add({ name: `${op} int32 and int64`, op, inputs: [ints([4], -10, 10, 'int32'), ints([4], 1, 5)], args: [t(1)] });
    add({ name: `${op} uint8 and int scalar`, op, inputs: [ints([4], 0, 100, 'uint8')], args: [3] });
    add({ name: `${op} float32 and float64`, op, inputs: [f([3]), f([3], { dtype: 'float64', lo: 0.5 })], args: [t(1)] });
    add({ name: `${op} int64 tensor and float32 tensor`, op, inputs: [ints([3], 1, 9), f([3], { lo: 0.5 })], args: [t(1)] });
  }
  add({ name: 'add bool bool', op: 'add', inputs: [bools([6]), bools([6])], args: [t(1)] });
  add({ name: 'mul bool and float', op: 'mul', inputs: [bools([4]), f([4])], args: [t(1)] });
  add({ name: 'int64 * 2.5 -> float32', op: 'mul', inputs: [ints([3], 1, 10)], args: [2.5] });
  add({ name: 'add alpha', op: 'add', inputs: [f([3]), f([3])], args: [t(1)], kwargs: { alpha: 2 }, js: ([a, b]) => a!.add(b!, 2) });
  add({ name: 'sub alpha', op: 'sub', inputs: [f([3]), f([3])], args: [t(1)], kwargs: { alpha: -0.5 }, js: ([a, b]) => a!.sub(b!, -0.5) });
  add({ name: 'pow scalar', op: 'pow', inputs: [f([2, 3])], args: [2] });
  add({ name: 'pow fractional', op: 'pow', inputs: [f([4], { lo: 0.1, hi: 3 })], args: [0.5] });
  add({ name: 'pow tensor', op: 'pow', inputs: [f([4], { lo: 0.5, hi: 2 }), f([4])], args: [t(1)] });
  add({ name: 'pow int', op: 'pow', inputs: [ints([5], -3, 4)], args: [3] });
  add({ name: 'remainder', op: 'remainder', inputs: [f([6], { lo: -5, hi: 5 })], args: [1.5] });
  add({ name: 'remainder int', op: 'remainder', inputs: [ints([6], -9, 9), ints([6], 1, 4)], args: [t(1)] });
  add({ name: 'maximum', op: 'maximum', inputs: [f([2, 3]), f([3])], args: [t(1)] });
  add({ name: 'minimum', op: 'minimum', inputs: [f([2, 3]), f([2, 3])], args: [t(1)] });
  add({ name: 'atan2', op: 'atan2', inputs: [f([4]), f([4])], args: [t(1)] });
  // in place (on a clone so the gradient reaches the leaf)
  add({ name: 'add_', op: 'add_', clone: true, inputs: [f([2, 3]), f([3])], args: [t(1)] });
  add({ name: 'add_ scalar', op: 'add_', clone: true, inputs: [f([2, 3])], args: [1.25] });
  add({ name: 'sub_', op: 'sub_', clone: true, inputs: [f([2, 3]), f([2, 3])], args: [t(1)] });
  add({ name: 'mul_', op: 'mul_', clone: true, inputs: [f([2, 3]), f([2, 1])], args: [t(1)] });
  add({ name: 'div_', op: 'div_', clone: true, inputs: [f([2, 3])], args: [-4] });
  add({ name: 'add_ int64', op: 'add_', inputs: [ints([3], 0, 9)], args: [2] });
  add({ name: 'mul_ int64 by int', op: 'mul_', inputs: [ints([3], 0, 9)], args: [3] });
  add({ name: 'fill_', op: 'fill_', inputs: [f([2, 2], { grad: false })], args: [0.5] });
  add({ name: 'zero_', op: 'zero_', inputs: [f([2, 2], { grad: false })] });
  add({ name: 'clamp_', op: 'clamp_', clone: true, inputs: [f([6])], args: [-0.5, 0.5] });
  add({ name: 'copy_', op: 'copy_', clone: true, inputs: [f([2, 3]), f([3])], args: [t(1)] });
});

// ---------------------------------------------------------------- unary math
group('unary', () => {
  const positive = { lo: 0.1, hi: 4 };
  for (const op of ['exp', 'abs', 'neg', 'tanh', 'sigmoid', 'relu', 'silu', 'sin', 'cos', 'erf', 'expm1', 'square']) {
    add({ name: op, op, inputs: [f([3, 4])] });
  }
  for (const op of ['log', 'sqrt', 'rsqrt', 'reciprocal', 'log1p']) add({ name: op, op, inputs: [f([3, 4], positive)] });
  for (const op of ['floor', 'ceil', 'round', 'sign']) add({ name: op, op, inputs: [f([8], { lo: -3, hi: 3, grad: false })] });
  add({ name: 'gelu', op: 'gelu', call: 'F', inputs: [f([3, 4])], args: [t(0)] });
  add({ name: 'gelu method', op: 'gelu', inputs: [f([3, 4])] });
  add({ name: 'gelu tanh', op: 'gelu', inputs: [f([3, 4])], kwargs: { approximate: 'tanh' }, js: ([x]) => x!.gelu('tanh') });
  add({ name: 'relu F', op: 'relu', call: 'F', inputs: [f([5])], args: [t(0)] });
  add({ name: 'log of negative is nan', op: 'log', inputs: [{ data: [-1, 0, 1, 2], shape: [4], dtype: 'float32' }] });
  add({ name: 'exp float64', op: 'exp', inputs: [f([4], { dtype: 'float64' })] });
  add({ name: 'sqrt int64 -> float32', op: 'sqrt', inputs: [ints([4], 0, 20)] });
  add({ name: 'abs int64', op: 'abs', inputs: [ints([5], -9, 9)] });
  add({ name: 'neg int32', op: 'neg', inputs: [ints([5], -9, 9, 'int32')] });
  add({ name: 'exp bfloat16', op: 'exp', inputs: [f([4], { dtype: 'bfloat16', grad: false })] });
  add({
    name: 'tanh float16 (error parity where the CPU kernel is missing)',
    op: 'tanh',
    inputs: [f([4], { dtype: 'float16', grad: false })],
    sameErrors: true,
  });
});

// ---------------------------------------------------------------- comparisons and logic
group('comparisons', () => {
  for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge']) {
    add({ name: `${op} tensors`, op, inputs: [ints([3, 4], 0, 3), ints([3, 4], 0, 3)], args: [t(1)] });
    add({ name: `${op} broadcast float`, op, inputs: [f([2, 3], { grad: false }), f([3], { grad: false })], args: [t(1)] });
    add({ name: `${op} scalar`, op, inputs: [ints([6], 0, 4)], args: [2] });
    add({ name: `${op} float scalar`, op, inputs: [f([6], { grad: false })], args: [0.25] });
  }
  for (const op of ['logicalAnd', 'logicalOr', 'logicalXor']) {
    add({ name: `${op}`, op, inputs: [bools([8]), bools([8])], args: [t(1)] });
    add({ name: `${op} float`, op, inputs: [ints([6], 0, 2, 'int64'), f([6], { grad: false })], args: [t(1)] });
  }
  add({ name: 'logicalNot', op: 'logicalNot', inputs: [bools([6])] });
  add({ name: 'logicalNot float', op: 'logicalNot', inputs: [ints([6], 0, 3)] });
  add({ name: 'where', op: 'where', call: 'torch', inputs: [bools([2, 3]), f([2, 3]), f([3])], args: [t(0), t(1), t(2)] });
  add({ name: 'where scalar other', op: 'where', call: 'torch', inputs: [bools([4]), f([4])], args: [t(0), t(1), 0.5] });
  add({ name: 'where scalars', op: 'where', call: 'torch', inputs: [bools([4])], args: [t(0), 1.5, -2] });
  add({ name: 'where int', op: 'where', call: 'torch', inputs: [bools([4]), ints([4], 0, 9), ints([4], 0, 9)], args: [t(0), t(1), t(2)] });
  // isnan etc. need non-finite inputs: made with ops (JSON cannot carry NaN in inputs).
  add({
    name: 'isnan isinf isfinite',
    inputs: [{ data: [1, 0, -1, 2], shape: [4], dtype: 'float32' }],
    pyExec: 'y = x0 / torch.tensor([0.0, 0.0, 0.0, 1.0])\nresult = (y, y.isnan(), y.isinf(), y.isfinite())',
    js: ([x]) => {
      const y = x!.div(mt.tensor([0, 0, 0, 1], { dtype: 'float32' }));
      return [y, y.isnan(), y.isinf(), y.isfinite()];
    },
  });
});

// ---------------------------------------------------------------- reductions
group('reductions', () => {
  const x = () => f([3, 4, 5]);
  for (const op of ['sum', 'mean']) {
    add({ name: `${op} all`, op, inputs: [x()] });
    add({ name: `${op} dim`, op, inputs: [x()], args: [1] });
    add({ name: `${op} negative dim keepdim`, op, inputs: [x()], args: [-1, true] });
    add({ name: `${op} dims keepdim`, op, inputs: [x()], args: [[0, 2], true] });
    add({
      name: `${op} dtype float64`,
      op,
      inputs: [x()],
      kwargs: { dtype: dt('float64') },
      js: ([a]) => a![op as 'sum'](undefined, false, { dtype: 'float64' }),
    });
  }
  add({ name: 'sum int64', op: 'sum', inputs: [ints([3, 4], -5, 5)] });
  add({ name: 'sum int32 -> int64', op: 'sum', inputs: [ints([3, 4], -5, 5, 'int32')], args: [0] });
  add({ name: 'sum bool -> int64', op: 'sum', inputs: [bools([10])] });
  add({ name: 'mean float64', op: 'mean', inputs: [f([4, 3], { dtype: 'float64' })], args: [0] });
  for (const op of ['max', 'min']) {
    add({ name: `${op} all`, op, inputs: [x()] });
    add({ name: `${op} dim`, op, inputs: [x()], args: [1] });
    add({ name: `${op} dim keepdim`, op, inputs: [x()], args: [-1, true] });
    add({ name: `${op} int`, op, inputs: [ints([4, 5], -50, 50)], args: [0] });
  }
  for (const op of ['argmax', 'argmin']) {
    add({ name: `${op} all`, op, inputs: [f([3, 4], { grad: false })] });
    add({ name: `${op} dim`, op, inputs: [f([3, 4], { grad: false })], args: [1] });
    add({ name: `${op} dim keepdim`, op, inputs: [f([3, 4], { grad: false })], args: [0, true] });
  }
  for (const op of ['std', 'var']) {
    add({ name: `${op} all`, op, inputs: [x()] });
    add({ name: `${op} all biased`, op, inputs: [x()], args: [null, false], js: ([a]) => a![op as 'std'](undefined, false) });
    add({ name: `${op} dim`, op, inputs: [x()], args: [1] });
    add({ name: `${op} dim biased keepdim`, op, inputs: [x()], args: [2, false, true] });
    add({ name: `${op} dims`, op, inputs: [x()], args: [[0, 1], true, true] });
    add({ name: `${op} float64`, op, inputs: [f([6, 2], { dtype: 'float64' })], args: [0] });
  }
  add({ name: 'logsumexp', op: 'logsumexp', inputs: [x()], args: [1] });
  add({ name: 'logsumexp keepdim', op: 'logsumexp', inputs: [x()], args: [[0, 2], true] });
  add({ name: 'logsumexp large values', op: 'logsumexp', inputs: [f([2, 3], { lo: 80, hi: 100 })], args: [-1] });
  add({ name: 'prod', op: 'prod', inputs: [f([3, 4])], args: [1] });
  add({ name: 'cumsum', op: 'cumsum', inputs: [f([3, 4])], args: [1] });
  add({ name: 'norm', op: 'norm', inputs: [f([3, 4])] });
  add({
    name: 'all any',
    py: '(x0.all(), x0.any(), x0.all(1), x0.any(0, True))',
    js: ([a]) => [a!.all(), a!.any(), a!.all(1), a!.any(0, true)],
    inputs: [bools([3, 4])],
  });
});

// ---------------------------------------------------------------- matrix products
group('matmul', () => {
  add({ name: 'matmul 2d', op: 'matmul', inputs: [f([3, 4]), f([4, 5])], args: [t(1)] });
  add({ name: 'matmul batched x 2d', op: 'matmul', inputs: [f([2, 3, 4]), f([4, 5])], args: [t(1)] });
  add({ name: 'matmul broadcast batches', op: 'matmul', inputs: [f([2, 1, 3, 4]), f([5, 4, 2])], args: [t(1)] });
  add({ name: 'matmul vector x matrix', op: 'matmul', inputs: [f([4]), f([4, 5])], args: [t(1)] });
  add({ name: 'matmul matrix x vector', op: 'matmul', inputs: [f([3, 4]), f([4])], args: [t(1)] });
  add({ name: 'matmul dot', op: 'matmul', inputs: [f([6]), f([6])], args: [t(1)] });
  add({ name: 'matmul float64', op: 'matmul', inputs: [f([3, 4], { dtype: 'float64' }), f([4, 2], { dtype: 'float64' })], args: [t(1)] });
  add({ name: 'matmul int64', op: 'matmul', inputs: [ints([2, 3], -5, 5), ints([3, 2], -5, 5)], args: [t(1)] });
  add({ name: 'matmul larger', op: 'matmul', inputs: [f([16, 64]), f([64, 32])], args: [t(1)] });
  add({ name: 'bmm', op: 'bmm', inputs: [f([2, 3, 4]), f([2, 4, 5])], args: [t(1)] });
  add({ name: 'mm', op: 'mm', inputs: [f([2, 3]), f([3, 2])], args: [t(1)] });
  add({ name: 'outer', op: 'outer', inputs: [f([3]), f([4])], args: [t(1)] });
});

// ---------------------------------------------------------------- shapes
group('shapes', () => {
  add({ name: 'reshape', op: 'reshape', inputs: [f([2, 3, 4])], args: [[4, -1]] });
  add({ name: 'reshape to 0-d', op: 'reshape', inputs: [f([1, 1])], args: [[]] });
  add({ name: 'view', op: 'view', inputs: [f([2, 6])], args: [[3, 2, 2]] });
  add({ name: 'permute', op: 'permute', inputs: [f([2, 3, 4])], args: [[2, 0, 1]] });
  add({ name: 'transpose', op: 'transpose', inputs: [f([2, 3, 4])], args: [0, 2] });
  add({ name: 'transpose negative', op: 'transpose', inputs: [f([2, 3, 4])], args: [-1, -2] });
  add({ name: 't', op: 't', inputs: [f([2, 3])] });
  add({ name: 't 1-d', op: 't', inputs: [f([3])] });
  add({ name: 'squeeze', op: 'squeeze', inputs: [f([1, 3, 1, 2])] });
  add({ name: 'squeeze dim', op: 'squeeze', inputs: [f([1, 3, 1, 2])], args: [2] });
  add({ name: 'squeeze non-1 dim', op: 'squeeze', inputs: [f([1, 3])], args: [1] });
  add({ name: 'unsqueeze', op: 'unsqueeze', inputs: [f([3, 2])], args: [1] });
  add({ name: 'unsqueeze negative', op: 'unsqueeze', inputs: [f([3, 2])], args: [-1] });
  add({ name: 'expand', op: 'expand', inputs: [f([3, 1])], args: [[2, 3, 4]] });
  add({ name: 'expand -1', op: 'expand', inputs: [f([3, 1])], args: [[-1, 5]] });
  add({ name: 'flatten', op: 'flatten', inputs: [f([2, 3, 4])] });
  add({ name: 'flatten range', op: 'flatten', inputs: [f([2, 3, 4, 2])], args: [1, 2] });
  add({
    name: 'contiguous of transpose',
    py: 'x0.transpose(0, 1).contiguous()',
    js: ([x]) => x!.transpose(0, 1).contiguous(),
    inputs: [f([3, 4])],
  });
  add({
    name: 'view after contiguous',
    py: 'x0.t().contiguous().view(-1)',
    js: ([x]) => x!.t().contiguous().view([-1]),
    inputs: [f([3, 4])],
  });
  add({ name: 'repeat', op: 'repeat', inputs: [f([2, 3])], args: [[2, 1, 2]] });
  add({ name: 'cat', op: 'cat', call: 'torch', inputs: [f([2, 3]), f([4, 3])], args: [[t(0), t(1)]] });
  add({ name: 'cat dim 1', op: 'cat', call: 'torch', inputs: [f([2, 3]), f([2, 1]), f([2, 2])], args: [[t(0), t(1), t(2)], 1] });
  add({ name: 'cat negative dim', op: 'cat', call: 'torch', inputs: [f([2, 2, 3]), f([2, 2, 1])], args: [[t(0), t(1)], -1] });
  add({ name: 'cat int promotes', op: 'cat', call: 'torch', inputs: [ints([2], 0, 5), f([3], { grad: false })], args: [[t(0), t(1)]] });
  add({ name: 'stack', op: 'stack', call: 'torch', inputs: [f([2, 3]), f([2, 3])], args: [[t(0), t(1)]] });
  add({ name: 'stack dim -1', op: 'stack', call: 'torch', inputs: [f([2, 3]), f([2, 3]), f([2, 3])], args: [[t(0), t(1), t(2)], -1] });
  add({ name: 'split size', op: 'split', inputs: [f([5, 3])], args: [2] });
  add({ name: 'split sizes dim', op: 'split', inputs: [f([2, 6])], args: [[1, 2, 3], 1] });
  add({ name: 'chunk', op: 'chunk', inputs: [f([7, 2])], args: [3] });
  add({ name: 'chunk dim', op: 'chunk', inputs: [f([2, 6])], args: [2, 1] });
});

// ---------------------------------------------------------------- indexing
group('indexing', () => {
  add({ name: 'select', op: 'select', inputs: [f([3, 4])], args: [1, 2] });
  add({ name: 'select negative index', op: 'select', inputs: [f([3, 4])], args: [0, -1] });
  add({ name: 'narrow', op: 'narrow', inputs: [f([3, 5])], args: [1, 1, 3] });
  add({ name: 'slice step', py: 'x0[:, 0:5:2]', js: ([x]) => x!.slice(1, 0, 5, 2), inputs: [f([3, 6])] });
  add({ name: 'slice negative start', py: 'x0[-2:]', js: ([x]) => x!.slice(0, -2), inputs: [f([5, 2])] });
  add({ name: 'slice end only', py: 'x0[:, :3]', js: ([x]) => x!.slice(1, undefined, 3), inputs: [f([2, 5])] });
  add({ name: 'indexSelect', op: 'indexSelect', inputs: [f([4, 3]), ints([5], 0, 4)], args: [0, t(1)] });
  add({ name: 'indexSelect dim 1', op: 'indexSelect', inputs: [f([2, 5]), ints([3], 0, 5)], args: [1, t(1)] });
  add({ name: 'gather', op: 'gather', inputs: [f([3, 4]), ints([3, 2], 0, 4)], args: [1, t(1)] });
  add({ name: 'gather dim 0', op: 'gather', inputs: [f([3, 4]), ints([2, 4], 0, 3)], args: [0, t(1)] });
  // scatter: distinct indices per row, so the result does not depend on write order.
  add({
    name: 'scatter tensor',
    op: 'scatter',
    inputs: [f([2, 4]), { data: [3, 0, 1, 2], shape: [2, 2], dtype: 'int64' }, f([2, 2])],
    args: [1, t(1), t(2)],
  });
  add({
    name: 'scatter scalar',
    op: 'scatter',
    inputs: [f([2, 4]), { data: [3, 0, 1, 2], shape: [2, 2], dtype: 'int64' }],
    args: [1, t(1), 0.5],
  });
  add({ name: 'scatterAdd', op: 'scatterAdd', inputs: [f([2, 4]), ints([2, 3], 0, 4), f([2, 3])], args: [1, t(1), t(2)] });
  add({ name: 'maskedFill scalar', op: 'maskedFill', inputs: [f([2, 3]), bools([2, 3])], args: [t(1), -1e9] });
  add({ name: 'maskedFill broadcast mask', op: 'maskedFill', inputs: [f([2, 3]), bools([3])], args: [t(1), 0] });
  add({
    name: 'maskedFill -inf then softmax',
    py: 'x0.masked_fill(x1, float("-inf")).softmax(-1)',
    js: ([x, m]) => x!.maskedFill(m!, -Infinity).softmax(-1),
    inputs: [
      f([3, 4]),
      { data: [false, true, false, true, false, false, true, false, true, true, true, false], shape: [3, 4], dtype: 'bool' },
    ],
  });
  add({
    name: 'maskedFill 0-d tensor value',
    op: 'maskedFill',
    inputs: [f([2, 3]), bools([2, 3]), f([], { grad: false })],
    args: [t(1), t(2)],
  });
  add({ name: 'topk', op: 'topk', inputs: [f([3, 6])], args: [2] });
  add({ name: 'topk smallest dim 0', op: 'topk', inputs: [f([5, 2])], args: [3, 0, false] });
  add({ name: 'sort', op: 'sort', inputs: [f([2, 5])] });
  add({ name: 'sort descending', op: 'sort', inputs: [f([2, 5])], args: [0, true] });
  add({ name: 'clamp', op: 'clamp', inputs: [f([8])], args: [-0.5, 0.75] });
  add({ name: 'clamp min', op: 'clamp', inputs: [f([8])], args: [0] });
  add({ name: 'clamp max', op: 'clamp', inputs: [f([8])], kwargs: { max: 0.25 }, js: ([x]) => x!.clamp(undefined, 0.25) });
  add({ name: 'clamp int', op: 'clamp', inputs: [ints([8], -9, 9)], args: [-3, 3] });
  add({ name: 'triu', op: 'triu', inputs: [f([4, 4])] });
  add({ name: 'triu diagonal', op: 'triu', inputs: [f([3, 5])], args: [1] });
  add({ name: 'tril', op: 'tril', inputs: [f([4, 4])] });
  add({ name: 'tril negative diagonal batched', op: 'tril', inputs: [f([2, 3, 3])], args: [-1] });
  add({ name: 'causal mask', py: 'torch.ones(4, 4).triu(1).bool()', js: () => mt.ones([4, 4]).triu(1).bool() });
});

// ---------------------------------------------------------------- neural-network functions
group('nn functions', () => {
  add({ name: 'softmax', op: 'softmax', inputs: [f([3, 5])], args: [-1] });
  add({ name: 'softmax dim 0', op: 'softmax', inputs: [f([3, 5])], args: [0] });
  add({ name: 'softmax large logits', op: 'softmax', inputs: [f([2, 4], { lo: 50, hi: 90 })], args: [1] });
  add({ name: 'logSoftmax', op: 'logSoftmax', inputs: [f([3, 5])], args: [-1] });
  add({ name: 'logSoftmax 3d', op: 'logSoftmax', inputs: [f([2, 3, 4])], args: [1] });
  add({ name: 'softmax F', op: 'softmax', call: 'F', inputs: [f([2, 3])], args: [t(0), 1] });
  add({ name: 'logSoftmax F', op: 'logSoftmax', call: 'F', inputs: [f([2, 3])], args: [t(0), 1] });
  add({ name: 'layerNorm affine', op: 'layerNorm', call: 'F', inputs: [f([2, 3, 8]), f([8]), f([8])], args: [t(0), [8], t(1), t(2)] });
  add({ name: 'layerNorm plain', op: 'layerNorm', call: 'F', inputs: [f([4, 6])], args: [t(0), [6]] });
  add({
    name: 'layerNorm two dims eps',
    op: 'layerNorm',
    call: 'F',
    inputs: [f([2, 3, 4]), f([3, 4]), f([3, 4])],
    args: [t(0), [3, 4], t(1), t(2), 1e-3],
  });
  add({
    name: 'dropout eval is identity',
    py: 'F.dropout(x0, 0.5, False)',
    js: ([x]) => mt.nn.functional.dropout(x!, { p: 0.5, training: false }),
    inputs: [f([3, 4])],
  });
  add({ name: 'dropout p=0 is identity', py: 'F.dropout(x0, 0.0, True)', js: ([x]) => x!.dropout(0, true), inputs: [f([3, 4])] });
  add({ name: 'dropout method eval', py: 'F.dropout(x0, 0.9, False)', js: ([x]) => x!.dropout(0.9, false), inputs: [f([5])] });
  add({ name: 'embedding', op: 'embedding', call: 'F', inputs: [ints([2, 3], 0, 5), f([5, 4])], args: [t(0), t(1)] });
  add({
    name: 'embedding repeated ids',
    op: 'embedding',
    call: 'F',
    inputs: [{ data: [1, 1, 3, 1], shape: [4], dtype: 'int64' }, f([5, 3])],
    args: [t(0), t(1)],
  });
  add({
    name: 'embedding paddingIdx',
    op: 'embedding',
    call: 'F',
    inputs: [{ data: [0, 2, 0, 1], shape: [2, 2], dtype: 'int64' }, f([4, 3])],
    args: [t(0), t(1)],
    kwargs: { paddingIdx: 0 },
  });
  add({ name: 'linear', op: 'linear', call: 'F', inputs: [f([2, 5, 4]), f([3, 4]), f([3])], args: [t(0), t(1), t(2)] });
  add({ name: 'linear no bias', op: 'linear', call: 'F', inputs: [f([6, 4]), f([2, 4])], args: [t(0), t(1)] });
  add({ name: 'linear 1-d input', op: 'linear', call: 'F', inputs: [f([4]), f([3, 4]), f([3])], args: [t(0), t(1), t(2)] });
});

// ---------------------------------------------------------------- losses
group('losses', () => {
  const logits = () => f([6, 5]);
  const target = () => ints([6], 0, 5);
  add({ name: 'crossEntropy', op: 'crossEntropy', call: 'F', inputs: [logits(), target()], args: [t(0), t(1)] });
  add({
    name: 'crossEntropy sum',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), target()],
    args: [t(0), t(1)],
    kwargs: { reduction: 'sum' },
  });
  add({
    name: 'crossEntropy none',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), target()],
    args: [t(0), t(1)],
    kwargs: { reduction: 'none' },
  });
  add({
    name: 'crossEntropy default ignore -100',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), { data: [1, -100, 4, 0, -100, 2], shape: [6], dtype: 'int64' }],
    args: [t(0), t(1)],
  });
  add({
    name: 'crossEntropy ignoreIndex',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), { data: [1, 2, 4, 2, 3, 0], shape: [6], dtype: 'int64' }],
    args: [t(0), t(1)],
    kwargs: { ignoreIndex: 2 },
  });
  add({
    name: 'crossEntropy labelSmoothing',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), target()],
    args: [t(0), t(1)],
    kwargs: { labelSmoothing: 0.1 },
  });
  add({
    name: 'crossEntropy labelSmoothing + ignoreIndex',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), { data: [1, 2, 4, 2, 3, 0], shape: [6], dtype: 'int64' }],
    args: [t(0), t(1)],
    kwargs: { labelSmoothing: 0.2, ignoreIndex: 2 },
  });
  add({
    name: 'crossEntropy weight',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), target(), f([5], { lo: 0.1, hi: 2, grad: false })],
    args: [t(0), t(1)],
    kwargs: { weight: t(2) },
  });
  add({
    name: 'crossEntropy weight + labelSmoothing + ignoreIndex',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), { data: [1, 2, 4, 2, 3, 0], shape: [6], dtype: 'int64' }, f([5], { lo: 0.1, hi: 2, grad: false })],
    args: [t(0), t(1)],
    kwargs: { weight: t(2), labelSmoothing: 0.15, ignoreIndex: 2 },
  });
  add({
    name: 'crossEntropy sequence (N, C, L)',
    op: 'crossEntropy',
    call: 'F',
    inputs: [f([2, 5, 3]), ints([2, 3], 0, 5)],
    args: [t(0), t(1)],
  });
  add({
    name: 'crossEntropy probabilities',
    op: 'crossEntropy',
    call: 'F',
    inputs: [logits(), f([6, 5], { lo: 0, hi: 1, grad: false })],
    args: [t(0), t(1)],
  });
  add({
    name: 'crossEntropy float64',
    op: 'crossEntropy',
    call: 'F',
    inputs: [f([4, 3], { dtype: 'float64' }), ints([4], 0, 3)],
    args: [t(0), t(1)],
  });
  add({ name: 'nllLoss', op: 'nllLoss', call: 'F', inputs: [f([6, 5], { lo: -4, hi: 0 }), target()], args: [t(0), t(1)] });
  add({
    name: 'nllLoss weight ignoreIndex',
    op: 'nllLoss',
    call: 'F',
    inputs: [
      f([6, 5], { lo: -4, hi: 0 }),
      { data: [1, 2, 4, 2, 3, 0], shape: [6], dtype: 'int64' },
      f([5], { lo: 0.1, hi: 2, grad: false }),
    ],
    args: [t(0), t(1)],
    kwargs: { weight: t(2), ignoreIndex: 2 },
  });
  add({
    name: 'nllLoss of logSoftmax sum',
    py: 'F.nll_loss(x0.log_softmax(1), x1, reduction="sum")',
    js: ([x, y]) => mt.nn.functional.nllLoss(x!.logSoftmax(1), y!, { reduction: 'sum' }),
    inputs: [logits(), target()],
  });
  add({ name: 'mseLoss', op: 'mseLoss', call: 'F', inputs: [f([3, 4]), f([3, 4])], args: [t(0), t(1)] });
  add({
    name: 'mseLoss sum',
    op: 'mseLoss',
    call: 'F',
    inputs: [f([3, 4]), f([3, 4], { grad: false })],
    args: [t(0), t(1)],
    kwargs: { reduction: 'sum' },
  });
  add({ name: 'mseLoss none', op: 'mseLoss', call: 'F', inputs: [f([5]), f([5])], args: [t(0), t(1)], kwargs: { reduction: 'none' } });
  add({
    name: 'bceWithLogits',
    op: 'binaryCrossEntropyWithLogits',
    call: 'F',
    inputs: [f([4, 3]), f([4, 3], { lo: 0, hi: 1, grad: false })],
    args: [t(0), t(1)],
  });
  add({
    name: 'bceWithLogits weight posWeight',
    op: 'binaryCrossEntropyWithLogits',
    call: 'F',
    inputs: [
      f([4, 3]),
      f([4, 3], { lo: 0, hi: 1, grad: false }),
      f([4, 1], { lo: 0.1, hi: 2, grad: false }),
      f([3], { lo: 0.5, hi: 3, grad: false }),
    ],
    args: [t(0), t(1)],
    kwargs: { weight: t(2), posWeight: t(3) },
  });
  add({
    name: 'bceWithLogits none',
    op: 'binaryCrossEntropyWithLogits',
    call: 'F',
    inputs: [f([5], { lo: -20, hi: 20 }), f([5], { lo: 0, hi: 1 })],
    args: [t(0), t(1)],
    kwargs: { reduction: 'none' },
  });
});

// ---------------------------------------------------------------- autograd
group('autograd', () => {
  add({
    name: 'backward with gradient',
    pyExec: 'y = x0 * x1\ny.backward(x2)\nresult = (x0.grad.clone(), x1.grad.clone())',
    js: ([a, b, g]) => {
      a!.mul(b!).backward(g!);
      return [a!.grad!.clone(), b!.grad!.clone()];
    },
    inputs: [f([3]), f([3]), f([3], { grad: false })],
  });
  add({
    name: 'backward retainGraph accumulates',
    pyExec: 'y = (x0.exp() * x0).sum()\ny.backward(retain_graph=True)\ny.backward()\nresult = x0.grad.clone()',
    js: ([a]) => {
      const y = a!.exp().mul(a!).sum();
      y.backward(undefined, { retainGraph: true });
      y.backward();
      return a!.grad!.clone();
    },
    inputs: [f([4])],
  });
  add({
    name: 'grad accumulates over two graphs',
    pyExec: '(x0 * 2).sum().backward()\n(x0 * x0).sum().backward()\nresult = x0.grad.clone()',
    js: ([a]) => {
      a!.mul(2).sum().backward();
      a!.mul(a!).sum().backward();
      return a!.grad!.clone();
    },
    inputs: [f([3])],
  });
  add({ name: 'detach stops gradient', py: 'x0.detach() * x0', js: ([a]) => a!.detach().mul(a!), inputs: [f([4])] });
  add({
    name: 'noGrad output has no grad',
    pyExec: 'with torch.no_grad():\n    result = x0 * 2 + 1',
    js: ([a]) => mt.noGrad(() => a!.mul(2).add(1)),
    inputs: [f([3])],
  });
  add({
    name: 'chain through many ops',
    py: '(x0.matmul(x1).tanh() + x2).softmax(-1).log().mean(0)',
    js: ([a, b, c]) => a!.matmul(b!).tanh().add(c!).softmax(-1).log().mean(0),
    inputs: [f([3, 4]), f([4, 5]), f([5])],
  });
  add({
    name: 'attention-like',
    py: '((x0 @ x1.transpose(-1, -2)) / 2.0).masked_fill(torch.ones(3, 3).triu(1).bool(), float("-inf")).softmax(-1) @ x2',
    js: ([q, k, v]) =>
      q!
        .matmul(k!.transpose(-1, -2))
        .div(2)
        .maskedFill(mt.ones([3, 3]).triu(1).bool(), -Infinity)
        .softmax(-1)
        .matmul(v!),
    inputs: [f([2, 3, 4]), f([2, 3, 4]), f([2, 3, 4])],
  });
  add({ name: 'requiresGrad on non-leaf result', py: 'x0 * x1', js: ([a, b]) => a!.mul(b!), inputs: [f([3]), f([3], { grad: false })] });
});

let reference: { torch: string; results: Record<string, CaseResult> };
beforeAll(() => {
  reference = runReference(cases);
});

for (const [name, names] of groups) {
  describe(name, () => {
    for (const caseName of names) {
      const c = cases.find((x) => x.name === caseName)!;
      it(caseName, () => checkCase(c, reference.results[caseName]));
    }
  });
}
// ---------------------------------------------------------------- data out (hand-derivable)
describe('data out', () => {
  const source = [0, 1, 2, 3, 4, 5];
  const expectedTypes: Record<DType, string> = {
    float32: 'Float32Array',
    float64: 'Float64Array',
    float16: 'Float32Array',
    bfloat16: 'Float32Array',
    int32: 'Int32Array',
    int64: 'BigInt64Array',
    uint8: 'Uint8Array',
    bool: 'Uint8Array',
  };
  for (const dtype of ALL) {
    it(`dataSync/data/toArray/item for ${dtype}`, async () => {
      const x = mt.tensor(Float64Array.from(source), [2, 3], { dtype });
      expect(x.dtype).toBe(dtype);
      const values = dtype === 'bool' ? source.map((v) => (v !== 0 ? 1 : 0)) : source;
      const sync = x.dataSync();
      expect(sync.constructor.name).toBe(expectedTypes[dtype]);
      expect(Array.from(sync as ArrayLike<number | bigint>, Number)).toEqual(values);
      const asyncData = await x.data();
      expect(asyncData.constructor.name).toBe(expectedTypes[dtype]);
      expect(Array.from(asyncData as ArrayLike<number | bigint>, Number)).toEqual(values);
      const nested = x.toArray();
      const asJs = dtype === 'bool' ? values.map((v) => v !== 0) : values;
      expect(nested).toEqual([asJs.slice(0, 3), asJs.slice(3)]);
      const one = x.select(0, 1).select(0, 2);
      expect(one.item()).toBe(dtype === 'bool' ? true : 5);
      expect(one.toArray()).toBe(dtype === 'bool' ? true : 5);
      x.dispose();
      one.dispose();
    });
  }
  it('item of a float32 is its float32 value', () => {
    const x = mt.tensor([0.1]);
    expect(x.item()).toBe(Math.fround(0.1));
    expect(mt.tensor(new Float64Array([0.1])).item()).toBe(0.1);
  });
  it('dataSync of a non-contiguous view is in logical order', () => {
    const x = mt.arange(6).reshape([2, 3]).t();
    expect(Array.from(x.dataSync() as BigInt64Array, Number)).toEqual([0, 3, 1, 4, 2, 5]);
  });
  it('empty tensors', () => {
    const x = mt.zeros([0, 3]);
    expect(x.shape).toEqual([0, 3]);
    expect(x.dataSync().length).toBe(0);
    expect(x.toArray()).toEqual([]);
  });
  for (const [name, make] of [
    ['Float32Array', () => new Float32Array([1, 2, 3])],
    ['Float64Array', () => new Float64Array([1, 2, 3])],
    ['Int32Array', () => new Int32Array([1, 2, 3])],
    ['BigInt64Array', () => new BigInt64Array([1n, 2n, 3n])],
    ['Uint8Array', () => new Uint8Array([1, 2, 3])],
  ] as const) {
    it(`typed-array input is copied (${name})`, () => {
      const buffer = make();
      const x = mt.tensor(buffer);
      (buffer as unknown as { fill(v: number | bigint): void }).fill(typeof buffer[0] === 'bigint' ? 9n : 9);
      expect(Array.from(x.dataSync() as ArrayLike<number | bigint>, Number)).toEqual([1, 2, 3]);
      // and the output is a copy too
      const out = x.dataSync() as unknown as { fill(v: number | bigint): void; [i: number]: number | bigint };
      out.fill(typeof out[0] === 'bigint' ? 7n : 7);
      expect(Array.from(x.dataSync() as ArrayLike<number | bigint>, Number)).toEqual([1, 2, 3]);
    });
  }
  it('typed-array input with a byte offset uses only its view', () => {
    const whole = new Float32Array([10, 20, 30, 40, 50]);
    const x = mt.tensor(whole.subarray(1, 4), [3]);
    expect(Array.from(x.dataSync() as Float32Array)).toEqual([20, 30, 40]);
  });
  it('typed arrays infer their dtype', () => {
    expect(mt.tensor(new Float32Array(2)).dtype).toBe('float32');
    expect(mt.tensor(new Float64Array(2)).dtype).toBe('float64');
    expect(mt.tensor(new Int32Array(2)).dtype).toBe('int32');
    expect(mt.tensor(new BigInt64Array(2)).dtype).toBe('int64');
    expect(mt.tensor(new Uint8Array(2)).dtype).toBe('uint8');
  });
  it('requiresGrad, isLeaf, grad and zeroGrad', () => {
    const x = mt.ones([2], { requiresGrad: true });
    expect(x.requiresGrad).toBe(true);
    expect(x.isLeaf).toBe(true);
    expect(x.grad).toBeNull();
    const y = x.mul(3).sum();
    expect(y.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(false);
    y.backward();
    expect(Array.from(x.grad!.dataSync() as Float32Array)).toEqual([3, 3]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    const z = mt.noGrad(() => x.mul(2));
    expect(z.requiresGrad).toBe(false);
    expect(mt.isGradEnabled()).toBe(true);
    expect(x.detach().requiresGrad).toBe(false);
    x.requiresGrad = false;
    expect(x.requiresGrad).toBe(false);
  });
  it('noGrad restores grad mode after a throw', () => {
    expect(() =>
      mt.noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(mt.isGradEnabled()).toBe(true);
  });
});
