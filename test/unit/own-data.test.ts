// Your own data: the `files` data source end to end on fixtures written here (CSV with quoted commas
// and newlines, TSV, JSONL; every head kind; shared and separate inputs; partial labels), the
// tokenizer trained on the run's text and reloaded, and every bad input refused before anything of
// the run directory is written, naming file:line:column.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { trainTokenizer } from '../../lib/data/train-tokenizer.ts';
import { parseRunConfig } from '../../lib/run/config.ts';
import { evaluateRun, runTasksOf, trainRun } from '../../lib/run/run.ts';
import { sharesInputs } from '../helpers/train.ts';

const base = mkdtempSync(path.join(tmpdir(), 'mtl-own-data-'));
const file = (name: string, text: string) => {
  const p = path.join(base, name);
  writeFileSync(p, text);
  return p;
};

const COLOURS = ['red', 'green', 'blue'];
const ANIMALS = ['cat', 'dog', 'bird', 'fish'];
function rows(n: number, offset = 0) {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const colour = COLOURS[i % 3]!;
    const animal = ANIMALS[i % 4]!;
    return { text: `the ${colour} ${animal}, number ${i % 7}`, colour, size: (i % 7) / 7 + 0.05, animal };
  });
}
const csvCell = (s: string) => `"${s.replace(/"/g, '""')}"`;
// Quoted commas everywhere, a multi-line cell in every fifth row, a missing size in every sixth.
const csv = (list: ReturnType<typeof rows>) =>
  'text,colour,size\n' +
  list
    .map((r, i) => [csvCell(i % 5 === 0 ? `${r.text}\nsecond line` : r.text), r.colour, i % 6 === 0 ? '' : r.size.toFixed(3)].join(','))
    .join('\n') +
  '\n';
const tsv = (list: ReturnType<typeof rows>) => 'sentence\tanimal\n' + list.map((r) => `${r.text}\t${r.animal}`).join('\n') + '\n';
const jsonl = (list: ReturnType<typeof rows>) =>
  list
    .map((r) =>
      JSON.stringify({
        words: r.text.replace(',', '').split(' '),
        tags: r.text
          .replace(',', '')
          .split(' ')
          .map((w) => (COLOURS.includes(w) ? 'COLOUR' : ANIMALS.includes(w) ? 'ANIMAL' : 'O')),
        labels: [r.colour, ...(r.animal === 'cat' || r.animal === 'dog' ? ['pet'] : [])],
        text: r.text,
        echo: `${r.animal} ${r.colour}`,
      }),
    )
    .join('\n') + '\n';

const model_ = { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0.1 }, decoderLayers: { sequence: 1 } };
const trainer = { batchSize: 16, optimizer: { kind: 'adamW', lr: 0.003 }, seed: 0 };

function config(tasks: object, extra: object = {}) {
  return {
    data: { source: 'files', tasks, tokenizer: { train: { kind: 'wordPiece', vocabSize: 120 } }, maxLength: 32 },
    model: model_,
    trainer,
    steps: 12,
    evalEvery: 6,
    threads: 1,
    ...extra,
  };
}
function writeConfig(name: string, value: object): string {
  return file(`${name}.json`, JSON.stringify(value));
}

describe('files data source', () => {
  const train = file('train.csv', csv(rows(120)));
  const dev = file('dev.csv', csv(rows(30, 1000)));
  const animalsTrain = file('animals.tsv', tsv(rows(90)));
  const taggedTrain = file('tagged.jsonl', jsonl(rows(80)));
  const taggedDev = file('tagged-dev.jsonl', jsonl(rows(20, 500)));
  const dir = path.join(base, 'run');
  const tasks = {
    colour: { train, dev, label: 'colour' },
    size: { train, dev, label: 'size' },
    animal: { train: animalsTrain, split: { dev: 0.2, seed: 1 }, text: 'sentence', label: 'animal', trainLimit: 50 },
    tags: { train: taggedTrain, dev: taggedDev, text: 'words', label: 'tags' },
    labels: { train: taggedTrain, dev: taggedDev, label: 'labels' },
    echo: { train: taggedTrain, dev: taggedDev, label: 'echo', kind: 'sequence' },
  };

  beforeAll(async () => {
    await trainRun(writeConfig('all-kinds', config(tasks, { keepBest: { metric: 'colour.accuracy' }, baselines: ['colour'] })), dir);
  }, 300_000);

  it('infers each head kind and keeps the label sets (sorted) in the run', async () => {
    const saved = JSON.parse(readFileSync(path.join(dir, 'data.json'), 'utf8'));
    expect(Object.fromEntries(Object.entries(saved.tasks).map(([k, v]) => [k, (v as { kind: string }).kind]))).toEqual({
      colour: 'classification',
      size: 'regression',
      animal: 'classification',
      tags: 'tagging',
      labels: 'multiLabel',
      echo: 'sequence',
    });
    expect(saved.tasks.colour.labels).toEqual(['blue', 'green', 'red']);
    expect(saved.tasks.tags.labels).toEqual(['ANIMAL', 'COLOUR', 'O']);
    expect(saved.tasks.labels.labels).toEqual(['blue', 'green', 'pet', 'red']);
    const run = await mt.loadRun(dir);
    expect(run.tasks.find((t) => t.name === 'colour')!.labels).toEqual(['blue', 'green', 'red']);
  });

  it('reads quoted commas and newlines, splits by hash, applies trainLimit, masks missing labels per task', async () => {
    const { tasks: built } = await runTasksOf(dir);
    const task = (name: string) => built.tasks.find((t) => t.name === name)!;
    expect(task('colour').dataset('train').size).toBe(120);
    // Every sixth row has no size: that task has 100 training rows, the others all 120.
    expect(task('size').dataset('train').size).toBe(100);
    expect(task('size').dataset('dev').size).toBe(25);
    expect(task('animal').dataset('train').size).toBe(50);
    const devRows = task('animal').dataset('dev').size;
    expect(devRows).toBeGreaterThan(5);
    expect(devRows).toBeLessThan(35);
    // The same split again (a hash of each input, seeded): identical.
    const again = await runTasksOf(dir);
    expect(again.tasks.tasks.find((t) => t.name === 'animal')!.dataset('dev').size).toBe(devRows);
  });

  it("a masked task's metrics count only its labelled rows", async () => {
    const metrics = await evaluateRun(dir, 'dev');
    const run = await mt.loadRun(dir);
    const list = rows(30, 1000);
    const labelled = list.map((r, i) => ({ r, i })).filter(({ i }) => i % 6 !== 0);
    const inputs = labelled.map(({ r, i }) => (i % 5 === 0 ? `${r.text}\nsecond line` : r.text));
    const predicted = await run.predict(inputs, { tasks: ['size'] });
    const targets = labelled.map(({ r }) => Number(r.size.toFixed(3)));
    const mse = predicted.reduce((s, p, k) => s + ((p.size as mt.RegressionPrediction).value - targets[k]!) ** 2, 0) / targets.length;
    expect(metrics.size!.mse).toBeCloseTo(mse, 5);
  });

  it('reloads the trained tokenizer: the same ids; answers every kind from raw text', async () => {
    const { tasks: fresh } = await runTasksOf(dir);
    const { tasks: reloaded } = await runTasksOf(dir, 'predict');
    for (const text of ['the red cat, number 3', 'an unseen zebra!', 'blue   bird']) {
      expect(reloaded.encode({ text })).toEqual(fresh.encode({ text }));
    }
    const run = await mt.loadRun(dir);
    const [row] = await run.predict(['the green dog number 2']);
    expect(['blue', 'green', 'red']).toContain((row!.colour as mt.ClassificationPrediction).label);
    expect(typeof (row!.size as mt.RegressionPrediction).value).toBe('number');
    expect((row!.tags as mt.TaggingPrediction).tags.map((t) => t.word)).toEqual(['the', 'green', 'dog', 'number', '2']);
    expect(Array.isArray((row!.labels as mt.MultiLabelPrediction).labels)).toBe(true);
    expect(typeof (row!.echo as mt.SequencePrediction).text).toBe('string');
  });

  it('mt.data.fromFiles builds the same data sets and heads through the API', async () => {
    const built = await mt.data.fromFiles(
      { colour: tasks.colour, size: tasks.size },
      { tokenizer: { train: { kind: 'wordPiece', vocabSize: 120 } }, maxLength: 32 },
    );
    expect(built.tasks.colour!.labels).toEqual(['blue', 'green', 'red']);
    expect(built.tasks.colour!.head).toMatchObject({ kind: 'classification', classes: 3 });
    expect(built.tasks.size!.head.kind).toBe('regression');
    expect(built.tasks.size!.train.size).toBe(100);
    const model = mt.multitask({
      input: built.input,
      encoder: model_.encoder,
      tasks: { colour: built.tasks.colour!.head, size: built.tasks.size!.head },
    });
    const trainer = new mt.Trainer(model, { batchSize: 8 });
    await trainer.fit({ colour: built.tasks.colour!.train, size: built.tasks.size!.train }, { steps: 2 });
    const metrics = await trainer.evaluate({ colour: built.tasks.colour!.dev });
    expect(metrics.colour!.accuracy).toBeGreaterThanOrEqual(0);
    // Tasks over the same (fully labelled) rows of one file share their inputs (encoded once per
    // step for both: test/native/model_test.cc), and the size task has its own (its rows differ:
    // some lack a size).
    const shared = await mt.data.fromFiles(
      { colour: tasks.colour, again: { ...tasks.colour }, size: tasks.size },
      { tokenizer: { train: { kind: 'wordPiece', vocabSize: 120 } }, maxLength: 32 },
    );
    const three = mt.multitask({
      input: shared.input,
      encoder: model_.encoder,
      tasks: { colour: shared.tasks.colour!.head, again: shared.tasks.again!.head, size: shared.tasks.size!.head },
    });
    expect(sharesInputs(shared.tasks.colour!.train, shared.tasks.again!.train)).toBe(true);
    expect(sharesInputs(shared.tasks.colour!.train, shared.tasks.size!.train)).toBe(false);
    await new mt.Trainer(three, { batchSize: 8 }).fit(
      { colour: shared.tasks.colour!.train, again: shared.tasks.again!.train, size: shared.tasks.size!.train },
      { steps: 3 },
    );
    await expect(
      mt.data.fromFiles({ a: { train: 'nope.csv', dev: 'nope.csv', label: 'y' } }, { tokenizer: { char: {} } }),
    ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('trains tokenizers with Hugging Face tokenizers, cut to vocabSize: specials, the alphabet, then merges', () => {
    const texts = rows(100).map((r) => r.text);
    const wordPiece = trainTokenizer(texts, { kind: 'wordPiece', vocabSize: 60, lowercase: true });
    const vocab = wordPiece.vocabulary();
    expect(vocab).toHaveLength(60);
    expect(vocab.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    const firstMerge = vocab.findIndex((t, i) => i >= 5 && t.replace(/^##/, '').length > 1);
    expect(vocab.slice(5, firstMerge).every((t) => t.replace(/^##/, '').length === 1)).toBe(true);
    expect(vocab.slice(firstMerge).every((t) => t.replace(/^##/, '').length > 1)).toBe(true);
    const bpe = trainTokenizer(texts, { kind: 'bpe', vocabSize: 50, lowercase: true });
    expect(bpe.vocabSize).toBe(50);
    expect(bpe.encode('the red cat').ids.every((id) => id !== 1)).toBe(true); // no <unk>
  });
});

describe('bad files are refused before anything is written, naming file:line:column', () => {
  const good = () => file('good.csv', csv(rows(40)));
  const refused = async (name: string, tasks: object, code: string, text: string | RegExp) => {
    const out = path.join(base, `refused-${name}`);
    const error = await trainRun(writeConfig(name, config(tasks)), out).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, name).toMatchObject({ code });
    expect((error as Error).message).toMatch(text);
    expect(existsSync(out), `${name} wrote ${out}`).toBe(false);
  };

  it('missing, empty, malformed files and columns', async () => {
    const g = good();
    await refused(
      'missing',
      { a: { train: path.join(base, 'nope.csv'), dev: g, label: 'colour' } },
      'ERR_NOT_FOUND',
      /nope\.csv: does not exist/,
    );
    const empty = file('empty.csv', '');
    await refused('empty', { a: { train: empty, dev: g, label: 'colour' } }, 'ERR_BAD_DATA', /empty\.csv:1:1: the file is empty/);
    await refused('column', { a: { train: g, dev: g, label: 'flavour' } }, 'ERR_BAD_DATA', /good\.csv:1:1: no column 'flavour'/);
    const broken = file('broken.csv', 'text,colour\n"a",red\n"b"x,blue\n');
    await refused('malformed-csv', { a: { train: broken, dev: g, label: 'colour' } }, 'ERR_BAD_DATA', /broken\.csv:3:\d+: malformed CSV/);
    const badJson = file('bad.jsonl', '{"text":"a","colour":"red"}\n{"text": "b", colour: 1}\n');
    await refused('malformed-json', { a: { train: badJson, dev: g, label: 'colour' } }, 'ERR_BAD_DATA', /bad\.jsonl:2:\d+: not JSON/);
  });

  it('labels: mixed types, one class, none left, unseen in train', async () => {
    const g = good();
    const mixed = file('mixed.jsonl', '{"text":"a","y":"red"}\n{"text":"b","y":2}\n{"text":"c","y":"blue"}\n');
    await refused('mixed', { a: { train: mixed, dev: mixed, label: 'y' } }, 'ERR_BAD_DATA', /mixed\.jsonl:2:2: column 'y': mixed types/);
    const one = file('one.csv', 'text,y\na,red\nb,red\n');
    await refused(
      'one-class',
      { a: { train: one, dev: one, label: 'y' } },
      'ERR_BAD_DATA',
      /one\.csv:2:2: column 'y': task 'a' has one class only/,
    );
    const none = file('none.csv', 'text,y\na,\nb,\n');
    await refused(
      'no-rows',
      { a: { train: none, dev: none, label: 'y' } },
      'ERR_BAD_DATA',
      /none\.csv: task 'a' has no training row with a 'y' label/,
    );
    const unseen = file('unseen.csv', 'text,colour\na,purple\n');
    await refused(
      'unseen',
      { a: { train: g, dev: unseen, label: 'colour' } },
      'ERR_BAD_DATA',
      /unseen\.csv:2:2: column 'colour': class "purple" does not occur in the training rows/,
    );
  });

  it('config mistakes name the field', () => {
    const parse =
      (tasks: object, data: object = {}) =>
      () =>
        parseRunConfig({ ...config(tasks), data: { ...config(tasks).data, ...data } });
    expect(parse({ a: { train: 'x.csv', label: 'y' } })).toThrow(/config\.data\.tasks\.a\.dev: is required: a dev file, or split\.dev/);
    expect(parse({ a: { train: 'x.csv', label: 'y', split: { dev: 0.6, test: 0.5 } } })).toThrow(
      /config\.data\.tasks\.a\.split: dev and test together/,
    );
    expect(parse({ a: { train: 'x.csv', dev: 'y.csv', label: 'y' } }, { tokenizer: undefined })).toThrow(
      /config\.data\.tokenizer: is required/,
    );
    expect(parse({ a: { train: 'x.csv', dev: 'y.csv', label: 'y', kind: 'ranking' } })).toThrow(/config\.data\.tasks\.a\.kind/);
    // One name per concept: the run config's decoder layers are the API's, per head kind.
    const withModel = (m: object) => () =>
      parseRunConfig({ ...config({ a: { train: 'x.csv', dev: 'y.csv', label: 'y' } }), model: { ...model_, ...m } });
    expect(withModel({ headLayers: 1 })).toThrow(/config\.model\.headLayers: was renamed: write "decoderLayers": \{ "classification": 1/);
    expect(withModel({ decoderLayers: 2 })).toThrow(/config\.model\.decoderLayers: is one number per head kind now.*\{ "sequence": 2 \}/);
    expect(
      parseRunConfig({
        ...config({ a: { train: 'x.csv', dev: 'y.csv', label: 'y' } }),
        model: { ...model_, decoderLayers: { classification: 1 } },
      }).model.decoderLayers,
    ).toEqual({ classification: 1 });
  });
});
