/**
 * One rule per loader: every path that reads weights — MultiTaskModel.load, Module.loadStateDict
 * (of tensors from mt.load), a resume (fit's resumeFrom), the pretrained import and loadAdapter —
 * refuses the same hostile entries (NaN, infinite, an integer tensor for a float weight, a wrong
 * shape, a missing entry, an extra entry) with a TorchError naming the file and the entry, and a
 * refused load leaves the model exactly as it was (loadAdapter takes back the task it added).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { fixtureVocab, makeCheckpoints, smallConfig } from './oracles/hf-reference.ts';
import { randomizeWeights, tempDir } from './oracles/multitask-twin.ts';

const tmp = tempDir('mtl-loaders-');
afterAll(() => tmp.remove());

type Hostile = { name: string; apply: (tensors: Record<string, mt.Tensor>, entry: string) => string; message: (entry: string) => RegExp };
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const HOSTILE: Hostile[] = [
  {
    name: 'NaN values',
    apply: (t, e) => {
      t[e] = mt.full(t[e]!.shape, NaN);
      return e;
    },
    message: (e) => new RegExp(`'${esc(e)}'.* holds NaN or infinite values`),
  },
  {
    name: 'infinite values',
    apply: (t, e) => {
      t[e] = mt.full(t[e]!.shape, Infinity);
      return e;
    },
    message: (e) => new RegExp(`'${esc(e)}'.* holds NaN or infinite values`),
  },
  {
    name: 'an integer tensor for a float weight',
    apply: (t, e) => {
      t[e] = mt.zeros(t[e]!.shape, { dtype: 'int64' });
      return e;
    },
    message: (e) => new RegExp(`'${esc(e)}'.* (is Long, and the model's is Float|and dtype Long, and this run needs)`),
  },
  {
    name: 'a wrong shape',
    apply: (t, e) => {
      t[e] = mt.zeros([t[e]!.shape[0]! + 1, ...t[e]!.shape.slice(1)]);
      return e;
    },
    message: (e) => new RegExp(`${esc(e)}.*(shape|size mismatch|\\(\\d)`),
  },
  {
    name: 'a missing entry',
    apply: (t, e) => {
      delete t[e];
      return e;
    },
    message: (e) => new RegExp(`(missing|no ).*'?${esc(e)}`),
  },
  {
    name: 'an extra entry',
    apply: (t, e) => {
      const extra = e.replace(/weight$/, 'bogus');
      t[extra] = mt.zeros([2]);
      return extra;
    },
    message: (e) => new RegExp(`(unexpected|holds).*'?${esc(e)}`),
  },
];

/** Rewrites `file` with one hostile change to `entry`; returns the name the refusal must give. */
function tamper(file: string, out: string, entry: string, hostile: Hostile): string {
  const { tensors, metadata } = mt.loadWithMetadata(file);
  const named = hostile.apply(tensors, entry);
  mt.save(out, tensors, metadata);
  for (const t of Object.values(tensors)) t.dispose();
  return named;
}
/** Every value of a model, to compare before and after a refused load. */
const snapshot = (model: mt.MultiTaskModel) => ({
  tasks: model.taskNames,
  values: Object.fromEntries(
    Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.dataSync() as ArrayLike<number | bigint>, Number)]),
  ),
});
function refused(load: () => unknown, file: string, entry: string, hostile: Hostile): void {
  let error: unknown;
  try {
    load();
  } catch (e) {
    error = e;
  }
  expect(error, 'the load was accepted').toBeInstanceOf(mt.TorchError);
  const message = (error as Error).message;
  expect(message).toContain(file);
  expect(message).toMatch(hostile.message(entry));
}

const input = { vocabSize: 20, maxLength: 12 };
const encoder = { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 };
const small = () => {
  const model = mt.multitask({ input, encoder, tasks: { a: mt.tasks.classification({ classes: 3 }) } });
  randomizeWeights(model, 1);
  return model;
};
const ENTRY = 'tasks.a.out.weight';

describe('MultiTaskModel.load', () => {
  for (const hostile of HOSTILE) {
    it(`refuses ${hostile.name}, naming the file and the entry`, async () => {
      const dir = path.join(tmp.dir, `load-${hostile.name.replace(/\W+/g, '-')}`);
      await small().save(dir);
      const weights = path.join(dir, 'model.safetensors');
      const entry = tamper(weights, weights, ENTRY, hostile);
      await expect(mt.MultiTaskModel.load(dir)).rejects.toThrow(mt.TorchError);
      await mt.MultiTaskModel.load(dir).catch((e: Error) => {
        expect(e.message).toContain(weights);
        expect(e.message).toMatch(hostile.message(entry));
      });
    });
  }
});

describe('Module.loadStateDict of tensors from mt.load', () => {
  for (const hostile of HOSTILE.filter((h) => !['a missing entry', 'an extra entry'].includes(h.name))) {
    it(`refuses ${hostile.name}, naming the entry; the model unchanged`, () => {
      const model = small();
      const file = path.join(tmp.dir, `sd-${hostile.name.replace(/\W+/g, '-')}.safetensors`);
      mt.save(file, model.stateDict());
      const entry = tamper(file, file, ENTRY, hostile);
      const before = snapshot(model);
      const tensors = mt.load(file);
      expect(() => model.loadStateDict(tensors)).toThrow(hostile.message(entry));
      expect(snapshot(model)).toEqual(before);
    });
  }
});

describe('resume (fit resumeFrom)', () => {
  for (const hostile of HOSTILE) {
    it(`refuses ${hostile.name}, naming the file and the entry; the model unchanged`, async () => {
      const model = small();
      const trainer = new mt.Trainer(model, { batchSize: 4, seed: 0 });
      const set = mt.data.Dataset.fromTensors({
        inputIds: mt.randint(3, 20, [8, 6]),
        lengths: mt.full([8], 6, { dtype: 'int64' }),
        targets: mt.randint(0, 3, [8]),
        targetKind: 'classification',
      });
      const dir = path.join(tmp.dir, `ckpt-${hostile.name.replace(/\W+/g, '-')}`);
      await trainer.fit({ a: set }, { steps: 2, checkpointDir: dir, checkpointEvery: 2 });
      const file = path.join(dir, 'checkpoint.safetensors');
      const entry = tamper(file, file, `model.${ENTRY}`, hostile);
      const before = snapshot(model);
      const error = await trainer.fit({ a: set }, { steps: 4, resumeFrom: file }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(mt.TorchError);
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).toMatch(hostile.message(entry));
      expect(snapshot(model)).toEqual(before);
    });
  }
});

describe('the pretrained import', () => {
  const source = path.join(tmp.dir, 'bert');
  beforeAll(() => makeCheckpoints([{ dir: source, config: smallConfig('bert'), prefix: '', vocab: fixtureVocab() }], tmp.dir), 120_000);
  for (const hostile of HOSTILE) {
    it(`refuses ${hostile.name}, naming the file and the entry`, () => {
      const dir = path.join(tmp.dir, `bert-${hostile.name.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      for (const f of ['config.json', 'vocab.txt']) copyFileSync(path.join(source, f), path.join(dir, f));
      const weights = path.join(dir, 'model.safetensors');
      const entry = tamper(path.join(source, 'model.safetensors'), weights, 'embeddings.word_embeddings.weight', hostile);
      refused(
        () => mt.multitask({ encoder: mt.pretrained.encoder(dir), tasks: { a: mt.tasks.classification({ classes: 2 }) } }),
        weights,
        entry,
        hostile,
      );
    });
  }
});

describe('loadAdapter', () => {
  const spec = (tasks: Record<string, mt.TaskSpec>) => ({ input, encoder, sharing: mt.sharing.adapters({ reduction: 4 }), tasks });
  for (const hostile of HOSTILE) {
    it(`refuses ${hostile.name}, naming the file and the entry; the task not added, the model unchanged`, () => {
      mt.manualSeed(2);
      const trained = mt.multitask(spec({ a: mt.tasks.classification({ classes: 3 }) }));
      const file = path.join(tmp.dir, `adapter-${hostile.name.replace(/\W+/g, '-')}.safetensors`);
      trained.saveAdapter('a', file);
      const entry = tamper(file, file, 'head.out.weight', hostile);
      mt.manualSeed(2);
      const model = mt.multitask(spec({ b: mt.tasks.regression() }));
      const before = snapshot(model);
      // A refused load names the model's entry ('tasks.a.…') or the file's ('head.…').
      const named = new RegExp(`${hostile.message(entry).source}|${hostile.message(entry.replace(/^head\./, 'tasks.a.')).source}`);
      refused(() => model.loadAdapter(file), file, entry, { ...hostile, message: () => named });
      expect(snapshot(model)).toEqual(before);
      expect(model.taskNames).toEqual(['b']);
      // And the same model takes the untampered file.
      trained.saveAdapter('a', file);
      model.loadAdapter(file);
      expect(model.taskNames).toEqual(['b', 'a']);
    });
  }

  it('refuses head metadata that is not JSON, or absent: ERR_BAD_DATA, nothing added', () => {
    const trained = mt.multitask(spec({ a: mt.tasks.classification({ classes: 3 }) }));
    const file = path.join(tmp.dir, 'adapter-meta.safetensors');
    trained.saveAdapter('a', file);
    const { tensors, metadata } = mt.loadWithMetadata(file);
    const model = mt.multitask(spec({ b: mt.tasks.regression() }));
    for (const head of ['{not json', undefined]) {
      const { head: _, ...rest } = metadata;
      mt.save(file, tensors, head === undefined ? rest : { ...rest, head });
      expect(() => model.loadAdapter(file)).toThrow(
        expect.objectContaining({ code: 'ERR_BAD_DATA', message: expect.stringContaining(file) }),
      );
      expect(model.taskNames).toEqual(['b']);
    }
  });
});
