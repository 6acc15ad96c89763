// The main job end to end: the demo with a tiny budget writes a complete run directory, and the
// CLI's other commands work on it. Also: config files are validated with the field named.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { parseRunConfig } from '../../lib/run/config.ts';
import { trainRun } from '../../lib/run/run.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = path.join(root, 'lib', 'cli.ts');
const run = (args: string[]) => spawnSync(tsx, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 600_000 });

describe('mtl-torch demo (tiny budget)', () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mtl-demo-')), 'run');
  let stdout = '';

  beforeAll(() => {
    // A small copy of the demo config: few steps, small eval sets, the same tasks and model kind.
    const config = JSON.parse(readFileSync(path.join(root, 'configs', 'phonetics-demo.json'), 'utf8'));
    config.steps = 150;
    config.evalEvery = 75;
    config.data.trainLimit = 20000;
    config.data.evalLimit = 300;
    config.model.encoder = { numLayers: 2, dModel: 64, nhead: 4, dimFeedforward: 128, dropout: 0.1 };
    config.model.decoderLayers = { sequence: 1, classification: 1 };
    config.baselines = ['g2p', 'gender'];
    config.diagnosticsEvery = 50;
    config.keepBest = { metric: 'g2p.per' };
    const file = path.join(path.dirname(out), 'demo.json');
    writeFileSync(file, JSON.stringify(config));
    const result = run(['train', file, '--out', out]);
    stdout = result.stdout;
    if (result.status !== 0) throw new Error(`train failed: ${result.stderr}`);
  }, 600_000);

  it('writes the run directory: config, models (final and best), checkpoints, metrics log, report', () => {
    for (const file of [
      'config.json',
      'model/config.json',
      'model/model.safetensors',
      'best/model.safetensors',
      'checkpoint/checkpoint.safetensors',
      'metrics.jsonl',
      'report.html',
      'baselines/g2p/model/model.safetensors',
      'baselines/g2p/best/model.safetensors',
      'baselines/gender/model/model.safetensors',
    ]) {
      expect(existsSync(path.join(out, file)), file).toBe(true);
    }
    const events = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.kind === 'result').map((e) => e.model)).toEqual(['multi-task', 'single-task g2p', 'single-task gender']);
    expect(events.filter((e) => e.kind === 'eval').map((e) => e.model)).toContain('single-task gender');
    // Every step event says which model it is of, so each model's curve is its own series.
    expect(new Set(events.filter((e) => e.kind === 'step').map((e) => e.model))).toEqual(
      new Set(['multi-task', 'single-task g2p', 'single-task gender']),
    );
    const delta = events.find((e) => e.kind === 'delta');
    expect(Object.keys(delta.deltas).sort()).toEqual(['g2p', 'gender']);
    expect(Number.isFinite(delta.deltaM)).toBe(true);
    const diagnostics = events.filter((e) => e.kind === 'diagnostics');
    expect(diagnostics.map((e) => e.step)).toEqual([1, 51, 101]);
    expect(diagnostics[0].cosine).toHaveLength(4);
    const report = readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const task of ['g2p', 'syllables', 'stress', 'gender']) expect(report).toContain(`${task}: training loss`);
    expect(report).toContain('Loss weights λ per task');
    expect(report).toContain('Gradient cosine similarity (mean)');
    expect(stdout).toContain('Dev metrics');
    expect(stdout).toMatch(/Δm\s+[+-]\d+\.\d %/);
  });

  it('baselines train with the examples their task had in each multi-task step (the sampler’s share)', () => {
    const events = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const multi = events.find((e) => e.kind === 'result' && e.model === 'multi-task');
    const gender = events.find((e) => e.kind === 'result' && e.model === 'single-task gender');
    // Temperature sampling gives the small names task fewer rows than the dictionary tasks, all in one step.
    expect(multi.examples.gender).toBeLessThan(multi.examples.g2p);
    expect(gender.examples).toEqual({ gender: multi.examples.gender });
  });

  it('learns G2P far better than chance', () => {
    const events = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const multi = events.find((e) => e.kind === 'result' && e.model === 'multi-task');
    // Chance over 39 phonemes is a PER near 1 (almost every phoneme wrong); a trained model is far below.
    expect(multi.metrics.g2p.per).toBeLessThan(0.8);
    expect(multi.metrics.gender.accuracy).toBeGreaterThan(0.55);
  });

  it('evaluates and predicts with the saved run', () => {
    const evaluated = run(['eval', out]);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain('g2p per');
    // eval reads the best weights by default; they are what the run's result reports.
    const events = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const multi = events.find((e) => e.kind === 'result' && e.model === 'multi-task');
    expect(multi.weights).toBe('best');
    expect(evaluated.stdout).toContain(multi.metrics.g2p.per.toFixed(4));
    const predicted = run(['predict', out, 'g2p', 'hello', 'world']);
    expect(predicted.status, predicted.stderr).toBe(0);
    const lines = predicted.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^hello\t[A-Z ]+$/);
    const gender = run(['predict', out, 'gender', 'mary']);
    expect(gender.stdout).toMatch(/^mary\t(female|male)$/m);
    expect(run(['predict', out, 'nope', 'x']).stderr).toContain("'nope' is not a task of this run");
    expect(run(['report', out]).stdout.trim()).toBe(path.join(out, 'report.html'));
  });
});

describe('run config validation', () => {
  const base = () => JSON.parse(readFileSync(path.join(root, 'configs', 'phonetics-demo.json'), 'utf8'));

  it('accepts the demo config', () => {
    const config = parseRunConfig(base());
    expect(config.data.tasks).toEqual(['g2p', 'syllables', 'stress', 'gender']);
    expect(config.trainer.weighting).toMatchObject({ kind: 'dwa' });
  });

  it.each<[(c: any) => void, string | null]>([
    [
      (c: any) => {
        c.steps = 0;
      },
      'config.steps: expected an integer > 0, got 0',
    ],
    [
      (c: any) => {
        c.data.source = 'imagenet';
      },
      'config.data.source: expected "phonetics", "glue", "files", got "imagenet"',
    ],
    [
      (c: any) => {
        c.data.tasks = ['g2p', 'rhyme'];
      },
      'config.data.tasks.1: expected one of "g2p", "syllables", "stress", "gender", got "rhyme"',
    ],
    [
      (c: any) => {
        c.model.encoder.dModel = 'big';
      },
      'config.model.encoder.dModel: expected a number, got "big"',
    ],
    [
      (c: any) => {
        c.trainer.weighting = { kind: 'magic' };
      },
      'config.trainer.weighting.kind: expected "equal", ',
    ],
    [
      (c: any) => {
        c.trainer.weighting = { kind: 'dwa', temperature: '2' };
      },
      'config.trainer.weighting.temperature: expected a number, got "2"',
    ],
    [
      (c: any) => {
        c.trainer.batchSize = -1;
      },
      'config.trainer.batchSize: expected an integer > 0, got -1',
    ],
    [
      (c: any) => {
        c.trainer.lr = 1;
      },
      'config.trainer.lr: is not an option here',
    ],
    [
      (c: any) => {
        c.baselines = ['ner'];
      },
      "config.baselines.0: must be one of the data's tasks",
    ],
    [
      (c: any) => {
        c.baselines = 'some';
      },
      'config.baselines: ',
    ],
    [
      (c: any) => {
        c.keepBest = { metric: 'ner.accuracy' };
      },
      'config.keepBest.metric: names no task of the data',
    ],
    [
      (c: any) => {
        c.trainer.schedule = { kind: 'constant', totalSteps: 100 };
      },
      'config.trainer.schedule.totalSteps: has no effect on a constant schedule',
    ],
    [
      (c: any) => {
        c.trainer.strategy = { kind: 'progressive', main: 'g2p' };
        c.trainer.sampler = { kind: 'uniform' };
      },
      null,
    ],
    [
      (c: any) => {
        c.extra = 1;
      },
      'config.extra: is not an option here',
    ],
    [
      (c: any) => {
        c.threads = 0;
      },
      'config.threads: expected an integer > 0, got 0',
    ],
    [
      (c: any) => {
        c.threads = 100_000;
      },
      'config.threads: must be at most ',
    ],
    [
      (c: any) => {
        c.data = { source: 'glue', tasks: ['rte'] };
      },
      'config.data.dir: is required (a string)',
    ],
  ])('refuses a bad field (%#)', (mutate, message) => {
    const config = base();
    mutate(config);
    // null: the config is well-formed; the trainer refuses the combination (checked in trainer.test.ts).
    if (message === null) expect(() => parseRunConfig(config)).not.toThrow();
    else expect(() => parseRunConfig(config)).toThrow(message);
  });

  it('threads: the run trains with that many intra-op threads', async () => {
    const config = base();
    Object.assign(config, { steps: 2, evalEvery: 2, baselines: ['gender'], threads: 1 });
    delete config.diagnosticsEvery;
    delete config.keepBest;
    config.data.trainLimit = 200;
    config.data.evalLimit = 20;
    config.model.encoder = { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0.1 };
    config.model.decoderLayers = { sequence: 1 };
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-threads-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const before = mt.getNumThreads();
    try {
      mt.setNumThreads(2);
      await trainRun(file, path.join(dir, 'run'));
      expect(mt.getNumThreads()).toBe(1);
    } finally {
      mt.setNumThreads(before);
    }
  }, 120_000);

  it('says which file is not JSON', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'mtl-cfg-')), 'bad.json');
    writeFileSync(file, '{ nope');
    const result = run(['train', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('bad.json is not valid JSON');
  });
});

it('prints usage for an unknown command', () => {
  const result = spawnSync(tsx, [cli, 'fly'], { cwd: root, encoding: 'utf8' });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toMatch(/unknown command 'fly'/);
  expect(execFileSync(tsx, [cli, '--help'], { cwd: root, encoding: 'utf8' })).toContain('predict');
});

it('`mtl-torch train configs/glue-seed-scratch.json` trains the brief GLUE setup end to end (tiny encoder, fixture files)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-glue-'));
  const out = path.join(dir, 'run');
  const config = JSON.parse(readFileSync(path.join(root, 'configs', 'glue-seed-scratch.json'), 'utf8'));
  config.data.dir = path.join(root, 'test/fixtures/glue');
  config.data.tokenizer = path.join(root, 'test/fixtures/tokenizers/vocab.txt');
  config.model.encoder = { ...config.model.encoder, numLayers: 2, dModel: 64, nhead: 4, dimFeedforward: 128 };
  config.model.decoderLayers = { classification: 1, regression: 1 };
  Object.assign(config, { steps: 4, evalEvery: 4, checkpointEvery: 4 });
  config.trainer.schedule.warmupSteps = 1;
  const file = path.join(dir, 'glue.json');
  writeFileSync(file, JSON.stringify(config));
  const result = spawnSync(tsx, [cli, 'train', file, '--out', out], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  expect(result.status, result.stderr).toBe(0);
  for (const task of ['cola', 'mnli', 'mrpc', 'qnli', 'qqp', 'rte', 'sst2', 'stsb', 'wnli']) expect(result.stdout).toContain(task);
  expect(result.stdout).toMatch(/GLUE average of multi-task over 9 task\(s\): -?\d\.\d{4}/);
  expect(existsSync(path.join(out, 'report.html'))).toBe(true);
}, 300_000);
