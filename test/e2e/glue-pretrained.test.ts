/**
 * The seed's GLUE setup end to end on small test-made checkpoints: the shipped configs parse; a
 * short multi-task fine-tune of a BERT in Hugging Face layout on GLUE-layout files learns above
 * chance, with MNLI evaluated matched and mismatched; `mtl-torch predict --glue-submission` writes
 * the GLUE server's files, which parse back; and an encoder the test pretrains itself (masked-language
 * modelling) transfers what it learned to words the fine-tune never saw, where the same encoder
 * before pretraining stays near chance.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../lib/run/config.ts';
import { trainRun, type RunSummary } from '../../lib/run/run.ts';
import { rng } from '../helpers/train.ts';
import { tempDir } from '../parity/oracles/multitask-twin.ts';
import { makeCheckpoints, pretrainMaskedLanguageModels, smallConfig } from '../parity/oracles/hf-reference.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = tempDir('mtl-glue-pretrained-');
afterAll(() => tmp.remove());

const POSITIVE = ['good', 'great', 'fine', 'lovely'];
const NEGATIVE = ['bad', 'awful', 'poor', 'dull'];
const FILLER = ['the', 'movie', 'plot', 'film', 'was', 'a', 'story', 'and', 'it', 'very'];
const ANSWERS = { entailment: 'yes', contradiction: 'no', neutral: 'maybe' } as const;
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, ...FILLER, ...Object.values(ANSWERS)];

/** Seeded draws: `pick` one of a list, and a `sentence` of 3-6 filler words with `words` shuffled in. */
function sentenceMaker(seed: number) {
  const random = rng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const sentence = (words: string[]) =>
    Array.from({ length: 3 + Math.floor(random() * 4) }, () => pick(FILLER))
      .concat(words)
      .sort(() => random() - 0.5)
      .join(' ');
  return { random, pick, sentence };
}

/** GLUE-layout SST-2 and MNLI files whose labels follow a rule a model can learn, and AX's diagnostic file. */
function writeGlue(dir: string): void {
  const { random, pick, sentence } = sentenceMaker(5);
  const write = (file: string, lines: string[]) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, lines.join('\n') + '\n');
  };
  const sst = (n: number, test: boolean) =>
    Array.from({ length: n }, (_, i) => {
      const positive = random() < 0.5;
      const text = sentence([pick(positive ? POSITIVE : NEGATIVE)]);
      return test ? `${i}\t${text}` : `${text}\t${positive ? 1 : 0}`;
    });
  write(path.join(dir, 'SST-2', 'train.tsv'), ['sentence\tlabel', ...sst(240, false)]);
  write(path.join(dir, 'SST-2', 'dev.tsv'), ['sentence\tlabel', ...sst(60, false)]);
  write(path.join(dir, 'SST-2', 'test.tsv'), ['index\tsentence', ...sst(17, true)]);
  const labels = Object.keys(ANSWERS) as (keyof typeof ANSWERS)[];
  const mnli = (n: number, test: boolean) =>
    Array.from({ length: n }, (_, i) => {
      const label = pick(labels);
      const pair = `${sentence([pick(FILLER)])}\t${sentence([ANSWERS[label]])}`;
      return test ? `${i}\t${pair}` : `${i}\t${pair}\t${label}`;
    });
  write(path.join(dir, 'MNLI', 'train.tsv'), ['index\tsentence1\tsentence2\tgold_label', ...mnli(240, false)]);
  for (const split of ['dev_matched', 'dev_mismatched'])
    write(path.join(dir, 'MNLI', `${split}.tsv`), ['index\tsentence1\tsentence2\tgold_label', ...mnli(60, false)]);
  for (const split of ['test_matched', 'test_mismatched'])
    write(path.join(dir, 'MNLI', `${split}.tsv`), ['index\tsentence1\tsentence2', ...mnli(13, true)]);
  write(path.join(dir, 'diagnostic', 'diagnostic.tsv'), ['index\tsentence1\tsentence2', ...mnli(9, true)]);
}

describe('the shipped GLUE configs', () => {
  it('glue-seed.json: a pretrained BERT-base directory, 2-layer task decoders, AdamW 2e-5, alternating with the sigmoid-loss rule', () => {
    const config = parseRunConfig(JSON.parse(readFileSync(path.join(root, 'configs', 'glue-seed.json'), 'utf8')));
    expect(config.model.encoder).toEqual({ pretrained: 'models/bert-base-uncased', dropout: 0.1 });
    expect(config.model.decoderLayers).toEqual({ classification: 2, regression: 2 });
    expect(config.trainer.strategy).toMatchObject({ kind: 'alternating', every: 'step' });
    expect(config.trainer.weighting).toEqual({ kind: 'sigmoidLoss' });
    expect(config.trainer.optimizer).toMatchObject({ kind: 'adamW', lr: 2e-5 });
    expect(config.data.tasks).toHaveLength(9);
  });

  it('glue-seed-scratch.json: the 12-layer d=512 h=8 ff=2048 encoder from scratch', () => {
    const config = parseRunConfig(JSON.parse(readFileSync(path.join(root, 'configs', 'glue-seed-scratch.json'), 'utf8')));
    expect(config.model.encoder).toMatchObject({
      numLayers: 12,
      dModel: 512,
      nhead: 8,
      dimFeedforward: 2048,
      dropout: 0.1,
      typeVocabSize: 2,
    });
  });

  it('a pretrained encoder brings its tokenizer; a config saying otherwise is refused', () => {
    const base = JSON.parse(readFileSync(path.join(root, 'configs', 'glue-seed.json'), 'utf8'));
    expect(() => parseRunConfig({ ...base, data: { ...base.data, tokenizer: 'vocab.txt' } })).toThrow(
      'config.data.tokenizer: comes from the pretrained model directory (model.encoder.pretrained): leave it out',
    );
    const scratch = JSON.parse(readFileSync(path.join(root, 'configs', 'glue-seed-scratch.json'), 'utf8'));
    delete scratch.data.tokenizer;
    expect(() => parseRunConfig(scratch)).toThrow(/config\.data\.tokenizer: is required/);
    expect(() => parseRunConfig({ ...base, model: { ...base.model, encoder: { pretrained: 'x', layers: 0 } } })).toThrow(
      'config.model.encoder.layers: expected an integer > 0, got 0',
    );
    expect(() => parseRunConfig({ ...base, model: { ...base.model, encoder: { numLayers: 'x', dModel: 8, nhead: 2 } } })).toThrow(
      /config\.model\.encoder\.numLayers: expected a number, got "x"/,
    );
  });
});

describe('fine-tuning a pretrained encoder on GLUE', () => {
  const glue = path.join(tmp.dir, 'glue');
  const bert = path.join(tmp.dir, 'bert');
  const run = path.join(tmp.dir, 'run');
  let summary: RunSummary;

  beforeAll(async () => {
    writeGlue(glue);
    makeCheckpoints(
      [
        {
          dir: bert,
          config: smallConfig('bert', { vocab_size: VOCAB.length, hidden_size: 32, intermediate_size: 64, max_position_embeddings: 40 }),
          scale: 0.05,
          vocab: VOCAB,
          seed: 1,
        },
      ],
      tmp.dir,
    );
    const config = {
      data: { source: 'glue', dir: glue, tasks: ['sst2', 'mnli'], maxLength: 32 },
      model: { encoder: { pretrained: bert, dropout: 0 }, sharing: { kind: 'sharedEncoder' }, decoderLayers: {} },
      trainer: {
        strategy: { kind: 'alternating', every: 'step' },
        weighting: { kind: 'sigmoidLoss' },
        sampler: { kind: 'proportional' },
        optimizer: { kind: 'adamW', lr: 3e-3, weightDecay: 0.01 },
        batchSize: 16,
        seed: 0,
      },
      steps: 160,
      evalEvery: 80,
    };
    const file = path.join(tmp.dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    summary = await trainRun(file, run);
  }, 300_000);

  it('learns above chance, and MNLI is evaluated matched and mismatched', () => {
    const metrics = summary.results[0]!.metrics;
    expect(metrics.sst2!.accuracy).toBeGreaterThan(0.8); // chance: 0.5
    expect(metrics.mnli!.accuracy).toBeGreaterThan(0.6); // chance: 1/3
    expect(metrics['mnli-mm']!.accuracy).toBeGreaterThan(0.6);
    console.log(
      `fine-tune: sst2 ${metrics.sst2!.accuracy.toFixed(3)}, mnli-m ${metrics.mnli!.accuracy.toFixed(3)}, mnli-mm ${metrics['mnli-mm']!.accuracy.toFixed(3)}`,
    );
  });

  it('`mtl-torch predict --glue-submission` writes the GLUE server files, which parse back', () => {
    const out = path.join(tmp.dir, 'submission');
    const result = spawnSync(
      path.join(root, 'node_modules', '.bin', 'tsx'),
      [path.join(root, 'lib', 'cli.ts'), 'predict', '--glue-submission', run, out],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/SST-2\.tsv\t17 rows/);
    expect(result.stdout).toMatch(/not written .*CoLA\.tsv/);
    expect(readdirSync(out).sort()).toEqual(['AX.tsv', 'MNLI-m.tsv', 'MNLI-mm.tsv', 'SST-2.tsv']);
    const parse = (file: string) => {
      const [header, ...rows] = readFileSync(path.join(out, file), 'utf8').trimEnd().split('\n');
      expect(header).toBe('index\tprediction');
      return rows.map((r) => r.split('\t'));
    };
    const sst = parse('SST-2.tsv');
    expect(sst.map((r) => r[0])).toEqual(Array.from({ length: 17 }, (_, i) => String(i)));
    expect(sst.every(([, p]) => p === '0' || p === '1')).toBe(true);
    for (const [file, n] of [
      ['MNLI-m.tsv', 13],
      ['MNLI-mm.tsv', 13],
      ['AX.tsv', 9],
    ] as const) {
      const rows = parse(file);
      expect(rows).toHaveLength(n);
      expect(rows.every(([, p]) => ['entailment', 'neutral', 'contradiction'].includes(p!))).toBe(true);
    }
    // The model learned the rule, so the test predictions follow it too.
    const test = readFileSync(path.join(glue, 'MNLI', 'test_matched.tsv'), 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t')[2]!);
    const expected = test.map((h) => {
      const words = h.split(' ');
      return words.includes('yes') ? 'entailment' : words.includes('no') ? 'contradiction' : 'neutral';
    });
    const agree = parse('MNLI-m.tsv').filter(([, p], i) => p === expected[i]).length;
    expect(agree / test.length).toBeGreaterThan(0.6);
    const bad = spawnSync(
      path.join(root, 'node_modules', '.bin', 'tsx'),
      [path.join(root, 'lib', 'cli.ts'), 'predict', '--glue-submission', run],
      { cwd: root, encoding: 'utf8' },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--glue-submission takes <run> <out>/);
  }, 120_000);

  it("a data.maxLength beyond the checkpoint's positions is refused", async () => {
    const file = path.join(tmp.dir, 'long.json');
    writeFileSync(
      file,
      JSON.stringify({
        data: { source: 'glue', dir: glue, tasks: ['sst2'], maxLength: 64 },
        model: { encoder: { pretrained: bert } },
        steps: 1,
      }),
    );
    await expect(trainRun(file, path.join(tmp.dir, 'long'))).rejects.toThrow(
      /data\.maxLength \(64\) exceeds the pretrained encoder's 40 positions/,
    );
  });
});

/**
 * Transfer, the reason to start from a pretrained encoder. The test pretrains a small BERT itself
 * (masked-language modelling in the PyTorch reference, BertForMaskedLM's layout) on unlabeled
 * sentences in which eight sentiment words appear with context words of their polarity ("happy",
 * "frowned", ...). The SST-2 fine-tune then sees only four of those words ("good", "great", "bad",
 * "awful") and its dev set only the other four: a model can get the dev set right only from what
 * pretraining taught it about those words. The same encoder before pretraining is the control.
 */
describe('transfer from an encoder pretrained by the test', () => {
  const SEEN = { positive: ['good', 'great'], negative: ['bad', 'awful'] };
  const HELD_OUT = { positive: ['lovely', 'fine'], negative: ['poor', 'dull'] };
  const CONTEXT = { positive: ['happy', 'smiled', 'enjoyed'], negative: ['sad', 'frowned', 'hated'] };
  const WORDS = [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    ...Object.values(SEEN).flat(),
    ...Object.values(HELD_OUT).flat(),
    ...Object.values(CONTEXT).flat(),
    ...FILLER,
  ];
  const config = smallConfig('bert', {
    vocab_size: WORDS.length,
    hidden_size: 32,
    intermediate_size: 64,
    max_position_embeddings: 16,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    architectures: ['BertForMaskedLM'],
  });
  const { random, pick, sentence } = sentenceMaker(11);
  const polarity = () => (random() < 0.5 ? 'positive' : 'negative');
  const dir = path.join(tmp.dir, 'transfer');
  const pretrained = path.join(dir, 'pretrained');
  const untrained = path.join(dir, 'untrained');
  let mlm: { firstLoss: number; lastLoss: number };
  const accuracy: Record<string, number> = {};

  beforeAll(async () => {
    const corpus = Array.from({ length: 4000 }, () => {
      const p = polarity();
      return sentence([pick([...SEEN[p], ...HELD_OUT[p]]), pick(CONTEXT[p])]);
    });
    // Pretraining starts from the seeded N(0, 0.05²) weights that `untrained` keeps.
    [mlm] = pretrainMaskedLanguageModels(
      [{ dir: pretrained, config, vocab: WORDS, corpus, steps: 600, batch: 32, lr: 3e-3, maskProbability: 0.2, seed: 1 }],
      tmp.dir,
    );
    makeCheckpoints([{ dir: untrained, config, vocab: WORDS, seed: 1, scale: 0.05, prefix: 'bert.', pooler: false }], tmp.dir);
    const glue = path.join(dir, 'glue');
    mkdirSync(path.join(glue, 'SST-2'), { recursive: true });
    const rows = (n: number, words: typeof SEEN) =>
      Array.from({ length: n }, () => {
        const p = polarity();
        return `${sentence([pick(words[p])])}\t${p === 'positive' ? 1 : 0}`;
      });
    writeFileSync(path.join(glue, 'SST-2', 'train.tsv'), ['sentence\tlabel', ...rows(240, SEEN)].join('\n') + '\n');
    writeFileSync(path.join(glue, 'SST-2', 'dev.tsv'), ['sentence\tlabel', ...rows(200, HELD_OUT)].join('\n') + '\n');
    for (const [name, encoder] of [
      ['pretrained', pretrained],
      ['untrained', untrained],
    ] as const) {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          data: { source: 'glue', dir: glue, tasks: ['sst2'], maxLength: 16 },
          model: { encoder: { pretrained: encoder, dropout: 0 }, sharing: { kind: 'sharedEncoder' }, decoderLayers: {} },
          trainer: { optimizer: { kind: 'adamW', lr: 1e-3, weightDecay: 0.01 }, batchSize: 16, seed: 0 },
          steps: 100,
        }),
      );
      accuracy[name] = (await trainRun(file, path.join(dir, `run-${name}`))).results[0]!.metrics.sst2!.accuracy;
    }
  }, 300_000);

  it('pretraining learned (the masked-token loss fell), and only the pretrained encoder gets the held-out words right', () => {
    console.log(
      `masked-token loss ${mlm.firstLoss.toFixed(3)} -> ${mlm.lastLoss.toFixed(3)}; SST-2 dev on held-out words: pretrained ${accuracy.pretrained!.toFixed(3)}, untrained ${accuracy.untrained!.toFixed(3)} (chance 0.5)`,
    );
    expect(mlm.lastLoss).toBeLessThan(0.8 * mlm.firstLoss); // its floor is high: a masked filler word is a guess among ten
    expect(accuracy.pretrained).toBeGreaterThan(0.9);
    expect(accuracy.untrained).toBeLessThan(0.75);
  });
});
