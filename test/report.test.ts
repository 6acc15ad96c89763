import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEvents, renderReport, writeReport, type RunEvent } from '../lib/report/report.ts';
import { linePlot, niceTicks } from '../lib/report/svg.ts';
import { TorchError } from '../lib/errors.ts';

function sampleEvents(): RunEvent[] {
  const events: RunEvent[] = [];
  for (let step = 1; step <= 50; step++) {
    events.push({ kind: 'step', step, losses: { g2p: 3 / step, gender: 0.7 - step / 200 }, weights: { g2p: 0.6, gender: 0.4 }, lr: 1e-3 * Math.min(1, step / 10) });
    if (step % 10 === 0) events.push({ kind: 'eval', step, metrics: { g2p: { per: 1 / step }, gender: { accuracy: 0.5 + step / 200 } } });
  }
  events.push({ kind: 'result', model: 'multi-task', metrics: { g2p: { per: 0.2 }, gender: { accuracy: 0.75 } }, steps: 50, wallSeconds: 12 });
  events.push({ kind: 'result', model: 'single-task g2p', metrics: { g2p: { per: 0.25 } }, steps: 50, wallSeconds: 9 });
  return events;
}

describe('report', () => {
  it('draws one loss plot per task, the λ and learning-rate plots, eval plots and the results table', () => {
    const html = renderReport({ title: 'demo <run>', config: { tasks: ['g2p', 'gender'] }, events: sampleEvents() });
    expect(html).toContain('<title>demo &lt;run&gt; — mtl-torch run</title>');
    expect((html.match(/<svg /g) ?? []).length).toBe(2 + 2 + 2);
    expect(html).toContain('g2p: training loss');
    expect(html).toContain('Loss weights λ per task');
    expect(html).toContain('gender: evaluation');
    // every series is a path with one point per step
    const lossPath = html.match(/<path d="([^"]+)"[^>]*><title>g2p<\/title>/)![1]!;
    expect(lossPath.split(/[ML]/).filter(Boolean)).toHaveLength(50);
    // table: two models, missing cells shown as a dash
    expect(html).toContain('<th>single-task g2p</th>');
    expect(html).toMatch(/<th>single-task g2p<\/th><td>0\.2500<\/td><td>–<\/td>/);
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
  });

  it('drops non-finite points instead of drawing garbage', () => {
    const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[1, 1], [2, NaN], [3, Infinity], [4, 2]] }] });
    const d = svg.match(/<path d="([^"]+)"/)![1]!;
    expect(d.split(/[ML]/).filter(Boolean)).toHaveLength(2);
    expect(svg).not.toContain('NaN');
  });

  it('chooses round tick values covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it('writes report.html from a run directory and refuses a malformed event log', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-run-'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ seed: 0 }));
    writeFileSync(path.join(dir, 'metrics.jsonl'), sampleEvents().map((e) => JSON.stringify(e)).join('\n') + '\n');
    const file = writeReport(dir);
    expect(readFileSync(file, 'utf8')).toContain('&quot;seed&quot;: 0');
    expect(() => parseEvents('{"kind":"step","step":1,"losses":{}}\nnot json')).toThrow(/line 2 is not JSON/);
    expect(() => parseEvents('{"kind":"bogus"}')).toThrow(TorchError);
    expect(() => writeReport(path.join(dir, 'missing'))).toThrow(/no metrics.jsonl/);
  });
});
