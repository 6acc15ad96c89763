/**
 * Runs: train a multi-task model and its single-task baselines from a run config into a run
 * directory, compare them (every task's metric for both, and Δm), evaluate and predict with the
 * result, resume an interrupted run. A run directory holds
 *   config.json        the run config as given
 *   metrics.jsonl      the event log (steps, evaluations, diagnostics, results, Δm), one JSON per line
 *   report.html        the report drawn from it
 *   model/, best/      the multi-task model's final weights and, with keepBest, its best ones
 *   checkpoint/        its last training checkpoint (resume)
 *   baselines/<task>/  the same three for each single-task baseline
 * In a data-parallel run (TrainRunOptions.distributed) every rank trains every model; rank 0 alone
 * writes the run directory, and the final evaluation is shared out over the ranks.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ProcessGroup } from '../distributed.ts';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { appendWhole, copyFileAtomic, makeDirectory, MAX_TEXT_DATA_BYTES, readJsonFile, readTextFile, writeFileAtomic } from '../files.ts';
import { MultiTaskModel, multitask } from '../model/model.ts';
import { parseEvents, writeReport, type RunEvent, type TaskDelta, type TaskMetrics } from '../report/report.ts';
import { capabilities } from '../schema.ts';
import { load as loadTensors } from '../serialization.ts';
import { manualSeed, setNumThreads } from '../tensor.ts';
import { Trainer, type ProgressEvent } from '../train/trainer.ts';
import type { TrainerOptions } from '../train/config.ts';
import { parseRunConfig, type RunConfig } from './config.ts';
import { runTasks, type EvalSplit, type RunTask, type RunTasks } from './tasks.ts';
import { optionsObject } from '../validate.ts';

export const MULTI_TASK = 'multi-task';
export const singleTaskLabel = (task: string) => `single-task ${task}`;

export interface RunProgress {
  /** Which model is training: 'multi-task' or 'single-task <task>'. */
  model: string;
  event: ProgressEvent;
  totalSteps: number;
}

export interface TrainRunOptions {
  onProgress?: (progress: RunProgress) => void;
  signal?: AbortSignal;
  /** Steps between 'step' events in metrics.jsonl (default: about 200 points per run). */
  logEvery?: number;
  /** Trains data parallel over this group (the run config's batchSize is per rank); rank 0 writes the run. */
  distributed?: ProcessGroup;
}

/** Whether this process writes the run directory (rank 0, or the only process). */
function writes(options: TrainRunOptions): boolean {
  return options.distributed === undefined || options.distributed.isMain;
}

export interface RunResult {
  model: string;
  metrics: TaskMetrics;
  steps: number;
  wallSeconds: number;
  /** Which weights the metrics are of: the best evaluation's (keepBest) or the last step's. */
  weights: 'best' | 'final';
  /** Rows of each task per step (the multi-task run's shares, which its baselines train with). */
  examples?: Record<string, number>;
}

export interface RunSummary {
  results: RunResult[];
  /** Per task with a baseline: its main metric in both models and the relative change. */
  deltas: Record<string, TaskDelta>;
  /** Δm (Maninis et al. 2019): the mean of the per-task relative changes, in percent (higher: multi-task helps). */
  deltaM?: number;
}

export function loadRunConfig(file: string): RunConfig {
  return parseRunConfig(readJsonFile(file, 'config'));
}

/** The folder of one model of a run. */
function modelDir(dir: string, label: string): string {
  return label === MULTI_TASK ? dir : path.join(dir, 'baselines', label.slice('single-task '.length));
}

/** The device of this process's model: under NCCL, 'cuda' is this rank's GPU (cuda:LOCAL_RANK). */
export function rankDevice(device: RunConfig['device'], group: ProcessGroup | undefined): RunConfig['device'] {
  return group && device === 'cuda' ? (`cuda:${group.localRank}` as RunConfig['device']) : device;
}

function buildModel(config: RunConfig, tasks: RunTasks, group: ProcessGroup | undefined, only?: string): MultiTaskModel {
  // libtorch seeds its generator at random at start-up (as PyTorch does): a run starts each model
  // from the run's seed, so that the same config gives the same weights, and the dropout that
  // follows draws the same numbers. (Data parallel: every rank builds the same weights; the trainer
  // still broadcasts rank 0's at its first step.)
  manualSeed(config.trainer.seed);
  const selected = tasks.tasks.filter((t) => only === undefined || t.name === only);
  const common = {
    sharing: config.model.sharing,
    tasks: Object.fromEntries(selected.map((t) => [t.name, t.head])),
    device: rankDevice(config.device, group),
  };
  const encoder = config.model.encoder;
  if ('pretrained' in encoder) {
    // The checkpoint gives the input; its position table must hold the data's longest input.
    const model = multitask({ ...common, encoder });
    const { maxLength } = model.config.input;
    const positions = maxLength - model.config.encoder.positionOffset;
    if (tasks.input.maxLength > positions) {
      throw argumentError('config', `data.maxLength (${tasks.input.maxLength}) exceeds the pretrained encoder's ${positions} positions`);
    }
    return model;
  }
  return multitask({ ...common, input: tasks.input, encoder });
}

function newTrainer(model: MultiTaskModel, options: TrainerOptions, group: ProcessGroup | undefined): Trainer {
  return new Trainer(model, { ...options, ...(group ? { distributed: group } : {}) });
}

/** Metrics of every task on its eval split, plus each task's extra evaluation sets (MNLI mismatched as 'mnli-mm'). */
async function evaluateTasks(trainer: Trainer, tasks: RunTask[], split: EvalSplit): Promise<TaskMetrics> {
  const metrics = await trainer.evaluate(Object.fromEntries(tasks.map((t) => [t.name, t.dataset(split)])));
  for (const task of tasks) {
    for (const [name, dataset] of Object.entries(task.extraEvalSets ?? {})) {
      metrics[name] = (await trainer.evaluate({ [task.name]: dataset(split) }))[task.name]!;
    }
  }
  return metrics;
}

/** Main metric of a task and the direction it improves in. */
function mainMetric(task: RunTask): { metric: string; direction: 'max' | 'min' } {
  const metrics = (capabilities('head', task.head.kind) as { metrics: Record<string, 'max' | 'min'> }).metrics;
  return { metric: task.mainMetric, direction: metrics[task.mainMetric] ?? 'max' };
}

/** The relative change of each task's main metric, signed so that higher is better, and Δm. */
export function deltaM(
  multiTask: TaskMetrics,
  singleTask: Record<string, TaskMetrics>,
  tasks: RunTask[],
): Pick<RunSummary, 'deltas' | 'deltaM'> {
  const deltas: Record<string, TaskDelta> = {};
  for (const task of tasks) {
    const single = singleTask[task.name]?.[task.name];
    const multi = multiTask[task.name];
    if (!single || !multi) continue;
    const { metric, direction } = mainMetric(task);
    const m = multi[metric]!;
    const s = single[metric]!;
    const change = s === 0 ? NaN : ((direction === 'max' ? 1 : -1) * (m - s)) / Math.abs(s);
    deltas[task.name] = { metric, direction, multiTask: m, singleTask: s, delta: change };
  }
  const changes = Object.values(deltas)
    .map((d) => d.delta)
    .filter(Number.isFinite);
  return { deltas, ...(changes.length > 0 ? { deltaM: (100 * changes.reduce((a, b) => a + b, 0)) / changes.length } : {}) };
}

interface TrainOne {
  label: string;
  config: RunConfig;
  tasks: RunTask[];
  model: MultiTaskModel;
  trainer: TrainerOptions;
  keepBest?: { metric?: string; mode?: 'max' | 'min' };
  earlyStopping?: RunConfig['earlyStopping'];
  diagnosticsEvery?: number;
  /** The trainer built (and so checked) before the run folder was written. */
  prepared?: Trainer;
}

async function trainOne(run: TrainOne, dir: string, runLog: RunLog, options: TrainRunOptions, resumeFrom?: string): Promise<RunResult> {
  const { label, config, tasks, model } = run;
  // A log write that fails (a full disk) stops the fit: the run's history is not lost event by event.
  const stop = new AbortController();
  let logFailure: unknown;
  const log = (event: RunEvent) => {
    if (logFailure !== undefined) return;
    try {
      runLog.append(event);
    } catch (error) {
      logFailure = error;
      stop.abort();
    }
  };
  const stopped = (): TorchError => {
    const why = logFailure instanceof Error ? logFailure.message : String(logFailure);
    return new TorchError(
      `${why}; training stopped (its last checkpoint in ${path.join(modelDir(dir, label), 'checkpoint')} is kept): free space and resume with \`mtl-torch train --resume ${dir}\``,
      ErrorCode.IO,
    );
  };
  const out = modelDir(dir, label);
  const group = options.distributed;
  if (writes(options)) makeDirectory(out, 'run');
  const trainer = run.prepared ?? newTrainer(model, run.trainer, group);
  const trainSets = Object.fromEntries(tasks.map((t) => [t.name, t.dataset('train')]));
  const evalSets = Object.fromEntries(tasks.map((t) => [t.name, t.dataset('dev')]));
  const logEvery = options.logEvery ?? Math.max(1, Math.floor(config.steps / 200));
  const examples: Record<string, number> = {};
  let bestSeen = false;
  const started = performance.now();
  const fitting = trainer.fit(trainSets, {
    steps: config.steps,
    evalSets,
    evalEvery: config.evalEvery,
    checkpointDir: path.join(out, 'checkpoint'),
    checkpointEvery: config.checkpointEvery,
    ...(resumeFrom ? { resumeFrom } : {}),
    ...(run.keepBest ? { keepBest: run.keepBest } : {}),
    ...(run.earlyStopping ? { earlyStopping: run.earlyStopping } : {}),
    ...(run.diagnosticsEvery ? { diagnosticsEvery: run.diagnosticsEvery } : {}),
    signal: options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal,
    onProgress: (event) => {
      if (event.kind === 'step') {
        for (const [task, rows] of Object.entries(event.examples)) examples[task] = Math.max(examples[task] ?? 0, rows);
        if (event.step % logEvery === 0 || event.step === 1) {
          log({
            kind: 'step',
            model: label,
            step: event.step,
            epoch: event.epoch,
            losses: event.losses,
            lambdas: event.lambdas,
            lr: event.learningRate,
          });
        }
        if (event.diagnostics) log({ kind: 'diagnostics', model: label, step: event.step, ...event.diagnostics });
      } else if (event.kind === 'best') {
        bestSeen = true;
      } else if (event.kind === 'eval') {
        log({ kind: 'eval', model: label, step: event.step, metrics: event.metrics });
      }
      options.onProgress?.({ model: label, event, totalSteps: config.steps });
    },
  });
  const history = await fitting.catch((error: unknown) => {
    throw logFailure === undefined ? error : stopped();
  });
  if (logFailure !== undefined) throw stopped();
  if (writes(options)) await model.save(path.join(out, 'model'));
  // The best evaluation's weights, as a model folder of their own, are the ones the run reports.
  const bestFile = path.join(out, 'checkpoint', 'best.safetensors');
  let weights: RunResult['weights'] = 'final';
  // Data parallel: every rank saw the same 'best' events (rank 0 wrote the file), so all decide alike.
  if (run.keepBest && (group ? bestSeen : existsSync(bestFile))) {
    if (writes(options)) {
      makeDirectory(path.join(out, 'best'), 'run');
      copyFileAtomic(path.join(out, 'model', 'config.json'), path.join(out, 'best', 'config.json'), 'run');
      copyFileAtomic(bestFile, path.join(out, 'best', 'model.safetensors'), 'run');
      const best = loadTensors(bestFile);
      try {
        model.loadStateDict(best);
      } finally {
        for (const t of Object.values(best)) t.dispose();
      }
    }
    // The other ranks (maybe on other machines) get the best weights from rank 0.
    group?.broadcastModel(model);
    weights = 'best';
  }
  const metrics = await evaluateTasks(trainer, tasks, 'dev');
  const result: RunResult = {
    model: label,
    metrics,
    steps: history.steps,
    wallSeconds: (performance.now() - started) / 1000,
    weights,
    examples,
  };
  runLog.append({ kind: 'result', ...result });
  return result;
}

/**
 * The event log of a run: appended to whole lines at a time (files.appendWhole: a full disk leaves
 * no torn line), and on resume cut back to what a checkpoint still covers. A resume touches the file
 * only once the training it resumes has accepted its checkpoint (the first event, or the end of a
 * fit with none): a refused checkpoint leaves the log byte for byte as it was. A torn last line (a
 * process killed mid-write) is dropped, with a warning naming it, when the log is next rewritten.
 */
class RunLog {
  readonly file: string;
  /** The cut a resume asked for, done before the next append (see above). */
  #pendingCut: (() => { model: string; step: number }) | undefined;
  #torn = false;
  /** `writable` false: a data-parallel rank other than 0, which reads the log and writes nothing. */
  constructor(
    dir: string,
    fresh: boolean,
    readonly writable = true,
  ) {
    this.file = path.join(dir, 'metrics.jsonl');
    if (writable && (fresh || !existsSync(this.file))) writeFileAtomic(this.file, '', 'run');
  }
  events(): RunEvent[] {
    if (!existsSync(this.file)) return [];
    return parseEvents(readTextFile(this.file, 'run', MAX_TEXT_DATA_BYTES), this.file, (line) => {
      if (!this.#torn)
        console.warn(`mtl-torch: ${this.file} line ${line} is a cut-off write (the process stopped part way): it is dropped`);
      this.#torn = true;
    });
  }
  append = (event: RunEvent) => {
    if (!this.writable) return;
    this.settle();
    appendWhole(this.file, JSON.stringify(event) + '\n', 'run');
  };
  /**
   * Drops a model's events after the step its checkpoint was written at (they are trained again)
   * and any result of it, once the checkpoint was accepted: `step` is read then.
   */
  cutLater(model: string, step: () => number): void {
    this.#pendingCut = () => ({ model, step: step() });
  }
  /** Does what a resume left pending: the cut, or the rewrite without a torn last line. */
  settle(): void {
    if (!this.writable) return;
    const pending = this.#pendingCut?.();
    this.#pendingCut = undefined;
    let kept = this.events();
    if (!pending && !this.#torn) return;
    if (pending)
      kept = kept.filter((e) => e.kind !== 'delta' && (e.model !== pending.model || (e.kind !== 'result' && e.step <= pending.step)));
    writeFileAtomic(this.file, kept.map((e) => JSON.stringify(e)).join('\n') + (kept.length ? '\n' : ''), 'run');
    this.#torn = false;
  }
}

/** The optimizer step a checkpoint was written at (read once training has accepted the checkpoint). */
function checkpointStep(file: string): number {
  const state = loadTensors(file);
  try {
    return Number(state['loop.step']!.item());
  } finally {
    for (const t of Object.values(state)) t.dispose();
  }
}

/**
 * Trains a run's models into `dir`. Everything the run will read is checked before `openLog` writes
 * anything there: the data and tokenizer (every split of every task, MNLI's mismatched dev set
 * included), the model (its size, its device), the thread count.
 */
async function runAll(
  config: RunConfig,
  tasks: RunTasks,
  dir: string,
  openLog: () => RunLog,
  options: TrainRunOptions,
  resume: boolean,
): Promise<RunSummary> {
  if (config.threads !== undefined) setNumThreads(config.threads);
  const multiTaskModel = buildModel(config, tasks, options.distributed);
  const multiTaskTrainer = newTrainer(multiTaskModel, config.trainer, options.distributed);
  for (const task of tasks.tasks) {
    task.dataset('train');
    task.dataset('dev');
    for (const extra of Object.values(task.extraEvalSets ?? {})) extra('dev');
  }
  const log = openLog();
  const done = new Map(
    resume
      ? log
          .events()
          .filter((e) => e.kind === 'result')
          .map((e) => [e.model, e as RunResult])
      : [],
  );
  const train = async (run: TrainOne): Promise<RunResult> => {
    const finished = done.get(run.label);
    if (finished) return finished;
    const checkpoint = path.join(modelDir(dir, run.label), 'checkpoint', 'checkpoint.safetensors');
    let resumeFrom: string | undefined;
    if (resume && existsSync(checkpoint)) {
      resumeFrom = checkpoint;
      log.cutLater(run.label, () => checkpointStep(checkpoint));
    }
    return trainOne(run, dir, log, options, resumeFrom);
  };

  const results = [
    await train({
      label: MULTI_TASK,
      config,
      tasks: tasks.tasks,
      model: multiTaskModel,
      trainer: config.trainer,
      prepared: multiTaskTrainer,
      keepBest: config.keepBest,
      earlyStopping: config.earlyStopping,
      diagnosticsEvery: config.diagnosticsEvery,
    }),
  ];
  const rows = results[0]!.examples ?? {};
  const singles: Record<string, TaskMetrics> = {};
  for (const name of config.baselines) {
    if (options.signal?.aborted) break;
    const task = tasks.tasks.find((t) => t.name === name)!;
    // A single-task model has nothing to weight or sample: joint training of its one task, with as
    // many examples per step as its task had in the multi-task run, for the same number of steps.
    const { sampler: _, main: __, ...shared } = config.trainer;
    const trainer = {
      ...shared,
      strategy: { kind: 'joint' as const },
      weighting: { kind: 'equal' as const },
      batchSize: rows[name] ?? config.trainer.batchSize,
    };
    const result = await train({
      label: singleTaskLabel(name),
      config,
      tasks: [task],
      model: buildModel(config, tasks, options.distributed, name),
      trainer,
      ...(config.keepBest ? { keepBest: { metric: `${name}.${task.mainMetric}` } } : {}),
    });
    results.push(result);
    singles[name] = result.metrics;
  }
  const summary: RunSummary = { results, ...deltaM(results[0]!.metrics, singles, tasks.tasks) };
  if (Object.keys(summary.deltas).length > 0)
    log.append({ kind: 'delta', deltas: summary.deltas, ...(summary.deltaM === undefined ? {} : { deltaM: summary.deltaM }) });
  if (writes(options)) writeReport(dir);
  return summary;
}

/** Trains the run config's model and its baselines into `dir`, then writes the report. */
export async function trainRun(configFile: string, dir: string, options: TrainRunOptions = {}): Promise<RunSummary> {
  options = optionsObject(options, 'RunLog.trainRun');
  const raw = readJsonFile(configFile, 'config');
  const config = parseRunConfig(raw);
  // Every data file is read and checked (and a tokenizer trained) before anything of the run is written.
  const tasks = await runTasks(config.data, config.model);
  return runAll(
    config,
    tasks,
    dir,
    () => {
      if (writes(options)) {
        makeDirectory(dir, 'run');
        writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2) + '\n', 'run');
        for (const [file, content] of Object.entries(tasks.runFiles ?? {})) writeFileAtomic(path.join(dir, file), content, 'run');
      }
      return new RunLog(dir, true, writes(options));
    },
    options,
    false,
  );
}

/** Continues an interrupted run from its checkpoints: finished models are kept, the others resume. */
export async function resumeRun(dir: string, options: TrainRunOptions = {}): Promise<RunSummary> {
  options = optionsObject(options, 'RunLog.resumeRun');
  if (!existsSync(path.join(dir, 'config.json'))) throw argumentError('resume', `${dir} is not a run directory (no config.json)`);
  const { config, tasks } = await runTasksOf(dir);
  return runAll(config, tasks, dir, () => new RunLog(dir, false, writes(options)), options, true);
}

/** A saved run's config and tasks; `need` 'predict' reads no data file. */
export async function runTasksOf(dir: string, need: 'data' | 'predict' = 'data'): Promise<{ config: RunConfig; tasks: RunTasks }> {
  const config = loadRunConfig(path.join(dir, 'config.json'));
  return { config, tasks: await runTasks(config.data, config.model, { dir, need }) };
}

/** The multi-task model's folder: its best weights when the run kept them (default), else the final ones. */
export function runModelDir(dir: string, weights: 'best' | 'final' = 'best'): string {
  const best = path.join(dir, 'best');
  return weights === 'best' && existsSync(path.join(best, 'model.safetensors')) ? best : path.join(dir, 'model');
}

/** Metrics of a trained run's model on its dev or test split. */
export async function evaluateRun(dir: string, split: EvalSplit = 'dev', weights: 'best' | 'final' = 'best'): Promise<TaskMetrics> {
  const { config, tasks } = await runTasksOf(dir);
  if (split === 'test' && config.data.source === 'glue') {
    throw argumentError(
      'eval',
      `GLUE's test labels are hidden (the benchmark scores test predictions itself, at gluebenchmark.com): write them with \`mtl-torch predict --glue-submission ${dir} <out>\` and submit that folder, or evaluate on --split dev`,
    );
  }
  const model = await MultiTaskModel.load(runModelDir(dir, weights), { device: config.device });
  const trainer = new Trainer(model, config.trainer);
  return evaluateTasks(trainer, tasks.tasks, split);
}
