/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The report as a person sees it: report.html rendered by a real browser (Debian's chromium,
 * headless, driven by playwright-core). Each plot has one series per model that trained its task,
 * the Δm table comes first, the diagnostics heat maps are drawn, and nothing is wider than the page.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport, type RunEvent } from '../../lib/report/report.ts';
import { requireTool } from '../helpers/tools.ts';

const CHROMIUM = process.env.MTL_TORCH_CHROMIUM ?? '/usr/bin/chromium';
const available = requireTool(
  'Chromium',
  existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set MTL_TORCH_CHROMIUM)`,
);

const TASKS = ['g2p', 'syllables', 'stress', 'gender'];

/** A run of a multi-task model over four tasks and a baseline of each, with diagnostics. */
function runEvents(TASKS = ['g2p', 'syllables', 'stress', 'gender']): RunEvent[] {
  const events: RunEvent[] = [];
  const models = ['multi-task', ...TASKS.map((t) => `single-task ${t}`)];
  for (const model of models) {
    const tasks = model === 'multi-task' ? TASKS : [model.slice('single-task '.length)];
    for (let step = 1; step <= 300; step += 3) {
      events.push({
        kind: 'step',
        model,
        step,
        losses: Object.fromEntries(tasks.map((t, i) => [t, (2 + i) / Math.sqrt(step)])),
        lambdas: Object.fromEntries(tasks.map((t, i) => [t, 1 + 0.1 * Math.sin(step / 30 + i)])),
        lr: 1e-3,
      });
      if (model === 'multi-task' && step % 50 === 1) {
        events.push({
          kind: 'diagnostics',
          model,
          step,
          tasks,
          lookaheadRate: 1e-3,
          seconds: 0.4,
          cosine: TASKS.map((_, i) => TASKS.map((__, j) => (i === j ? 1 : Math.cos(i + j + step / 100) / 2))),
          affinity: TASKS.map((_, i) => TASKS.map((__, j) => 1e-4 * Math.sin(i - j + step))),
        });
      }
      if (step % 100 === 1)
        events.push({
          kind: 'eval',
          model,
          step,
          metrics: Object.fromEntries(
            tasks.map((t): [string, Record<string, number>] => [
              t,
              t === 'g2p'
                ? { per: 1 / Math.sqrt(step), wer: 0.9, loss: 1 }
                : { accuracy: 1 - 1 / Math.sqrt(step), f1: 0.5, matthews: 0.4, loss: 1 },
            ]),
          ),
        });
    }
    events.push({
      kind: 'result',
      model,
      steps: 300,
      wallSeconds: 42,
      weights: 'best',
      metrics: Object.fromEntries(
        tasks.map((t): [string, Record<string, number>] => [
          t,
          t === 'g2p' ? { per: 0.21, wer: 0.62, loss: 1.1 } : { accuracy: 0.8, f1: 0.5, matthews: 0.6, loss: 0.5 },
        ]),
      ),
    });
  }
  events.push({
    kind: 'delta',
    deltaM: 1.5,
    deltas: Object.fromEntries(
      TASKS.map((t, i) => [
        t,
        {
          metric: t === 'g2p' ? 'per' : 'accuracy',
          direction: t === 'g2p' ? 'min' : 'max',
          multiTask: 0.8,
          singleTask: 0.79,
          delta: (i - 1.5) / 50,
        },
      ]),
    ),
  });
  return events;
}

describe.skipIf(!available)('report.html in headless Chromium', () => {
  let browser: Browser;
  let file = '';

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-report-'));
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ data: { source: 'phonetics', tasks: TASKS }, trainer: { main: ['g2p'] }, steps: 300 }),
    );
    writeFileSync(
      path.join(dir, 'metrics.jsonl'),
      runEvents()
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
    file = writeReport(dir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('draws every plot with one series per model, Δm first, the heat maps, and fits the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${file}`);
    const facts = await page.evaluate(() => {
      const plots = [...document.querySelectorAll('svg.plot')].map((svg) => ({
        title: svg.getAttribute('aria-label') ?? '',
        series: [...svg.querySelectorAll('path.series')].map((p) => p.getAttribute('data-series')),
        colors: [...svg.querySelectorAll('path.series')].map((p) => p.getAttribute('stroke')),
        width: svg.getBoundingClientRect().width,
        raw: [...svg.querySelectorAll('path.raw')].map((p) => ({
          name: p.getAttribute('data-series'),
          opacity: Number(p.getAttribute('stroke-opacity')),
        })),
        // Geometry, in the SVG's own units: the title inside the picture, the legend outside the plot frame.
        titleFits: (() => {
          const t = (svg.querySelector('text.title') as SVGGraphicsElement).getBBox();
          const width = (svg as SVGSVGElement).viewBox.baseVal.width;
          return t.x >= 0 && t.x + t.width <= width;
        })(),
        legendOverFrame: (() => {
          const frame = svg.querySelector('rect.frame') as SVGGraphicsElement | null;
          if (!frame) return false;
          const f = frame.getBBox();
          return [...svg.querySelectorAll('text.legend')].some((el) => {
            const b = (el as SVGGraphicsElement).getBBox();
            return b.x < f.x + f.width && b.x + b.width > f.x && b.y < f.y + f.height && b.y + b.height > f.y;
          });
        })(),
      }));
      const headings = [...document.querySelectorAll('h2')].map((h) => h.textContent);
      const rowsOf = (selector: string) =>
        [...document.querySelectorAll(`${selector} tr`)].slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
      const verdictColors = [...document.querySelectorAll('td.verdict')].map((td) => getComputedStyle(td).color);
      const overflowing = [...document.querySelectorAll('table, svg, pre')]
        .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map((el) => el.tagName);
      return {
        plots,
        headings,
        overflowing,
        pageWidth: document.documentElement.scrollWidth,
        viewport: document.documentElement.clientWidth,
        heatCells: document.querySelectorAll('svg.heatmap rect.cell-box').length,
        deltaRows: document.querySelectorAll('table.delta tr').length,
        subheadings: [...document.querySelectorAll('h3')].map((h) => h.textContent),
        verdicts: rowsOf('table.verdicts'),
        verdictColors,
        grouping: rowsOf('table.grouping'),
      };
    });
    expect(facts.headings[0]).toBe('Multi-task against single-task');
    expect(facts.deltaRows).toBe(1 + TASKS.length + 1);
    for (const task of TASKS) {
      // The multi-task model and the task's own baseline, each once, in their own colours.
      const loss = facts.plots.find((p) => p.title === `${task}: training loss`)!;
      expect(loss.series).toEqual(['multi-task', `single-task ${task}`]);
      expect(new Set(loss.colors).size).toBe(2);
      const evaluation = facts.plots.find((p) => p.title.startsWith(`${task}: `) && p.title.endsWith('(dev)'))!;
      expect(evaluation.series).toEqual(['multi-task', `single-task ${task}`]);
    }
    // The same model keeps its colour from plot to plot.
    const colorOf = (model: string) =>
      new Set(facts.plots.flatMap((p) => p.series.map((s, i) => (s === model ? p.colors[i] : undefined)).filter(Boolean)));
    expect(colorOf('multi-task').size).toBe(1);
    expect(facts.plots.find((p) => p.title.startsWith('Loss weights λ'))!.series).toEqual(TASKS);
    expect(facts.heatCells).toBe(2 * TASKS.length * TASKS.length);
    expect(facts.plots.find((p) => p.title === 'Gradient cosine similarity over time')!.series).toHaveLength(6);
    // The main task's auxiliary verdicts and the grouping, after the heat maps.
    expect(facts.subheadings).toEqual(['Auxiliary tasks for g2p', 'Which tasks to train together']);
    expect(facts.verdicts.map((r) => r[0])).toEqual(['syllables', 'stress', 'gender']);
    for (const row of facts.verdicts) expect(['helps', 'neutral', 'hurts']).toContain(row[1]);
    expect(facts.verdictColors).toHaveLength(3);
    expect(facts.grouping.map((r) => r[0])).toEqual(['1', '2', '3', '4']);
    expect(facts.grouping[0]![1]).toBe('g2p + syllables + stress + gender');
    expect(facts.overflowing).toEqual([]);
    expect(facts.pageWidth).toBeLessThanOrEqual(facts.viewport);
    // Titles fit their picture (the heat maps' "Gradient cosine similarity (mean)" was cut at both sides),
    // no legend lies over a plot's data, and training losses are smoothed with the raw series faint behind.
    expect(facts.plots.filter((p) => !p.titleFits).map((p) => p.title)).toEqual([]);
    expect(facts.plots.filter((p) => p.legendOverFrame).map((p) => p.title)).toEqual([]);
    for (const task of TASKS) {
      const loss = facts.plots.find((p) => p.title === `${task}: training loss`)!;
      expect(loss.raw).toEqual([
        { name: 'multi-task (raw)', opacity: 0.25 },
        { name: `single-task ${task} (raw)`, opacity: 0.25 },
      ]);
    }
    const shot = path.join(path.dirname(file), 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    await page.close();
  }, 60_000);

  it('a two-task run: every title fits its picture (the heat maps are as wide as their titles)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-report-two-'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ data: { source: 'phonetics', tasks: ['g2p', 'gender'] }, steps: 300 }));
    writeFileSync(
      path.join(dir, 'metrics.jsonl'),
      runEvents(['g2p', 'gender'])
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${writeReport(dir)}`);
    const cut = await page.evaluate(() =>
      [...document.querySelectorAll('svg.plot')]
        .filter((svg) => {
          const t = (svg.querySelector('text.title') as SVGGraphicsElement).getBBox();
          return t.x < 0 || t.x + t.width > (svg as SVGSVGElement).viewBox.baseVal.width;
        })
        .map((svg) => svg.getAttribute('aria-label')),
    );
    expect(cut).toEqual([]);
    await page.close();
  }, 60_000);

  it('still fits a narrow window (the table and plots shrink, not the page)', async () => {
    const page = await browser.newPage({ viewport: { width: 700, height: 900 } });
    await page.goto(`file://${file}`);
    const overflowing = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflowing).toBeLessThanOrEqual(0);
    await page.close();
  }, 60_000);
});
