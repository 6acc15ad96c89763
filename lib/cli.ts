#!/usr/bin/env node
/**
 * The `mtl-torch` command: train a run from a config file, evaluate it, predict with it, rebuild
 * its report, or run the phonetics demo.
 *
 *   mtl-torch train <config.json> [--out runs/NAME] [--steps N]
 *   mtl-torch train --resume <run>
 *     data parallel: --nproc N (ranks on this machine) [--nnodes M --node-rank K --master host:port]
 *                    [--backend auto|gloo|nccl] [--timeout S]; under torchrun (WORLD_SIZE set) a rank
 *   mtl-torch eval <run> [--split dev|test] [--weights best|final]
 *   mtl-torch predict <run> <task> <input...> [--beam N]
 *   mtl-torch predict <run> --input new.jsonl|.csv|.tsv [--output predictions.jsonl] [--tasks a,b] [--top-k K]
 *   mtl-torch predict --glue-submission <run> <out>
 *   mtl-torch serve <run> [--host 127.0.0.1] [--port 8080] [--max-batch 32] [--max-delay-ms 5] [--precision fp32|bf16|int8] [--metrics]
 *   mtl-torch report <run>
 *   mtl-torch demo [--out runs/demo] [--steps N]
 *   mtl-torch schema
 */
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { environmentHasRendezvous, init as initDistributed, type ProcessGroup } from './distributed.ts';
import { ErrorCode, TorchError } from './errors.ts';
import { readJsonFile, writeFileAtomic } from './files.ts';
import { packageRoot } from './native.ts';
import { positiveInt } from './schema.ts';
import { writeReport, type TaskMetrics } from './report/report.ts';
import { runConfigJsonSchema } from './run/config.ts';
import { auxiliaryVerdicts, groupingLines, recommendGroups } from './report/affinity.ts';
import { compare, compareLines, diagnosticsOf } from './run/compare.ts';
import { launch } from './run/launch.ts';
import { progressReporter } from './progress.ts';
import { evaluateRun, loadRunConfig, resumeRun, trainRun, type RunSummary, type TrainRunOptions } from './run/run.ts';
import { writeGlueSubmission } from './run/submission.ts';
import { readRecords } from './data/files.ts';
import { glueAverage } from './data/metrics.ts';
import { formatPrediction, loadRun, type PredictInput } from './predict/predictor.ts';
import { closeOnSignals, serve } from './serve/server.ts';

/** A command-line number through the schemas' positive integer. */
function positiveIntArgument(value: string): number {
  const result = positiveInt.safeParse(Number(value));
  if (!result.success) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return result.data;
}

function positiveNumberArgument(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

function nonNegativeIntArgument(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got ${JSON.stringify(value)}`);
  return n;
}

/** A command-line input: a text, or a pair written "first ||| second". */
function cliInput(input: string): PredictInput {
  const at = input.indexOf(' ||| ');
  return at < 0 ? input : { text: input.slice(0, at), pair: input.slice(at + 5) };
}

/** The launcher's flags (with their values), which the ranks it starts must not see. */
const LAUNCHER_FLAGS = ['--nproc', '--nnodes', '--node-rank', '--master'];
export function withoutLauncherFlags(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (LAUNCHER_FLAGS.includes(arg)) {
      i++;
      continue;
    }
    if (LAUNCHER_FLAGS.some((flag) => arg.startsWith(`${flag}=`))) continue;
    out.push(arg);
  }
  return out;
}

interface DistributedFlags {
  nproc?: number;
  nnodes?: number;
  nodeRank?: number;
  master?: string;
  backend: string;
  timeout: number;
}

/** This process as a rank of a data-parallel run (the torchrun variables are set): joins the group. */
async function joinRun(flags: DistributedFlags, device: string): Promise<ProcessGroup> {
  if (!['auto', 'gloo', 'nccl'].includes(flags.backend))
    throw new InvalidArgumentError(`--backend must be auto, gloo or nccl, got ${flags.backend}`);
  return initDistributed({
    backend: flags.backend as 'auto' | 'gloo' | 'nccl',
    timeoutSeconds: flags.timeout,
    device: device.startsWith('cuda') ? 'cuda' : 'cpu',
  });
}

/** Text columns: the first left-aligned, the others right-aligned. */
function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

/** A table of metrics: one row per task metric, one column per model (it stays narrow with many tasks). */
export function formatTable(results: { model: string; metrics: TaskMetrics; extra?: Record<string, string> }[]): string {
  const keys: [string, string][] = [];
  for (const r of results) {
    for (const [task, metrics] of Object.entries(r.metrics)) {
      for (const metric of Object.keys(metrics))
        if (metric !== 'loss' && !keys.some(([t, m]) => t === task && m === metric)) keys.push([task, metric]);
    }
  }
  const extras = [...new Set(results.flatMap((r) => Object.keys(r.extra ?? {})))];
  return columns([
    ['task metric', ...results.map((r) => r.model)],
    ...keys.map(([t, m]) => [`${t} ${m}`, ...results.map((r) => (r.metrics[t]?.[m] === undefined ? '–' : r.metrics[t]![m]!.toFixed(4)))]),
    ...extras.map((e) => [e, ...results.map((r) => r.extra?.[e] ?? '–')]),
  ]);
}

/** Each task's main metric, multi-task against single-task, and Δm. */
export function formatDeltas(summary: RunSummary): string {
  const entries = Object.entries(summary.deltas);
  if (entries.length === 0) return '';
  const percent = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(1)} %` : '–');
  return columns([
    ['task', 'main metric', 'multi-task', 'single-task', 'change'],
    ...entries.map(([task, d]) => [
      task,
      `${d.metric} (${d.direction === 'max' ? 'higher' : 'lower'} better)`,
      d.multiTask.toFixed(4),
      d.singleTask.toFixed(4),
      percent(100 * d.delta),
    ]),
    ['Δm', '', '', '', summary.deltaM === undefined ? '–' : percent(summary.deltaM)],
  ]);
}

async function withProgress(run: (options: TrainRunOptions) => Promise<RunSummary>, group?: ProcessGroup): Promise<RunSummary> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  // Data parallel: rank 0 shows the progress.
  const bars = !group || group.isMain ? progressReporter() : undefined;
  try {
    return await run({ onProgress: (p) => bars?.update(p), signal: controller.signal, ...(group ? { distributed: group } : {}) });
  } finally {
    bars?.stop();
    process.off('SIGINT', onSigint);
  }
}

async function train(configFile: string, out: string, steps?: number, group?: ProcessGroup): Promise<RunSummary> {
  let file = configFile;
  if (steps !== undefined) {
    // --steps overrides the config's budget (evaluations keep their share of it).
    const raw = readJsonFile(configFile, 'config') as Record<string, unknown>;
    raw.steps = steps;
    raw.evalEvery = Math.max(1, Math.floor(steps / 3));
    file = path.join(mkdtempSync(path.join(tmpdir(), 'mtl-config-')), 'config.json');
    writeFileAtomic(file, JSON.stringify(raw), 'config');
  }
  return withProgress((options) => trainRun(file, out, options), group);
}

/** With `main` and diagnostics: each auxiliary task's verdict for the main tasks, and the task groups. */
function printAuxiliary(dir: string): void {
  const events = diagnosticsOf(dir);
  if (events.length === 0) return;
  const { main } = loadRunConfig(path.join(dir, 'config.json')).trainer;
  if (main.length > 0) {
    console.log(`\nAuxiliary tasks for ${main.join(', ')} (lookahead affinity over ${events.length} diagnostics, 95 % interval)`);
    for (const [task, v] of Object.entries(auxiliaryVerdicts(events, main))) {
      console.log(`  ${task.padEnd(12)} ${v.verdict.padEnd(8)} ${v.affinity.mean.toExponential(2)} ± ${v.affinity.std.toExponential(2)}`);
    }
  }
  if (events[0]!.tasks.length <= 9) {
    console.log('');
    for (const line of groupingLines(recommendGroups(events))) console.log(line);
  }
}

function printResults(summary: RunSummary): void {
  console.log('\nDev metrics');
  console.log(
    formatTable(
      summary.results.map((r) => ({
        model: r.model,
        metrics: r.metrics,
        extra: { weights: r.weights, steps: String(r.steps), wall: `${r.wallSeconds.toFixed(0)} s` },
      })),
    ),
  );
  const deltas = formatDeltas(summary);
  if (deltas) console.log(`\nMulti-task against single-task (dev)\n${deltas}`);
}

/**
 * A GLUE run's average per model, after the dev metrics: glueAverage over the model's tasks, MNLI
 * counting the mean of its matched and mismatched accuracies (the run reports the mismatched dev set
 * as 'mnli-mm').
 */
function printGlueAverage(dir: string, summary: RunSummary): void {
  if (loadRunConfig(path.join(dir, 'config.json')).data.source !== 'glue') return;
  console.log('');
  for (const { model, metrics } of summary.results) {
    const { 'mnli-mm': mismatched, ...byTask } = metrics;
    if (byTask.mnli && mismatched) byTask.mnli = { ...byTask.mnli, matched: byTask.mnli.accuracy!, mismatched: mismatched.accuracy! };
    console.log(`GLUE average of ${model} over ${Object.keys(byTask).length} task(s): ${glueAverage(byTask).toFixed(4)}`);
  }
}

const DEMO_WORDS = ['torch', 'multitask', 'typescript', 'pronunciation', 'transformer', 'encoder'];

export function buildProgram(): Command {
  const program = new Command('mtl-torch').description('Multi-task Transformer models on libtorch, from TypeScript').showHelpAfterError();

  program
    .command('train')
    .description('train the model a run config describes (and its baselines) into a run directory, or resume a run')
    .argument('[config]', 'run config (JSON)')
    .option('-o, --out <dir>', 'run directory', '')
    .option('--steps <n>', 'optimizer steps (overrides the config)', positiveIntArgument)
    .option('--resume <run>', 'continue an interrupted run from its checkpoints (finished models are kept)')
    .option('--nproc <n>', "data parallel: ranks to start on this machine (the config's batchSize is per rank)", positiveIntArgument)
    .option('--nnodes <n>', 'data parallel: machines in the run (start the same command on each)', positiveIntArgument)
    .option('--node-rank <k>', "data parallel: this machine's index, 0..nnodes-1", nonNegativeIntArgument)
    .option(
      '--master <host:port>',
      'data parallel: the rendezvous, an address of node 0 (default with one machine: 127.0.0.1 and a free port)',
    )
    .option('--backend <name>', 'data parallel: auto, gloo (CPU) or nccl (CUDA)', 'auto')
    .option(
      '--timeout <seconds>',
      'data parallel: how long a lost or stuck rank may take before the others fail naming it',
      positiveNumberArgument,
      60,
    )
    .action(
      async (config: string | undefined, opts: { out: string; steps?: number; resume?: string } & DistributedFlags, command: Command) => {
        // --backend and --timeout configure a data-parallel run: in a single process they would do nothing.
        const given = ['backend', 'timeout'].filter((name) => command.getOptionValueSource(name) === 'cli');
        if (given.length > 0 && opts.nproc === undefined && !environmentHasRendezvous()) {
          throw new InvalidArgumentError(
            `${given.map((n) => `--${n}`).join(' and ')} configure${given.length === 1 ? 's' : ''} a data-parallel run: give --nproc N (or start this process as a rank, with WORLD_SIZE set)`,
          );
        }
        if (opts.resume !== undefined && (config !== undefined || opts.steps !== undefined || opts.out)) {
          throw new InvalidArgumentError('--resume takes the run directory alone (its config.json is the run config)');
        }
        if (opts.resume === undefined && config === undefined) throw new InvalidArgumentError('give a run config, or --resume <run>');
        if (opts.nproc !== undefined || opts.nnodes !== undefined || opts.nodeRank !== undefined || opts.master !== undefined) {
          if (opts.nproc === undefined)
            throw new InvalidArgumentError('--nnodes, --node-rank and --master go with --nproc (the ranks of this machine)');
          if (environmentHasRendezvous())
            throw new InvalidArgumentError('--nproc starts the ranks itself; this process already is a rank (WORLD_SIZE is set)');
          // The ranks run this same command without the launcher's flags, the torchrun variables set.
          const command = [process.execPath, ...process.execArgv, process.argv[1]!, ...withoutLauncherFlags(process.argv.slice(2))];
          process.exitCode = await launch({
            nproc: opts.nproc,
            nnodes: opts.nnodes ?? 1,
            nodeRank: opts.nodeRank ?? 0,
            master: opts.master,
            timeoutSeconds: opts.timeout,
            command,
          });
          return;
        }
        // A rank (torchrun's or --nproc's) joins the group on the device its run config names.
        const group = environmentHasRendezvous()
          ? await joinRun(opts, loadRunConfig(opts.resume !== undefined ? path.join(opts.resume, 'config.json') : config!).device)
          : undefined;
        // A rank ended by its launcher (another rank failed: --nproc's and torchrun's send SIGTERM)
        // says so and exits at once, also while a collective waits for the lost rank (the fit runs on
        // a worker thread). Until the group is joined SIGTERM's default action ends the process.
        if (group) {
          process.once('SIGTERM', () => {
            process.stderr.write(
              `mtl-torch [rank ${group.rank}]: stopped by SIGTERM: the launcher ends every rank when one fails (ERR_DISTRIBUTED)\n`,
            );
            process.exit(1);
          });
        }
        const main = !group || group.isMain;
        try {
          if (opts.resume !== undefined) {
            const summary = await withProgress((options) => resumeRun(opts.resume!, options), group);
            if (main) {
              printResults(summary);
              printGlueAverage(opts.resume!, summary);
              printAuxiliary(opts.resume!);
              console.log(`\nrun written to ${opts.resume} (report: ${path.join(opts.resume, 'report.html')})`);
            }
          } else {
            const out = opts.out || path.join('runs', path.basename(config!, '.json'));
            const summary = await train(config!, out, opts.steps, group);
            if (main) {
              printResults(summary);
              printGlueAverage(out, summary);
              printAuxiliary(out);
              console.log(`\nrun written to ${out} (report: ${path.join(out, 'report.html')})`);
            }
          }
        } catch (error) {
          // The other ranks' next collective fails naming this rank and why, instead of waiting.
          group?.abort(error instanceof Error ? error.message : String(error));
          throw error;
        }
        // Leaving together: rank 0, which serves the store, waits until every rank has left.
        await group?.destroy();
      },
    );

  program
    .command('eval')
    .description("evaluate a run's multi-task model (its best weights when the run kept them)")
    .argument('<run>', 'run directory')
    .option('--split <split>', 'dev or test', 'dev')
    .option('--weights <which>', 'best or final', 'best')
    .action(async (run: string, opts: { split: string; weights: string }) => {
      if (opts.split !== 'dev' && opts.split !== 'test') throw new InvalidArgumentError(`--split must be dev or test, got ${opts.split}`);
      if (opts.weights !== 'best' && opts.weights !== 'final')
        throw new InvalidArgumentError(`--weights must be best or final, got ${opts.weights}`);
      console.log(formatTable([{ model: run, metrics: await evaluateRun(run, opts.split, opts.weights) }]));
    });

  program
    .command('predict')
    .description(
      "predict with a run's model, e.g. `predict runs/demo g2p hello world`; every task of a file of inputs: " +
        '`predict <run> --input new.jsonl --output predictions.jsonl` (also .csv, .tsv: columns text and pair); or write a GLUE ' +
        "run's test-set predictions in the GLUE server's files: `predict --glue-submission <run> <out>`",
    )
    .argument('<run>', 'run directory')
    .argument('[task]', 'task name (with --glue-submission: the output directory)')
    .argument('[inputs...]', 'inputs (words, names, sentences; a pair as "first ||| second")')
    .option('--beam <n>', 'beam size for sequence tasks', positiveIntArgument, 4)
    .option('--input <file>', 'a JSONL, CSV or TSV file of inputs (fields text and, for sentence pairs, pair)')
    .option('--output <file>', 'with --input: the JSONL file to write (default: standard output)')
    .option('--tasks <names>', 'with --input: the tasks to predict, comma-separated (default: all)')
    .option('--top-k <k>', 'probabilities kept per classification or multi-label answer', positiveIntArgument, 5)
    .option('--batch-size <n>', 'inputs per encoder pass', positiveIntArgument, 32)
    .option('--weights <which>', "best (default: the best evaluation's, when kept) or final", 'best')
    .option('--glue-submission', "write the nine GLUE tasks' test predictions (CoLA.tsv, MNLI-m.tsv, MNLI-mm.tsv, AX.tsv, ...) into <out>")
    .action(
      async (
        run: string,
        task: string | undefined,
        inputs: string[],
        opts: {
          beam: number;
          glueSubmission?: boolean;
          input?: string;
          output?: string;
          tasks?: string;
          topK: number;
          batchSize: number;
          weights: string;
        },
      ) => {
        if (opts.glueSubmission) {
          if (task === undefined || inputs.length > 0) throw new InvalidArgumentError('--glue-submission takes <run> <out>');
          const { written, missing } = await writeGlueSubmission(run, task);
          for (const [file, rows] of Object.entries(written)) console.log(`${path.join(task, file)}\t${rows} rows`);
          if (missing.length > 0)
            console.log(`not written (the run has no such task, or no diagnostic/diagnostic.tsv for AX): ${missing.join(', ')}`);
          return;
        }
        if (opts.weights !== 'best' && opts.weights !== 'final')
          throw new InvalidArgumentError(`--weights must be best or final, got ${opts.weights}`);
        if (opts.input !== undefined) {
          if (task !== undefined)
            throw new InvalidArgumentError('--input takes the inputs from the file: give <run> only (choose tasks with --tasks)');
          const records: PredictInput[] = [];
          for await (const { line, fields } of readRecords(opts.input)) {
            const { text, pair } = fields;
            if (typeof text !== 'string')
              throw new TorchError(
                `${opts.input}:${line}:1: field 'text' must be a string, got ${JSON.stringify(text)}`,
                ErrorCode.BAD_DATA,
              );
            if (pair !== undefined && pair !== null && pair !== '' && typeof pair !== 'string')
              throw new TorchError(
                `${opts.input}:${line}:1: field 'pair' must be a string, got ${JSON.stringify(pair)}`,
                ErrorCode.BAD_DATA,
              );
            records.push(typeof pair === 'string' && pair !== '' ? { text, pair } : { text });
          }
          const predictor = await loadRun(run, { weights: opts.weights });
          const rows = await predictor.predict(records, {
            ...(opts.tasks ? { tasks: opts.tasks.split(',').map((t) => t.trim()) } : {}),
            topK: opts.topK,
            batchSize: opts.batchSize,
            beamSize: opts.beam,
          });
          const lines =
            rows
              .map((predictions, i) =>
                JSON.stringify({ ...(typeof records[i] === 'string' ? { text: records[i] } : (records[i] as object)), predictions }),
              )
              .join('\n') + '\n';
          if (opts.output === undefined) process.stdout.write(lines);
          else {
            writeFileAtomic(opts.output, lines, 'predict --output');
            console.log(`${opts.output}\t${rows.length} rows`);
          }
          return;
        }
        if (task === undefined || inputs.length === 0)
          throw new InvalidArgumentError('give <run> <task> <inputs...>, or <run> --input <file>');
        const predictor = await loadRun(run, { weights: opts.weights });
        if (!predictor.tasks.some((t) => t.name === task))
          throw new InvalidArgumentError(`'${task}' is not a task of this run (tasks: ${predictor.tasks.map((t) => t.name).join(', ')})`);
        const rows = await predictor.predict(inputs.map(cliInput), {
          tasks: [task],
          beamSize: opts.beam,
          topK: opts.topK,
          batchSize: opts.batchSize,
        });
        inputs.forEach((input, i) => console.log(`${input}\t${formatPrediction(rows[i]![task]!)}`));
      },
    );

  program
    .command('serve')
    .description(
      'serve a run over HTTP (POST /v1/predict, GET /v1/health, /v1/metadata, /v1/openapi.json; docs/serving.md); SIGTERM or SIGINT drains and exits 0',
    )
    .argument('<run>', 'run directory')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', nonNegativeIntArgument, 8080)
    .option('--max-batch <n>', 'most inputs coalesced into one forward (1: no batching)', positiveIntArgument, 32)
    .option('--max-delay-ms <ms>', 'longest wait for requests to join a forward', nonNegativeIntArgument, 5)
    .option('--max-queue <n>', 'most inputs waiting; beyond it 503 with Retry-After', positiveIntArgument, 1024)
    .option('--timeout-ms <ms>', 'a request not answered within this time gets 504', positiveIntArgument, 30_000)
    .option('--precision <p>', 'fp32, bf16 or int8', 'fp32')
    .option('--weights <which>', "best (default: the best evaluation's, when kept) or final", 'best')
    .option('--metrics', 'Prometheus metrics at GET /metrics')
    .action(
      async (
        run: string,
        opts: {
          host: string;
          port: number;
          maxBatch: number;
          maxDelayMs: number;
          maxQueue: number;
          timeoutMs: number;
          precision: string;
          weights: string;
          metrics?: boolean;
        },
      ) => {
        const app = await serve(run, {
          maxBatch: opts.maxBatch,
          maxDelayMs: opts.maxDelayMs,
          maxQueue: opts.maxQueue,
          requestTimeoutMs: opts.timeoutMs,
          precision: opts.precision as never,
          weights: opts.weights as never,
          metrics: opts.metrics === true,
        });
        closeOnSignals(app);
        await app.listen({ host: opts.host, port: opts.port });
      },
    );

  program
    .command('report')
    .description("rebuild a run's report.html from its metrics.jsonl")
    .argument('<run>', 'run directory')
    .action((run: string) => console.log(writeReport(run)));

  program
    .command('compare')
    .description(
      "train a run config over variants × seeds with each task's single-task baseline per seed; print mean ± std, per-task change and Δm with the seed noise marked; write compare.json and compare.html (run again to continue a stopped comparison)",
    )
    .argument('<config>', 'run config (JSON)')
    .option('-o, --out <dir>', 'comparison directory (default: compares/<config name>)')
    .option(
      '--vary <path=values>',
      'a grid axis, e.g. trainer.weighting=equal,dwa,gcs or model.sharing=sharedEncoder,layerwise (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--seeds <n>', 'seeds per variant (trainer.seed, +1, ...)', positiveIntArgument, 3)
    .option(
      '--groups <partition>',
      'also train a task partition, groups split by | and tasks by + (e.g. "g2p+stress|syllables+gender"; repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--leave-one-out', 'also train without each auxiliary task in turn (needs trainer.main): which ones help the main tasks')
    .action(async (config: string, opts: { out?: string; vary: string[]; seeds: number; groups: string[]; leaveOneOut?: boolean }) => {
      const out = opts.out ?? path.join('compares', path.basename(config, '.json'));
      const groups = opts.groups.map((p) =>
        p.split('|').map((g) =>
          g
            .split('+')
            .map((t) => t.trim())
            .filter((t) => t !== ''),
        ),
      );
      const result = await compare(config, out, {
        vary: opts.vary,
        seeds: opts.seeds,
        groups,
        leaveOneOut: opts.leaveOneOut === true,
        log: (line) => console.log(line),
      });
      console.log('');
      for (const line of compareLines(result)) console.log(line);
      console.log(`\ncomparison written to ${out} (compare.json, compare.html)`);
    });

  program
    .command('groups')
    .description("recommend task groups from a run's measured inter-task affinity (train it with diagnosticsEvery)")
    .argument('<run>', 'run directory')
    .action((run: string) => {
      for (const line of groupingLines(recommendGroups(diagnosticsOf(run)))) console.log(line);
    });

  program
    .command('schema')
    .description("print the run config's JSON Schema (configs/run-config.schema.json), for editors")
    .action(() => console.log(JSON.stringify(runConfigJsonSchema(), null, 2)));

  program
    .command('demo')
    .description('train the phonetics multi-task model (CMUdict + first names) and its single-task baselines')
    .option('-o, --out <dir>', 'run directory', path.join('runs', 'demo'))
    .option('--steps <n>', 'optimizer steps per model (default: the demo config)', positiveIntArgument)
    .action(async (opts: { out: string; steps?: number }) => {
      const started = performance.now();
      const results = await train(path.join(packageRoot, 'configs', 'phonetics-demo.json'), opts.out, opts.steps);
      printResults(results);
      console.log('\nExample pronunciations (multi-task model, beam 4)');
      const said = await (await loadRun(opts.out)).predict(DEMO_WORDS, { tasks: ['g2p'], beamSize: 4 });
      DEMO_WORDS.forEach((word, i) => console.log(`  ${word.padEnd(14)} ${formatPrediction(said[i]!.g2p!)}`));
      console.log(`\nrun written to ${opts.out}; open ${path.join(opts.out, 'report.html')}`);
      console.log(`demo wall time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    });

  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    const message =
      error instanceof TorchError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
    // A rank of a data-parallel run says which one it is.
    const rank = environmentHasRendezvous() && process.env.RANK ? ` [rank ${process.env.RANK}]` : '';
    console.error(`mtl-torch${rank}: ${message}`);
    process.exitCode = 1;
  }
}

// Run when executed (also through the npm bin link), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) void main();
