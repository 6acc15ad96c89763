/**
 * Reliability (issue #15): the crashes and hangs a hostile tester found, each in a child process that
 * must end with a clean error (or exit as asked) within seconds; checkpoints refused entry by entry;
 * files never replaced when they are not regular files; a model busy with a fit refuses changes
 * through the tensors it handed out; silent acceptances turned into errors.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { copyFileAtomic } from '../../lib/files.ts';
import { helperPath, runChild, type ChildResult } from '../helpers/child.ts';
import { featureModel, syntheticProblem, tempDir } from '../helpers/train.ts';

const CHILD = helperPath('reliability-child.ts');
/** After the fit has taken a step, the process must be gone within this (a step takes milliseconds). */
const EXIT_WITHIN_MS = 10_000;

/** Runs a scenario; returns its result and how long it lived after printing "ready". */
async function scenario(name: string): Promise<ChildResult & { afterReadyMs: number }> {
  let readyAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const result = await runChild(CHILD, [name], {
    timeoutMs: 180_000,
    onStdout: (text, kill) => {
      if (readyAt === 0 && text.includes('ready')) {
        readyAt = Date.now();
        timer = setTimeout(() => kill(), EXIT_WITHIN_MS + 5_000); // a hang: do not wait for the overall timeout
      }
    },
  });
  clearTimeout(timer);
  return { ...result, afterReadyMs: readyAt === 0 ? Infinity : Date.now() - readyAt };
}

function fixture() {
  mt.manualSeed(0);
  const problem = syntheticProblem(4, { a: { kind: 'classification', classes: 3, rows: 40 }, b: { kind: 'regression', rows: 30 } }, 7);
  const sets = { a: problem.toDataset('a', 40).dataset, b: problem.toDataset('b', 30).dataset };
  const model = featureModel(4, { a: { kind: 'classification', classes: 3 }, b: { kind: 'regression' } });
  return { model, sets, trainer: new mt.Trainer(model, { batchSize: 8 }) };
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(mt.TorchError);
    return (error as mt.TorchError).code;
  }
  throw new Error('accepted');
}

async function refusal(action: () => Promise<unknown>): Promise<mt.TorchError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(mt.TorchError);
    return error as mt.TorchError;
  }
  throw new Error('accepted');
}

describe('crashes and hangs, each in a child process', () => {
  it('a bad checkpoint position or task index, a config.json that is /dev/zero or a FIFO, 1000 threads: clean errors', async () => {
    const result = await scenario('crashes');
    expect(result.signal, result.stderr).toBeNull();
    expect(result.timedOut, result.stdout).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    const line = (what: string) => lines.find((l) => l.split(' ')[1] === what) ?? `missing ${what}`;
    expect(line('negative-position')).toMatch(/^refused negative-position ERR_INVALID_ARG .*'data\.a\.position'/);
    expect(line('epoch-task')).toMatch(/^refused epoch-task ERR_INVALID_ARG .*'strategy\.epoch_task'/);
    expect(line('config-dev-zero')).toMatch(/^refused config-dev-zero ERR_IO .*not a regular file \(a device\)/);
    expect(line('config-fifo')).toMatch(/^refused config-fifo ERR_IO .*not a regular file \(a FIFO\)/);
    expect(line('threads-1000')).toMatch(/^refused threads-1000 ERR_INVALID_ARG .*at most/);
    expect(result.stdout).toContain('done');
  }, 240_000);

  // Each ends the process while the native loop runs; before the fix, each left it at 100 % CPU.
  it.each([
    ['exit-timer', 7],
    ['exit-progress', 7],
    ['sigint', 7],
    ['uncaught', 1],
  ])(
    '%s during a fit: the process exits (code %i) within seconds',
    async (name, code) => {
      const result = await scenario(name);
      expect(result.stdout).toContain('ready');
      expect(result.timedOut).toBe(false);
      expect(result.signal, result.stderr).toBeNull();
      expect(result.code, result.stderr).toBe(code);
      expect(result.afterReadyMs).toBeLessThan(EXIT_WITHIN_MS);
      if (name === 'uncaught') expect(result.stderr).toContain('an uncaught error during a fit');
    },
    240_000,
  );

  it('worker.terminate() during a fit in the worker resolves, and the process exits', async () => {
    const result = await scenario('terminate');
    expect(result.stdout).toContain('ready');
    expect(result.stdout, result.stderr).toContain('terminated');
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    expect(result.afterReadyMs).toBeLessThan(EXIT_WITHIN_MS);
  }, 240_000);
});

describe('checkpoints are checked completely before anything is restored', () => {
  // One checkpoint of two steps; each case edits a copy and resumes from it.
  async function written(options: mt.TrainerOptions = {}) {
    const dir = tempDir('mtl-ckpt-');
    const { sets, model } = fixture();
    await new mt.Trainer(model, { batchSize: 8, ...options }).fit(sets, { steps: 2, checkpointDir: dir });
    return { file: path.join(dir, 'checkpoint.safetensors'), sets, dir };
  }

  async function resumeRefusal(
    options: mt.TrainerOptions,
    edit: (tensors: Record<string, mt.Tensor>, metadata: Record<string, string>) => void,
    resumeOptions = options,
  ) {
    const { file, sets } = await written(options);
    const { tensors, metadata } = mt.loadWithMetadata(file);
    edit(tensors, metadata);
    mt.save(file, tensors, metadata);
    const { model } = fixture();
    const before = model.stateDict()['embedding.features.weight']!.toArray();
    const trainer = new mt.Trainer(model, { batchSize: 8, ...resumeOptions });
    const error = await refusal(() => trainer.fit(sets, { steps: 4, resumeFrom: file }));
    // Nothing changed: the model keeps its weights and the trainer its step count.
    expect(model.stateDict()['embedding.features.weight']!.toArray()).toEqual(before);
    expect(trainer.stepsDone).toBe(0);
    return error;
  }

  const scalar = (value: number) => mt.tensor([value]).reshape([]);

  it.each([
    ['a position past the data', 'data.a.position', () => scalar(1000), /'data\.a\.position' \(1000\) is outside the data set/],
    ['a negative pass', 'data.b.pass', () => scalar(-1), /'data\.b\.pass' is negative/],
    ['loop.step = -1', 'loop.step', () => scalar(-1), /'loop\.step' is -1, outside/],
    [
      'a float step',
      'loop.step',
      () => mt.tensor([1.5]).reshape([]),
      /'loop\.step' has shape \[\] and dtype Float, and this run needs \[\] Long/,
    ],
    [
      'a weight of the wrong shape',
      'model.embedding.features.weight',
      () => mt.zeros([2, 2]),
      /'model\.embedding\.features\.weight' has shape \[2, 2\]/,
    ],
    [
      'a NaN weight',
      'model.embedding.features.weight',
      (old: mt.Tensor) => mt.full(old.shape, NaN),
      /'model\.embedding\.features\.weight' holds NaN or infinite values/,
    ],
    [
      'negative second moments',
      'optimizer.0.exp_avg_sq',
      (old: mt.Tensor) => mt.full(old.shape, -1, { dtype: 'float32' }),
      /'optimizer\.0\.exp_avg_sq' holds negative values/,
    ],
    [
      'a has_state flag of 2',
      'optimizer.has_state',
      (old: mt.Tensor) => mt.full(old.shape, 2, { dtype: 'int64' }),
      /has_state' must hold 0 or 1/,
    ],
    [
      'an unknown entry',
      'optimizer.0.momentum_buffer',
      (_old: mt.Tensor) => mt.zeros([16, 4]),
      /unexpected entry 'optimizer\.0\.momentum_buffer'/,
    ],
    ['a corrupt generator state', 'rng.cpu', () => mt.zeros([5056], { dtype: 'uint8' }), /mt19937|generator|state/i],
  ])(
    'refuses %s, naming the entry',
    async (_what, entry, value, message) => {
      const error = await resumeRefusal({}, (tensors) => {
        tensors[entry] = value(tensors[entry]!);
      });
      expect(error.message).toMatch(message);
    },
    60_000,
  );

  it('refuses a checkpoint whose optimizer state was removed', async () => {
    const error = await resumeRefusal({}, (tensors) => {
      for (const key of Object.keys(tensors)) if (key.startsWith('optimizer.')) delete tensors[key];
    });
    expect(error.message).toMatch(/missing entry 'optimizer\./);
  }, 60_000);

  it('refuses SGD state resumed into AdamW, even with its metadata edited', async () => {
    const sgd = { optimizer: mt.optim.sgd({ lr: 0.1, momentum: 0.9 }) };
    let error = await resumeRefusal(sgd, () => {}, {});
    expect(error.message).toMatch(/optimizer 'sgd', and this run has 'adamW'/);
    error = await resumeRefusal(
      sgd,
      (_t, metadata) => {
        metadata.optimizer = 'adamW';
      },
      {},
    );
    expect(error.message).toMatch(/missing entry 'optimizer\.0\.(step|exp_avg)'|unexpected entry/);
  }, 60_000);

  it('refuses other parameter groups (a frozen part) and other tasks', async () => {
    const { file, sets } = await written();
    const frozen = fixture();
    frozen.model.freeze('heads');
    let error = await refusal(() => new mt.Trainer(frozen.model, { batchSize: 8 }).fit(sets, { steps: 4, resumeFrom: file }));
    expect(error.message).toMatch(/parameterGroups/);
    const { model } = fixture();
    error = await refusal(() => new mt.Trainer(model, { batchSize: 8 }).fit({ a: sets.a }, { steps: 4, resumeFrom: file }));
    expect(error.message).toMatch(/tasks 'a,b', and this run has 'a'/);
  }, 60_000);

  it('an alternating run without an explicit sampler writes and resumes its checkpoints', async () => {
    const options = { strategy: mt.strategy.alternating({ every: 'epoch' }) };
    const { file, sets } = await written(options);
    const { model } = fixture();
    const history = await new mt.Trainer(model, { batchSize: 8, ...options }).fit(sets, { steps: 4, resumeFrom: file });
    expect(history.steps).toBe(4);
  }, 60_000);

  it('keepBest and earlyStopping entries: checked when present, optional when the other run had no such setting', async () => {
    const tracked = (dir: string) => ({
      evalEvery: 1,
      checkpointDir: dir,
      earlyStopping: { metric: 'loss', patience: 100 },
      keepBest: { metric: 'loss' },
    });
    const source = tempDir('mtl-ckpt-');
    const first = fixture();
    await new mt.Trainer(first.model, { batchSize: 8 }).fit(first.sets, { steps: 2, evalSets: first.sets, ...tracked(source) });
    const file = path.join(source, 'checkpoint.safetensors');
    const original = mt.loadWithMetadata(file);
    expect(
      Object.keys(original.tensors)
        .filter((k) => k.startsWith('loop.'))
        .sort(),
    ).toEqual([
      'loop.early_stopping.best',
      'loop.early_stopping.have_best',
      'loop.early_stopping.stale',
      'loop.keep_best.best',
      'loop.keep_best.have_best',
      'loop.step',
    ]);
    const resume = async (edit: (tensors: Record<string, mt.Tensor>) => void, withSettings = true) => {
      const copy = path.join(tempDir('mtl-ckpt-'), 'checkpoint.safetensors');
      const tensors = { ...original.tensors };
      edit(tensors);
      mt.save(copy, tensors, original.metadata);
      const { model, sets } = fixture();
      const settings = withSettings ? { evalSets: sets, ...tracked(path.dirname(copy)) } : {};
      return new mt.Trainer(model, { batchSize: 8 }).fit(sets, { steps: 4, resumeFrom: copy, ...settings });
    };
    expect((await resume(() => {})).steps).toBe(4);
    expect((await resume(() => {}, false)).steps).toBe(4); // a run without them ignores them
    // A checkpoint of a run without them: that state starts afresh.
    expect(
      (
        await resume((t) => {
          for (const k of Object.keys(t)) if (k.startsWith('loop.keep_best.') || k.startsWith('loop.early_stopping.')) delete t[k];
        })
      ).steps,
    ).toBe(4);
    const scalar = (value: number) => mt.tensor([value]).reshape([]);
    await expect(
      resume((t) => {
        t['loop.keep_best.have_best'] = scalar(2);
      }),
    ).rejects.toThrow(/'loop\.keep_best\.have_best' is 2, outside \[0, 1\]/);
    await expect(
      resume((t) => {
        t['loop.early_stopping.stale'] = scalar(-1);
      }),
    ).rejects.toThrow(/'loop\.early_stopping\.stale' is -1, outside/);
    await expect(
      resume((t) => {
        t['loop.keep_best.best'] = mt.tensor([NaN], { dtype: 'float64' }).reshape([]);
      }),
    ).rejects.toThrow(/'loop\.keep_best\.best' holds NaN/);
    await expect(
      resume((t) => {
        delete t['loop.keep_best.best'];
      }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/missing entry 'loop\.keep_best\.best'/) });
  }, 120_000);

  it('refuses a checkpoint written by an older format', async () => {
    const error = await resumeRefusal({}, (_t, metadata) => {
      metadata.format = 'mtl-torch.checkpoint.v2';
    });
    expect(error.message).toMatch(/has format mtl-torch\.checkpoint\.v2/);
  }, 60_000);
});

describe('files', () => {
  it('never replaces a symbolic link, a FIFO or a folder; reads only regular files', () => {
    const dir = tempDir('mtl-files-');
    const target = path.join(dir, 'target.bin');
    writeFileSync(target, 'keep');
    const link = path.join(dir, 'link.safetensors');
    symlinkSync(target, link);
    const fifo = path.join(dir, 'fifo.safetensors');
    execFileSync('mkfifo', [fifo]);
    const weights = { w: mt.ones([2]) };
    for (const file of [link, fifo, dir])
      expect(
        codeOf(() => mt.save(file, weights)),
        file,
      ).toMatch(/ERR_IO|ERR_INVALID_ARG/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(readFileSync(target, 'utf8')).toBe('keep');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(codeOf(() => mt.load(fifo))).toBe('ERR_IO');
    expect(codeOf(() => mt.load(path.join(dir, 'missing.safetensors')))).toBe('ERR_NOT_FOUND');
  });

  it("lib's copy (a run's best weights, a pretrained tokenizer) is whole, chunked, and replaces only regular files", () => {
    const dir = tempDir('mtl-files-');
    const from = path.join(dir, 'from.bin');
    const bytes = randomBytes(2.5 * 1024 * 1024); // over two of the copy's 1 MiB chunks
    writeFileSync(from, bytes);
    const to = path.join(dir, 'to.bin');
    writeFileSync(to, 'old');
    copyFileAtomic(from, to, 'test');
    expect(readFileSync(to).equals(bytes)).toBe(true);
    const empty = path.join(dir, 'empty.bin');
    writeFileSync(empty, '');
    copyFileAtomic(empty, to, 'test');
    expect(readFileSync(to).length).toBe(0);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => copyFileAtomic(fifo, to, 'test')).toThrow(
      expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/not a regular file \(a FIFO\)/) }),
    );
    const link = path.join(dir, 'link.bin');
    symlinkSync(from, link);
    expect(() => copyFileAtomic(empty, link, 'test')).toThrow(
      expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/it is a symbolic link/) }),
    );
    expect(readFileSync(from).equals(bytes)).toBe(true);
    expect(() => copyFileAtomic(path.join(dir, 'missing'), to, 'test')).toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }));
    expect(readdirSync(dir).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('removes the temporary file a killed writer left, on the next write or read', () => {
    const dir = tempDir('mtl-files-');
    const file = path.join(dir, 'w.safetensors');
    mt.save(file, { w: mt.ones([2]) });
    // A pid that no process has (pid_max is below 2^22 on Linux).
    const stale = path.join(dir, `.w.safetensors.tmp-4194999-0123456789abcdef`);
    const live = path.join(dir, `.w.safetensors.tmp-${process.pid}-0123456789abcdef`);
    writeFileSync(stale, 'partial');
    writeFileSync(live, 'a write in progress');
    mt.load(file);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true); // its writer still runs
    writeFileSync(stale, 'partial');
    mt.save(file, { w: mt.zeros([2]) });
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual([path.basename(live), 'w.safetensors']);
  });

  it('MultiTaskModel.save and load: fs failures are TorchErrors, config.json must be a regular file', async () => {
    const { model } = fixture();
    const dir = tempDir('mtl-files-');
    await expect(model.save('/dev/null/model')).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(mt.MultiTaskModel.load(path.join(dir, 'nothing'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const saved = path.join(dir, 'model');
    await model.save(saved);
    writeFileSync(path.join(saved, 'config.json'), 'x'.repeat(2 * 1024 * 1024));
    await expect(mt.MultiTaskModel.load(saved)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    writeFileSync(path.join(saved, 'config.json'), '{');
    await expect(mt.MultiTaskModel.load(saved)).rejects.toMatchObject({ code: 'ERR_BAD_DATA' });
    mkdirSync(path.join(dir, 'linked'));
    symlinkSync(path.join(saved, 'model.safetensors'), path.join(dir, 'linked', 'config.json'));
    await expect(model.save(path.join(dir, 'linked'))).rejects.toMatchObject({ code: 'ERR_IO' });
  });
});

describe('a model busy with a fit refuses changes through the tensors it handed out', () => {
  it('loadStateDict, in-place ops on parameters, a backward into them, requiresGrad: ERR_MODEL_BUSY, and the fit is unharmed', async () => {
    const { model, sets, trainer } = fixture();
    const parameter = Object.fromEntries(model.namedParameters())['embedding.features.weight']!;
    const stateDict = model.stateDict();
    const x = mt.ones([4]);
    const graph = parameter.matmul(x).sum(); // built before the fit: its backward would reach the parameter
    const refusals: string[] = [];
    let checked = false;
    const history = await trainer.fit(sets, {
      steps: 20,
      onProgress: (event) => {
        if (event.kind !== 'step' || checked) return;
        checked = true;
        refusals.push(codeOf(() => model.loadStateDict(stateDict)));
        refusals.push(codeOf(() => parameter.fill_(0)));
        refusals.push(codeOf(() => parameter.narrow(0, 0, 1).mul_(2))); // a view of it
        refusals.push(codeOf(() => graph.backward()));
        refusals.push(codeOf(() => parameter.requiresGrad_(false)));
        refusals.push(codeOf(() => model.forward('a', { features: mt.ones([1, 1, 4]), lengths: mt.tensor([1]) })));
      },
    });
    expect(refusals).toEqual(Array(6).fill('ERR_MODEL_BUSY'));
    expect(history.steps).toBe(20);
    // Afterwards every one of them works again.
    mt.noGrad(() => parameter.mul_(1));
    graph.backward();
    expect(parameter.grad).not.toBeNull();
  }, 60_000);
});

describe('silent acceptances are errors', () => {
  const model = () =>
    mt.multitask({
      input: { vocabSize: 10, maxLength: 4 },
      encoder: { numLayers: 1, dModel: 8, nhead: 2 },
      tasks: { a: mt.tasks.classification({ classes: 2 }), s: mt.tasks.sequence({ vocabSize: 6, maxLength: 4 }) },
    });

  it('integers outside int64 or the dtype', () => {
    for (const data of [[2 ** 64], [1e300], [-(2 ** 64)], [2n ** 63n], [-(2n ** 63n) - 1n]]) {
      expect(
        codeOf(() => mt.tensor(data as number[])),
        String(data),
      ).toBe('ERR_INVALID_ARG');
    }
    expect(codeOf(() => mt.tensor([300], { dtype: 'uint8' }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => mt.tensor([-1], { dtype: 'uint8' }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => mt.tensor([2 ** 40], { dtype: 'int32' }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => mt.tensor(new Float64Array([1e19]), [1], { dtype: 'int64' }))).toBe('ERR_INVALID_ARG');
    // In range they stay exact; floating dtypes take what they take.
    expect(mt.tensor([2n ** 63n - 1n]).dtype).toBe('int64');
    expect(mt.tensor([-(2 ** 63)]).toArray()).toEqual([-(2 ** 63)]);
    expect(mt.tensor([1e300], { dtype: 'float64' }).toArray()).toEqual([1e300]);
  });

  it('deep nesting and shared buffers', () => {
    let deep: unknown = [1];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(codeOf(() => mt.tensor(deep as number[]))).toBe('ERR_INVALID_ARG');
    const shared = new Float32Array(new SharedArrayBuffer(16));
    shared.set([1, 2, 3, 4]);
    expect(mt.tensor(shared, [4]).toArray()).toEqual([1, 2, 3, 4]);
  });

  it('lengths wider than the row, negative or zero; float ids; rows of padding only', () => {
    const m = model();
    const ids = mt.tensor([
      [1, 2, 3, 0],
      [4, 5, 0, 0],
    ]);
    for (const lengths of [
      [5, 2],
      [-1, 2],
      [0, 2],
    ]) {
      expect(
        codeOf(() => m.forward('a', { inputIds: ids, lengths: mt.tensor(lengths) })),
        String(lengths),
      ).toBe('ERR_INVALID_ARG');
      expect(codeOf(() => m.predict('a', { inputIds: ids, lengths: mt.tensor(lengths) }))).toBe('ERR_INVALID_ARG');
      expect(codeOf(() => m.generate('s', { inputIds: ids, lengths: mt.tensor(lengths) }))).toBe('ERR_INVALID_ARG');
    }
    const floats = mt.tensor([[1.5, 2, 3, 0]]);
    expect(codeOf(() => m.forward('a', { inputIds: floats }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => m.predict('a', { inputIds: floats }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => m.generate('s', { inputIds: floats }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => m.predict('a', { inputIds: mt.tensor([[0, 0, 0, 0]]) }))).toBe('ERR_TORCH_VALUE');
    expect(m.predict('a', { inputIds: ids, lengths: mt.tensor([3, 2]) }).shape).toEqual([2]);
    // A features data set's batches carry padded ids beside the features: both are taken when they agree.
    const f = featureModel(4, { a: { kind: 'classification', classes: 3 } });
    const both = (rows: number) => ({
      inputIds: mt.zeros([2, 1], { dtype: 'int64' }),
      features: mt.ones([rows, 1, 4]),
      lengths: mt.tensor([1, 1]),
    });
    expect(f.predict('a', both(2)).shape).toEqual([2]);
    expect(() => f.predict('a', both(3))).toThrow(/features: must be \(B, L, F\) with the B and L of inputIds/);
  });

  it('reserved and duplicate task names, unlabeled data, empty factories, NaN options, unknown metrics', async () => {
    const m = model();
    expect(codeOf(() => m.addTask('__proto__', mt.tasks.regression()))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => m.addTask('a', mt.tasks.regression()))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => new mt.Trainer(m, { strategy: mt.strategy.alternating(), sampler: {} as never }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => new mt.Trainer(m, { weighting: {} as never }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => new mt.Trainer(m, { optimizer: {} as never }))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => mt.tasks.classification({ classes: 2, labelSmoothing: NaN }))).toBe('ERR_INVALID_ARG');
    const unlabeled = mt.data.Dataset.fromArrays({ inputIds: [[1, 2]], targetKind: 'classification' });
    const labeled = mt.data.Dataset.fromArrays({ inputIds: [[1, 2]], targets: [1], targetKind: 'classification' });
    const trainer = new mt.Trainer(m);
    await expect(trainer.fit({ a: unlabeled }, { steps: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    for (const metric of ['bogus', '__proto__.x', 'constructor.accuracy', 'a.bogus']) {
      await expect(
        trainer.fit({ a: labeled }, { steps: 1, evalSets: { a: labeled }, earlyStopping: { metric } }),
        metric,
      ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    }
  });

  it('library failures are TorchErrors with a code: noGrad(non-function), null options, limits', () => {
    expect(codeOf(() => mt.noGrad(5 as never))).toBe('ERR_INVALID_ARG');
    expect(codeOf(() => mt.zeros([2], null as never))).toBe('ERR_INVALID_ARG');
    expect(
      codeOf(() =>
        mt.multitask({
          input: { vocabSize: 10, maxLength: 4 },
          encoder: { numLayers: 256, dModel: 65536, nhead: 1 },
          tasks: { a: mt.tasks.regression() },
        }),
      ),
    ).toBe('ERR_TOO_LARGE');
    expect(
      codeOf(() =>
        mt.multitask({
          input: { vocabSize: 10, maxLength: 4 },
          encoder: { numLayers: 1e9, dModel: 8, nhead: 2 },
          tasks: { a: mt.tasks.regression() },
        }),
      ),
    ).toBe('ERR_INVALID_ARG');
    const limit = mt.limits.maxParameters;
    try {
      mt.setLimits({ maxParameters: 1000 });
      expect(codeOf(() => model())).toBe('ERR_TOO_LARGE');
    } finally {
      mt.setLimits({ maxParameters: limit });
    }
    expect(model().summary().total).toBeLessThanOrEqual(mt.estimateParameters(model().config));
  });
});
