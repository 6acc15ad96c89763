/**
 * The MultiTaskModel API: encode once for tasks sharing inputs, frozen backbones (adapters, LoRA)
 * and summary fractions, addTask on a trained model, save → load in a fresh process, refusal of
 * weights that disagree with the config, and spec validation naming the field.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { paddedInputs, randomizeWeights, tempDir } from '../parity/oracles/multitask-twin.ts';

const tmp = tempDir('mtl-model-api-');
afterAll(() => tmp.remove());

const encoder = { numLayers: 2, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 };
const input = { vocabSize: 20, maxLength: 16 };
const threeTasks = () => ({
  topic: mt.tasks.classification({ classes: 3, decoderLayers: 1 }),
  score: mt.tasks.regression(),
  pos: mt.tasks.tagging({ classes: 4 }),
});
const inputs = () => paddedInputs([5, 3, 2], 5, 20, 3);
const targets = () => ({
  topic: mt.tensor([0, 2, 1], { dtype: 'int64' }),
  score: mt.tensor([0.5, -1, 2]),
  pos: mt.tensor(
    [
      [0, 1, 2, 3, 0],
      [1, 1, 1, -100, -100],
      [3, 2, -100, -100, -100],
    ],
    { dtype: 'int64' },
  ),
});

function sameValues(a: mt.Tensor, b: mt.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.dataSync() as Float32Array)).toEqual(Array.from(b.dataSync() as Float32Array));
}

describe('encode once, decode many', () => {
  for (const sharing of [
    mt.sharing.sharedEncoder(),
    mt.sharing.layerwise({ sharedLayers: 1 }),
    mt.sharing.mmoe({ experts: 2 }),
    mt.sharing.fullyShared(),
  ]) {
    // The one shared-encoder run of such a forward: test/native/model_test.cc.
    it(`${sharing.kind}: a three-task forward equals three separate forwards`, () => {
      const model = mt.multitask({ input, encoder, sharing, tasks: threeTasks() });
      const x = inputs();
      const t = targets();
      const together = model.forwardMany(x, t);
      for (const task of ['topic', 'score', 'pos'] as const) {
        const alone = model.forward(task, { ...x, targets: t[task] });
        const diff = together[task]!.outputs.sub(alone.outputs).abs().max().item() as number;
        expect(diff).toBeLessThan(1e-6);
        expect(Math.abs((together[task]!.loss!.item() as number) - (alone.loss!.item() as number))).toBeLessThan(1e-6);
      }
    });
  }
});

describe('frozen backbones', () => {
  for (const sharing of [mt.sharing.adapters({ reduction: 4, freezeBackbone: true }), mt.sharing.lora({ rank: 2, freezeBackbone: true })]) {
    it(`${sharing.kind}: backbone gradients are absent, adapters and heads train, summary reports the fraction`, () => {
      const model = mt.multitask({ input, encoder, sharing, tasks: threeTasks() });
      randomizeWeights(model, 4);
      const r = model.forwardMany(inputs(), targets());
      r.topic!.loss!.add(r.score!.loss!).add(r.pos!.loss!).backward();
      let trainable = 0;
      let total = 0;
      for (const [name, p] of model.namedParameters()) {
        total += p.numel;
        const backbone = name.startsWith('embedding.') || name.startsWith('encoder.');
        if (backbone) {
          expect(p.requiresGrad, name).toBe(false);
          expect(p.grad, name).toBeNull();
        } else {
          expect(p.requiresGrad, name).toBe(true);
          trainable += p.numel;
          if (name.startsWith(`${sharing.kind}.topic.`) || name.startsWith('tasks.topic.')) expect(p.grad, name).not.toBeNull();
        }
      }
      const s = model.summary();
      expect(s.total).toBe(total);
      expect(s.trainable).toBe(trainable);
      expect(s.trainableFraction).toBeCloseTo(trainable / total, 12);
      expect(s.trainableFraction).toBeLessThan(0.6);
      expect(s.shared + Object.values(s.perTask).reduce((a, b) => a + b, 0)).toBe(s.total);
      model.unfreeze('backbone');
      expect(model.summary().trainable).toBe(total);
    });
  }

  it('freeze / unfreeze by part name; an unknown part is refused', () => {
    const model = mt.multitask({ input, encoder, tasks: threeTasks() });
    model.freeze('encoder');
    const encoderSize = model
      .namedParameters()
      .filter(([n]) => n.startsWith('encoder.'))
      .reduce((a, [, p]) => a + p.numel, 0);
    expect(model.partParameterNames('encoder').every((n) => n.startsWith('encoder.'))).toBe(true);
    expect(model.summary().trainable).toBe(model.summary().total - encoderSize);
    model.freeze('topic');
    expect(
      model
        .namedParameters()
        .filter(([n]) => n.startsWith('tasks.topic.'))
        .every(([, p]) => !p.requiresGrad),
    ).toBe(true);
    expect(
      model
        .namedParameters()
        .filter(([n]) => n.startsWith('tasks.score.'))
        .every(([, p]) => p.requiresGrad),
    ).toBe(true);
    expect(() => model.freeze('nothing')).toThrow(/unknown part 'nothing'/);
  });
});

describe("the trainer's view (TrainableModel)", () => {
  for (const sharing of [
    mt.sharing.sharedEncoder(),
    mt.sharing.fullyShared(),
    mt.sharing.layerwise({ sharedLayers: 1 }),
    mt.sharing.adapters({ reduction: 4, freezeBackbone: true }),
    mt.sharing.lora({ rank: 2 }),
    mt.sharing.mmoe({ experts: 2 }),
  ]) {
    it(`${sharing.kind}: parameter groups cover every trainable parameter once, shared first, one group per task`, () => {
      const model = mt.multitask({ input, encoder, sharing, tasks: threeTasks() });
      const view = model.native.parameterGroups();
      expect(view.groups.map((g) => g.name)).toEqual(['shared', 'task:topic', 'task:score', 'task:pos']);
      const grouped = view.groups.flatMap((g) => g.parameterNames);
      const trainable = model
        .namedParameters()
        .filter(([, p]) => p.requiresGrad)
        .map(([n]) => n);
      expect([...grouped].sort()).toEqual([...trainable].sort());
      for (const g of view.groups.slice(1)) {
        const task = g.name.slice('task:'.length);
        // the head (tasks.<task>.) or the scheme's part for the task (<scheme>.<task>.)
        expect(
          g.parameterNames.every((n) => new RegExp(`^[a-z_]+\\.${task}\\.`).test(n)),
          g.name,
        ).toBe(true);
      }
      expect(view.sharedParameters).toBe(view.groups[0]!.parameterNames.length);
      // a frozen backbone leaves nothing shared to weight
      if (view.sharedParameters > 0) expect(view.lastSharedParameters).toBeGreaterThan(0);
      expect(view.lastSharedParameters).toBeLessThanOrEqual(view.sharedParameters);
    });
  }
});

describe('predict', () => {
  it('gives each head kind its predictions: class ids, values, 0/1 labels, tags (ignoreIndex at padding)', () => {
    const model = mt.multitask({ input, encoder, tasks: { ...threeTasks(), labels: mt.tasks.multiLabel({ labels: 4 }) } }).eval();
    randomizeWeights(model, 8);
    const x = inputs();
    const topic = model.predict('topic', x);
    expect(topic.shape).toEqual([3]);
    expect(topic.dtype).toBe('int64');
    expect(topic.toArray()).toEqual(model.forward('topic', x).outputs.argmax(-1).toArray());
    expect(model.predict('score', x).shape).toEqual([3]);
    const labels = model.predict('labels', x).toArray() as number[][];
    expect(labels.flat().every((v) => Number(v) === 0 || Number(v) === 1)).toBe(true);
    const tags = (model.predict('pos', x).toArray() as number[][]).map((r) => r.map(Number));
    expect(tags[2]!.slice(2)).toEqual([-100, -100, -100]);
    expect(tags[0]!.every((t) => t >= 0 && t < 4)).toBe(true);
    expect(mt.isGradEnabled()).toBe(true);
  });
});

describe('addTask', () => {
  it('adds a head to a trained model and keeps the shared weights', () => {
    const model = mt.multitask({ input, encoder, sharing: mt.sharing.adapters({ reduction: 4 }), tasks: threeTasks() });
    randomizeWeights(model, 5);
    const before = model.stateDict();
    model.addTask('extra', mt.tasks.multiLabel({ labels: 3 }));
    const after = model.stateDict();
    for (const [name, t] of Object.entries(before)) sameValues(after[name]!, t);
    expect(Object.keys(after).some((n) => n.startsWith('tasks.extra.'))).toBe(true);
    expect(Object.keys(after).some((n) => n.startsWith('adapters.extra.'))).toBe(true);
    expect(model.summary().perTask.extra).toBeGreaterThan(0);
    const out = model.forward('extra', {
      ...inputs(),
      targets: mt.tensor([
        [1, 0, 1],
        [0, 0, 0],
        [1, 1, 1],
      ]),
    });
    expect(out.outputs.shape).toEqual([3, 3]);
    expect(Number.isFinite(out.loss!.item())).toBe(true);
    expect(() => model.addTask('extra', mt.tasks.regression())).toThrow(/already exists/);
    expect(() => model.addTask('bad', { kind: 'ranking' } as never)).toThrow(
      /MultiTaskModel\.addTask\.tasks\.bad\.kind: expected "classification", .*got "ranking"/,
    );
  });
});

describe('save and load', () => {
  const spec = (): mt.MultiTaskSpec => ({
    input,
    encoder,
    sharing: mt.sharing.lora({ rank: 2 }),
    tasks: { ...threeTasks(), g2p: mt.tasks.sequence({ vocabSize: 9, maxLength: 5, decoderLayers: 1 }) },
  });

  it('a fresh process loads the saved model and reproduces its outputs exactly', async () => {
    const model = mt.multitask(spec());
    randomizeWeights(model, 6);
    model.eval();
    const dir = path.join(tmp.dir, 'saved');
    await model.save(dir);
    const x = inputs();
    mt.save(path.join(dir, 'inputs.safetensors'), { inputIds: x.inputIds, lengths: x.lengths });
    const here = model.forwardMany(x, { topic: null, score: null, pos: null });
    const generated = model.generate('g2p', x, { beamSize: 2 });
    const script = path.join(tmp.dir, 'reload.mts'); // .mts: an ES module, for top-level await
    const lib = fileURLToPath(new URL('../../lib/index.ts', import.meta.url));
    writeFileSync(
      script,
      `
      import * as mt from ${JSON.stringify(lib)};
      const model = (await mt.MultiTaskModel.load(${JSON.stringify(dir)})).eval();
      const x = mt.load(${JSON.stringify(path.join(dir, 'inputs.safetensors'))});
      const r = model.forwardMany({ inputIds: x.inputIds, lengths: x.lengths }, { topic: null, score: null, pos: null });
      const g = model.generate('g2p', { inputIds: x.inputIds, lengths: x.lengths }, { beamSize: 2 });
      mt.save(${JSON.stringify(path.join(dir, 'reloaded.safetensors'))}, {
        topic: r.topic.outputs, score: r.score.outputs, pos: r.pos.outputs, sequences: g.sequences, scores: g.scores });
    `,
    );
    const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));
    execFileSync(process.execPath, [tsx, script], { stdio: ['ignore', 'inherit', 'inherit'] });
    const there = mt.load(path.join(dir, 'reloaded.safetensors'));
    for (const task of ['topic', 'score', 'pos'] as const) sameValues(there[task]!, here[task]!.outputs);
    expect(there.sequences!.toArray()).toEqual(generated.sequences.toArray());
    sameValues(there.scores!, generated.scores);
  });

  it('round-trips a features model and a task added after training (config.json lists it)', async () => {
    const model = mt.multitask({
      input: { features: 3, maxLength: 8 },
      encoder,
      sharing: mt.sharing.fullyShared(),
      tasks: { score: mt.tasks.regression({ decoderLayers: 1 }) },
    });
    randomizeWeights(model, 9);
    model.addTask('kind', mt.tasks.classification({ classes: 2, decoderLayers: 1 }));
    expect(() => model.addTask('deeper', mt.tasks.classification({ classes: 2, decoderLayers: 2 }))).toThrow(
      /tasks\.deeper\.decoderLayers \(2\) exceeds the shared decoder's 1 layers/,
    );
    const dir = path.join(tmp.dir, 'features');
    await model.save(dir);
    const loaded = await mt.MultiTaskModel.load(dir);
    expect(loaded.taskNames).toEqual(['score', 'kind']);
    expect(loaded.config).toEqual(model.config);
    mt.manualSeed(1);
    const x = { features: mt.randn([2, 4, 3]), lengths: mt.tensor([4, 2], { dtype: 'int64' }) };
    for (const task of ['score', 'kind']) sameValues(loaded.forward(task, x).outputs, model.forward(task, x).outputs);
  });

  it('refuses weights that disagree with the config, naming the key', async () => {
    const model = mt.multitask(spec());
    const dir = path.join(tmp.dir, 'mismatch');
    await model.save(dir);
    const configFile = path.join(dir, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    config.tasks.find((t: { name: string }) => t.name === 'topic').classes = 7;
    writeFileSync(configFile, JSON.stringify(config));
    await expect(mt.MultiTaskModel.load(dir)).rejects.toThrow(/tasks\.topic\.out\.weight/);
    config.tasks.find((t: { name: string }) => t.name === 'topic').classes = 3;
    config.sharing.rank = 3;
    writeFileSync(configFile, JSON.stringify(config));
    await expect(mt.MultiTaskModel.load(dir)).rejects.toThrow(/lora\.topic\.layers\.0\.q\.lora_A/);
    config.sharing.rank = 2;
    config.tasks.push({ name: 'more', kind: 'regression', decoderLayers: 0 });
    writeFileSync(configFile, JSON.stringify(config));
    await expect(mt.MultiTaskModel.load(dir)).rejects.toThrow(/tasks\.more\.out\.weight/);
    config.tasks.pop();
    config.encoder.dModel = 15;
    writeFileSync(configFile, JSON.stringify(config));
    await expect(mt.MultiTaskModel.load(dir)).rejects.toThrow(/config\.json\.encoder\.dModel: \(15\) must be divisible by nhead \(2\)/);
  });
});

describe('spec validation names the field', () => {
  const base = (): Record<string, unknown> => ({ input, encoder, tasks: { topic: mt.tasks.classification({ classes: 3 }) } });
  const cases: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    [
      'unknown task kind',
      (s) => {
        s.tasks = { topic: { kind: 'ranking' } };
      },
      /^multitask\.tasks\.topic\.kind: expected "classification", "regression", "multiLabel", "tagging", "sequence", got "ranking"$/,
    ],
    [
      'sharedLayers > numLayers',
      (s) => {
        s.sharing = mt.sharing.layerwise({ sharedLayers: 3 });
      },
      /multitask\.sharing\.sharedLayers: \(3\) must not exceed encoder\.numLayers \(2\)/,
    ],
    [
      'dModel not divisible by nhead',
      (s) => {
        s.encoder = { ...encoder, nhead: 3 };
      },
      /multitask\.encoder\.dModel: \(16\) must be divisible by nhead \(3\)/,
    ],
    [
      'empty task set',
      (s) => {
        s.tasks = {};
      },
      /multitask\.tasks: must name at least one task/,
    ],
    [
      'sequence vocabSize',
      (s) => {
        s.tasks = { g2p: { ...mt.tasks.sequence({ vocabSize: 5, maxLength: 4 }), vocabSize: 0 } };
      },
      /multitask\.tasks\.g2p\.vocabSize: expected an integer > 0, got 0/,
    ],
    [
      'sequence eosId outside the vocabulary',
      (s) => {
        s.tasks = { g2p: mt.tasks.sequence({ vocabSize: 5, maxLength: 4, eosId: 9 }) };
      },
      /tasks\.sequence\.eosId: must be below vocabSize \(5\), got 9/,
    ],
    [
      'classes',
      (s) => {
        s.tasks = { topic: { kind: 'classification', classes: 1.5 } };
      },
      /multitask\.tasks\.topic\.classes: expected an integer, got 1\.5/,
    ],
    [
      'bad task name',
      (s) => {
        s.tasks = { 'a.b': mt.tasks.regression() };
      },
      /multitask\.tasks\.a\.b: expected an identifier \(letters, digits and _/,
    ],
    [
      'reserved task name',
      (s) => {
        s.tasks = JSON.parse('{"__proto__": {"kind": "regression"}}');
      },
      /multitask\.tasks\.__proto__: is a reserved name/,
    ],
    [
      'unknown sharing',
      (s) => {
        s.sharing = { kind: 'hydra' };
      },
      /multitask\.sharing\.kind: expected "sharedEncoder", "fullyShared", "layerwise", "adapters", "lora", "mmoe", got "hydra"/,
    ],
    [
      'lora target',
      (s) => {
        s.sharing = mt.sharing.lora({ targets: ['x' as never] });
      },
      /sharing\.lora\.targets\.0: expected one of "q", "k", "v", "o", got "x"/,
    ],
    [
      'adapter placement',
      (s) => {
        s.sharing = mt.sharing.adapters({ placement: 'middle' as never });
      },
      /sharing\.adapters\.placement: expected one of "houlsby", "pfeiffer", got "middle"/,
    ],
    [
      'mmoe topK',
      (s) => {
        s.sharing = mt.sharing.mmoe({ experts: 2, topK: 3 });
      },
      /sharing\.mmoe\.topK: must not exceed experts/,
    ],
    [
      'vocabSize missing',
      (s) => {
        s.input = { maxLength: 8 };
      },
      /multitask\.input\.vocabSize: give exactly one of 'vocabSize' \(token inputs\) and 'features'/,
    ],
    [
      'dropout',
      (s) => {
        s.encoder = { ...encoder, dropout: 1 };
      },
      /multitask\.encoder\.dropout: expected a number < 1, got 1/,
    ],
    [
      'unknown option',
      (s) => {
        s.encoder = { ...encoder, heads: 2 };
      },
      /multitask\.encoder\.heads: is not an option here/,
    ],
    [
      'tagging decoder',
      (s) => {
        s.tasks = { pos: { kind: 'tagging', classes: 3, decoderLayers: 1 } };
      },
      /multitask\.tasks\.pos\.decoderLayers: is not an option here/,
    ],
    [
      'a runaway size',
      (s) => {
        s.encoder = { ...encoder, numLayers: 1e9 };
      },
      /multitask\.encoder\.numLayers: expected a number <= 256, got 1000000000/,
    ],
    [
      'device',
      (s) => {
        s.device = 'tpu';
      },
      /multitask\.device: expected 'cpu', 'cuda' or 'cuda:N'/,
    ],
  ];
  for (const [name, mutate, message] of cases) {
    it(`refuses ${name}`, () => {
      // A factory (mt.sharing.*, mt.tasks.*) refuses its own options before the spec is built.
      expect(() => {
        const s = base();
        mutate(s);
        mt.multitask(s as unknown as mt.MultiTaskSpec);
      }).toThrow(message);
    });
  }
});
