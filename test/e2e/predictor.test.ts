// The raw-text predictor (lib/predict): mt.loadRun(dir).predict(texts) on a small trained phonetics
// run: every task from one call, the same answers on every call (dropout 0.5 in the model), equal to
// the model's own predict/generate on the same ids, equal to the CLI's batch mode, and refusals.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { runModelDir, runTasksOf, trainRun } from '../../lib/run/run.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = path.join(root, 'lib', 'cli.ts');
const WORDS = ['hello', 'world', 'mary', 'table', 'banana', 'computer'];

describe('mt.loadRun on a phonetics run', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'mtl-predictor-'));
  const dir = path.join(base, 'run');

  beforeAll(async () => {
    const config = {
      data: { source: 'phonetics', tasks: ['g2p', 'syllables', 'gender'], trainLimit: 2000, evalLimit: 40 },
      model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0.5 }, decoderLayers: { sequence: 1 } },
      trainer: { batchSize: 16, optimizer: { kind: 'adamW', lr: 0.003 }, seed: 0 },
      steps: 30,
      evalEvery: 15,
      keepBest: { metric: 'syllables.accuracy' },
      threads: 1,
    };
    const file = path.join(base, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    await trainRun(file, dir);
  }, 300_000);

  it('describes the run: tasks with their labels, inputs, sizes', async () => {
    const run = await mt.loadRun(dir);
    expect(run.tasks.map((t) => [t.name, t.kind])).toEqual([
      ['g2p', 'sequence'],
      ['syllables', 'classification'],
      ['gender', 'classification'],
    ]);
    expect(run.tasks[2]!.labels).toEqual(['female', 'male']);
    expect(run.tasks.every((t) => t.inputFields.join() === 'text')).toBe(true);
    expect(run.metadata.source).toBe('phonetics');
    expect(run.metadata.weights).toBe('best');
    expect((await mt.loadRun(dir, { weights: 'final' })).metadata.weights).toBe('final');
    const perTask = Object.values(run.metadata.parameters.perTask).reduce((a, b) => a + b, 0);
    expect(run.metadata.parameters.shared + perTask).toBe(run.metadata.parameters.total);
  });

  it('answers every task from one call, the same on every call, and leaves the event loop free', async () => {
    const run = await mt.loadRun(dir);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 0);
    const first = await run.predict(WORDS, { topK: 2 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(first).toHaveLength(WORDS.length);
    for (const row of first) {
      expect(Object.keys(row).sort()).toEqual(['g2p', 'gender', 'syllables']);
      const gender = row.gender as mt.ClassificationPrediction;
      expect(['female', 'male']).toContain(gender.label);
      expect(Object.keys(gender.probabilities)).toHaveLength(2);
      const [top] = Object.entries(gender.probabilities);
      expect(top![0]).toBe(gender.label);
      expect(Object.values(gender.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(typeof (row.g2p as mt.SequencePrediction).text).toBe('string');
      expect(Number.isFinite((row.g2p as mt.SequencePrediction).score)).toBe(true);
    }
    // Concurrent calls queue; with dropout 0.5 in the model, any call in train mode would differ.
    const [second, third] = await Promise.all([run.predict(WORDS, { topK: 2 }), run.predict(WORDS, { topK: 2, batchSize: 4 })]);
    expect(second).toEqual(first);
    // Other batches pad to other widths: the same labels, probabilities equal to float32 rounding.
    third.forEach((row, i) => {
      const a = row.gender as mt.ClassificationPrediction;
      const b = first[i]!.gender as mt.ClassificationPrediction;
      expect(a.label).toBe(b.label);
      for (const [name, p] of Object.entries(b.probabilities)) expect(a.probabilities[name]).toBeCloseTo(p, 5);
    });
    const some = await run.predict(['hello'], { tasks: ['gender'] });
    expect(Object.keys(some[0]!)).toEqual(['gender']);
    expect(some[0]!.gender).toEqual({ label: (first[0]!.gender as mt.ClassificationPrediction).label, probabilities: expect.any(Object) });
  });

  it("equals the model's own predict and generate on the same ids (eval mode)", async () => {
    const run = await mt.loadRun(dir);
    const rows = await run.predict(WORDS, { beamSize: 3 });
    const { tasks } = await runTasksOf(dir);
    const model = await mt.MultiTaskModel.load(runModelDir(dir));
    model.train();
    model.eval();
    const encoded = WORDS.map((w) => tasks.encode({ text: w }));
    const width = Math.max(...encoded.map((e) => e.ids.length));
    const inputIds = mt.tensor(
      encoded.map((e) => [...e.ids, ...Array(width - e.ids.length).fill(tasks.input.padId)]),
      { dtype: 'int64' },
    );
    const lengths = mt.tensor(
      encoded.map((e) => e.ids.length),
      { dtype: 'int64' },
    );
    const gender = model.predict('gender', { inputIds, lengths }).toArray() as number[];
    expect(rows.map((r) => (r.gender as mt.ClassificationPrediction).label)).toEqual(gender.map((c) => ['female', 'male'][c]));
    const syllables = model.predict('syllables', { inputIds, lengths }).toArray() as number[];
    expect(rows.map((r) => (r.syllables as mt.ClassificationPrediction).label)).toEqual(
      syllables.map((c) => `${c} syllable${c === 1 ? '' : 's'}`),
    );
    const generated = model.generate('g2p', { inputIds, lengths }, { beamSize: 3 });
    const g2p = tasks.tasks.find((t) => t.name === 'g2p')!;
    expect(rows.map((r) => (r.g2p as mt.SequencePrediction).text)).toEqual(
      (generated.sequences.toArray() as number[][]).map((ids) => g2p.describe(ids)),
    );
    const scores = generated.scores.toArray() as number[];
    rows.forEach((r, i) => expect((r.g2p as mt.SequencePrediction).score).toBeCloseTo(scores[i]!, 5));
    // predictTasks: one encoder pass for the three tasks (test/native/model_test.cc), eval mode
    // inside, the caller's mode kept.
    model.train();
    const many = await model.predictTasks(['g2p', 'syllables', 'gender'], { inputIds, lengths }, { beamSize: 3 });
    expect(model.training).toBe(true);
    expect(many.gender!.predictions.toArray()).toEqual(gender);
    expect(many.syllables!.predictions.toArray()).toEqual(syllables);
    expect(many.g2p!.predictions.toArray()).toEqual(generated.sequences.toArray());
    expect(many.gender!.outputs!.shape).toEqual([WORDS.length, 2]);
  });

  it("equals the CLI's batch mode (JSONL and CSV in, JSONL out) and its one-task mode", async () => {
    const run = await mt.loadRun(dir);
    const expected = await run.predict(WORDS, { topK: 3 });
    const jsonl = path.join(base, 'in.jsonl');
    writeFileSync(jsonl, WORDS.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const csv = path.join(base, 'in.csv');
    writeFileSync(csv, 'text\n' + WORDS.map((w) => `"${w}"`).join('\n') + '\n');
    for (const input of [jsonl, csv]) {
      const output = path.join(base, `out-${path.extname(input).slice(1)}.jsonl`);
      const result = spawnSync(tsx, [cli, 'predict', dir, '--input', input, '--output', output, '--top-k', '3'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(result.status, result.stderr).toBe(0);
      const lines = readFileSync(output, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.text)).toEqual(WORDS);
      expect(lines.map((l) => l.predictions)).toEqual(expected);
    }
    const one = spawnSync(tsx, [cli, 'predict', dir, 'gender', ...WORDS], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout.trim().split('\n')).toEqual(
      WORDS.map((w, i) => `${w}\t${(expected[i]!.gender as mt.ClassificationPrediction).label}`),
    );
  }, 240_000);

  it('loads at bf16 and int8: the same labels as fp32 here, probabilities within 0.05', async () => {
    const fp32 = await (await mt.loadRun(dir)).predict(WORDS, { tasks: ['gender', 'syllables'] });
    for (const precision of ['bf16', 'int8'] as const) {
      const run = await mt.loadRun(dir, { precision });
      expect(run.metadata.precision).toBe(precision);
      const rows = await run.predict(WORDS, { tasks: ['gender', 'syllables'] });
      rows.forEach((row, i) => {
        for (const task of ['gender', 'syllables']) {
          const a = row[task] as mt.ClassificationPrediction;
          const b = fp32[i]![task] as mt.ClassificationPrediction;
          expect(a.label, `${precision} ${task} ${WORDS[i]}`).toBe(b.label);
          for (const [name, p] of Object.entries(b.probabilities)) expect(Math.abs(a.probabilities[name]! - p)).toBeLessThan(0.05);
        }
      });
    }
  });

  it("batches by length over many inputs and answers in the callers' order", async () => {
    const run = await mt.loadRun(dir);
    const many = Array.from({ length: 40 }, (_, i) => WORDS[i % WORDS.length]!.repeat(1 + (i % 3)));
    const together = await run.predict(many, { tasks: ['gender'], batchSize: 8 });
    const alone = await Promise.all(many.map((w) => run.predict([w], { tasks: ['gender'] })));
    together.forEach((row, i) =>
      expect((row.gender as mt.ClassificationPrediction).label, many[i]).toBe((alone[i]![0]!.gender as mt.ClassificationPrediction).label),
    );
  });

  it('refuses what it cannot answer, with the field named', async () => {
    const run = await mt.loadRun(dir);
    const refused = async (p: Promise<unknown>, code: string, text: string) => {
      await expect(p).rejects.toMatchObject({ code, message: expect.stringContaining(text) });
    };
    await refused(run.predict([]), 'ERR_INVALID_ARG', "'inputs' must be a non-empty array");
    await refused(run.predict([42 as never]), 'ERR_INVALID_ARG', "'inputs[0]' must be a text");
    await refused(run.predict([{ text: 'a', pair: 'b' }]), 'ERR_INVALID_ARG', "'inputs[0].pair' is given");
    await refused(run.predict([{ text: 'a', extra: 1 } as never]), 'ERR_INVALID_ARG', "unknown field 'extra'");
    await refused(run.predict(['a'], { tasks: ['nope'] }), 'ERR_INVALID_ARG', '\'options.tasks[0]\' = "nope" is not a task');
    await refused(run.predict(['a'], { topK: 0 }), 'ERR_INVALID_ARG', 'topK');
    await refused(run.predict(['a'], { colour: 1 } as never), 'ERR_INVALID_ARG', 'colour');
    await refused(mt.loadRun(dir, { precision: 'fp16' as never }), 'ERR_INVALID_ARG', 'loadRun.options.precision');
    await refused(mt.loadRun(path.join(base, 'nothing')), 'ERR_NOT_FOUND', 'config.json');
    run.dispose();
    await refused(run.predict(['a']), 'ERR_DISPOSED', 'disposed');
  });
});

describe('mt.loadRun on a GLUE run (sentence pairs)', () => {
  it('answers pair tasks and single-text tasks from one call; refuses a pair for single-text tasks', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'mtl-predictor-glue-'));
    const config = {
      data: {
        source: 'glue',
        dir: path.join(root, 'test/fixtures/glue'),
        tasks: ['rte', 'stsb', 'sst2'],
        tokenizer: path.join(root, 'test/fixtures/tokenizers/vocab.txt'),
        maxLength: 32,
      },
      model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0.1 } },
      trainer: { batchSize: 8, seed: 0 },
      steps: 4,
      evalEvery: 4,
      threads: 1,
    };
    const file = path.join(base, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const dir = path.join(base, 'run');
    await trainRun(file, dir);
    const run = await mt.loadRun(dir);
    expect(run.metadata.weights).toBe('final');
    expect(Object.fromEntries(run.tasks.map((t) => [t.name, t.inputFields]))).toEqual({
      rte: ['text', 'pair'],
      stsb: ['text', 'pair'],
      sst2: ['text'],
    });
    const [row] = await run.predict([{ text: 'A man is playing a guitar.', pair: 'A person plays music.' }]);
    expect(['entailment', 'not_entailment']).toContain((row!.rte as mt.ClassificationPrediction).label);
    expect(Number.isFinite((row!.stsb as mt.RegressionPrediction).value)).toBe(true);
    expect(['0', '1']).toContain((row!.sst2 as mt.ClassificationPrediction).label);
    await expect(run.predict([{ text: 'a', pair: 'b' }], { tasks: ['sst2'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining("'inputs[0].pair' is given"),
    });
  }, 300_000);
});
