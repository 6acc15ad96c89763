// Everything else of a run on your own files (issue #19 item 4), on the shipped support-tickets
// example: baselines and Δm, diagnostics, keepBest, early stopping, a kill -9 and resume, eval on a
// test split, the report, and --nproc 2 (two local ranks), all through the CLI.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}
function start(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'lib', 'cli.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WORLD_SIZE: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit };
}
const cli = (args: string[]) => start(args).exit;
const events = (dir: string) =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { kind: string; model?: string; step?: number });

const example = (name: string) => path.join('examples', 'support-tickets', name);
const config = (steps: number) => ({
  data: {
    source: 'files',
    tasks: {
      category: { train: example('train.csv'), dev: example('dev.csv'), split: { test: 0.15 }, label: 'category' },
      urgency: { train: example('train.csv'), dev: example('dev.csv'), split: { test: 0.15 }, label: 'urgency' },
    },
    tokenizer: { train: { kind: 'wordPiece', vocabSize: 300 } },
    maxLength: 40,
  },
  model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0.1 } },
  trainer: { batchSize: 16, optimizer: { kind: 'adamW', lr: 0.003 }, seed: 0 },
  steps,
  evalEvery: 8,
  checkpointEvery: 8,
  diagnosticsEvery: 8,
  threads: 1,
  baselines: 'all',
  keepBest: { metric: 'category.accuracy' },
  earlyStopping: { metric: 'loss', patience: 20 },
});

describe('a files run end to end through the CLI', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'mtl-files-run-'));

  it('trains with baselines, diagnostics, keepBest and early stopping; survives kill -9; evaluates the test split; reports', async () => {
    const file = path.join(base, 'config.json');
    writeFileSync(file, JSON.stringify(config(40)));
    const dir = path.join(base, 'run');
    // Killed once the multi-task model has passed its second checkpoint (step 16), then resumed.
    const first = start(['train', file, '--out', dir]);
    const log = path.join(dir, 'metrics.jsonl');
    // The log's last line may be half-written when it is read: only whole lines count.
    const passed = () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .slice(0, -1)
        .some((l) => /"kind":"step","model":"multi-task","step":(1[89]|[2-9]\d)\b/.test(l));
    const watch = setInterval(() => {
      if (existsSync(log) && passed()) first.child.kill('SIGKILL');
    }, 50);
    const killed = await first.exit;
    clearInterval(watch);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(events(dir).some((e) => e.kind === 'result')).toBe(false);
    const resumed = await cli(['train', '--resume', dir]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const all = events(dir);
    expect(all.filter((e) => e.kind === 'result').map((e) => e.model)).toEqual([
      'multi-task',
      'single-task category',
      'single-task urgency',
    ]);
    // The resumed model's log continues from its checkpoint: each evaluation step once.
    expect(all.filter((e) => e.kind === 'eval' && e.model === 'multi-task').map((e) => e.step)).toEqual([8, 16, 24, 32, 40]);
    expect(all.filter((e) => e.kind === 'diagnostics' && e.model === 'multi-task').length).toBeGreaterThan(0);
    const delta = all.find((e) => e.kind === 'delta') as unknown as { deltas: Record<string, unknown>; deltaM: number };
    expect(Object.keys(delta.deltas).sort()).toEqual(['category', 'urgency']);
    expect(Number.isFinite(delta.deltaM)).toBe(true);
    expect(existsSync(path.join(dir, 'best', 'model.safetensors'))).toBe(true);
    expect(resumed.stdout).toMatch(/Δm\s+[+-]\d+\.\d %/);

    const test = await cli(['eval', dir, '--split', 'test']);
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toMatch(/category accuracy/);
    expect(test.stdout).toMatch(/urgency pearson/);
    const report = await cli(['report', dir]);
    expect(report.stdout.trim()).toBe(path.join(dir, 'report.html'));
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toContain('category: training loss');

    const run = await mt.loadRun(dir);
    const [answer] = await run.predict(['My invoice shows the wrong amount, urgent']);
    expect(['billing', 'hardware', 'login', 'network', 'shipping']).toContain((answer!.category as mt.ClassificationPrediction).label);
  }, 600_000);

  it.skipIf(!mt.distributed.backends().includes('gloo'))(
    '--nproc 2 trains the files run over two local ranks',
    async () => {
      const file = path.join(base, 'config-ddp.json');
      writeFileSync(file, JSON.stringify({ ...config(8), baselines: ['urgency'], diagnosticsEvery: undefined }));
      const dir = path.join(base, 'run-ddp');
      const result = await cli(['train', file, '--out', dir, '--nproc', '2', '--timeout', '60']);
      expect(result.code, result.stderr).toBe(0);
      expect(
        events(dir)
          .filter((e) => e.kind === 'result')
          .map((e) => e.model),
      ).toEqual(['multi-task', 'single-task urgency']);
      for (const f of ['tokenizer.json', 'data.json', 'model/model.safetensors']) expect(existsSync(path.join(dir, f)), f).toBe(true);
    },
    300_000,
  );
});
