/**
 * Nothing of a run is lost, and its answers are the same every time: `mtl-torch predict` on a
 * dropout-0.5 run prints the same text on every call; a refused resume leaves metrics.jsonl
 * byte-identical; a torn last log line is dropped on resume with a warning naming it; a full disk
 * stops the run with ERR_IO naming the log and leaves it resumable; a refused config writes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  openSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = path.join(root, 'lib', 'cli.ts');
const run = (args: string[]) => spawnSync(tsx, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
const scratch = mkdtempSync(path.join(tmpdir(), 'mtl-run-integrity-'));
afterAll(() => spawnSync('rm', ['-rf', scratch]));

/** A run that trains in about a second: two phonetics tasks, a 1-layer encoder with dropout 0.5. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    data: { source: 'phonetics', tasks: ['g2p', 'gender'], trainLimit: 400, evalLimit: 40 },
    model: {
      encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0.5 },
      decoderLayers: { sequence: 1, classification: 1 },
    },
    trainer: { batchSize: 8, seed: 0 },
    steps: 12,
    evalEvery: 4,
    ...overrides,
  };
}
function configFile(name: string, config: unknown): string {
  const file = path.join(scratch, `${name}.json`);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}
function trained(name: string, config = tinyConfig()): string {
  const out = path.join(scratch, name);
  const result = run(['train', configFile(name, config), '--out', out]);
  if (result.status !== 0) throw new Error(`train failed: ${result.stderr}`);
  return out;
}
// 48 made-up words (letters only), the same every time.
const words = Array.from({ length: 48 }, (_, i) => `w${[...String(i * 37)].map((c) => 'abcdefghij'[Number(c)]).join('')}`);

describe('mtl-torch predict is deterministic', () => {
  let out = '';
  beforeAll(() => {
    out = trained('predict');
  }, 120_000);

  for (const task of ['g2p', 'gender']) {
    it(`${task}: three calls on the same 48 inputs print the same text`, () => {
      const outputs = [0, 1, 2].map(() => {
        const r = run(['predict', out, task, ...words]);
        expect(r.status, r.stderr).toBe(0);
        return r.stdout;
      });
      expect(outputs[0]!.trim().split('\n')).toHaveLength(48);
      expect(outputs[1]).toBe(outputs[0]);
      expect(outputs[2]).toBe(outputs[0]);
    }, 60_000);
  }
});

const lines = (run: string) =>
  readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
/** A finished run made to look interrupted after its last checkpoint: its result and Δm lines removed. */
function interrupted(from: string, name: string): string {
  const out = path.join(scratch, name);
  cpSync(from, out, { recursive: true });
  const kept = lines(out).filter((l) => !['result', 'delta'].includes(JSON.parse(l).kind));
  writeFileSync(path.join(out, 'metrics.jsonl'), kept.join('\n') + '\n');
  return out;
}
/** Rewrites one entry of a safetensors file (the metadata kept); `value` undefined removes it. */
function tamper(file: string, entry: string, value: ((old: mt.Tensor) => mt.Tensor) | undefined): void {
  const { tensors, metadata } = mt.loadWithMetadata(file);
  if (value === undefined) delete tensors[entry];
  else tensors[entry] = value(tensors[entry]!);
  mt.save(file, tensors, metadata);
  for (const t of Object.values(tensors)) t.dispose();
}

describe('a refused resume keeps the run as it was', () => {
  let done = '';
  beforeAll(() => {
    done = trained('resume-source', tinyConfig({ baselines: ['gender'] }));
  }, 120_000);
  const weight = 'model.tasks.gender.decoder.layers.0.linear1.bias';
  const cases: [string, string, ((old: mt.Tensor) => mt.Tensor) | undefined, RegExp][] = [
    ['loop.step = -1', 'loop.step', () => mt.tensor(-1n, { dtype: 'int64' }), /'loop\.step' is -1, outside \[0, 12\]/],
    [
      'loop.step = 2^62',
      'loop.step',
      () => mt.tensor(2n ** 62n, { dtype: 'int64' }),
      /'loop\.step' is 4611686018427387904, outside \[0, 12\]/,
    ],
    ["no loop.step (a model's weights copied over it)", 'loop.step', undefined, /missing entry 'loop\.step'/],
    ['a NaN weight', weight, (old) => mt.full(old.shape, NaN), new RegExp(`'${weight.replace(/\./g, '\\.')}' holds NaN`)],
  ];
  for (const [what, entry, value, message] of cases) {
    it(`${what}: refused naming the file and the entry; metrics.jsonl byte-identical`, () => {
      const out = interrupted(done, `refused-${entry}-${what.length}`);
      const checkpoint = path.join(out, 'checkpoint', 'checkpoint.safetensors');
      tamper(checkpoint, entry, value);
      const before = readFileSync(path.join(out, 'metrics.jsonl'));
      const r = run(['train', '--resume', out]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(`checkpoint '${checkpoint}'`);
      expect(r.stderr).toContain('ERR_INVALID_ARG');
      expect(readFileSync(path.join(out, 'metrics.jsonl')).equals(before)).toBe(true);
    }, 60_000);
  }

  it("the same interrupted run untampered resumes: its result and the baseline's are logged once each", () => {
    const out = interrupted(done, 'resumable');
    const r = run(['train', '--resume', out]);
    expect(r.status, r.stderr).toBe(0);
    const results = lines(out)
      .map((l) => JSON.parse(l))
      .filter((e) => e.kind === 'result')
      .map((e) => e.model);
    expect(results).toEqual(['multi-task', 'single-task gender']);
  }, 60_000);

  it('a torn last line is dropped with a warning naming it, and the run resumes', () => {
    const out = interrupted(done, 'torn');
    const count = lines(out).length;
    writeFileSync(
      path.join(out, 'metrics.jsonl'),
      readFileSync(path.join(out, 'metrics.jsonl'), 'utf8') + '{"kind":"step","model":"multi-t',
    );
    const r = run(['train', '--resume', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${path.join(out, 'metrics.jsonl')} line ${count + 1} is a cut-off write`);
    for (const line of lines(out)) expect(() => JSON.parse(line)).not.toThrow();
  }, 60_000);
});

describe('a full disk while logging', () => {
  const mount = path.join(scratch, 'tmpfs');
  let mounted = false;
  beforeAll(() => {
    mkdirSync(mount);
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]).status === 0;
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', [mount]);
  });

  it('stops the run with ERR_IO naming metrics.jsonl, leaves no torn line, and the run resumes once space is freed', async (context) => {
    if (!mounted) context.skip('mounting a 4 MiB tmpfs was refused (not root, or no CAP_SYS_ADMIN here)');
    const out = path.join(mount, 'run');
    const config = configFile('full-disk', tinyConfig({ steps: 3000, evalEvery: 1000, checkpointEvery: 1000 }));
    const child = spawn(tsx, [cli, 'train', config, '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const checkpoint = path.join(out, 'checkpoint', 'checkpoint.safetensors');
    while (!existsSync(checkpoint)) await new Promise((r) => setTimeout(r, 10));
    // The first checkpoint (step 1000) is written: fill the disk with a filler file, written until ENOSPC.
    const filler = path.join(mount, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }
    const code = await exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain('ERR_IO');
    // The log's append fails first (a line every 15 steps; the next checkpoint is 1000 steps away).
    expect(stderr, stderr).toContain(`cannot append to '${path.join(out, 'metrics.jsonl')}': ENOSPC`);
    expect(stderr).toContain('training stopped (its last checkpoint');
    expect(stderr).not.toContain('training continues');
    for (const line of lines(out)) expect(() => JSON.parse(line)).not.toThrow();
    const before = lines(out).length;
    unlinkSync(filler);
    const resumed = run(['train', '--resume', out]);
    expect(resumed.status, resumed.stderr).toBe(0);
    const after = lines(out).map((l) => JSON.parse(l));
    expect(after.filter((e) => e.kind === 'result').map((e) => e.model)).toEqual(['multi-task']);
    console.log(`full disk: the run stopped with ${before} whole lines in metrics.jsonl; resumed to ${after.length}`);
  }, 240_000);
});

describe('a refused config writes nothing', () => {
  const glue = path.join(root, 'test', 'fixtures', 'glue');
  const vocab = path.join(root, 'test', 'fixtures', 'tokenizers', 'vocab.txt');
  const glueConfig = (data: Record<string, unknown>, rest: Record<string, unknown> = {}) =>
    tinyConfig({
      data: { source: 'glue', dir: glue, tasks: ['mnli'], tokenizer: vocab, maxLength: 32, ...data },
      steps: 2,
      ...rest,
    });
  // GLUE's MNLI without its mismatched dev set (read only at the end of training, before).
  const noMismatched = path.join(scratch, 'glue-no-mm');
  beforeAll(() => {
    cpSync(path.join(glue, 'MNLI'), path.join(noMismatched, 'MNLI'), { recursive: true });
    unlinkSync(path.join(noMismatched, 'MNLI', 'dev_mismatched.tsv'));
    writeFileSync(path.join(scratch, 'not-a-tokenizer.json'), '{"model": 3}');
  });
  const cases: [string, () => unknown, RegExp][] = [
    ['a missing GLUE folder', () => glueConfig({ dir: path.join(scratch, 'nowhere') }), /nowhere/],
    ['a missing tokenizer', () => glueConfig({ tokenizer: path.join(scratch, 'none.txt') }), /none\.txt/],
    ['an invalid tokenizer', () => glueConfig({ tokenizer: path.join(scratch, 'not-a-tokenizer.json') }), /not-a-tokenizer\.json/],
    ['GLUE MNLI without dev_mismatched.tsv', () => glueConfig({ dir: noMismatched }), /dev_mismatched\.tsv/],
    ['maxLength 1e9', () => glueConfig({ maxLength: 1e9 }), /maxLength/],
    [
      'lr 1e300',
      () => tinyConfig({ trainer: { optimizer: { kind: 'adamW', lr: 1e300 } } }),
      /config\.trainer\.optimizer\.lr: expected a number <= 3\.4028e\+38/,
    ],
    [
      'a weighting its strategy cannot serve',
      () => tinyConfig({ trainer: { strategy: { kind: 'alternating' }, weighting: { kind: 'pcgrad' } } }),
      /weighting\.pcgrad cannot be used with strategy\.alternating/,
    ],
  ];
  if (!mt.cuda.isAvailable()) cases.push(['device cuda on a machine without CUDA', () => tinyConfig({ device: 'cuda' }), /CUDA/i]);
  for (const [what, config, message] of cases) {
    it(`${what}: refused, --out absent`, () => {
      const out = path.join(scratch, `refused-config-${what.replace(/\W+/g, '-')}`);
      const r = run(['train', configFile(`bad-${what.replace(/\W+/g, '-')}`, config()), '--out', out]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/\(ERR_[A-Z_]+\)/);
      expect(existsSync(out), `${out} was written`).toBe(false);
    }, 60_000);
  }

  it('a config file beginning with a UTF-8 byte-order mark is read', () => {
    const out = path.join(scratch, 'bom');
    const r = run(['train', configFile('bom', '\ufeff' + JSON.stringify(tinyConfig({ steps: 2 }))), '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(out, 'model', 'model.safetensors'))).toBe(true);
  }, 60_000);
});

describe('what the user sees', () => {
  it('eval --split test on a GLUE run says the labels are hidden and what to use instead; report prints the path it wrote', () => {
    const glue = path.join(root, 'test', 'fixtures', 'glue');
    const out = trained(
      'glue-eval',
      tinyConfig({
        data: {
          source: 'glue',
          dir: glue,
          tasks: ['rte'],
          tokenizer: path.join(root, 'test', 'fixtures', 'tokenizers', 'vocab.txt'),
          maxLength: 32,
        },
        steps: 2,
      }),
    );
    const r = run(['eval', out, '--split', 'test']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("GLUE's test labels are hidden");
    expect(r.stderr).toContain(`mtl-torch predict --glue-submission ${out} <out>`);
    expect(r.stderr).toContain('(ERR_INVALID_ARG)');
    expect(run(['eval', out]).status).toBe(0);
    expect(run(['report', out]).stdout.trim()).toBe(path.join(out, 'report.html'));
  }, 120_000);
});
