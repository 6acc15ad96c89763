/**
 * The run directory's report: `report.html`, self-contained (inline CSS and SVG, no scripts, no
 * network), built from `config.json` and the event log `metrics.jsonl` that training writes.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import { escapeXml, linePlot, type Series } from './svg.ts';

export type TaskMetrics = Record<string, Record<string, number>>;

/** One line of metrics.jsonl. */
export type RunEvent =
  | { kind: 'step'; step: number; epoch?: number; losses: Record<string, number>; weights?: Record<string, number>; lr?: number }
  | { kind: 'eval'; step: number; split?: string; metrics: TaskMetrics }
  | { kind: 'result'; model: string; metrics: TaskMetrics; steps?: number; wallSeconds?: number };

export interface RunRecord {
  title: string;
  config: unknown;
  events: RunEvent[];
}

export function parseEvents(text: string, source = 'metrics.jsonl'): RunEvent[] {
  const events: RunEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw argumentError('report', `${source} line ${i + 1} is not JSON`);
    }
    const kind = (event as { kind?: unknown })?.kind;
    if (kind !== 'step' && kind !== 'eval' && kind !== 'result') {
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
  const config = existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : {};
  return { title: path.basename(path.resolve(dir)), config, events: parseEvents(readFileSync(eventsPath, 'utf8'), eventsPath) };
}

function seriesBy(events: RunEvent[], pick: (e: Extract<RunEvent, { kind: 'step' }>) => Record<string, number> | undefined): Series[] {
  const byName = new Map<string, [number, number][]>();
  for (const e of events) {
    if (e.kind !== 'step') continue;
    for (const [name, value] of Object.entries(pick(e) ?? {})) {
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name)!.push([e.step, value]);
    }
  }
  return [...byName].map(([name, points]) => ({ name, points }));
}

function formatMetric(value: number | undefined): string {
  if (value === undefined) return '–';
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(4);
}

/** The results table: one row per model, one column per task metric. */
export function resultsTable(results: Extract<RunEvent, { kind: 'result' }>[]): string {
  if (results.length === 0) return '<p>No final results were recorded.</p>';
  const columns: [string, string][] = [];
  for (const r of results) {
    for (const [task, metrics] of Object.entries(r.metrics)) {
      for (const metric of Object.keys(metrics)) {
        if (!columns.some(([t, m]) => t === task && m === metric)) columns.push([task, metric]);
      }
    }
  }
  const head = `<tr><th>model</th>${columns.map(([t, m]) => `<th>${escapeXml(t)}<br><small>${escapeXml(m)}</small></th>`).join('')}<th>steps</th><th>wall</th></tr>`;
  const rows = results.map((r) => {
    const cells = columns.map(([t, m]) => `<td>${formatMetric(r.metrics[t]?.[m])}</td>`).join('');
    const wall = r.wallSeconds === undefined ? '–' : `${r.wallSeconds.toFixed(0)} s`;
    return `<tr><th>${escapeXml(r.model)}</th>${cells}<td>${r.steps ?? '–'}</td><td>${wall}</td></tr>`;
  });
  return `<table>${head}${rows.join('')}</table>`;
}

export function renderReport(run: RunRecord): string {
  const { events } = run;
  const lossSeries = seriesBy(events, (e) => e.losses);
  const weightSeries = seriesBy(events, (e) => e.weights);
  const lrSeries = seriesBy(events, (e) => (e.lr === undefined ? undefined : { lr: e.lr }));
  const lossPlots = lossSeries.map((s) => linePlot({ title: `${s.name}: training loss`, xLabel: 'step', yLabel: 'loss', series: [s], logY: s.points.every(([, y]) => y > 0) }));
  const weightPlot = weightSeries.length > 0 ? linePlot({ title: 'Loss weights λ per task', xLabel: 'step', yLabel: 'λ', series: weightSeries }) : '';
  const lrPlot = lrSeries.length > 0 ? linePlot({ title: 'Learning rate', xLabel: 'step', yLabel: 'lr', series: lrSeries }) : '';
  const evalByTask = new Map<string, Map<string, [number, number][]>>();
  for (const e of events) {
    if (e.kind !== 'eval') continue;
    for (const [task, metrics] of Object.entries(e.metrics)) {
      if (!evalByTask.has(task)) evalByTask.set(task, new Map());
      for (const [metric, value] of Object.entries(metrics)) {
        const m = evalByTask.get(task)!;
        if (!m.has(metric)) m.set(metric, []);
        m.get(metric)!.push([e.step, value]);
      }
    }
  }
  const evalPlots = [...evalByTask].map(([task, metrics]) =>
    linePlot({ title: `${task}: evaluation`, xLabel: 'step', yLabel: 'metric', series: [...metrics].map(([name, points]) => ({ name, points })) }));
  const results = events.filter((e): e is Extract<RunEvent, { kind: 'result' }> => e.kind === 'result');
  const css = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1180px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:12px}
svg.plot{background:#fff;border:1px solid #e4e4e4}svg .title{font-size:13px;font-weight:600}
svg .tick,svg .legend{font-size:10px;fill:#444}svg .axis{font-size:11px;fill:#333}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#bbb}svg .empty{fill:#999}pre{background:#f7f7f7;padding:1em;overflow:auto}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(run.title)} — mtl-torch run</title><style>${css}</style></head>
<body>
<h1>${escapeXml(run.title)}</h1>
<h2>Results</h2>
${resultsTable(results)}
<h2>Training loss</h2>
<div class="plots">${lossPlots.join('\n') || '<p>No training steps were recorded.</p>'}</div>
<h2>Loss weights and learning rate</h2>
<div class="plots">${weightPlot}${lrPlot}</div>
<h2>Evaluation</h2>
<div class="plots">${evalPlots.join('\n') || '<p>No evaluations were recorded.</p>'}</div>
<h2>Configuration</h2>
<pre>${escapeXml(JSON.stringify(run.config, null, 2))}</pre>
</body></html>
`;
}

/** Writes `<dir>/report.html` (atomically) from the run's files and returns its path. */
export function writeReport(dir: string): string {
  const html = renderReport(readRun(dir));
  const target = path.join(dir, 'report.html');
  const temporary = `${target}.tmp-${process.pid}`;
  writeFileSync(temporary, html);
  renameSync(temporary, target);
  return target;
}
