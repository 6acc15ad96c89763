/**
 * The run directory's report: `report.html`, self-contained (inline CSS and SVG, no scripts, no
 * network), built from `config.json` and the event log `metrics.jsonl` that training writes. It
 * puts first whether multi-task training helped (Δm and each task against its single-task model),
 * then one series per model in every plot, the loss weights λ, and, when they were measured, the
 * tasks' gradient conflict and affinity.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import { MAX_TEXT_DATA_BYTES, readJsonFile, readTextFile, writeFileAtomic } from '../files.ts';

/** metrics.jsonl of a long run: a line per event, far below this. */
import { auxiliaryVerdicts, partitionText, recommendGroups } from './affinity.ts';
import { escapeXml, heatMap, linePlot, seriesColor, smoothed, type Series } from './svg.ts';

export type TaskMetrics = Record<string, Record<string, number>>;

export interface TaskDelta {
  /** The task's main metric, and the direction it improves in. */
  metric: string;
  direction: 'max' | 'min';
  multiTask: number;
  singleTask: number;
  /** (multi − single) / |single|, negated when lower is better: > 0 means multi-task training helped. */
  delta: number;
}

/** One line of metrics.jsonl; `model` is 'multi-task' or 'single-task <task>'. */
export type RunEvent =
  | {
      kind: 'step';
      model: string;
      step: number;
      epoch?: number;
      losses: Record<string, number>;
      lambdas?: Record<string, number>;
      lr?: number;
    }
  | { kind: 'eval'; model: string; step: number; metrics: TaskMetrics }
  | {
      kind: 'diagnostics';
      model: string;
      step: number;
      tasks: string[];
      cosine: number[][];
      affinity: number[][];
      lookaheadRate: number;
      seconds: number;
    }
  | {
      kind: 'result';
      model: string;
      metrics: TaskMetrics;
      steps: number;
      wallSeconds: number;
      weights?: 'best' | 'final';
      examples?: Record<string, number>;
    }
  | { kind: 'delta'; model?: undefined; deltas: Record<string, TaskDelta>; deltaM?: number };

const KINDS = new Set(['step', 'eval', 'diagnostics', 'result', 'delta']);

export interface RunRecord {
  title: string;
  config: unknown;
  events: RunEvent[];
}

export function parseEvents(text: string, source = 'metrics.jsonl', onTornLastLine?: (line: number) => void): RunEvent[] {
  const events: RunEvent[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      // The last line without its newline is a write that was cut (the process killed or the disk
      // full part way): a reader that is told so drops it; any other bad line is refused.
      if (onTornLastLine && i === lines.length - 1) {
        onTornLastLine(i + 1);
        return;
      }
      throw argumentError('report', `${source} line ${i + 1} is not JSON`);
    }
    const kind = (event as { kind?: unknown })?.kind;
    if (typeof kind !== 'string' || !KINDS.has(kind)) {
      throw argumentError('report', `${source} line ${i + 1} has unknown kind ${JSON.stringify(kind)}`);
    }
    events.push(event as RunEvent);
  });
  return events;
}

export function readRun(dir: string): RunRecord {
  const configPath = path.join(dir, 'config.json');
  const eventsPath = path.join(dir, 'metrics.jsonl');
  if (!existsSync(eventsPath)) throw argumentError('report', `${dir} has no metrics.jsonl (is it a run directory?)`);
  const config = existsSync(configPath) ? readJsonFile(configPath, 'report') : {};
  return {
    title: path.basename(path.resolve(dir)),
    config,
    events: parseEvents(readTextFile(eventsPath, 'report', MAX_TEXT_DATA_BYTES), eventsPath),
  };
}

type Of<K extends RunEvent['kind']> = Extract<RunEvent, { kind: K }>;
const ofKind = <K extends RunEvent['kind']>(events: RunEvent[], kind: K) => events.filter((e): e is Of<K> => e.kind === kind);

function formatMetric(value: number | undefined): string {
  if (value === undefined) return '–';
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(4);
}

function formatPercent(value: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)} %` : '–';
}

/** Whether multi-task training helped: each task's main metric in both models, the change, Δm. */
export function deltaTable(delta: Of<'delta'> | undefined): string {
  if (!delta) return '<p>No single-task baselines were trained (run config: <code>"baselines": "all"</code>).</p>';
  const rows = Object.entries(delta.deltas).map(([task, d]) => {
    const cls = !Number.isFinite(d.delta) ? '' : d.delta >= 0 ? ' class="better"' : ' class="worse"';
    return (
      `<tr><th>${escapeXml(task)}</th><td>${escapeXml(d.metric)} (${d.direction === 'max' ? 'higher' : 'lower'} is better)</td>` +
      `<td>${formatMetric(d.multiTask)}</td><td>${formatMetric(d.singleTask)}</td><td${cls}>${formatPercent(100 * d.delta)}</td></tr>`
    );
  });
  const dm = delta.deltaM === undefined ? '–' : formatPercent(delta.deltaM);
  return (
    `<table class="delta"><tr><th>task</th><th>main metric</th><th>multi-task</th><th>single-task</th><th>change</th></tr>${rows.join('')}` +
    `<tr class="total"><th colspan="4">Δm: mean change over the tasks</th><td>${dm}</td></tr></table>` +
    '<p class="note">Change = (multi-task − single-task) / |single-task|, negated where lower is better: positive where sharing helped (Maninis et al. 2019).</p>'
  );
}

/** The results: one row per task metric, one column per model. */
export function resultsTable(results: Of<'result'>[], taskOrder: string[] = []): string {
  if (results.length === 0) return '<p>No final results were recorded.</p>';
  const rows: [string, string][] = [];
  for (const r of results) {
    for (const [task, metrics] of Object.entries(r.metrics)) {
      for (const metric of Object.keys(metrics)) if (!rows.some(([t, m]) => t === task && m === metric)) rows.push([task, metric]);
    }
  }
  const rank = (task: string) => (taskOrder.includes(task) ? taskOrder.indexOf(task) : taskOrder.length);
  rows.sort((a, b) => rank(a[0]) - rank(b[0])); // stable: each task's metrics keep their order
  const head = `<tr><th>task</th><th>metric</th>${results.map((r) => `<th>${escapeXml(r.model)}</th>`).join('')}</tr>`;
  const body = rows.map(
    ([task, metric]) =>
      `<tr><th>${escapeXml(task)}</th><td class="name">${escapeXml(metric)}</td>${results.map((r) => `<td>${formatMetric(r.metrics[task]?.[metric])}</td>`).join('')}</tr>`,
  );
  const steps = `<tr><th colspan="2">steps</th>${results.map((r) => `<td>${r.steps}</td>`).join('')}</tr>`;
  const wall = `<tr><th colspan="2">wall time</th>${results.map((r) => `<td>${r.wallSeconds.toFixed(0)} s</td>`).join('')}</tr>`;
  const weights = `<tr><th colspan="2">weights</th>${results.map((r) => `<td>${r.weights ?? 'final'}</td>`).join('')}</tr>`;
  return `<table class="results">${head}${body.join('')}${steps}${wall}${weights}</table>`;
}

/** Series with the same points drawn once, named by all their models ("all models" when every one). */
function mergeIdentical(series: Series[], models: number): Series[] {
  const merged: (Series & { names: string[] })[] = [];
  for (const s of series) {
    const same = merged.find(
      (m) => m.points.length === s.points.length && m.points.every(([x, y], i) => x === s.points[i]![0] && y === s.points[i]![1]),
    );
    if (same) same.names.push(s.name);
    else merged.push({ ...s, names: [s.name] });
  }
  return merged.map(({ names, ...s }) => ({ ...s, name: names.length === models && models > 1 ? 'all models' : names.join(', ') }));
}

/** Points of `pick` over the steps of one model's events of a kind. */
function points<E extends { step: number }>(events: E[], pick: (e: E) => number | undefined): [number, number][] {
  return events.flatMap((e) => {
    const v = pick(e);
    return v === undefined ? [] : [[e.step, v] as [number, number]];
  });
}

export function renderReport(run: RunRecord): string {
  const { events } = run;
  const models = [...new Set(events.filter((e) => e.model !== undefined).map((e) => e.model!))];
  const color = (model: string) => seriesColor(models.indexOf(model));
  const steps = ofKind(events, 'step');
  const evals = ofKind(events, 'eval');
  // The tasks in the run config's order (as the Δm table has them), then any other the log names.
  const configured = (run.config as { data?: { tasks?: unknown } } | null)?.data?.tasks;
  const tasks = [
    ...new Set([
      ...(Array.isArray(configured) ? configured.filter((t): t is string => typeof t === 'string') : []),
      ...steps.flatMap((e) => Object.keys(e.losses)),
      ...evals.flatMap((e) => Object.keys(e.metrics)),
    ]),
  ].filter((t) => steps.some((e) => t in e.losses) || evals.some((e) => t in e.metrics));
  const perModel = <E extends { model?: string }>(list: E[], model: string) => list.filter((e) => e.model === model);

  const lossPlots = tasks.map((task) => {
    const raw: Series[] = models
      .map((m) => ({ name: m, color: color(m), points: points(perModel(steps, m), (e) => e.losses[task]) }))
      .filter((s) => s.points.length > 0);
    // Per-step losses are noisy: each model's drawn smoothed, its raw values faint behind.
    const series: Series[] = [
      ...raw.map((s) => ({ ...s, name: `${s.name} (raw)`, faint: true })),
      ...raw.map((s) => ({ ...s, points: smoothed(s.points) })),
    ];
    return linePlot({
      title: `${task}: training loss`,
      xLabel: 'step',
      yLabel: 'loss (smoothed; raw faint)',
      series,
      logY: raw.every((s) => s.points.every(([, y]) => y > 0)),
    });
  });
  const delta = ofKind(events, 'delta').at(-1);
  const evalPlots = tasks.map((task) => {
    const metric =
      delta?.deltas[task]?.metric ??
      Object.keys(evals.find((e) => e.metrics[task])?.metrics[task] ?? {}).find((m) => m !== 'loss') ??
      'loss';
    const series: Series[] = models
      .map((m) => ({ name: m, color: color(m), points: points(perModel(evals, m), (e) => e.metrics[task]?.[metric]) }))
      .filter((s) => s.points.length > 0);
    return linePlot({ title: `${task}: ${metric} (dev)`, xLabel: 'step', yLabel: metric, series });
  });
  const multiSteps = perModel(steps, models[0] ?? '');
  const lambdaTasks = tasks.filter((t) => multiSteps.some((e) => e.lambdas?.[t] !== undefined));
  const lambdaPlot =
    lambdaTasks.length > 0
      ? linePlot({
          title: `Loss weights λ per task (${models[0]})`,
          xLabel: 'step',
          yLabel: 'λ',
          series: lambdaTasks.map((t, i) => ({ name: t, color: seriesColor(i), points: points(multiSteps, (e) => e.lambdas?.[t]) })),
        })
      : '';
  const lrPlot = linePlot({
    title: 'Learning rate',
    xLabel: 'step',
    yLabel: 'lr',
    series: mergeIdentical(
      models.map((m) => ({ name: m, color: color(m), points: points(perModel(steps, m), (e) => e.lr) })).filter((s) => s.points.length > 0),
      models.length,
    ),
  });

  const diagnostics = ofKind(events, 'diagnostics');
  let diagnosticsSection = '';
  if (diagnostics.length > 0) {
    const names = diagnostics[0]!.tasks;
    const mean = (pick: (d: Of<'diagnostics'>) => number[][]) =>
      names.map((_, i) => names.map((__, j) => diagnostics.reduce((s, d) => s + pick(d)[i]![j]!, 0) / diagnostics.length));
    const pairs = names.flatMap((a, i) => names.slice(i + 1).map((b, k) => [a, b, i, i + 1 + k] as const));
    const seconds = diagnostics.reduce((s, d) => s + d.seconds, 0);
    diagnosticsSection = `<h2>Why tasks help or hurt</h2>
<p>Measured ${diagnostics.length} times on the training batches (${seconds.toFixed(1)} s in all, ${(seconds / diagnostics.length).toFixed(2)} s each).
Gradient cosine: negative where two tasks pull the shared weights apart. Affinity (Fifty et al. 2021): 1 − L<sub>column</sub>(θ after a step along the row task's gradient) / L<sub>column</sub>(θ); positive where the row task's update lowers the column task's loss.</p>
<div class="plots">${heatMap({ title: 'Gradient cosine similarity (mean)', labels: names, values: mean((d) => d.cosine) })}${heatMap({ title: 'Inter-task affinity (mean)', labels: names, values: mean((d) => d.affinity), scientific: true })}
${linePlot({ title: 'Gradient cosine similarity over time', xLabel: 'step', yLabel: 'cosine', series: pairs.map(([a, b, i, j], k) => ({ name: `${a} · ${b}`, color: seriesColor(k), points: diagnostics.map((d) => [d.step, d.cosine[i]![j]!] as [number, number]) })) })}</div>
${auxiliaryTable(diagnostics, mainTasks(run.config))}${groupingTable(diagnostics)}`;
  }

  const css = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1180px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;max-width:100%}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f4f4f4}td.name{text-align:left}.results th:first-child,.delta th:first-child{text-align:left}
td.better,td.helps{color:#006d4f;font-weight:600}td.worse,td.hurts{color:#b23a00;font-weight:600}td.verdict{text-align:left}.verdicts th:nth-child(-n+2),.grouping th:nth-child(2){text-align:left}h3{font-size:1.02em;margin-top:1.2em}tr.total td{font-weight:700}
.note{color:#555;font-size:.92em}.plots{display:flex;flex-wrap:wrap;gap:12px}
svg.plot{background:#fff;border:1px solid #e4e4e4;max-width:100%;height:auto}svg .title{font-size:13px;font-weight:600}
svg .tick,svg .legend{font-size:10px;fill:#444}svg .axis{font-size:11px;fill:#333}svg .cell{font-size:11px}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#bbb}svg .empty{fill:#999}pre{background:#f7f7f7;padding:1em;overflow:auto;max-height:40em}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(run.title)} — mtl-torch run</title><style>${css}</style></head>
<body>
<h1>${escapeXml(run.title)}</h1>
<h2>Multi-task against single-task</h2>
${deltaTable(delta)}
<h2>Results (dev)</h2>
${resultsTable(ofKind(events, 'result'), tasks)}
<h2>Training loss</h2>
<div class="plots">${lossPlots.join('\n') || '<p>No training steps were recorded.</p>'}</div>
<h2>Evaluation</h2>
<div class="plots">${evalPlots.join('\n') || '<p>No evaluations were recorded.</p>'}</div>
<h2>Loss weights and learning rate</h2>
<div class="plots">${lambdaPlot}${lrPlot}</div>
${diagnosticsSection}
<h2>Configuration</h2>
<pre>${escapeXml(JSON.stringify(run.config, null, 2))}</pre>
</body></html>
`;
}

/** The run config's `trainer.main` (config.json holds the config as given: it may be absent). */
function mainTasks(config: unknown): string[] {
  const main = (config as { trainer?: { main?: unknown } } | null)?.trainer?.main;
  return Array.isArray(main) ? main.filter((t): t is string => typeof t === 'string') : [];
}

const sci = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : '—');

/** Each auxiliary task's verdict for the main tasks, from its steps' affinity on their losses. */
function auxiliaryTable(diagnostics: Of<'diagnostics'>[], main: string[]): string {
  const known = main.filter((t) => diagnostics[0]!.tasks.includes(t));
  if (known.length === 0) return '';
  const verdicts = auxiliaryVerdicts(diagnostics, known);
  const rows = Object.entries(verdicts)
    .map(
      ([task, v]) =>
        `<tr><td class="name">${escapeXml(task)}</td><td class="verdict ${v.verdict}">${v.verdict}</td><td>${sci(v.affinity.mean)}</td><td>${sci(v.affinity.std)}</td><td>${v.affinity.n}</td></tr>`,
    )
    .join('');
  return `<h3>Auxiliary tasks for ${escapeXml(known.join(', '))}</h3>
<p class="note">Affinity of the auxiliary task's step on the main ${known.length > 1 ? "tasks' losses (their mean)" : "task's loss"}, over the ${diagnostics.length} measurements. Helps: the 95 % interval of the mean lies above 0; hurts: below; neutral: it contains 0. <code>mtl-torch compare --leave-one-out</code> checks a verdict by training without the task.</p>
<table class="verdicts"><tr><th>auxiliary task</th><th>verdict</th><th>affinity (mean)</th><th>std</th><th>measurements</th></tr>${rows}</table>`;
}

/** The best partition of the tasks into k groups for every k, by total affinity (up to 9 tasks). */
function groupingTable(diagnostics: Of<'diagnostics'>[]): string {
  const count = diagnostics[0]!.tasks.length;
  if (count < 2 || count > 9) return '';
  const rows = recommendGroups(diagnostics)
    .map((g) => `<tr><td>${g.k}</td><td class="name">${escapeXml(partitionText(g))}</td><td>${sci(g.score)}</td></tr>`)
    .join('');
  return `<h3>Which tasks to train together</h3>
<p class="note">The best partition into k groups by total inter-task affinity (Fifty et al. 2021): a group scores, for each of its tasks, the mean affinity of the others' steps on it. <code>mtl-torch compare --groups</code> trains a partition to check it.</p>
<table class="grouping"><tr><th>k</th><th>groups</th><th>total affinity</th></tr>${rows}</table>`;
}

/** Writes `<dir>/report.html` (atomically) from the run's files and returns its path. */
export function writeReport(dir: string): string {
  const html = renderReport(readRun(dir));
  const target = path.join(dir, 'report.html');
  writeFileAtomic(target, html, 'report');
  return target;
}
