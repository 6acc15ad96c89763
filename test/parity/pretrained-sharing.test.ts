/**
 * A pretrained BERT checkpoint under every sharing scheme: the checkpoint's weights land where each
 * scheme keeps them (layerwise's per-task layers get the layers they stand for), the whole model
 * (token types, pretrained pooler, the scheme, the heads) agrees with the PyTorch twin
 * (python/multitask_twin.py) in outputs and gradients, freezeBackbone freezes what it says, the
 * fine-tuned encoder exports as a Hugging Face directory the reference loads with the same outputs,
 * and a task's adapter / LoRA weights save and load alone.
 */
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { expectClose, randomizeWeights, runTwin, tempDir, type TwinJob } from './oracles/multitask-twin.ts';
import { fixtureVocab, makeCheckpoints, runReference, smallConfig } from './oracles/hf-reference.ts';

const tmp = tempDir('mtl-pretrained-sharing-');
const BERT = path.join(tmp.dir, 'bert');
const LENGTHS = [7, 5, 3];
const L = 7;

function inputs(seed: number): mt.ModelInputs {
  mt.manualSeed(seed);
  const ids = mt.randint(3, 30, [LENGTHS.length, L]).dataSync() as BigInt64Array;
  return {
    inputIds: mt.tensor(
      LENGTHS.map((n, b) => Array.from({ length: L }, (_, i) => (i < n ? Number(ids[b * L + i]) : 0))),
      { dtype: 'int64' },
    ),
    lengths: mt.tensor(LENGTHS, { dtype: 'int64' }),
    tokenTypeIds: mt.tensor(
      LENGTHS.map((n) => Array.from({ length: L }, (_, i) => (i >= 3 && i < n ? 1 : 0))),
      { dtype: 'int64' },
    ),
  };
}
const targets = () => ({
  topic: mt.tensor([2, 0, 1], { dtype: 'int64' }),
  score: mt.tensor([0.5, -1, 2]),
  pos: mt.tensor(
    LENGTHS.map((n, b) => Array.from({ length: L }, (_, i) => (i < n ? (i + b) % 4 : -100))),
    { dtype: 'int64' },
  ),
});
const heads = (pooling: 'mean' | 'pretrained' = 'pretrained') => ({
  topic: mt.tasks.classification({ classes: 3, pooling }),
  score: mt.tasks.regression({ decoderLayers: 1 }),
  pos: mt.tasks.tagging({ classes: 4 }),
});

const SCHEMES: Record<string, mt.SharingSpec> = {
  sharedEncoder: mt.sharing.sharedEncoder(),
  layerwise: mt.sharing.layerwise({ sharedLayers: 1 }),
  adapters: mt.sharing.adapters({ reduction: 4, freezeBackbone: true }),
  lora: mt.sharing.lora({ rank: 2, targets: ['q', 'k', 'v', 'o'], freezeBackbone: true }),
  mmoe: mt.sharing.mmoe({ experts: 2 }),
  fullyShared: mt.sharing.fullyShared(),
};

const build = (sharing: mt.SharingSpec, pooling: 'mean' | 'pretrained' = 'pretrained') =>
  mt.multitask({ encoder: mt.pretrained.encoder(BERT, { dropout: 0 }), sharing, tasks: heads(pooling) });

let checkpoint: Record<string, mt.Tensor> = {};
const parity: { name: string; results: Record<string, mt.TaskOutput>; grads: Map<string, mt.Tensor | null>; frozen: Set<string> }[] = [];
let twin: Record<string, mt.Tensor>[] = [];

beforeAll(() => {
  makeCheckpoints([{ dir: BERT, config: smallConfig('bert'), prefix: 'bert.', vocab: fixtureVocab(), seed: 11 }], tmp.dir);
  checkpoint = mt.load(path.join(BERT, 'model.safetensors'));
  const jobs: TwinJob[] = [];
  let seed = 30;
  for (const [name, sharing] of Object.entries(SCHEMES)) {
    const model = build(sharing, name === 'fullyShared' ? 'mean' : 'pretrained');
    randomizeWeights(model, seed); // every part takes part, adapters' zero up-projections included
    const dir = path.join(tmp.dir, `parity-${name}`);
    void model.save(dir);
    const x = inputs(seed);
    const t = targets();
    mt.save(path.join(dir, 'inputs.safetensors'), {
      ...x,
      ...Object.fromEntries(Object.entries(t).map(([k, v]) => [`targets.${k}`, v])),
    } as Record<string, mt.Tensor>);
    const results = model.forwardMany(x, t);
    Object.values(results)
      .map((r) => r.loss!)
      .reduce((a, b) => a.add(b))
      .backward();
    const named = model.namedParameters();
    parity.push({
      name,
      results,
      grads: new Map(named.map(([n, p]) => [n, p.grad])),
      frozen: new Set(named.filter(([, p]) => !p.requiresGrad).map(([n]) => n)),
    });
    jobs.push({
      model: dir,
      inputs: path.join(dir, 'inputs.safetensors'),
      output: path.join(dir, 'twin.safetensors'),
      tasks: Object.keys(t),
      grads: true,
    });
    seed++;
  }
  twin = runTwin(jobs, tmp.dir);
});

afterAll(() => tmp.remove());

const maxDiff = (a: mt.Tensor, b: mt.Tensor) => a.sub(b).abs().max().item() as number;

describe('a pretrained encoder under every sharing scheme', () => {
  it("each scheme starts from the checkpoint's weights", () => {
    const word = checkpoint['bert.embeddings.word_embeddings.weight']!;
    const layer1 = checkpoint['bert.encoder.layer.1.intermediate.dense.weight']!;
    for (const [name, sharing] of Object.entries(SCHEMES)) {
      const sd = build(sharing).stateDict();
      expect(maxDiff(sd['embedding.token.weight']!, word), name).toBe(0);
      if (name === 'layerwise') {
        expect(Object.keys(sd).some((k) => k.startsWith('encoder.layers.1.'))).toBe(false);
        for (const task of ['topic', 'score', 'pos'])
          expect(maxDiff(sd[`layerwise.${task}.layers.0.linear1.weight`]!, layer1), task).toBe(0);
      } else {
        expect(maxDiff(sd['encoder.layers.1.linear1.weight']!, layer1), name).toBe(0);
      }
      expect(maxDiff(sd['pooler.weight']!, checkpoint['bert.pooler.dense.weight']!), name).toBe(0);
    }
  });

  for (const [index, name] of Object.keys(SCHEMES).entries()) {
    it(`${name}: outputs, losses and every gradient agree with the PyTorch twin`, () => {
      const { results, grads, frozen } = parity[index]!;
      const expected = twin[index]!;
      for (const [task, r] of Object.entries(results)) {
        expectClose(r.outputs, expected[`outputs.${task}`], 1e-5, `${name} ${task} outputs`);
        expectClose(r.loss!.reshape([1]), expected[`loss.${task}`], 1e-5, `${name} ${task} loss`);
      }
      let compared = 0;
      for (const [param, grad] of grads) {
        // freezeBackbone: the backbone gets no gradient here (the twin trains everything).
        if (frozen.has(param)) {
          expect(grad, `${name} ${param}: a frozen parameter got a gradient`).toBeNull();
          continue;
        }
        const reference = expected[`grad.${param}`];
        if (!reference) {
          if (grad) expect(grad.abs().max().item(), `${name} ${param}: gradient where PyTorch has none`).toBe(0);
          continue;
        }
        expectClose(grad, reference, 1e-4, `${name} grad ${param}`);
        compared++;
      }
      expect(compared).toBeGreaterThan(20);
    });
  }

  it('freezeBackbone (adapters, LoRA): only the per-task parts and heads train', async () => {
    for (const kind of ['adapters', 'lora'] as const) {
      const model = build(SCHEMES[kind]!);
      const summary = model.summary();
      expect(summary.trainable).toBe(Object.values(summary.perTask).reduce((a, b) => a + b, 0));
      const snapshot = () => Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
      const before = snapshot();
      const trainer = new mt.Trainer(model, { optimizer: mt.optim.adamW({ lr: 1e-2 }), batchSize: 3 });
      const data = mt.data.Dataset.fromExamples(
        [0, 1, 2].map((i) => ({ inputIds: [2, 5 + i, 7, 3], tokenTypeIds: [0, 0, 1, 1], target: i })),
        { targetKind: 'classification', padId: 0, vocabSize: 30 },
      );
      await trainer.fit({ topic: data }, { steps: 2 });
      const after = snapshot();
      expect(maxDiff(after['encoder.layers.0.self_attn.in_proj_weight']!, before['encoder.layers.0.self_attn.in_proj_weight']!), kind).toBe(
        0,
      );
      expect(maxDiff(after['embedding.token_type.weight']!, before['embedding.token_type.weight']!), kind).toBe(0);
      expect(maxDiff(after['tasks.topic.out.weight']!, before['tasks.topic.out.weight']!), kind).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('export and adapters', () => {
  it('a fine-tuned encoder exports as a Hugging Face directory the reference loads with the same outputs', async () => {
    const model = build(mt.sharing.sharedEncoder());
    randomizeWeights(model, 77, 0.2); // stands for fine-tuning: every weight differs from the checkpoint
    model.eval();
    const out = path.join(tmp.dir, 'exported');
    await model.savePretrained(out);
    expect(existsSync(path.join(out, 'vocab.txt'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'))).toMatchObject({
      model_type: 'bert',
      num_hidden_layers: 2,
      hidden_size: 16,
    });
    const x = inputs(5);
    const mask = mt.tensor(
      LENGTHS.map((n) => Array.from({ length: L }, (_, i) => (i < n ? 1 : 0))),
      { dtype: 'int64' },
    );
    mt.save(path.join(out, 'inputs.safetensors'), { inputIds: x.inputIds!, attentionMask: mask, tokenTypeIds: x.tokenTypeIds! });
    const [ref] = runReference(
      [{ dir: out, inputs: path.join(out, 'inputs.safetensors'), output: path.join(tmp.dir, 'exported-ref.safetensors') }],
      tmp.dir,
    );
    const ours = mt.noGrad(() => model.encode(x));
    expectClose(ours.hidden, ref!.hidden, 1e-5, 'exported hidden');
    expectClose(ours.pooled, ref!.pooled, 1e-5, 'exported pooled');
    // ... and it loads back here as the same encoder
    const again = mt.multitask({ encoder: mt.pretrained.encoder(out), tasks: { t: mt.tasks.regression() } });
    again.eval();
    expect(maxDiff(mt.noGrad(() => again.encode(x)).hidden, ours.hidden)).toBeLessThan(1e-6);
  });

  it('layerwise: a task exports its whole encoder (shared layers, then its own)', async () => {
    const model = build(SCHEMES.layerwise!);
    randomizeWeights(model, 78, 0.2);
    model.eval();
    await expect(model.savePretrained(path.join(tmp.dir, 'lw'))).rejects.toThrow(/give \{ task \}/);
    const out = path.join(tmp.dir, 'lw-pos');
    await model.savePretrained(out, { task: 'pos' });
    const exported = mt.load(path.join(out, 'model.safetensors'));
    const sd = model.stateDict();
    expect(maxDiff(exported['encoder.layer.1.intermediate.dense.weight']!, sd['layerwise.pos.layers.0.linear1.weight']!)).toBe(0);
    expect(
      maxDiff(exported['encoder.layer.0.attention.self.key.weight']!, sd['encoder.layers.0.self_attn.in_proj_weight']!.chunk(3, 0)[1]!),
    ).toBe(0);
  });

  it('schemes whose parts a BERT cannot hold are refused unless the backbone alone is asked for', async () => {
    const model = build(SCHEMES.adapters!);
    await expect(model.savePretrained(path.join(tmp.dir, 'ad'))).rejects.toThrow(/pass \{ backbone: true \}/);
    await model.savePretrained(path.join(tmp.dir, 'ad'), { backbone: true });
    await expect(model.savePretrained(path.join(tmp.dir, 'ad'), { task: 'topic', backbone: true })).rejects.toThrow(
      /'task' selects a layerwise task's own layers/,
    );
    const scratch = mt.multitask({
      input: { vocabSize: 10, maxLength: 8 },
      encoder: { numLayers: 1, dModel: 8, nhead: 2 },
      tasks: { t: mt.tasks.regression() },
    });
    await expect(scratch.savePretrained(path.join(tmp.dir, 'x'))).rejects.toThrow(/not built from a pretrained encoder/);
  });

  it("saveAdapter / loadAdapter: a task's adapters (or LoRA) and head move to another model", () => {
    for (const kind of ['adapters', 'lora'] as const) {
      const trained = build(SCHEMES[kind]!);
      randomizeWeights(trained, 90);
      trained.eval();
      const file = path.join(tmp.dir, `${kind}-topic.safetensors`);
      trained.saveAdapter('topic', file);
      const saved = mt.load(file);
      expect(Object.keys(saved).every((k) => k.startsWith('sharing.') || k.startsWith('head.'))).toBe(true);
      // A model with the trained backbone but without the task gets it back from the file, under a new name.
      const fresh = mt.multitask({
        encoder: mt.pretrained.encoder(BERT, { dropout: 0 }),
        sharing: SCHEMES[kind]!,
        tasks: { pos: mt.tasks.tagging({ classes: 4 }) },
      });
      fresh.loadStateDict(
        Object.fromEntries(Object.entries(trained.stateDict()).filter(([k]) => fresh.partParameterNames('backbone').includes(k))),
        { strict: false },
      );
      fresh.loadAdapter(file, { task: 'sentiment' });
      fresh.eval();
      const x = inputs(9);
      expect(maxDiff(fresh.forward('sentiment', x).outputs, trained.forward('topic', x).outputs), kind).toBeLessThan(1e-6);
    }
    const other = build(mt.sharing.lora({ rank: 4 }));
    expect(() => other.loadAdapter(path.join(tmp.dir, 'lora-topic.safetensors'))).toThrow(/this model's sharing is/);
    expect(() => build(mt.sharing.sharedEncoder()).saveAdapter('topic', path.join(tmp.dir, 'x.safetensors'))).toThrow(/adapters or LoRA/);
    const lora = build(SCHEMES.lora!);
    expect(() => lora.loadAdapter(path.join(tmp.dir, 'none.safetensors'))).toThrow(/does not exist/);
    mt.save(path.join(tmp.dir, 'plain.safetensors'), { x: mt.zeros([1]) });
    expect(() => lora.loadAdapter(path.join(tmp.dir, 'plain.safetensors'))).toThrow(/is not an adapter file/);
  });
});
