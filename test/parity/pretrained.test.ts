/**
 * Pretrained encoders from Hugging Face directories against the PyTorch reference of BertModel,
 * RobertaModel (and XLM-R), ElectraModel and DistilBertModel (test/parity/oracles/hf_models.py, HF's
 * parameter names): small random checkpoints written by the reference are loaded with
 * mt.pretrained.encoder; hidden states and pooled outputs must agree within 1e-5 and every
 * parameter's gradient within 1e-4. Then every refusal: pickle checkpoints, unknown model types,
 * config/weights mismatches, vocabularies larger than the embedding, missing files.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { expectClose, tempDir } from './oracles/multitask-twin.ts';
import {
  asCheckpointTensor,
  fixtureVocab,
  makeCheckpoints,
  ourName,
  runReference,
  smallConfig,
  type CheckpointSpec,
  type ReferenceJob,
} from './oracles/hf-reference.ts';

const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const tmp = tempDir('mtl-pretrained-');
const dirOf = (name: string) => path.join(tmp.dir, name);

interface Family {
  name: string;
  spec: CheckpointSpec;
  pad: number;
  types: boolean;
}
const FAMILIES: Family[] = [
  {
    name: 'bert',
    pad: 0,
    types: true,
    spec: {
      dir: dirOf('bert'),
      config: smallConfig('bert'),
      prefix: 'bert.',
      extra: { 'classifier.weight': [3, 16], 'classifier.bias': [3] },
      vocab: fixtureVocab(),
    },
  },
  {
    name: 'bert-base-layout',
    pad: 0,
    types: true,
    spec: {
      dir: dirOf('bert-base-layout'),
      config: smallConfig('bert', { hidden_act: 'relu', layer_norm_eps: 1e-6 }),
      prefix: '',
      seed: 3,
    },
  },
  {
    name: 'roberta',
    pad: 1,
    types: false,
    spec: { dir: dirOf('roberta'), config: smallConfig('roberta'), prefix: 'roberta.', extra: { 'lm_head.bias': [30] }, seed: 4 },
  },
  {
    name: 'xlm-roberta',
    pad: 1,
    types: false,
    spec: { dir: dirOf('xlm-roberta'), config: smallConfig('xlm-roberta'), prefix: '', pooler: false, seed: 5 },
  },
  {
    name: 'electra',
    pad: 0,
    types: true,
    spec: {
      dir: dirOf('electra'),
      config: smallConfig('electra'),
      prefix: 'electra.',
      extra: { 'discriminator_predictions.dense.weight': [16, 16] },
      seed: 6,
    },
  },
  {
    name: 'distilbert',
    pad: 0,
    types: false,
    spec: { dir: dirOf('distilbert'), config: smallConfig('distilbert'), prefix: 'distilbert.', seed: 7 },
  },
];

const LENGTHS = [7, 4, 2];
const L = 7;

/** Padded ids in [3, 30) (never a padding id), a pair split for token types, lengths. */
function inputsFor(family: Family, seed: number): mt.ModelInputs & { attentionMask: mt.Tensor } {
  mt.manualSeed(seed);
  const ids = mt.randint(3, 30, [LENGTHS.length, L]).dataSync() as BigInt64Array;
  const rows = LENGTHS.map((len, b) => Array.from({ length: L }, (_, i) => (i < len ? Number(ids[b * L + i]) : family.pad)));
  const mask = LENGTHS.map((len) => Array.from({ length: L }, (_, i) => (i < len ? 1 : 0)));
  const types = LENGTHS.map((len) => Array.from({ length: L }, (_, i) => (i >= Math.ceil(len / 2) && i < len ? 1 : 0)));
  return {
    inputIds: mt.tensor(rows, { dtype: 'int64' }),
    lengths: mt.tensor(LENGTHS, { dtype: 'int64' }),
    attentionMask: mt.tensor(mask, { dtype: 'int64' }),
    ...(family.types ? { tokenTypeIds: mt.tensor(types, { dtype: 'int64' }) } : {}),
  };
}

interface Run {
  model: mt.MultiTaskModel;
  encoding: mt.Encoding;
  grads: Map<string, mt.Tensor | null>;
}
const runs = new Map<string, Run>();
let reference: Record<string, mt.Tensor>[] = [];

beforeAll(() => {
  makeCheckpoints(
    FAMILIES.map((f) => f.spec),
    tmp.dir,
  );
  const jobs: ReferenceJob[] = [];
  FAMILIES.forEach((family, i) => {
    const model = mt.multitask({
      encoder: mt.pretrained.encoder(family.spec.dir),
      tasks: { topic: mt.tasks.classification({ classes: 3 }) },
    });
    model.eval();
    const { attentionMask, ...inputs } = inputsFor(family, 10 + i);
    const encoding = model.encode(inputs);
    mt.manualSeed(20 + i);
    const wHidden = mt.randn(encoding.hidden.shape);
    const wPooled = mt.randn([LENGTHS.length, 16]);
    let loss = encoding.hidden.mul(wHidden).sum();
    if (encoding.pooled) loss = loss.add(encoding.pooled.mul(wPooled).sum());
    loss.backward();
    runs.set(family.name, { model, encoding, grads: new Map(model.namedParameters().map(([n, p]) => [n, p.grad])) });
    const inputFile = path.join(family.spec.dir, 'inputs.safetensors');
    mt.save(inputFile, {
      inputIds: inputs.inputIds!,
      attentionMask,
      wHidden,
      wPooled,
      ...(inputs.tokenTypeIds ? { tokenTypeIds: inputs.tokenTypeIds } : {}),
    });
    jobs.push({ dir: family.spec.dir, inputs: inputFile, output: path.join(family.spec.dir, 'reference.safetensors'), grads: true });
  });
  reference = runReference(jobs, tmp.dir);
});

afterAll(() => tmp.remove());

describe('BERT-family checkpoints vs the PyTorch reference', () => {
  FAMILIES.forEach((family, i) => {
    it(`${family.name}: hidden states and pooled output within 1e-5`, () => {
      const { encoding } = runs.get(family.name)!;
      expectClose(encoding.hidden, reference[i]!.hidden, FORWARD_TOL, `${family.name} hidden`);
      const pooled = reference[i]!.pooled;
      expect(encoding.pooled === undefined, `${family.name}: pooler presence`).toBe(pooled === undefined);
      if (pooled) expectClose(encoding.pooled, pooled, FORWARD_TOL, `${family.name} pooled`);
    });
    it(`${family.name}: every encoder parameter's gradient within 1e-4`, () => {
      const { grads } = runs.get(family.name)!;
      let compared = 0;
      for (const [key, expected] of Object.entries(reference[i]!)) {
        if (!key.startsWith('grad.')) continue;
        const mapped = ourName(key.slice('grad.'.length));
        expect(mapped, `${key} has a model counterpart`).toBeDefined();
        const grad = grads.get(mapped!.name);
        expect(grad, `${family.name}: no gradient for ${mapped!.name}`).toBeTruthy();
        expectClose(asCheckpointTensor(grad!, mapped!.part), expected, GRAD_TOL, `${family.name} grad ${key}`);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(family.name === 'distilbert' ? 28 : 30);
    });
  });

  it('a RoBERTa model takes every token as type 0, and BERT reads the pair segments', () => {
    const roberta = runs.get('roberta')!.model;
    const bert = runs.get('bert')!.model;
    mt.noGrad(() => {
      const { attentionMask: _r, ...r } = inputsFor(FAMILIES[2]!, 1);
      const ones = mt.onesLike(r.inputIds!);
      const a = roberta.encode(r).hidden;
      const b = roberta.encode({ ...r, tokenTypeIds: ones }).hidden;
      expect(a.sub(b).abs().max().item()).toBe(0);
      const { attentionMask: _b, ...x } = inputsFor(FAMILIES[0]!, 1);
      const zeros = bert.encode({ ...x, tokenTypeIds: mt.zerosLike(x.inputIds!) }).hidden;
      expect(bert.encode(x).hidden.sub(zeros).abs().max().item()).toBeGreaterThan(1e-3);
      expect(() => bert.encode({ ...x, tokenTypeIds: mt.fullLike(x.inputIds!, 2) })).toThrow(/tokenTypeIds must lie in \[0, 2\)/);
    });
  });

  it("the config keeps the checkpoint's architecture; the heads start fresh", () => {
    const model = runs.get('electra')!.model;
    expect(model.config.encoder).toMatchObject({
      dModel: 16,
      embeddingSize: 8,
      positions: 'learned',
      typeVocabSize: 2,
      embeddingNorm: true,
      activationDropout: 0,
      layerNormEps: 1e-12,
    });
    expect(model.config.input).toEqual({ vocabSize: 30, maxLength: 24, padId: 0, features: 0 });
    expect(model.config.pretrained?.modelType).toBe('electra');
    expect(runs.get('roberta')!.model.config.encoder).toMatchObject({ positionOffset: 2, typeVocabSize: 1, pooler: true });
    expect(runs.get('xlm-roberta')!.model.config.encoder.pooler).toBe(false);
  });

  it('layers: k keeps the first k layers', () => {
    const model = mt.multitask({
      encoder: mt.pretrained.encoder(FAMILIES[0]!.spec.dir, { layers: 1 }),
      tasks: { t: mt.tasks.regression() },
    });
    expect(model.config.encoder.numLayers).toBe(1);
    const full = runs.get('bert')!.model.stateDict();
    const kept = model.stateDict();
    expect(Object.keys(kept).some((k) => k.startsWith('encoder.layers.1.'))).toBe(false);
    expect(kept['encoder.layers.0.linear1.weight']!.sub(full['encoder.layers.0.linear1.weight']!).abs().max().item()).toBe(0);
    expect(() =>
      mt.multitask({ encoder: mt.pretrained.encoder(FAMILIES[0]!.spec.dir, { layers: 3 }), tasks: { t: mt.tasks.regression() } }),
    ).toThrow(/layers: \(3\) exceeds the checkpoint's 2 layers/);
  });

  it('a saved fine-tuned model loads without its source directory', async () => {
    const model = runs.get('distilbert')!.model;
    const dir = dirOf('saved-distilbert');
    await model.save(dir);
    const loaded = await mt.MultiTaskModel.load(dir);
    expect(loaded.config.pretrained?.modelType).toBe('distilbert');
    loaded.eval();
    const { attentionMask: _m, ...inputs } = inputsFor(FAMILIES[5]!, 3);
    mt.noGrad(() => expect(loaded.encode(inputs).hidden.sub(model.encode(inputs).hidden).abs().max().item()).toBe(0));
  });
});

describe('bad checkpoints are refused with a clear error', () => {
  /** A copy of the bert checkpoint with `change` applied. */
  function variant(name: string, change: (dir: string) => void): string {
    const dir = dirOf(name);
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'vocab.txt']) copyFileSync(path.join(FAMILIES[0]!.spec.dir, f), path.join(dir, f));
    change(dir);
    return dir;
  }
  const editConfig = (dir: string, edit: (c: Record<string, unknown>) => void) => {
    const file = path.join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    edit(config);
    writeFileSync(file, JSON.stringify(config));
  };
  function refusal(run: () => unknown): mt.TorchError {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(mt.TorchError);
      return error as mt.TorchError;
    }
    throw new Error('expected a refusal');
  }
  const build = (dir: string) => () => mt.multitask({ encoder: mt.pretrained.encoder(dir), tasks: { t: mt.tasks.regression() } });

  it('a pickle pytorch_model.bin, with how to convert it', () => {
    const dir = variant('pickle', (d) => {
      rmSync(path.join(d, 'model.safetensors'));
      writeFileSync(path.join(d, 'pytorch_model.bin'), Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
    });
    const error = refusal(build(dir));
    expect(error.code).toBe('ERR_BAD_CHECKPOINT');
    expect(error.message).toMatch(/pytorch_model\.bin is a pickle checkpoint, which is never loaded/);
    expect(error.message).toMatch(/safetensors/);
  });

  it('an unknown model_type', () => {
    const dir = variant('gpt2', (d) =>
      editConfig(d, (c) => {
        c.model_type = 'gpt2';
      }),
    );
    const error = refusal(build(dir));
    expect(error.code).toBe('ERR_BAD_CHECKPOINT');
    expect(error.message).toMatch(/model_type 'gpt2' is not supported \(supported: .*bert.*distilbert.*electra.*roberta/);
  });

  it('config.json and the weights disagree: the keys and shapes are named', () => {
    const dir = variant('wide', (d) =>
      editConfig(d, (c) => {
        c.intermediate_size = 40;
      }),
    );
    const error = refusal(build(dir));
    expect(error.code).toBe('ERR_BAD_CHECKPOINT');
    expect(error.message).toMatch(
      /size mismatch: bert\.encoder\.layer\.0\.intermediate\.dense\.weight \(32, 16\) in model\.safetensors vs \(40, 16\) from config\.json/,
    );
    const vocab = variant('vocab-rows', (d) =>
      editConfig(d, (c) => {
        c.vocab_size = 40;
      }),
    );
    expect(refusal(build(vocab)).message).toMatch(
      /bert\.embeddings\.word_embeddings\.weight \(30, 16\) in model\.safetensors vs \(40, 16\)/,
    );
    const deeper = variant('deeper', (d) =>
      editConfig(d, (c) => {
        c.num_hidden_layers = 3;
      }),
    );
    expect(refusal(build(deeper)).message).toMatch(/missing tensors: bert\.encoder\.layer\.2\.attention\.self\.query\.weight/);
    const shallower = variant('shallower', (d) =>
      editConfig(d, (c) => {
        c.num_hidden_layers = 1;
      }),
    );
    expect(refusal(build(shallower)).message).toMatch(/unexpected tensors: bert\.encoder\.layer\.1\..* \(/);
  });

  it('a config.json the family cannot run', () => {
    const act = variant('gelu-new', (d) =>
      editConfig(d, (c) => {
        c.hidden_act = 'gelu_new';
      }),
    );
    expect(refusal(build(act)).message).toMatch(/config\.json: hidden_act 'gelu_new' is not supported/);
    const relative = variant('relative', (d) =>
      editConfig(d, (c) => {
        c.position_embedding_type = 'relative_key';
      }),
    );
    expect(refusal(build(relative)).code).toBe('ERR_BAD_CHECKPOINT');
    const typed = variant('typed', (d) =>
      editConfig(d, (c) => {
        c.hidden_size = 'sixteen';
      }),
    );
    expect(refusal(build(typed)).code).toBe('ERR_BAD_CHECKPOINT');
  });

  it('a tokenizer with more ids than the embedding table', () => {
    const dir = variant('big-vocab', (d) =>
      writeFileSync(
        path.join(d, 'vocab.txt'),
        Array.from({ length: 31 }, (_, i) => (i < 5 ? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'][i] : `w${i}`)).join('\n'),
      ),
    );
    const error = refusal(() => mt.pretrained.tokenizer(dir));
    expect(error.code).toBe('ERR_BAD_CHECKPOINT');
    expect(error.message).toMatch(/the tokenizer has 31 ids but the embedding table \(config\.json vocab_size\) has 30 rows/);
    expect(mt.pretrained.tokenizer(FAMILIES[0]!.spec.dir).vocabSize).toBe(16);
  });

  it('missing directories and files', () => {
    expect(refusal(build(dirOf('nowhere'))).code).toBe('ERR_NOT_FOUND');
    const noWeights = variant('no-weights', (d) => rmSync(path.join(d, 'model.safetensors')));
    expect(refusal(build(noWeights)).message).toMatch(/has no model\.safetensors/);
    const noConfig = variant('no-config', (d) => rmSync(path.join(d, 'config.json')));
    expect(refusal(build(noConfig)).code).toBe('ERR_NOT_FOUND');
    const noTokenizer = variant('no-tokenizer', (d) => rmSync(path.join(d, 'vocab.txt')));
    expect(refusal(() => mt.pretrained.tokenizer(noTokenizer)).message).toMatch(/neither tokenizer\.json nor vocab\.txt/);
  });

  it('bad arguments', () => {
    const dir = FAMILIES[0]!.spec.dir;
    expect(refusal(() => mt.pretrained.encoder(dir, { layers: 0 })).message).toMatch(
      /pretrained\.encoder\.layers: expected an integer > 0/,
    );
    expect(
      refusal(() =>
        mt.multitask({
          input: { vocabSize: 30, maxLength: 8 },
          encoder: { pretrained: dir },
          tasks: { t: mt.tasks.regression() },
        } as never),
      ).message,
    ).toMatch(/multitask\.input: comes from the pretrained checkpoint/);
    expect(
      refusal(() =>
        mt.multitask({
          encoder: mt.pretrained.encoder(dirOf('xlm-roberta')),
          tasks: { t: mt.tasks.classification({ classes: 2, pooling: 'pretrained' }) },
        }),
      ).message,
    ).toMatch(/tasks\.t\.pooling: 'pretrained' needs an encoder with a pooler/);
    expect(
      refusal(() =>
        mt.multitask({
          encoder: mt.pretrained.encoder(dir),
          tasks: { t: mt.tasks.regression({ decoderLayers: 1, pooling: 'pretrained' }) },
        }),
      ).message,
    ).toMatch(/tasks\.t\.pooling: 'pretrained' pools the first position through the encoder's pooler: it takes decoderLayers 0/);
    expect(
      refusal(() =>
        mt.multitask({
          input: { vocabSize: 9, maxLength: 8 },
          encoder: { numLayers: 1, dModel: 8, nhead: 2, positionOffset: 2 },
          tasks: { t: mt.tasks.regression() },
        }),
      ).message,
    ).toMatch(/multitask\.encoder\.positionOffset: applies to learned positions/);
  });

  it('inputs longer than the position table', () => {
    const model = runs.get('roberta')!.model;
    const ids = mt.full([1, 23], 5, { dtype: 'int64' });
    expect(refusal(() => model.encode({ inputIds: ids })).message).toMatch(/inputs of 23 positions exceed the encoder's 22 positions/);
  });
});
