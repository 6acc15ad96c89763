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
import * as mt from '../lib/index.ts';
import { paddedInputs, randomizeWeights, tempDir } from './support/multitask-twin.ts';

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
  pos: mt.tensor([[0, 1, 2, 3, 0], [1, 1, 1, -100, -100], [3, 2, -100, -100, -100]], { dtype: 'int64' }),
});

function sameValues(a: mt.Tensor, b: mt.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.dataSync() as Float32Array)).toEqual(Array.from(b.dataSync() as Float32Array));
}

describe('encode once, decode many', () => {
  for (const sharing of [mt.sharing.sharedEncoder(), mt.sharing.layerwise({ sharedLayers: 1 }), mt.sharing.mmoe({ experts: 2 }), mt.sharing.fullyShared()]) {
    it(`${sharing.kind}: a three-task forward runs the shared encoder once and equals three separate forwards`, () => {
      const model = mt.multitask({ input, encoder, sharing, tasks: threeTasks() });
      const x = inputs();
      const t = targets();
      const before = model.native.sharedEncoderRuns();
      const together = model.forwardMany(x, t);
      expect(model.native.sharedEncoderRuns() - before).toBe(1);
      for (const task of ['topic', 'score', 'pos'] as const) {
        const alone = model.forward(task, { ...x, targets: t[task] });
        const diff = together[task]!.outputs.sub(alone.outputs).abs().max().item() as number;
        expect(diff).toBeLessThan(1e-6);
        expect(Math.abs((together[task]!.loss!.item() as number) - (alone.loss!.item() as number))).toBeLessThan(1e-6);
      }
      expect(model.native.sharedEncoderRuns() - before).toBe(4);
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
    const encoderSize = model.namedParameters().filter(([n]) => n.startsWith('encoder.')).reduce((a, [, p]) => a + p.numel, 0);
    expect(model.partParameterNames('encoder').every((n) => n.startsWith('encoder.'))).toBe(true);
    expect(model.summary().trainable).toBe(model.summary().total - encoderSize);
    model.freeze('topic');
    expect(model.namedParameters().filter(([n]) => n.startsWith('tasks.topic.')).every(([, p]) => !p.requiresGrad)).toBe(true);
    expect(model.namedParameters().filter(([n]) => n.startsWith('tasks.score.')).every(([, p]) => p.requiresGrad)).toBe(true);
    expect(() => model.freeze('nothing')).toThrow(/unknown part 'nothing'/);
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
    const out = model.forward('extra', { ...inputs(), targets: mt.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 1]]) });
    expect(out.outputs.shape).toEqual([3, 3]);
    expect(Number.isFinite(out.loss!.item())).toBe(true);
    expect(() => model.addTask('extra', mt.tasks.regression())).toThrow(/already exists/);
    expect(() => model.addTask('bad', { kind: 'ranking' } as never)).toThrow(/tasks\.bad\.kind must be one of/);
  });
});

describe('save and load', () => {
  const spec = (): mt.MultiTaskSpec => ({
    input, encoder, sharing: mt.sharing.lora({ rank: 2 }),
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
    const script = path.join(tmp.dir, 'reload.ts');
    const lib = fileURLToPath(new URL('../lib/index.ts', import.meta.url));
    writeFileSync(script, `
      import * as mt from ${JSON.stringify(lib)};
      const model = (await mt.MultiTaskModel.load(${JSON.stringify(dir)})).eval();
      const x = mt.load(${JSON.stringify(path.join(dir, 'inputs.safetensors'))});
      const r = model.forwardMany({ inputIds: x.inputIds, lengths: x.lengths }, { topic: null, score: null, pos: null });
      const g = model.generate('g2p', { inputIds: x.inputIds, lengths: x.lengths }, { beamSize: 2 });
      mt.save(${JSON.stringify(path.join(dir, 'reloaded.safetensors'))}, {
        topic: r.topic.outputs, score: r.score.outputs, pos: r.pos.outputs, sequences: g.sequences, scores: g.scores });
    `);
    const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url));
    execFileSync(process.execPath, [tsx, script], { stdio: ['ignore', 'inherit', 'inherit'] });
    const there = mt.load(path.join(dir, 'reloaded.safetensors'));
    for (const task of ['topic', 'score', 'pos'] as const) sameValues(there[task]!, here[task]!.outputs);
    expect(there.sequences!.toArray()).toEqual(generated.sequences.toArray());
    sameValues(there.scores!, generated.scores);
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
    await expect(mt.MultiTaskModel.load(dir)).rejects.toThrow(/encoder\.dModel \(15\) must be divisible by encoder\.nhead/);
  });
});

describe('spec validation names the field', () => {
  const base = (): Record<string, unknown> => ({ input, encoder, tasks: { topic: mt.tasks.classification({ classes: 3 }) } });
  const cases: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    ['unknown task kind', (s) => { s.tasks = { topic: { kind: 'ranking' } }; }, /tasks\.topic\.kind must be one of classification, regression, multiLabel, tagging, sequence/],
    ['sharedLayers > numLayers', (s) => { s.sharing = mt.sharing.layerwise({ sharedLayers: 3 }); }, /sharing\.sharedLayers \(3\) must not exceed encoder\.numLayers \(2\)/],
    ['dModel not divisible by nhead', (s) => { s.encoder = { ...encoder, nhead: 3 }; }, /encoder\.dModel \(16\) must be divisible by encoder\.nhead \(3\)/],
    ['empty task set', (s) => { s.tasks = {}; }, /tasks must name at least one task/],
    ['sequence vocabSize', (s) => { s.tasks = { g2p: { ...mt.tasks.sequence({ vocabSize: 5, maxLength: 4 }), vocabSize: 0 } }; }, /tasks\.g2p\.vocabSize must be a positive integer/],
    ['sequence eosId outside the vocabulary', (s) => { s.tasks = { g2p: mt.tasks.sequence({ vocabSize: 5, maxLength: 4, eosId: 9 }) }; }, /tasks\.g2p\.eosId must be an integer in \[0, vocabSize 5\)/],
    ['classes', (s) => { s.tasks = { topic: { kind: 'classification', classes: 1.5 } }; }, /tasks\.topic\.classes must be a positive integer/],
    ['bad task name', (s) => { s.tasks = { 'a.b': mt.tasks.regression() }; }, /task name string a\.b must be an identifier/],
    ['unknown sharing', (s) => { s.sharing = { kind: 'hydra' }; }, /sharing\.kind must be one of/],
    ['lora target', (s) => { s.sharing = mt.sharing.lora({ targets: ['x' as never] }); }, /sharing\.targets\[0\] must be one of q, k, v, o/],
    ['adapter placement', (s) => { s.sharing = mt.sharing.adapters({ placement: 'middle' as never }); }, /sharing\.placement must be one of houlsby, pfeiffer/],
    ['mmoe topK', (s) => { s.sharing = mt.sharing.mmoe({ experts: 2, topK: 3 }); }, /sharing\.topK \(3\) must not exceed sharing\.experts \(2\)/],
    ['vocabSize missing', (s) => { s.input = { maxLength: 8 }; }, /input\.vocabSize must be a positive integer/],
    ['dropout', (s) => { s.encoder = { ...encoder, dropout: 1 }; }, /encoder\.dropout must be a number in \[0, 1\)/],
    ['unknown option', (s) => { s.encoder = { ...encoder, heads: 2 }; }, /encoder\.heads is not a known option/],
    ['tagging decoder', (s) => { s.tasks = { pos: { kind: 'tagging', classes: 3, decoderLayers: 1 } }; }, /tasks\.pos\.decoderLayers is not a known option/],
    ['device', (s) => { s.device = 'tpu'; }, /device/],
  ];
  for (const [name, mutate, message] of cases) {
    it(`refuses ${name}`, () => {
      const s = base();
      mutate(s);
      expect(() => mt.multitask(s as unknown as mt.MultiTaskSpec)).toThrow(message);
    });
  }
});
