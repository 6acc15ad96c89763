/**
 * Every bad-input path of the tensor API: arguments refused in TypeScript name the function and
 * the argument (ERR_INVALID_ARG); libtorch's own checks arrive as TorchError with the short
 * message and no C++ backtrace; nothing crashes the process.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const F = mt.nn.functional;

/** Runs fn, expects a TorchError, and returns it. */
function caught(fn: () => unknown): mt.TorchError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a throw').toBeInstanceOf(mt.TorchError);
  expect(error).toBeInstanceOf(Error);
  const e = error as mt.TorchError;
  expect(e.name).toBe('TorchError');
  expect(typeof e.code).toBe('string');
  return e;
}

/** libtorch's message, without a C++ backtrace or source locations. */
function expectShortMessage(e: mt.TorchError): void {
  expect(e.message).not.toMatch(/Exception raised from/);
  expect(e.message).not.toMatch(/frame #\d+/);
  expect(e.message).not.toMatch(/\.(cpp|h):\d+/);
  expect(e.message.length).toBeLessThan(600);
}

const a = () => mt.ones([2, 3]);
const x = mt.ones([2, 3]);

describe('wrong argument types name the argument (ERR_INVALID_ARG)', () => {
  const cases: [string, () => unknown, string, string][] = [
    // [label, call, function name, argument name]
    ['add string', () => x.add('1' as never), 'add', 'other'],
    ['add alpha', () => x.add(1, '2' as never), 'add', 'alpha'],
    ['sub object', () => x.sub({} as never), 'sub', 'other'],
    ['mul null', () => x.mul(null as never), 'mul', 'other'],
    ['div undefined', () => x.div(undefined as never), 'div', 'other'],
    ['eq array', () => x.eq([1] as never), 'eq', 'other'],
    ['add_ string', () => a().add_('x' as never), 'add_', 'other'],
    ['fill_ string', () => a().fill_('x' as never), 'fill_', 'value'],
    ['copy_ number', () => a().copy_(1 as never), 'copy_', 'source'],
    ['matmul number', () => x.matmul(2 as never), 'matmul', 'other'],
    ['matmul array', () => x.matmul([[1]] as never), 'matmul', 'other'],
    ['bmm string', () => x.bmm('t' as never), 'bmm', 'other'],
    ['sum dim float', () => x.sum(0.5), 'sum', 'dim'],
    ['sum dim string', () => x.sum('0' as never), 'sum', 'dim'],
    ['sum keepdim number', () => x.sum(0, 1 as never), 'sum', 'keepdim'],
    ['sum dtype', () => x.sum(0, false, { dtype: 'float' as never }), 'sum', 'dtype'],
    ['mean dims element', () => x.mean([0, 'a'] as never), 'mean', 'dim[1]'],
    ['max dim', () => x.max('0' as never), 'max', 'dim'],
    ['argmax keepdim', () => x.argmax(0, 'yes' as never), 'argmax', 'keepdim'],
    ['std unbiased', () => x.std(0, 1 as never), 'std', 'unbiased'],
    ['logsumexp dim', () => x.logsumexp(undefined as never), 'logsumexp', 'dim'],
    ['reshape', () => x.reshape('6' as never), 'reshape', 'shape'],
    ['reshape element', () => x.reshape([2, 1.5]), 'reshape', 'shape[1]'],
    ['view', () => x.view(null as never), 'view', 'shape'],
    ['permute', () => x.permute([0, '1'] as never), 'permute', 'dims[1]'],
    ['transpose', () => x.transpose(0, 1.5), 'transpose', 'dim1'],
    ['squeeze', () => x.squeeze('0' as never), 'squeeze', 'dim'],
    ['unsqueeze', () => x.unsqueeze(undefined as never), 'unsqueeze', 'dim'],
    ['expand', () => x.expand(true as never), 'expand', 'shape'],
    ['flatten', () => x.flatten(0.5), 'flatten', 'startDim'],
    ['split', () => x.split('1' as never), 'split', 'splitSize'],
    ['chunk', () => x.chunk(1.5), 'chunk', 'chunks'],
    ['select', () => x.select(0, '1' as never), 'select', 'index'],
    ['narrow', () => x.narrow(0, 0, 0.5), 'narrow', 'length'],
    ['slice', () => x.slice(0, 0, 1, 0.5), 'slice', 'step'],
    ['indexSelect', () => x.indexSelect(0, [0] as never), 'indexSelect', 'index'],
    ['gather', () => x.gather(0, 1 as never), 'gather', 'index'],
    ['scatter', () => x.scatter(0, mt.zeros([1, 1], { dtype: 'int64' }), 'a' as never), 'scatter', 'source'],
    ['maskedFill', () => x.maskedFill(true as never, 1), 'maskedFill', 'mask'],
    ['topk', () => x.topk(1.5), 'topk', 'k'],
    ['clamp', () => x.clamp('0' as never), 'clamp', 'min'],
    ['clamp neither', () => x.clamp(), 'clamp', 'min'],
    ['triu', () => x.triu(0.5), 'triu', 'diagonal'],
    ['softmax', () => (x.softmax as (d?: unknown) => mt.Tensor)(), 'softmax', 'dim'],
    ['logSoftmax', () => x.logSoftmax('1' as never), 'logSoftmax', 'dim'],
    ['gelu', () => x.gelu('fast' as never), 'gelu', 'approximate'],
    ['dropout p type', () => x.dropout('0.1' as never), 'dropout', 'p'],
    ['dropout p range', () => x.dropout(1.5), 'dropout', 'p'],
    ['dropout training', () => x.dropout(0.1, 1 as never), 'dropout', 'training'],
    ['to', () => x.to(3 as never), 'to', 'target'],
    ['to dtype', () => x.to('float8' as never), 'to', 'target'],
    ['to object dtype', () => x.to({ dtype: 'half' as never }), 'to', 'dtype'],
    ['to object device', () => x.to({ device: 'gpu' as never }), 'to', 'device'],
    ['cuda index', () => x.cuda(0.5), 'cuda', 'index'],
    ['backward gradient', () => x.sum().backward([1] as never), 'backward', 'gradient'],
    ['backward retainGraph', () => x.sum().backward(undefined, { retainGraph: 1 as never }), 'backward', 'retainGraph'],
    [
      'requiresGrad setter',
      () => {
        a().requiresGrad = 1 as never;
      },
      'requiresGrad',
      'value',
    ],
    ['size dim', () => x.size(1.5), 'size', 'dim'],
    ['size dim range', () => x.size(3), 'size', 'dim'],
    // creation
    ['zeros shape', () => mt.zeros(3 as never), 'zeros', 'shape'],
    ['zeros negative', () => mt.zeros([2, -1]), 'zeros', 'shape[1]'],
    ['zeros fractional', () => mt.zeros([2.5]), 'zeros', 'shape[0]'],
    ['ones options', () => mt.ones([1], 'float32' as never), 'ones', 'options'],
    ['ones dtype', () => mt.ones([1], { dtype: 'float8' as never }), 'ones', 'dtype'],
    ['ones device', () => mt.ones([1], { device: 'tpu' as never }), 'ones', 'device'],
    ['ones device index', () => mt.ones([1], { device: 'cuda:x' as never }), 'ones', 'device'],
    ['ones requiresGrad', () => mt.ones([1], { requiresGrad: 'yes' as never }), 'ones', 'requiresGrad'],
    ['full value', () => mt.full([1], '1' as never), 'full', 'value'],
    ['rand shape', () => mt.rand(null as never), 'rand', 'shape'],
    ['randn shape element', () => mt.randn([NaN]), 'randn', 'shape[0]'],
    ['randint low', () => mt.randint(0.5, 3, [2]), 'randint', 'low'],
    ['randint high', () => mt.randint(0, 'a' as never, [2]), 'randint', 'high'],
    ['randint empty range', () => mt.randint(5, 5, [2]), 'randint', 'high'],
    ['arange end', () => mt.arange('5' as never), 'arange', 'end'],
    ['arange step', () => mt.arange(0, 5, 0), 'arange', 'step'],
    ['linspace steps', () => mt.linspace(0, 1, 2.5), 'linspace', 'steps'],
    ['linspace negative steps', () => mt.linspace(0, 1, -1), 'linspace', 'steps'],
    ['eye n', () => mt.eye(1.5), 'eye', 'n'],
    ['eye m', () => mt.eye(2, 'a' as never), 'eye', 'm'],
    ['zerosLike input', () => mt.zerosLike([1] as never), 'zerosLike', 'input'],
    ['fullLike value', () => mt.fullLike(x, 'a' as never), 'fullLike', 'value'],
    ['tensor data', () => mt.tensor(['a'] as never), 'tensor', 'data'],
    ['tensor data object', () => mt.tensor([{}] as never), 'tensor', 'data'],
    ['tensor typed shape', () => mt.tensor(new Float32Array(5), [2, 3]), 'tensor', 'shape'],
    ['tensor typed shape type', () => mt.tensor(new Float32Array(2), ['2'] as never), 'tensor', 'shape[0]'],
    ['tensor shape with nested', () => mt.tensor([1, 2], [2] as never), 'tensor', 'shape'],
    ['tensor mixed kinds', () => mt.tensor([1, true] as never), 'tensor', 'data'],
    ['cat tensors', () => mt.cat([] as never), 'cat', 'tensors'],
    ['cat element', () => mt.cat([x, 1] as never), 'cat', 'tensors[1]'],
    ['stack not array', () => mt.stack(x as never), 'stack', 'tensors'],
    ['cat dim', () => mt.cat([x], 0.5), 'cat', 'dim'],
    ['where condition', () => mt.where(1 as never, x, x), 'where', 'condition'],
    ['where input', () => mt.where(x.gt(0), 'a' as never, x), 'where', 'input'],
    ['manualSeed', () => mt.manualSeed(1.5), 'manualSeed', 'seed'],
    ['manualSeed negative', () => mt.manualSeed(-1), 'manualSeed', 'seed'],
    ['setNumThreads', () => mt.setNumThreads(0), 'setNumThreads', 'threads'],
    // nn.functional
    ['crossEntropy input', () => F.crossEntropy(1 as never, x), 'crossEntropy', 'input'],
    ['crossEntropy target', () => F.crossEntropy(x, [0] as never), 'crossEntropy', 'target'],
    ['crossEntropy weight', () => F.crossEntropy(x, x, { weight: [1] as never }), 'crossEntropy', 'weight'],
    ['crossEntropy ignoreIndex', () => F.crossEntropy(x, x, { ignoreIndex: 0.5 }), 'crossEntropy', 'ignoreIndex'],
    ['crossEntropy labelSmoothing', () => F.crossEntropy(x, x, { labelSmoothing: 2 }), 'crossEntropy', 'labelSmoothing'],
    ['crossEntropy reduction', () => F.crossEntropy(x, x, { reduction: 'avg' as never }), 'crossEntropy', 'reduction'],
    ['nllLoss target', () => F.nllLoss(x, 1 as never), 'nllLoss', 'target'],
    ['mseLoss reduction', () => F.mseLoss(x, x, { reduction: 'mean ' as never }), 'mseLoss', 'reduction'],
    ['bce posWeight', () => F.binaryCrossEntropyWithLogits(x, x, { posWeight: 2 as never }), 'binaryCrossEntropyWithLogits', 'posWeight'],
    ['embedding weight', () => F.embedding(x, 'w' as never), 'embedding', 'weight'],
    ['embedding paddingIdx', () => F.embedding(x, x, { paddingIdx: 0.5 }), 'embedding', 'paddingIdx'],
    ['linear bias', () => F.linear(x, x, 1 as never), 'linear', 'bias'],
    ['layerNorm shape', () => F.layerNorm(x, 3 as never), 'layerNorm', 'normalizedShape'],
    ['layerNorm eps', () => F.layerNorm(x, [3], undefined, undefined, '1e-5' as never), 'layerNorm', 'eps'],
    ['softmax input', () => F.softmax(null as never, 0), 'softmax', 'input'],
    ['dropout training', () => F.dropout(x, { training: 'no' as never }), 'dropout', 'training'],
  ];
  for (const [label, fn, where, arg] of cases) {
    it(label, () => {
      const e = caught(fn);
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message.startsWith(`${where}: `), e.message).toBe(true);
      expect(e.message).toContain(`'${arg}'`);
    });
  }
});

describe('shapes and nested arrays', () => {
  it('non-rectangular nested arrays are refused', () => {
    for (const data of [
      [[1, 2], [3]],
      [[1], 2],
      [
        [[1, 2]],
        [
          [3, 4],
          [5, 6],
        ],
      ],
      [1, [2]],
    ]) {
      const e = caught(() => mt.tensor(data as never));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toMatch(/^tensor: .*rectangular/);
    }
  });
  it('unsupported typed arrays are refused by the native conversion', () => {
    const e = caught(() => mt.tensor(new Uint16Array(2) as never));
    expect(e.code).toBe('ERR_INVALID_ARG');
    expect(e.message).toMatch(/Float32Array/);
  });
  it('reshape to a size that does not fit', () => {
    const e = caught(() => x.reshape([4]));
    expect(e.message).toContain("shape '[4]' is invalid for input of size 6");
    expectShortMessage(e);
  });
  it('view of a non-contiguous tensor', () => {
    const e = caught(() => x.t().view([6]));
    expect(e.code).toBe('ERR_TORCH');
    expect(e.message).toMatch(/view size is not compatible/);
    expectShortMessage(e);
  });
  it('broadcast mismatch', () => {
    const e = caught(() => x.add(mt.ones([4])));
    expect(e.code).toBe('ERR_TORCH');
    expect(e.message).toMatch(/size of tensor a \(3\) must match the size of tensor b \(4\)/);
    expectShortMessage(e);
  });
  it('cat with mismatched sizes', () => {
    const e = caught(() => mt.cat([x, mt.ones([2, 4])]));
    expect(e.message).toMatch(/Sizes of tensors must match/);
    expectShortMessage(e);
  });
  it('expand to an incompatible size', () => {
    const e = caught(() => x.expand([4, 3]));
    expect(e.message).toMatch(/expanded size/);
    expectShortMessage(e);
  });
  it('dimension out of range', () => {
    for (const fn of [() => x.transpose(0, 5), () => x.sum(3), () => x.softmax(2), () => x.squeeze(-3), () => x.unsqueeze(4)]) {
      const e = caught(fn);
      expect(e.code).toBe('ERR_TORCH_INDEX');
      expect(e.message).toMatch(/Dimension out of range/);
      expectShortMessage(e);
    }
  });
  it('layerNorm with the wrong normalized shape', () => {
    const e = caught(() => F.layerNorm(x, [4]));
    expect(e.message).toMatch(/normalized_shape/);
    expectShortMessage(e);
  });
});

describe('matmul shape mismatch', () => {
  it('matmul', () => {
    const e = caught(() => mt.ones([2, 3]).matmul(mt.ones([4, 5])));
    expect(e.code).toBe('ERR_TORCH');
    expect(e.message).toBe('mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)');
    expectShortMessage(e);
  });
  it('batched matmul', () => {
    const e = caught(() => mt.ones([2, 2, 3]).matmul(mt.ones([2, 4, 5])));
    expect(e.code).toBe('ERR_TORCH');
    expectShortMessage(e);
  });
  it('bmm', () => {
    const e = caught(() => mt.ones([2, 2, 3]).bmm(mt.ones([2, 4, 5])));
    expect(e.code).toBe('ERR_TORCH');
    expectShortMessage(e);
  });
  it('bmm of 2-d tensors', () => {
    const e = caught(() => mt.ones([2, 3]).bmm(mt.ones([3, 2])));
    expectShortMessage(e);
  });
  it('linear', () => {
    const e = caught(() => F.linear(mt.ones([2, 3]), mt.ones([4, 5])));
    expect(e.message).toMatch(/cannot be multiplied/);
    expectShortMessage(e);
  });
  it('int and float operands', () => {
    const e = caught(() => mt.ones([2, 2]).matmul(mt.ones([2, 2], { dtype: 'int64' })));
    expectShortMessage(e);
  });
});

describe('index out of range', () => {
  it('select', () => {
    const e = caught(() => x.select(1, 5));
    expect(e.code).toBe('ERR_TORCH_INDEX');
    expect(e.message).toMatch(/index 5 out of range/);
    expectShortMessage(e);
  });
  it('select with a negative index', () => {
    const e = caught(() => x.select(0, -3));
    expect(e.code).toBe('ERR_TORCH_INDEX');
  });
  it('gather', () => {
    const e = caught(() => x.gather(1, mt.tensor([[5]])));
    expect(e.message).toMatch(/out of bounds/);
    expectShortMessage(e);
  });
  it('gather with a float index', () => {
    const e = caught(() => x.gather(1, mt.tensor([[0.5]])));
    expectShortMessage(e);
  });
  it('embedding', () => {
    const e = caught(() => F.embedding(mt.tensor([7]), mt.ones([3, 2])));
    expect(e.code).toBe('ERR_TORCH_INDEX');
    expect(e.message).toMatch(/index out of range/);
    expectShortMessage(e);
  });
  it('embedding with a negative id', () => {
    const e = caught(() => F.embedding(mt.tensor([-1]), mt.ones([3, 2])));
    expectShortMessage(e);
  });
  it('indexSelect', () => {
    const e = caught(() => x.indexSelect(0, mt.tensor([2])));
    expect(e.code).toBe('ERR_TORCH_INDEX');
    expectShortMessage(e);
  });
  it('narrow past the end', () => {
    const e = caught(() => x.narrow(1, 2, 5));
    expectShortMessage(e);
  });
  it('crossEntropy target out of range', () => {
    const e = caught(() => F.crossEntropy(mt.ones([2, 3]), mt.tensor([0, 5])));
    expect(e.code).toBe('ERR_TORCH_INDEX');
    expect(e.message).toMatch(/Target 5 is out of bounds/);
  });
  it('scatter index out of range', () => {
    const e = caught(() => x.scatter(1, mt.tensor([[9]]), 1));
    expectShortMessage(e);
  });
});

describe('use after dispose (ERR_DISPOSED)', () => {
  const disposed = () => {
    const t = mt.ones([2, 2]);
    t.dispose();
    return t;
  };
  const uses: [string, (t: mt.Tensor) => unknown][] = [
    ['shape', (t) => t.shape],
    ['dtype', (t) => t.dtype],
    ['device', (t) => t.device],
    ['numel', (t) => t.numel],
    ['add', (t) => t.add(1)],
    ['exp', (t) => t.exp()],
    ['matmul', (t) => t.matmul(x)],
    ['sum', (t) => t.sum()],
    ['dataSync', (t) => t.dataSync()],
    ['item', (t) => t.item()],
    ['toArray', (t) => t.toArray()],
    ['as operand', (t) => x.add(t)],
    ['as matmul operand', (t) => mt.ones([2, 2]).matmul(t)],
    ['in cat', (t) => mt.cat([t])],
    ['backward', (t) => t.backward()],
    ['grad', (t) => t.grad],
    ['requiresGrad', (t) => t.requiresGrad],
    ['to', (t) => t.to('float64')],
    ['reshape', (t) => t.reshape([4])],
    ['zerosLike', (t) => mt.zerosLike(t)],
    ['crossEntropy', (t) => F.crossEntropy(t, mt.tensor([0, 1]))],
  ];
  for (const [name, use] of uses) {
    it(name, () => {
      const e = caught(() => use(disposed()));
      expect(e.code).toBe('ERR_DISPOSED');
      expect(e.message).toMatch(/disposed/);
    });
  }
  it('data() rejects', async () => {
    const t = disposed();
    await expect((async () => t.data())()).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
  });
  it('dispose twice is harmless, isDisposed and toString report it', () => {
    const t = disposed();
    expect(() => t.dispose()).not.toThrow();
    expect(t.isDisposed).toBe(true);
    expect(String(t)).toBe('Tensor(disposed)');
  });
  it('views keep their storage after the base is disposed', () => {
    const base = mt.arange(4).float();
    const view = base.reshape([2, 2]);
    base.dispose();
    expect(view.toArray()).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});

describe('autograd errors', () => {
  it('backward on a non-scalar without gradient', () => {
    const e = caught(() => mt.ones([3], { requiresGrad: true }).mul(2).backward());
    expect(e.code).toBe('ERR_TORCH');
    expect(e.message).toMatch(/grad can be implicitly created only for scalar outputs/);
    expectShortMessage(e);
  });
  it('backward on a tensor that does not require grad', () => {
    const e = caught(() => mt.ones([3]).sum().backward());
    expect(e.message).toMatch(/does not require grad/);
    expectShortMessage(e);
  });
  it('backward with a gradient of the wrong shape', () => {
    const e = caught(() =>
      mt
        .ones([3], { requiresGrad: true })
        .mul(2)
        .backward(mt.ones([4])),
    );
    expect(e.message).toMatch(/invalid gradient/);
    expectShortMessage(e);
  });
  it('backward twice without retainGraph', () => {
    const x1 = mt.ones([3], { requiresGrad: true });
    const y = x1.exp().sum();
    y.backward();
    const e = caught(() => y.backward());
    expect(e.message).toMatch(/backward through the graph a second time/);
    expectShortMessage(e);
  });
  it('in-place on a leaf that requires grad', () => {
    for (const fn of [
      (t: mt.Tensor) => t.add_(1),
      (t: mt.Tensor) => t.mul_(2),
      (t: mt.Tensor) => t.fill_(0),
      (t: mt.Tensor) => t.clamp_(0, 1),
    ]) {
      const e = caught(() => fn(mt.ones([3], { requiresGrad: true })));
      expect(e.code).toBe('ERR_TORCH');
      expect(e.message).toMatch(/leaf Variable that requires grad is being used in an in-place operation/);
      expectShortMessage(e);
    }
  });
  it('in-place on a leaf is allowed under noGrad (as torch.no_grad)', () => {
    const w = mt.ones([3], { requiresGrad: true });
    mt.noGrad(() => w.sub_(0.5));
    expect(Array.from(w.dataSync() as Float32Array)).toEqual([0.5, 0.5, 0.5]);
  });
  it('requiresGrad on an integer tensor', () => {
    const e = caught(() => mt.ones([2], { dtype: 'int64', requiresGrad: true }));
    expect(e.message).toMatch(/floating point/);
  });
});

describe('other libtorch errors', () => {
  it('item() on many elements', () => {
    const e = caught(() => mt.ones([3]).item());
    expect(e.code).toBe('ERR_TORCH');
    expect(e.message).toMatch(/a Tensor with 3 elements cannot be converted to Scalar/);
    expectShortMessage(e);
  });
  it('item() on no elements', () => {
    const e = caught(() => mt.zeros([0]).item());
    expectShortMessage(e);
  });
  it('bool subtraction', () => {
    const e = caught(() => mt.tensor([true]).sub(mt.tensor([true])));
    expect(e.message).toMatch(/Subtraction/);
  });
  it('an op missing for a dtype', () => {
    const e = caught(() => mt.ones([2], { dtype: 'bool' }).softmax(0));
    expectShortMessage(e);
  });
  it('nothing crashes for odd but valid calls', () => {
    expect(mt.zeros([0, 3]).sum().item()).toBe(0);
    expect(mt.ones([]).shape).toEqual([]);
    expect(mt.zeros([0]).softmax(0).shape).toEqual([0]);
  });
});

describe('CUDA on a machine without it', () => {
  const skip = mt.cuda.isAvailable();
  it.skipIf(skip)('creating on cuda gives a clear error (no crash, no dispatcher dump)', () => {
    for (const fn of [
      () => mt.ones([3], { device: 'cuda' }),
      () => mt.zeros([3], { device: 'cuda:0' }),
      () => mt.randn([2], { device: 'cuda' }),
      () => mt.tensor(new Float32Array(2), [2], { device: 'cuda' }),
      () => x.to('cuda'),
      () => x.cuda(),
      () => x.to({ device: 'cuda:1' }),
      () => mt.zerosLike(x, { device: 'cuda' }),
    ]) {
      const e = caught(fn);
      expect(e.message).toMatch(/cuda(:\d)?' is not available/);
      expect(e.message.length).toBeLessThan(200);
      expectShortMessage(e);
    }
    expect(mt.cuda.isAvailable()).toBe(false);
    expect(mt.cuda.deviceCount()).toBe(0);
  });
  it.skipIf(!skip)('a CUDA index past the device count is refused', () => {
    const e = caught(() => mt.ones([1], { device: `cuda:${mt.cuda.deviceCount()}` as mt.Device }));
    expect(e.message).toMatch(/does not exist/);
  });
});

describe('tidy misuse', () => {
  it('async fn is refused and its tensors are freed', () => {
    const before = mt.memory().tensors;
    const e = caught(() => mt.tidy((() => Promise.resolve(mt.ones([2]))) as never));
    expect(e.code).toBe('ERR_INVALID_ARG');
    expect(e.message).toMatch(/^tidy: /);
    expect(mt.memory().tensors).toBe(before);
  });
  it('a throw inside tidy frees its tensors and rethrows', () => {
    const before = mt.memory().tensors;
    expect(() =>
      mt.tidy(() => {
        mt.ones([2]);
        mt.ones([3]).matmul(mt.ones([4]));
      }),
    ).toThrow(mt.TorchError);
    expect(mt.memory().tensors).toBe(before);
  });
});

describe('handles', () => {
  it('values that are not tensor handles are refused by the native layer, not crashed on', async () => {
    const { native } = await import('../../lib/native.ts');
    // Handles are not numbers: no number (a small one, or one shaped like a handle) is taken for a tensor.
    for (const bad of [{}, [], 1, 0, 2 ** 40 + 3, -1, 'x', null, undefined, mt.ones([1])]) {
      const e = caught(() => native.ops.add(bad as never, 1));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toMatch(/argument 0 must be a tensor/);
      expect(caught(() => native.shape(bad as never)).code).toBe('ERR_INVALID_ARG');
      expect(caught(() => native.dispose(bad as never)).code).toBe('ERR_INVALID_ARG');
    }
  });
  it('a handle-shaped number that was never issued is refused with ERR_INVALID_ARG', async () => {
    const { native } = await import('../../lib/native.ts');
    const e = caught(() => native.ops.add((2 ** 53 - 1) as never, 1));
    expect(e.code).toBe('ERR_INVALID_ARG');
    expect(e.message).toMatch(/not a tensor handle/);
  });
  it('scalars in the number range of handles stay scalars (lib passes them as BigInt)', () => {
    const t = mt.ones([2], { dtype: 'float64' });
    mt.tidy(() => {
      for (const big of [2 ** 52, 2 ** 52 + 2, t.handle as unknown as number]) {
        expect(Array.from(t.mul(big).dataSync() as Float64Array)).toEqual([big, big]);
        expect(Array.from(t.add(big).sub(1).dataSync() as Float64Array)).toEqual([big, big]);
      }
    });
    t.dispose();
  });
  it('a disposed handle is refused with ERR_DISPOSED, also after its slot is reused', async () => {
    const { native } = await import('../../lib/native.ts');
    const t = mt.ones([2]);
    const stale = t.handle;
    t.dispose();
    const reuse = mt.zeros([3]); // takes the freed slot: the stale handle must not reach it
    for (const call of [() => native.ops.add(stale, 1), () => native.shape(stale), () => native.ops.add(reuse.handle, stale)]) {
      const e = caught(call);
      expect(e.code).toBe('ERR_DISPOSED');
      expect(e.message).toMatch(/disposed/);
    }
    expect(native.isDisposed(stale)).toBe(true);
    native.dispose(stale); // a no-op
    expect(reuse.shape).toEqual([3]);
    expect(reuse.isDisposed).toBe(false);
    reuse.dispose();
  });
});

describe('native argument conversion (reached only by bypassing lib/)', () => {
  it('refuses unknown dtype and device names and bad shapes with ERR_INVALID_ARG', async () => {
    const { native } = await import('../../lib/native.ts');
    const bad: [() => unknown, RegExp][] = [
      [() => native.ops.zeros!([2], 'float8'), /unknown dtype 'float8'/],
      [() => native.ops.zeros!([2], undefined, 'tpu'), /unknown device 'tpu'/],
      [() => native.ops.zeros!([2.5]), /argument 0 must be/],
      [() => native.ops.zeros!('2'), /argument 0 must be/],
      [() => native.ops.add(mt.ones([1]).handle, 'x' as never), /argument 1 must be/],
      [() => native.ops.sum(mt.ones([1]).handle, 0, 'yes' as never), /argument 2 must be a boolean/],
      [() => native.fromData(new Float32Array(3), [2, 2]), /shape holds 4 elements but data has 3/],
      [() => native.fromData([1, 2] as never, [2]), /typed array/],
      [() => native.fromData(new Float32Array(2), [-1, -2]), /negative/],
    ];
    for (const [fn, message] of bad) {
      const e = caught(fn);
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toMatch(message);
    }
  });
});
