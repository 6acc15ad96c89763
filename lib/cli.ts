#!/usr/bin/env node
/**
 * The `mtl-torch` command: train a run from a config file, evaluate it, predict with it, rebuild
 * its report, or run the phonetics demo.
 *
 *   mtl-torch train <config.json> [--out runs/NAME]
 *   mtl-torch eval <run> [--split dev|test]
 *   mtl-torch predict <run> <task> <input...> [--beam N]
 *   mtl-torch report <run>
 *   mtl-torch demo [--out runs/demo] [--steps N]
 */
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { TorchError } from './errors.ts';
import { packageRoot } from './native.ts';
import { writeReport, type TaskMetrics } from './report/report.ts';
import { evaluateRun, predictRun, trainRun, type RunProgress, type RunResult } from './run/run.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A table of metrics: one row per model, one column per task metric. */
export function formatTable(rows: { model: string; metrics: TaskMetrics; extra?: Record<string, string> }[]): string {
  const columns: [string, string][] = [];
  for (const r of rows) {
    for (const [task, metrics] of Object.entries(r.metrics)) {
      for (const metric of Object.keys(metrics)) if (metric !== 'loss' && !columns.some(([t, m]) => t === task && m === metric)) columns.push([task, metric]);
    }
  }
  const extras = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = ['model', ...columns.map(([t, m]) => `${t} ${m}`), ...extras];
  const body = rows.map((r) => [
    r.model,
    ...columns.map(([t, m]) => (r.metrics[t]?.[m] === undefined ? '–' : r.metrics[t]![m]!.toFixed(4))),
    ...extras.map((e) => r.extra?.[e] ?? '–'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function progressBars() {
  const bars = new cliProgress.MultiBar({
    format: '{model} |{bar}| {value}/{total} steps | loss {loss} | {rate} steps/s',
    hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 10_000, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const byModel = new Map<string, cliProgress.SingleBar>();
  return {
    update({ model, event, totalSteps }: RunProgress) {
      if (event.type !== 'step') return;
      if (!byModel.has(model)) byModel.set(model, bars.create(totalSteps, 0, { model: model.padEnd(18), loss: '-', rate: '-' }));
      const total = Object.values(event.losses).reduce((a, b) => a + b, 0);
      byModel.get(model)!.update(event.step, { loss: total.toFixed(3), rate: event.stepsPerSecond.toFixed(1) });
    },
    stop: () => bars.stop(),
  };
}

async function train(configFile: string, out: string, steps?: number): Promise<RunResult[]> {
  let file = configFile;
  if (steps !== undefined) {
    // --steps overrides the config's budget (evaluations keep their share of it).
    const raw = JSON.parse(readFileSync(configFile, 'utf8'));
    raw.steps = steps;
    raw.evalEvery = Math.max(1, Math.floor(steps / 3));
    file = path.join(mkdtempSync(path.join(tmpdir(), 'mtl-config-')), 'config.json');
    writeFileSync(file, JSON.stringify(raw));
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const bars = progressBars();
  try {
    return await trainRun(file, out, { onProgress: (p) => bars.update(p), signal: controller.signal });
  } finally {
    bars.stop();
    process.off('SIGINT', onSigint);
  }
}

function printResults(results: RunResult[]): void {
  console.log('\nDev metrics');
  console.log(formatTable(results.map((r) => ({ model: r.model, metrics: r.metrics, extra: { steps: String(r.steps), wall: `${r.wallSeconds.toFixed(0)} s` } }))));
}

const DEMO_WORDS = ['torch', 'multitask', 'typescript', 'pronunciation', 'transformer', 'encoder'];

export function buildProgram(): Command {
  const program = new Command('mtl-torch')
    .description('Multi-task Transformer models on libtorch, from TypeScript')
    .showHelpAfterError();

  program.command('train')
    .description('train the model a run config describes, into a run directory')
    .argument('<config>', 'run config (JSON)')
    .option('-o, --out <dir>', 'run directory', '')
    .option('--steps <n>', 'optimizer steps (overrides the config)', positiveInt)
    .action(async (config: string, opts: { out: string; steps?: number }) => {
      const out = opts.out || path.join('runs', path.basename(config, '.json'));
      printResults(await train(config, out, opts.steps));
      console.log(`\nrun written to ${out} (report: ${path.join(out, 'report.html')})`);
    });

  program.command('eval')
    .description("evaluate a run's model")
    .argument('<run>', 'run directory')
    .option('--split <split>', 'dev or test', 'dev')
    .action(async (run: string, opts: { split: string }) => {
      if (opts.split !== 'dev' && opts.split !== 'test') throw new InvalidArgumentError(`--split must be dev or test, got ${opts.split}`);
      console.log(formatTable([{ model: run, metrics: await evaluateRun(run, opts.split) }]));
    });

  program.command('predict')
    .description("predict with a run's model, e.g. `predict runs/demo g2p hello world`")
    .argument('<run>', 'run directory')
    .argument('<task>', 'task name')
    .argument('<inputs...>', 'inputs (words, names, sentences; a pair as "first ||| second")')
    .option('--beam <n>', 'beam size for sequence tasks', positiveInt, 4)
    .action(async (run: string, task: string, inputs: string[], opts: { beam: number }) => {
      const outputs = await predictRun(run, task, inputs, { beamSize: opts.beam });
      inputs.forEach((input, i) => console.log(`${input}\t${outputs[i]}`));
    });

  program.command('report')
    .description("rebuild a run's report.html from its metrics.jsonl")
    .argument('<run>', 'run directory')
    .action((run: string) => console.log(writeReport(run)));

  program.command('demo')
    .description('train the phonetics multi-task model (CMUdict + first names) and a single-task G2P baseline')
    .option('-o, --out <dir>', 'run directory', path.join('runs', 'demo'))
    .option('--steps <n>', 'optimizer steps per model (default: the demo config)', positiveInt)
    .action(async (opts: { out: string; steps?: number }) => {
      const started = performance.now();
      const results = await train(path.join(packageRoot, 'configs', 'phonetics-demo.json'), opts.out, opts.steps);
      printResults(results);
      console.log('\nExample pronunciations (multi-task model, beam 4)');
      const said = await predictRun(opts.out, 'g2p', DEMO_WORDS, { beamSize: 4 });
      DEMO_WORDS.forEach((word, i) => console.log(`  ${word.padEnd(14)} ${said[i]}`));
      console.log(`\nrun written to ${opts.out}; open ${path.join(opts.out, 'report.html')}`);
      console.log(`demo wall time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    });

  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    const message = error instanceof TorchError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
    console.error(`mtl-torch: ${message}`);
    process.exitCode = 1;
  }
}

// Run when executed (also through the npm bin link), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) void main();
