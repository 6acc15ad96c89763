import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEvents, renderReport, writeReport, type RunEvent } from '../../lib/report/report.ts';
import { linePlot, logTicks, niceTicks } from '../../lib/report/svg.ts';
import { TorchError } from '../../lib/errors.ts';

function sampleEvents(): RunEvent[] {
  const events: RunEvent[] = [];
  for (let step = 1; step <= 50; step++) {
    events.push({
      kind: 'step',
      model: 'multi-task',
      step,
      losses: { g2p: 3 / step, gender: 0.7 - step / 200 },
      lambdas: { g2p: 0.6, gender: 0.4 },
      lr: 1e-3 * Math.min(1, step / 10),
    });
    if (step % 10 === 0)
      events.push({
        kind: 'eval',
        model: 'multi-task',
        step,
        metrics: { g2p: { per: 1 / step, loss: 1 }, gender: { accuracy: 0.5 + step / 200, loss: 1 } },
      });
  }
  events.push({
    kind: 'result',
    model: 'multi-task',
    metrics: { g2p: { per: 0.2 }, gender: { accuracy: 0.75 } },
    steps: 50,
    wallSeconds: 12,
  });
  for (let step = 1; step <= 50; step++) {
    events.push({ kind: 'step', model: 'single-task g2p', step, losses: { g2p: 2.5 / step }, lambdas: { g2p: 1 }, lr: 1e-3 });
    if (step % 10 === 0) events.push({ kind: 'eval', model: 'single-task g2p', step, metrics: { g2p: { per: 1.2 / step, loss: 1 } } });
  }
  events.push({ kind: 'result', model: 'single-task g2p', metrics: { g2p: { per: 0.25 } }, steps: 50, wallSeconds: 9 });
  events.push({
    kind: 'delta',
    deltas: { g2p: { metric: 'per', direction: 'min', multiTask: 0.2, singleTask: 0.25, delta: 0.2 } },
    deltaM: 20,
  });
  return events;
}

describe('report', () => {
  it('draws one loss plot per task with one series per model, the λ and learning-rate plots, eval plots, Δm and the results table', () => {
    const html = renderReport({ title: 'demo <run>', config: { tasks: ['g2p', 'gender'] }, events: sampleEvents() });
    expect(html).toContain('<title>demo &lt;run&gt; — mtl-torch run</title>');
    expect((html.match(/<svg /g) ?? []).length).toBe(2 + 2 + 2);
    expect(html).toContain('g2p: training loss');
    expect(html).toContain('Loss weights λ per task');
    expect(html).toContain('gender: accuracy (dev)');
    // each model is its own series with its own points: no jump back from step 50 to step 1
    const series = (name: string) =>
      [...html.matchAll(new RegExp(`<path d="([^"]+)"[^>]*data-series="${name}"`, 'g'))].map((m) => m[1]!.split(/[ML]/).filter(Boolean));
    expect(series('multi-task')[0]).toHaveLength(50);
    expect(series('single-task g2p')[0]).toHaveLength(50);
    // the Δm table first, then the results table: rows of task metrics, columns of models, missing cells as a dash
    expect(html.indexOf('Δm: mean change over the tasks')).toBeLessThan(html.indexOf('<table class="results">'));
    expect(html).toContain('<td class="better">+20.0 %</td>');
    expect(html).toMatch(/<th>gender<\/th><td class="name">accuracy<\/td><td>0\.7500<\/td><td>–<\/td>/);
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
  });

  it('drops non-finite points instead of drawing garbage', () => {
    const svg = linePlot({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'a',
          points: [
            [1, 1],
            [2, NaN],
            [3, Infinity],
            [4, 2],
          ],
        },
      ],
    });
    const d = svg.match(/<path d="([^"]+)"/)![1]!;
    expect(d.split(/[ML]/).filter(Boolean)).toHaveLength(2);
    expect(svg).not.toContain('NaN');
  });

  it('chooses round tick values covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it('gives one tick for values a few ulps apart (a step that small would never move)', () => {
    expect(niceTicks(0.7351180932314804, 0.7351180932314806)).toEqual([0.7351180932314804]);
  });

  it('puts log-axis ticks on 1-2-5 values (fewer when they crowd, linear when there is no room)', () => {
    const values = (lo: number, hi: number) => logTicks(Math.log10(lo), Math.log10(hi)).map((t) => Number((10 ** t).toPrecision(6)));
    expect(values(0.4, 4)).toEqual([0.5, 1, 2]);
    expect(values(0.003, 80)).toEqual([0.01, 0.1, 1, 10]);
    expect(values(0.55, 0.9)).toEqual([0.6, 0.7, 0.8, 0.9]);
  });

  it("gives each auxiliary task's verdict for the main task and the task groups when diagnostics were measured", () => {
    // affinity[j][i]: j's step on i's loss. For main g2p: syllables helps (always above 0), stress
    // hurts (always below), gender's sign changes (neutral). g2p and syllables help each other most.
    const tasks = ['g2p', 'syllables', 'stress', 'gender'];
    const wobble = [0.002, -0.001, 0.001, -0.002];
    const diagnostics: RunEvent[] = wobble.map((w, n) => ({
      kind: 'diagnostics',
      model: 'multi-task',
      step: 1 + 10 * n,
      tasks,
      lookaheadRate: 1e-3,
      seconds: 0.1,
      cosine: tasks.map(() => tasks.map(() => 0)),
      affinity: [
        [0, 0.03 + w, 0, 0],
        [0.02 + w, 0, 0, 0],
        [-0.03 + w, 0, 0, 0.01],
        [4 * w, 0, 0.01, 0],
      ],
    }));
    const html = renderReport({ title: 'aux', config: { trainer: { main: ['g2p'] } }, events: [...sampleEvents(), ...diagnostics] });
    const verdict = (task: string) => new RegExp(`<td class="name">${task}</td><td class="verdict (\\w+)">`).exec(html)?.[1];
    expect(html).toContain('<h3>Auxiliary tasks for g2p</h3>');
    expect([verdict('syllables'), verdict('stress'), verdict('gender')]).toEqual(['helps', 'hurts', 'neutral']);
    expect(html).toContain('<h3>Which tasks to train together</h3>');
    const groups = [...html.matchAll(/<tr><td>(\d)<\/td><td class="name">([^<]+)<\/td>/g)].map((m) => [Number(m[1]), m[2]]);
    expect(groups).toEqual([
      [1, 'g2p + syllables + stress + gender'],
      [2, 'g2p + syllables | stress + gender'],
      [3, 'g2p + syllables | stress | gender'],
      [4, 'g2p | syllables | stress | gender'],
    ]);
    // Without trainer.main there is no auxiliary table; without diagnostics neither section.
    const noMain = renderReport({ title: 'x', config: {}, events: [...sampleEvents(), ...diagnostics] });
    expect(noMain).not.toContain('Auxiliary tasks for');
    expect(noMain).toContain('Which tasks to train together');
    expect(renderReport({ title: 'x', config: { trainer: { main: ['g2p'] } }, events: sampleEvents() })).not.toContain(
      'Auxiliary tasks for',
    );
  });

  it('writes report.html from a run directory and refuses a malformed event log', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-run-'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ seed: 0 }));
    writeFileSync(
      path.join(dir, 'metrics.jsonl'),
      sampleEvents()
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
    const file = writeReport(dir);
    expect(readFileSync(file, 'utf8')).toContain('&quot;seed&quot;: 0');
    expect(() => parseEvents('{"kind":"step","step":1,"losses":{}}\nnot json')).toThrow(/line 2 is not JSON/);
    expect(() => parseEvents('{"kind":"bogus"}')).toThrow(TorchError);
    expect(() => writeReport(path.join(dir, 'missing'))).toThrow(/no metrics.jsonl/);
  });
});
