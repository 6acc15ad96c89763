/**
 * `mtl-torch compare`: a run config trained over a grid of variants × seeds, with each task's
 * single-task baseline once per seed, reported as mean ± standard deviation with the seed noise
 * marked; and the task grouping recommended from the inter-task affinity the diagnostics measure.
 *
 *   compare.json   every cell's metrics and the aggregate table (rewritten after each cell)
 *   compare.html   the same table for a browser
 *   cells/<id>/    one run directory per variant × seed (the first variant's also holds the baselines)
 *
 * Resumable: a cell whose run finished is read back; one that was interrupted is resumed from its
 * checkpoints (lib/run/run.ts resumeRun); the rest start.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import { makeDirectory, readJsonFile, writeFileAtomic } from '../files.ts';
import {
  auxiliaryVerdicts,
  groupingLines,
  partitionText,
  recommendGroups,
  type DiagnosticsEvent,
  type Grouping,
  type Verdict,
} from '../report/affinity.ts';
import { parseEvents } from '../report/report.ts';
import { insideNoise, spread, type Spread } from '../report/spread.ts';
import { capabilities } from '../schema.ts';
import { dataTaskNames, parseRunConfig, type RunConfig } from './config.ts';
import { MULTI_TASK, resumeRun, singleTaskLabel, trainRun, type RunSummary, type TrainRunOptions } from './run.ts';

/** One axis of the grid: a dotted path into the run config and the values it takes. */
export interface Axis {
  path: string;
  values: unknown[];
  labels: string[];
}

/**
 * Reads `--vary path=v1,v2,...`. A value is JSON where it parses as JSON (numbers, true, objects), else a
 * string; a bare name at a path whose value is an object with a `kind` (trainer.weighting, model.sharing,
 * trainer.strategy, ...) stands for `{ "kind": name }` with that kind's defaults.
 */
export function parseAxis(spec: string, config: RunConfig): Axis {
  const at = spec.indexOf('=');
  if (at <= 0 || at === spec.length - 1)
    throw argumentError('compare', `--vary ${spec}: expected path=value1,value2,... (e.g. trainer.weighting=equal,gcs)`);
  const where = spec.slice(0, at);
  const current = getPath(config as unknown as Record<string, unknown>, where, spec);
  const takesKind = typeof current === 'object' && current !== null && 'kind' in current;
  const labels = splitTopLevel(spec.slice(at + 1));
  if (labels.some((l) => l === '')) throw argumentError('compare', `--vary ${spec}: an empty value`);
  if (new Set(labels).size !== labels.length) throw argumentError('compare', `--vary ${spec}: a value is given twice`);
  const values = labels.map((label) => {
    if (takesKind && /^[A-Za-z][A-Za-z0-9]*$/.test(label)) return { kind: label };
    try {
      return JSON.parse(label) as unknown;
    } catch {
      return label;
    }
  });
  return { path: where, values, labels };
}

function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

function getPath(object: Record<string, unknown>, dotted: string, spec: string): unknown {
  let value: unknown = object;
  for (const key of dotted.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) {
      throw argumentError('compare', `--vary ${spec}: '${dotted}' is not a field of the run config`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function setPath(object: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let target = object;
  for (const key of keys.slice(0, -1)) {
    if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys.at(-1)!] = structuredClone(value);
}

// ---- the grid ----

export interface CompareOptions extends Pick<TrainRunOptions, 'signal'> {
  vary: string[];
  seeds: number;
  /**
   * Task partitions to train besides the grid, e.g. [[['g2p', 'stress'], ['syllables', 'gender']]]: each group
   * its own multi-task model (the first variant's other settings), every task judged in its group's model.
   */
  groups?: string[][][];
  /**
   * Also train, per seed, the config without each auxiliary task in turn (it needs `trainer.main`): an
   * auxiliary task helps the main tasks where they do worse without it, beyond the seed noise.
   */
  leaveOneOut?: boolean;
  /** Called with each line of progress (default: none). */
  log?: (line: string) => void;
}

interface Cell {
  variant: number;
  seed: number;
  id: string;
  dir: string;
  tasks?: string[];
}

export interface VariantRow {
  label: string;
  settings: Record<string, string>;
  /** Per task: its main metric over seeds, the relative change to the single-task baseline (%, higher is better). */
  tasks: Record<string, { metric: string; value: Spread; change: Spread; insideNoise: boolean }>;
  deltaM: Spread;
  /** Δm minus the first variant's, per seed. */
  versusFirst?: Spread & { insideNoise: boolean };
  /** Per auxiliary task (when the config names `main`): what its measured affinity says it does for the main tasks. */
  verdicts?: Record<string, Verdict>;
}

export interface CompareResult {
  config: string;
  seeds: number[];
  axes: { path: string; values: string[] }[];
  baselines: Record<string, { metric: string; value: Spread }>;
  variants: VariantRow[];
  cells: { id: string; variant: number; seed: number; tasks?: string[]; summary: RunSummary }[];
  /**
   * With --leave-one-out, per auxiliary task: the main tasks' change (%, higher is better, their mean)
   * of the first variant against the same config trained without that task, paired by seed.
   */
  leaveOneOut?: Record<string, LeaveOneOut>;
  /** The best partition into k groups for each k, from the first variant's diagnostics (all seeds). */
  grouping?: Grouping[];
  /** Complete once every cell finished. */
  complete: boolean;
}

export interface LeaveOneOut {
  change: Spread;
  verdict: Verdict['verdict'];
}

export async function compare(configFile: string, dir: string, options: CompareOptions): Promise<CompareResult> {
  const log = options.log ?? (() => {});
  const raw = readJsonFile(configFile, 'config') as Record<string, unknown>;
  const config = parseRunConfig(raw);
  if (!Number.isInteger(options.seeds) || options.seeds < 1 || options.seeds > 10) {
    throw argumentError('compare', `--seeds: expected an integer from 1 to 10, got ${options.seeds}`);
  }
  const axes = options.vary.map((spec) => parseAxis(spec, config));
  if (new Set(axes.map((a) => a.path)).size !== axes.length) throw argumentError('compare', '--vary names the same path twice');
  const variants = product(axes);
  const seeds = Array.from({ length: options.seeds }, (_, i) => (config.trainer.seed ?? 0) + i);
  const baselineTasks = config.baselines.length > 0 ? config.baselines : dataTaskNames(config.data);

  // Every cell's config, checked before anything trains.
  makeDirectory(path.join(dir, 'cells'), 'compare');
  const cells: Cell[] = [];
  const addCell = (v: number, seed: number, cellRaw: Record<string, unknown>, id: string, label: string, tasks?: string[]) => {
    setPath(cellRaw, 'trainer.seed', seed);
    try {
      parseRunConfig(cellRaw);
    } catch (error) {
      throw argumentError('compare', `${label}: ${(error as Error).message}`);
    }
    const file = path.join(dir, 'cells', `${id}.json`);
    const text = JSON.stringify(cellRaw, null, 2) + '\n';
    if (!existsSync(file)) writeFileAtomic(file, text, 'compare');
    else if (readFileSync(file, 'utf8') !== text)
      throw argumentError('compare', `${dir} holds a comparison of another grid (${file} differs): use a new directory`);
    cells.push({ variant: v, seed, id, dir: path.join(dir, 'cells', id), ...(tasks ? { tasks } : {}) });
  };
  const variantRaw = (choice: number[]) => {
    const cellRaw = structuredClone(raw);
    for (const [a, axis] of axes.entries()) setPath(cellRaw, axis.path, axis.values[choice[a]!]);
    return cellRaw;
  };
  for (const [v, choice] of variants.entries()) {
    for (const seed of seeds) {
      const cellRaw = variantRaw(choice);
      // The baselines train once per seed, in the first variant's cells.
      if (v === 0) cellRaw.baselines = baselineTasks;
      else delete cellRaw.baselines;
      addCell(v, seed, cellRaw, `v${v}-seed${seed}`, `variant ${variantLabel(axes, choice)}`);
    }
  }
  const dataTasks = dataTaskNames(config.data);
  const partitions = (options.groups ?? []).map((partition) => checkPartition(partition, dataTasks));
  const labels = variants.map((choice) => variantLabel(axes, choice));
  for (const partition of partitions) labels.push(`groups ${partition.map((g) => g.join('+')).join(' | ')}`);
  // Leave-one-out runs are one-group partitions: the data's tasks but one auxiliary task.
  const leftOut: string[] = [];
  if (options.leaveOneOut) {
    const { main } = config.trainer;
    if (main.length === 0)
      throw argumentError('compare', '--leave-one-out: the config names no trainer.main (its verdicts are for the main tasks)');
    if (axes.some((a) => a.path === 'trainer.main' || a.path === 'trainer'))
      throw argumentError('compare', '--leave-one-out: the main tasks must be the same in every variant (do not --vary trainer.main)');
    for (const task of dataTasks.filter((t) => !main.includes(t))) {
      partitions.push([dataTasks.filter((t) => t !== task)]);
      labels.push(`without ${task}`);
      leftOut.push(task);
    }
    if (leftOut.length === 0) throw argumentError('compare', '--leave-one-out: every task of the data is a main task');
    const unmeasured = main.filter((t) => !baselineTasks.includes(t));
    if (unmeasured.length > 0)
      throw argumentError(
        'compare',
        `--leave-one-out: the main task(s) ${unmeasured.join(', ')} need a baseline (config.baselines) to name their metric`,
      );
  }
  for (const [p, partition] of partitions.entries()) {
    const v = variants.length + p;
    for (const seed of seeds) {
      for (const [g, group] of partition.entries()) {
        // A partition trains with the first variant's settings, the one its rows are compared with.
        const cellRaw = variantRaw(variants[0]!);
        delete cellRaw.baselines;
        // A list of task names (phonetics, GLUE) or, for files, the tasks' own entries.
        const listed = (cellRaw.data as { tasks?: unknown }).tasks;
        setPath(
          cellRaw,
          'data.tasks',
          Array.isArray(listed) || listed === undefined
            ? group
            : Object.fromEntries(Object.entries(listed as Record<string, unknown>).filter(([name]) => group.includes(name))),
        );
        groupTrainer(cellRaw, group);
        addCell(v, seed, cellRaw, `p${p}-g${g}-seed${seed}`, `variant ${labels[v]!}`, group);
      }
    }
  }

  const done: CompareResult['cells'] = [];
  // A finished cell's log no longer changes: read once, though the table is rebuilt after every cell.
  const diagnosticsRead = new Map<string, DiagnosticsEvent[]>();
  const diagnosticsOfCell = (id: string) => {
    let events = diagnosticsRead.get(id);
    if (!events) diagnosticsRead.set(id, (events = diagnosticsOf(path.join(dir, 'cells', id))));
    return events;
  };
  let complete = true;
  for (const cell of cells) {
    if (options.signal?.aborted) {
      complete = false;
      break;
    }
    const summaryFile = path.join(cell.dir, 'summary.json');
    let summary: RunSummary;
    if (existsSync(summaryFile)) {
      summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary;
      log(`${cell.id}: done before, read back`);
    } else {
      const resuming = existsSync(path.join(cell.dir, 'config.json'));
      log(
        `${cell.id}: ${labels[cell.variant]}${cell.tasks ? ` (${cell.tasks.join('+')})` : ''}, seed ${cell.seed}${resuming ? ' (resuming)' : ''}`,
      );
      summary = resuming
        ? await resumeRun(cell.dir, { signal: options.signal })
        : await trainRun(path.join(dir, 'cells', `${cell.id}.json`), cell.dir, { signal: options.signal });
      if (options.signal?.aborted) {
        complete = false;
        break;
      }
      writeFileAtomic(summaryFile, JSON.stringify(summary) + '\n', 'compare');
    }
    done.push({ id: cell.id, variant: cell.variant, seed: cell.seed, ...(cell.tasks ? { tasks: cell.tasks } : {}), summary });
    const partial = aggregate(configFile, config, axes, labels, leftOut, seeds, baselineTasks, done, diagnosticsOfCell, false);
    writeFileAtomic(path.join(dir, 'compare.json'), JSON.stringify(partial, null, 2) + '\n', 'compare');
  }
  const result = aggregate(
    configFile,
    config,
    axes,
    labels,
    leftOut,
    seeds,
    baselineTasks,
    done,
    diagnosticsOfCell,
    complete && done.length === cells.length,
  );
  writeFileAtomic(path.join(dir, 'compare.json'), JSON.stringify(result, null, 2) + '\n', 'compare');
  writeFileAtomic(path.join(dir, 'compare.html'), compareHtml(result), 'compare');
  return result;
}

/** A partition of (some of) the data's tasks: known tasks, each at most once. */
function checkPartition(partition: string[][], tasks: string[]): string[][] {
  const seen = new Set<string>();
  for (const group of partition) {
    if (group.length === 0) throw argumentError('compare', '--groups: an empty group');
    for (const task of group) {
      if (!tasks.includes(task)) throw argumentError('compare', `--groups: '${task}' is not a task of the data (${tasks.join(', ')})`);
      if (seen.has(task)) throw argumentError('compare', `--groups: '${task}' is in two groups`);
      seen.add(task);
    }
  }
  return partition;
}

/**
 * A group's trainer: the main tasks it holds. A main-task-aware weighting acts only where the group has
 * main and auxiliary tasks; elsewhere the group trains with equal weighting (its cell's config says so).
 */
function groupTrainer(cellRaw: Record<string, unknown>, group: string[]): void {
  const trainer = (cellRaw.trainer ?? {}) as Record<string, unknown>;
  const main = ((trainer.main as string[] | undefined) ?? []).filter((t) => group.includes(t));
  trainer.main = main;
  const kind = (trainer.weighting as { kind?: string } | undefined)?.kind;
  const usesMain = kind !== undefined && (capabilities('weighting', kind) as { usesMain?: boolean }).usesMain === true;
  if (usesMain && (main.length === 0 || main.length === group.length)) trainer.weighting = { kind: 'equal' };
  if (group.length === 1) {
    // One task: nothing to weigh, sample or diagnose, no auxiliary task.
    trainer.weighting = { kind: 'equal' };
    trainer.main = [];
    delete trainer.sampler;
    delete cellRaw.diagnosticsEvery;
  }
  cellRaw.trainer = trainer;
}

function product(axes: Axis[]): number[][] {
  let out: number[][] = [[]];
  for (const axis of axes) out = out.flatMap((prefix) => axis.values.map((_, i) => [...prefix, i]));
  return out;
}

function variantLabel(axes: Axis[], choice: number[]): string {
  return axes.length === 0 ? 'the config' : axes.map((a, i) => `${a.path}=${a.labels[choice[i]!]}`).join(', ');
}

function aggregate(
  configFile: string,
  config: RunConfig,
  axes: Axis[],
  labels: string[],
  leftOut: string[],
  seeds: number[],
  baselineTasks: string[],
  cells: CompareResult['cells'],
  diagnosticsOfCell: (id: string) => DiagnosticsEvent[],
  complete: boolean,
): CompareResult {
  const metricOf = (summary: RunSummary, label: string) => summary.results.find((r) => r.model === label)?.metrics;
  // Baseline metrics by seed, from the first variant's cells.
  const baselineBySeed = new Map<number, RunSummary>();
  for (const cell of cells) if (cell.variant === 0) baselineBySeed.set(cell.seed, cell.summary);
  const first = cells.find((c) => c.variant === 0)?.summary;
  const mainMetric: Record<string, { metric: string; higher: boolean }> = {};
  for (const task of baselineTasks) {
    const delta = first?.deltas[task];
    if (delta) mainMetric[task] = { metric: delta.metric, higher: delta.direction === 'max' };
  }
  const baselines: CompareResult['baselines'] = {};
  for (const [task, { metric }] of Object.entries(mainMetric)) {
    const values = [...baselineBySeed.values()]
      .map((s) => metricOf(s, singleTaskLabel(task))?.[task]?.[metric])
      .filter((v): v is number => v !== undefined);
    if (values.length > 0) baselines[task] = { metric, value: spread(values) };
  }
  const firstDeltaM = new Map<number, number>();
  // A task's multi-task value in a cell: the cell's, or for a partition the cell of its group (same seed).
  const valueOf = (v: number, seed: number, task: string, metric: string) => {
    const cell = cells.find((c) => c.variant === v && c.seed === seed && (c.tasks === undefined || c.tasks.includes(task)));
    return cell ? metricOf(cell.summary, MULTI_TASK)?.[task]?.[metric] : undefined;
  };
  const rows: VariantRow[] = labels.map((label, v) => {
    const mine = cells.filter((c) => c.variant === v && (c.tasks === undefined || c.id.includes('-g0-')));
    const settings: Record<string, string> = label.startsWith('groups ')
      ? { groups: label.slice('groups '.length) }
      : label.startsWith('without ')
        ? { without: label.slice('without '.length) }
        : axes.length === 0
          ? {}
          : Object.fromEntries(label.split(', ').map((p) => p.split('=') as [string, string]));
    const tasks: VariantRow['tasks'] = {};
    const deltaMs: number[] = [];
    const versus: number[] = [];
    for (const [task, { metric, higher }] of Object.entries(mainMetric)) {
      const values: number[] = [];
      const changes: number[] = [];
      for (const cell of mine) {
        const value = valueOf(v, cell.seed, task, metric);
        const base = metricOf(baselineBySeed.get(cell.seed) ?? cell.summary, singleTaskLabel(task))?.[task]?.[metric];
        if (value === undefined) continue;
        values.push(value);
        if (base !== undefined && base !== 0) changes.push((100 * (higher ? value - base : base - value)) / Math.abs(base));
      }
      if (values.length === 0) continue;
      const change = spread(changes.length > 0 ? changes : [NaN]);
      tasks[task] = { metric, value: spread(values), change, insideNoise: insideNoise(change) };
    }
    for (const cell of mine) {
      const changes = Object.entries(mainMetric)
        .map(([task, { metric, higher }]) => {
          const value = valueOf(v, cell.seed, task, metric);
          const base = metricOf(baselineBySeed.get(cell.seed) ?? cell.summary, singleTaskLabel(task))?.[task]?.[metric];
          return value === undefined || base === undefined || base === 0
            ? undefined
            : (higher ? value - base : base - value) / Math.abs(base);
        })
        .filter((c): c is number => c !== undefined);
      if (changes.length === 0) continue;
      const dm = (100 * changes.reduce((s, c) => s + c, 0)) / changes.length;
      deltaMs.push(dm);
      if (v === 0) firstDeltaM.set(cell.seed, dm);
      else if (firstDeltaM.has(cell.seed)) versus.push(dm - firstDeltaM.get(cell.seed)!);
    }
    const row: VariantRow = { label, settings, tasks, deltaM: spread(deltaMs.length > 0 ? deltaMs : [NaN]) };
    if (v > 0 && versus.length > 0) {
      const s = spread(versus);
      row.versusFirst = { ...s, insideNoise: insideNoise(s) };
    }
    if (config.trainer.main.length > 0 && !label.startsWith('groups ')) {
      const events = mine.flatMap((cell) => diagnosticsOfCell(cell.id));
      if (events.length > 0) row.verdicts = auxiliaryVerdicts(events, config.trainer.main);
    }
    return row;
  });
  const firstDiagnostics = cells.filter((c) => c.variant === 0).flatMap((c) => diagnosticsOfCell(c.id));
  // Leave-one-out: the main tasks with every auxiliary task (variant 0) against without one, per seed.
  const leaveOneOut: Record<string, LeaveOneOut> = {};
  leftOut.forEach((task, i) => {
    const v = labels.length - leftOut.length + i;
    const changes = seeds
      .map((seed) => {
        const perMain = config.trainer.main.map((m) => {
          const { metric, higher } = mainMetric[m] ?? { metric: '', higher: true };
          const withIt = valueOf(0, seed, m, metric);
          const without = valueOf(v, seed, m, metric);
          return withIt === undefined || without === undefined || without === 0
            ? undefined
            : (100 * (higher ? withIt - without : without - withIt)) / Math.abs(without);
        });
        return perMain.every((c) => c !== undefined) ? perMain.reduce((a, c) => a + c!, 0) / perMain.length : undefined;
      })
      .filter((c): c is number => c !== undefined);
    if (changes.length === 0) return;
    const change = spread(changes);
    leaveOneOut[task] = { change, verdict: insideNoise(change) ? 'neutral' : change.mean > 0 ? 'helps' : 'hurts' };
  });
  return {
    config: configFile,
    seeds,
    axes: axes.map((a) => ({ path: a.path, values: a.labels })),
    baselines,
    variants: rows,
    cells,
    ...(leftOut.length > 0 ? { leaveOneOut } : {}),
    ...(firstDiagnostics.length > 0 && firstDiagnostics[0]!.tasks.length <= 9 ? { grouping: recommendGroups(firstDiagnostics) } : {}),
    complete,
  };
}

// ---- the diagnostics of a run directory ----

/** The multi-task model's diagnostics events of a run directory (metrics.jsonl). */
export function diagnosticsOf(runDir: string): DiagnosticsEvent[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  // A torn last line (a cell killed mid-write) is dropped: the cell is resumed and writes it again.
  return parseEvents(readFileSync(file, 'utf8'), file, () => {}).filter(
    (e): e is Extract<typeof e, { kind: 'diagnostics' }> => e.kind === 'diagnostics' && (e.model === undefined || e.model === MULTI_TASK),
  );
}

// ---- output ----

const fmt = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const pm = (s: Spread, digits = 4) => (s.n > 1 ? `${fmt(s.mean, digits)} ± ${fmt(s.std, digits)}` : fmt(s.mean, digits));
const sci = (s: Spread) => (s.n > 1 ? `${s.mean.toExponential(2)} ± ${s.std.toExponential(2)}` : s.mean.toExponential(2));
const signed = (s: Spread) => (Number.isFinite(s.mean) ? `${s.mean >= 0 ? '+' : ''}${pm(s, 1)} %` : '—');

/** The table as text lines: per variant every task's metric (mean ± std), change and Δm; "~" marks inside the seed noise. */
export function compareLines(result: CompareResult): string[] {
  const lines: string[] = [];
  lines.push(
    `seeds ${result.seeds.join(', ')}; mean ± std over seeds; change: relative to the single-task baseline of the same seed (higher is better); ~ inside the seed noise (95 % interval contains 0)`,
  );
  lines.push(
    'baselines: ' +
      Object.entries(result.baselines)
        .map(([t, b]) => `${t} ${b.metric} ${pm(b.value)}`)
        .join('; '),
  );
  for (const row of result.variants) {
    lines.push('');
    lines.push(`${row.label}`);
    for (const [task, t] of Object.entries(row.tasks)) {
      lines.push(
        `  ${task.padEnd(12)} ${t.metric.padEnd(9)} ${pm(t.value).padEnd(18)} change ${signed(t.change)}${t.insideNoise ? ' ~' : ''}`,
      );
    }
    lines.push(
      `  Δm ${signed(row.deltaM)}${insideNoise(row.deltaM) ? ' ~' : ''}${row.versusFirst ? `; vs the first variant ${signed(row.versusFirst)}${row.versusFirst.insideNoise ? ' ~' : ''}` : ''}`,
    );
    if (row.verdicts) {
      lines.push(
        '  auxiliary tasks for the main task: ' +
          Object.entries(row.verdicts)
            .map(([t, v]) => `${t} ${v.verdict} (affinity ${sci(v.affinity)})`)
            .join('; '),
      );
    }
  }
  if (result.leaveOneOut) lines.push('', ...leaveOneOutLines(result.leaveOneOut));
  if (result.grouping) lines.push('', ...groupingLines(result.grouping));
  if (!result.complete) lines.push('', 'incomplete: run the same command again to continue');
  return lines;
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const LEAVE_ONE_OUT_HEADING =
  "leave-one-out: the main tasks' change from training with the auxiliary task (the first variant) against without it, paired by seed";

function leaveOneOutLines(verdicts: Record<string, LeaveOneOut>): string[] {
  return [
    `${LEAVE_ONE_OUT_HEADING}:`,
    ...Object.entries(verdicts).map(
      ([task, v]) => `  ${task.padEnd(12)} ${v.verdict.padEnd(8)} ${signed(v.change)}${insideNoise(v.change) ? ' ~' : ''}`,
    ),
  ];
}

export function compareHtml(result: CompareResult): string {
  const tasks = Object.keys(result.baselines);
  const head = `<tr><th>variant</th>${tasks.map((t) => `<th>${escape(t)} (${escape(result.baselines[t]!.metric)})</th>`).join('')}<th>Δm</th><th>vs first</th><th>auxiliary verdicts</th></tr>`;
  const cell = (value: string, noise: boolean) =>
    `<td class="${noise ? 'noise' : ''}">${escape(value)}${noise ? ' <span title="inside the seed noise">~</span>' : ''}</td>`;
  const baseline = `<tr class="baseline"><td>single-task baselines</td>${tasks.map((t) => `<td>${escape(pm(result.baselines[t]!.value))}</td>`).join('')}<td></td><td></td><td></td></tr>`;
  const rows = result.variants
    .map(
      (row) =>
        `<tr><td>${escape(row.label)}</td>${tasks
          .map((t) => {
            const v = row.tasks[t];
            return v ? cell(`${pm(v.value)} (${signed(v.change)})`, v.insideNoise) : '<td>—</td>';
          })
          .join(
            '',
          )}${cell(signed(row.deltaM), insideNoise(row.deltaM))}${row.versusFirst ? cell(signed(row.versusFirst), row.versusFirst.insideNoise) : '<td></td>'}<td>${
          row.verdicts
            ? Object.entries(row.verdicts)
                .map(([t, v]) => `<span class="${v.verdict}">${escape(t)}: ${v.verdict} (${escape(sci(v.affinity))})</span>`)
                .join(', ')
            : ''
        }</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mtl-torch compare</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { border: 1px solid #ccc; padding: 6px 10px; text-align: left; }
th { background: #f3f3f3; }
tr.baseline td { background: #fafafa; font-style: italic; }
td.noise { color: #888; }
.helps { color: #1a7f37; } .hurts { color: #cf222e; } .neutral { color: #666; }
</style></head><body>
<h1>Comparison over ${result.seeds.length} seed${result.seeds.length === 1 ? '' : 's'}</h1>
<p>${escape(result.config)}: ${result.axes.map((a) => `${escape(a.path)} ∈ {${a.values.map(escape).join(', ')}}`).join('; ') || 'one variant'}.
Each cell: the task's main metric, mean ± standard deviation over seeds, and in brackets its change relative to the
single-task baseline of the same seed (higher is better). <span class="noise">Grey, ~</span>: inside the seed noise
(the 95 % interval of the change contains 0).${result.complete ? '' : ' <strong>Incomplete</strong>: run the same command again to continue.'}</p>
<table>
${head}
${baseline}
${rows}
</table>
${
  result.leaveOneOut
    ? `<h2>Leave one out</h2>
<p>${escape(LEAVE_ONE_OUT_HEADING)} (higher is better; helps or hurts only outside the seed noise).</p>
<table><tr><th>auxiliary task</th><th>verdict</th><th>main-task change</th></tr>
${Object.entries(result.leaveOneOut)
  .map(
    ([t, v]) => `<tr><td>${escape(t)}</td><td class="${v.verdict}">${v.verdict}</td>${cell(signed(v.change), insideNoise(v.change))}</tr>`,
  )
  .join('\n')}
</table>`
    : ''
}
${
  result.grouping
    ? `<h2>Task groups</h2>
<p>The best partition of the tasks into k groups by total inter-task affinity (Fifty et al. 2021), from the first variant's diagnostics.</p>
<table><tr><th>k</th><th>groups</th><th>total affinity</th></tr>
${result.grouping.map((g) => `<tr><td>${g.k}</td><td>${escape(partitionText(g))}</td><td>${g.score.toExponential(3)}</td></tr>`).join('\n')}
</table>`
    : ''
}
</body></html>
`;
}
