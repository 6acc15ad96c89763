/**
 * `mtl-torch compare` end to end at tiny sizes (seconds): a grid of weightings × 2 seeds with the
 * baselines once per seed, mean ± std and the seed-noise marks, compare.json and compare.html, a task
 * partition trained as groups, and a comparison killed mid-way that continues where it stopped.
 * Also the statistics, the auxiliary verdicts and the grouping search on measured-shaped inputs, and
 * the refusals of bad --vary/--groups arguments.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auxiliaryVerdicts, recommendGroups, type DiagnosticsEvent } from '../../lib/report/affinity.ts';
import { insideNoise, spread } from '../../lib/report/spread.ts';
import { parseAxis, type CompareResult } from '../../lib/run/compare.ts';
import { parseRunConfig } from '../../lib/run/config.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = path.join(root, 'lib', 'cli.ts');
const run = (args: string[]) => spawnSync(tsx, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 600_000 });

const TINY = {
  data: { source: 'phonetics', tasks: ['syllables', 'stress', 'gender'], trainLimit: 400, evalLimit: 60 },
  model: { encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 } },
  trainer: { batchSize: 16, main: ['stress'], optimizer: { kind: 'adamW', lr: 0.003 } },
  steps: 12,
  evalEvery: 6,
  diagnosticsEvery: 4,
  device: 'cpu',
};

function tinyConfig(changes: Record<string, unknown> = {}): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-compare-'));
  const file = path.join(dir, 'tiny.json');
  writeFileSync(file, JSON.stringify({ ...TINY, ...changes }));
  return { dir, file };
}

describe('compare: statistics, verdicts and groups', () => {
  it('marks a change inside the seed noise when its 95 % t interval contains 0', () => {
    // n = 3: t = 4.303; mean 1, std 1 → half-width 2.48: inside. std 0.2 → 0.50: outside.
    expect(insideNoise(spread([0, 1, 2]))).toBe(true);
    expect(insideNoise(spread([0.8, 1, 1.2]))).toBe(false);
    expect(insideNoise(spread([5]))).toBe(true);
    const s = spread([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('reads --vary values: bare kinds as { kind }, JSON as JSON, and refuses unknown paths', () => {
    const config = parseRunConfig(TINY);
    expect(parseAxis('trainer.weighting=equal,gcs', config).values).toEqual([{ kind: 'equal' }, { kind: 'gcs' }]);
    expect(parseAxis('trainer.batchSize=8,16', config).values).toEqual([8, 16]);
    expect(parseAxis('trainer.weighting={"kind":"gcs","weighted":true},equal', config).values).toEqual([
      { kind: 'gcs', weighted: true },
      { kind: 'equal' },
    ]);
    expect(() => parseAxis('trainer.weighting', config)).toThrow('--vary trainer.weighting: expected path=value1,value2,...');
    expect(() => parseAxis('trainer.colour=red', config)).toThrow(
      "--vary trainer.colour=red: 'trainer.colour' is not a field of the run config",
    );
    expect(() => parseAxis('trainer.weighting=gcs,gcs', config)).toThrow('a value is given twice');
  });

  const events = (z: number[][], noise: number[]): DiagnosticsEvent[] =>
    noise.map((n) => ({
      tasks: ['a', 'b', 'c', 'd'],
      cosine: z,
      affinity: z.map((row) => row.map((v) => v + n)),
    }));

  it('gives each auxiliary task its verdict for the main task from the affinity of its steps on the main loss', () => {
    // affinity[j][i]: j's step on i's loss. Main a: b helps it, c hurts it, d does nothing measurable.
    const z = [
      [0, 0, 0, 0],
      [0.02, 0, 0, 0],
      [-0.03, 0, 0, 0],
      [0, 0, 0, 0],
    ];
    const verdicts = auxiliaryVerdicts(events(z, [0.001, -0.001, 0.002, -0.002]), ['a']);
    expect(Object.fromEntries(Object.entries(verdicts).map(([t, v]) => [t, v.verdict]))).toEqual({ b: 'helps', c: 'hurts', d: 'neutral' });
    expect(verdicts.b!.affinity.mean).toBeCloseTo(0.02, 12);
  });

  it('finds the best partition into k groups for every k', () => {
    // a and b help each other, c and d help each other, across the pairs they hurt.
    const z = [
      [0, 0.05, -0.02, -0.03],
      [0.04, 0, -0.01, -0.02],
      [-0.02, -0.03, 0, 0.03],
      [-0.01, -0.02, 0.02, 0],
    ];
    const grouping = recommendGroups(events(z, [0]));
    expect(grouping.map((g) => g.k)).toEqual([1, 2, 3, 4]);
    expect(grouping[1]!.groups).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(grouping[1]!.score).toBeCloseTo(0.05 + 0.04 + 0.03 + 0.02, 12);
    expect(grouping[3]!.score).toBe(0);
    expect(grouping[2]!.groups).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(() => recommendGroups([])).toThrow('no diagnostics events: train with diagnosticsEvery');
  });
});

describe('mtl-torch compare (tiny sizes)', () => {
  it('runs the grid and the baselines once per seed, writes compare.json and compare.html, and trains a partition', () => {
    const { dir, file } = tinyConfig();
    const out = path.join(dir, 'cmp');
    const result = run([
      'compare',
      file,
      '--out',
      out,
      '--vary',
      'trainer.weighting=equal,gcs',
      '--seeds',
      '2',
      '--groups',
      'stress+gender|syllables',
    ]);
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(json.complete).toBe(true);
    expect(json.seeds).toEqual([0, 1]);
    expect(json.variants.map((v) => v.label)).toEqual([
      'trainer.weighting=equal',
      'trainer.weighting=gcs',
      'groups stress+gender | syllables',
    ]);
    for (const task of ['syllables', 'stress', 'gender']) {
      expect(json.baselines[task]!.value.n, task).toBe(2);
      for (const variant of json.variants) expect(variant.tasks[task]!.value.n, `${variant.label} ${task}`).toBe(2);
    }
    // Baselines only in the first variant's cells: 2 seeds × (1 multi-task + 3 single-task) results there.
    const first = json.cells.filter((c) => c.variant === 0);
    expect(first.map((c) => c.summary.results.length)).toEqual([4, 4]);
    expect(json.cells.filter((c) => c.variant === 1).map((c) => c.summary.results.length)).toEqual([1, 1]);
    // The partition trains one model per group and seed; a one-task group is its task alone.
    expect(json.cells.filter((c) => c.variant === 2).map((c) => c.tasks)).toEqual([
      ['stress', 'gender'],
      ['syllables'],
      ['stress', 'gender'],
      ['syllables'],
    ]);
    // A per-task change is the mean of per-seed changes against that seed's baseline.
    const equal = json.variants[0]!;
    const seedChanges = json.seeds.map((seed) => {
      const cell = first.find((c) => c.seed === seed)!;
      const m = cell.summary.results.find((r) => r.model === 'multi-task')!.metrics.stress!.accuracy!;
      const s = cell.summary.results.find((r) => r.model === 'single-task stress')!.metrics.stress!.accuracy!;
      return (100 * (m - s)) / s;
    });
    expect(equal.tasks.stress!.change.mean).toBeCloseTo((seedChanges[0]! + seedChanges[1]!) / 2, 10);
    expect(equal.verdicts && Object.keys(equal.verdicts).sort()).toEqual(['gender', 'syllables']);
    expect(json.grouping!.map((g) => g.k)).toEqual([1, 2, 3]);
    expect(result.stdout).toContain('trainer.weighting=gcs');
    expect(result.stdout).toMatch(/stress\s+accuracy\s+\d\.\d{4} ± \d\.\d{4}\s+change [+-]\d/);
    expect(result.stdout).toContain('task groups by total inter-task affinity');
    // groups on one of the cells (a run directory) prints the same search for its own diagnostics.
    const groups = run(['groups', path.join(out, 'cells', 'v0-seed0')]);
    expect(groups.status, groups.stderr).toBe(0);
    expect(groups.stdout).toMatch(/k=2: \S+ \| \S+\s+total affinity/);
    const html = readFileSync(path.join(out, 'compare.html'), 'utf8');
    expect(html).toContain('<td>trainer.weighting=gcs</td>');
    expect(html).toContain('single-task baselines');
    expect(html).toContain('Task groups');
  }, 600_000);

  it("--leave-one-out trains without each auxiliary task and gives its verdict from the main task's change", () => {
    const { dir, file } = tinyConfig();
    const out = path.join(dir, 'loo');
    const result = run(['compare', file, '--out', out, '--seeds', '2', '--leave-one-out']);
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(json.variants.map((v) => v.label)).toEqual(['the config', 'without syllables', 'without gender']);
    expect(json.variants[1]!.settings).toEqual({ without: 'syllables' });
    expect(json.cells.filter((c) => c.variant > 0).map((c) => c.tasks)).toEqual([
      ['stress', 'gender'],
      ['stress', 'gender'],
      ['syllables', 'stress'],
      ['syllables', 'stress'],
    ]);
    // The verdict's change, from the cells themselves: stress with every task against without one, per seed.
    const stress = (variant: number, seed: number) =>
      json.cells.find((c) => c.variant === variant && c.seed === seed)!.summary.results.find((r) => r.model === 'multi-task')!.metrics
        .stress!.accuracy!;
    for (const [task, variant] of [
      ['syllables', 1],
      ['gender', 2],
    ] as const) {
      const changes = json.seeds.map((seed) => (100 * (stress(0, seed) - stress(variant, seed))) / stress(variant, seed));
      const verdict = json.leaveOneOut![task]!;
      expect(verdict.change.values).toEqual(changes.map((c) => expect.closeTo(c, 10)));
      expect(verdict.verdict).toBe(insideNoise(spread(changes)) ? 'neutral' : verdict.change.mean > 0 ? 'helps' : 'hurts');
    }
    expect(result.stdout).toMatch(/leave-one-out: the main tasks' change/);
    expect(result.stdout).toMatch(/ {2}syllables +(helps|neutral|hurts) +[+-]\d/);
    expect(readFileSync(path.join(out, 'compare.html'), 'utf8')).toContain('<h2>Leave one out</h2>');
    // Without trainer.main there is nothing to judge the tasks for.
    const noMain = tinyConfig({ trainer: { ...TINY.trainer, main: [] } });
    expect(run(['compare', noMain.file, '--out', path.join(noMain.dir, 'x'), '--seeds', '1', '--leave-one-out']).stderr).toContain(
      '--leave-one-out: the config names no trainer.main',
    );
    expect(
      run(['compare', file, '--out', path.join(dir, 'y'), '--seeds', '1', '--leave-one-out', '--vary', 'trainer.main=["gender"]']).stderr,
    ).toContain('--leave-one-out: the main tasks must be the same in every variant');
  }, 600_000);

  it('continues a killed comparison where it stopped', async () => {
    const { dir, file } = tinyConfig({ steps: 30 });
    const out = path.join(dir, 'cmp');
    const args = ['compare', file, '--out', out, '--vary', 'trainer.weighting=equal,oneSidedProjection', '--seeds', '2'];
    const child = spawn(tsx, [cli, ...args], { cwd: root, stdio: 'ignore', detached: false });
    const firstDone = path.join(out, 'cells', 'v0-seed0', 'summary.json');
    const started = Date.now();
    while (!existsSync(firstDone) && Date.now() - started < 300_000) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(firstDone)).toBe(true);
    const partial = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(partial.complete).toBe(false);
    const again = run(args);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('v0-seed0: done before, read back');
    const json = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareResult;
    expect(json.complete).toBe(true);
    expect(json.cells).toHaveLength(4);
    // The cell read back is the one the killed process finished.
    expect(json.cells[0]!.summary).toEqual(JSON.parse(readFileSync(firstDone, 'utf8')));
  }, 600_000);

  it("train prints each auxiliary task's verdict for the main task and the task groups", () => {
    const { dir, file } = tinyConfig();
    const result = run(['train', file, '--out', path.join(dir, 'run')]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Auxiliary tasks for stress \(lookahead affinity over 3 diagnostics, 95 % interval\)/);
    expect(result.stdout).toMatch(/ {2}syllables +(helps|neutral|hurts) /);
    expect(result.stdout).toMatch(/ {2}gender +(helps|neutral|hurts) /);
    expect(result.stdout).toContain('task groups by total inter-task affinity');
    expect(run(['groups', dir]).stderr).toContain('no diagnostics events: train with diagnosticsEvery');
  }, 600_000);

  it('refuses bad arguments, naming them', () => {
    const { dir, file } = tinyConfig();
    const bad = (args: string[]) => run(['compare', file, '--out', path.join(dir, 'bad'), ...args]).stderr;
    expect(bad(['--vary', 'trainer.colour=red'])).toContain("'trainer.colour' is not a field of the run config");
    expect(bad(['--groups', 'stress+g2p'])).toContain("--groups: 'g2p' is not a task of the data (syllables, stress, gender)");
    expect(bad(['--groups', 'stress|stress'])).toContain("--groups: 'stress' is in two groups");
    expect(bad(['--vary', 'trainer.weighting=magic'])).toContain('variant trainer.weighting=magic: config.trainer.weighting.kind');
    expect(bad(['--vary', 'trainer.weighting=gcs', '--seeds', '11'])).toContain('--seeds: expected an integer from 1 to 10, got 11');
    const other = path.join(dir, 'other');
    expect(run(['compare', file, '--out', other, '--vary', 'trainer.batchSize=8', '--seeds', '1']).status).toBe(0);
    expect(run(['compare', file, '--out', other, '--vary', 'trainer.batchSize=4', '--seeds', '1']).stderr).toContain(
      'holds a comparison of another grid',
    );
  }, 600_000);
});
