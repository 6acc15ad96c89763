/**
 * Runs: train a multi-task model from a run config into a run directory, evaluate it, predict with
 * it. A run directory holds `config.json` (the run config as given), `model/` (the trained model:
 * config.json + model.safetensors), `checkpoint/` (the trainer's last checkpoint, for resuming),
 * `metrics.jsonl` (the event log) and `report.html`; with a baseline, `baseline/` too.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import { MultiTaskModel, multitask } from '../model/model.ts';
import { writeReport, type RunEvent, type TaskMetrics } from '../report/report.ts';
import { tensor } from '../tensor.ts';
import { Trainer, type ProgressEvent } from '../train/trainer.ts';
import { parseRunConfig, type RunConfig } from './config.ts';
import { runTasks, type EvalSplit, type RunTask, type RunTasks } from './tasks.ts';

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
}

export interface RunResult {
  model: string;
  metrics: TaskMetrics;
  steps: number;
  wallSeconds: number;
}

function readConfigFile(file: string): unknown {
  if (!existsSync(file)) throw argumentError('config', `${file} does not exist`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw argumentError('config', `${file} is not valid JSON (${(error as Error).message})`);
  }
}

export function loadRunConfig(file: string): RunConfig {
  return parseRunConfig(readConfigFile(file));
}

function buildModel(config: RunConfig, tasks: RunTasks, only?: string): MultiTaskModel {
  const selected = tasks.tasks.filter((t) => only === undefined || t.name === only);
  return multitask({
    input: tasks.input,
    encoder: config.model.encoder,
    sharing: config.model.sharing,
    tasks: Object.fromEntries(selected.map((t) => [t.name, t.head])),
    device: config.device,
  });
}

async function trainOne(
  label: string, config: RunConfig, tasks: RunTask[], model: MultiTaskModel, dir: string, log: (e: RunEvent) => void,
  options: TrainRunOptions,
): Promise<RunResult> {
  const trainer = new Trainer(model, config.trainer);
  const trainSets = Object.fromEntries(tasks.map((t) => [t.name, t.dataset('train')]));
  const evalSets = Object.fromEntries(tasks.map((t) => [t.name, t.dataset('dev')]));
  const logEvery = options.logEvery ?? Math.max(1, Math.floor(config.steps / 200));
  const started = performance.now();
  const history = await trainer.fit(trainSets, {
    steps: config.steps,
    evalSets,
    evalEvery: config.evalEvery,
    progressEvery: 1,
    checkpointDir: path.join(dir, 'checkpoint'),
    checkpointEvery: config.steps,
    signal: options.signal,
    onProgress: (event) => {
      if (event.type === 'step' && (event.step % logEvery === 0 || event.step === 1)) {
        log({ kind: 'step', step: event.step, epoch: event.epoch, losses: event.losses, weights: event.lambdas, lr: event.learningRate });
      } else if (event.type === 'eval') {
        log({ kind: 'eval', step: event.step, metrics: event.metrics });
      }
      options.onProgress?.({ model: label, event, totalSteps: config.steps });
    },
  });
  const metrics = await trainer.evaluate(evalSets);
  const wallSeconds = (performance.now() - started) / 1000;
  await model.save(path.join(dir, 'model'));
  const result = { model: label, metrics, steps: history.steps, wallSeconds };
  log({ kind: 'result', ...result });
  return result;
}

/** Trains the run config's model (and its single-task baseline) into `dir`, then writes the report. */
export async function trainRun(configFile: string, dir: string, options: TrainRunOptions = {}): Promise<RunResult[]> {
  const raw = readConfigFile(configFile);
  const config = parseRunConfig(raw);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
  const eventsFile = path.join(dir, 'metrics.jsonl');
  writeFileSync(eventsFile, '');
  const log = (event: RunEvent) => appendFileSync(eventsFile, JSON.stringify(event) + '\n');
  const tasks = runTasks(config.data, config.model);
  const results = [await trainOne('multi-task', config, tasks.tasks, buildModel(config, tasks), dir, log, options)];
  if (config.baseline !== undefined && !options.signal?.aborted) {
    const task = tasks.tasks.filter((t) => t.name === config.baseline);
    results.push(await trainOne(`single-task ${config.baseline}`, config, task, buildModel(config, tasks, config.baseline), path.join(dir, 'baseline'), log, options));
  }
  writeReport(dir);
  return results;
}

function runTasksOf(dir: string): { config: RunConfig; tasks: RunTasks } {
  const config = loadRunConfig(path.join(dir, 'config.json'));
  return { config, tasks: runTasks(config.data, config.model) };
}

/** Metrics of a trained run's model on its dev or test split. */
export async function evaluateRun(dir: string, split: EvalSplit = 'dev'): Promise<TaskMetrics> {
  const { config, tasks } = runTasksOf(dir);
  const model = await MultiTaskModel.load(path.join(dir, 'model'), { device: config.device });
  const trainer = new Trainer(model, config.trainer);
  return trainer.evaluate(Object.fromEntries(tasks.tasks.map((t) => [t.name, t.dataset(split)])));
}

/** The model's predictions for raw inputs of one task, as text. */
export async function predictRun(dir: string, taskName: string, inputs: string[], options: { beamSize?: number } = {}): Promise<string[]> {
  const { config, tasks } = runTasksOf(dir);
  const task = tasks.tasks.find((t) => t.name === taskName);
  if (!task) throw argumentError('predict', `'${taskName}' is not a task of this run (tasks: ${tasks.tasks.map((t) => t.name).join(', ')})`);
  if (inputs.length === 0) throw argumentError('predict', 'give at least one input');
  const model = await MultiTaskModel.load(path.join(dir, 'model'), { device: config.device });
  const rows = inputs.map((input) => task.encode(input));
  const width = Math.max(...rows.map((r) => r.length));
  const inputIds = tensor(rows.map((r) => [...r, ...Array(width - r.length).fill(tasks.input.padId)]), { dtype: 'int64' });
  const lengths = tensor(rows.map((r) => r.length), { dtype: 'int64' });
  if (task.head.kind === 'sequence') {
    const { sequences } = model.generate(taskName, { inputIds, lengths }, { beamSize: options.beamSize ?? 4 });
    return (sequences.toArray() as number[][]).map((ids) => task.describe(ids));
  }
  const predictions = model.predict(taskName, { inputIds, lengths }).toArray() as number[];
  return predictions.map((p) => task.describe(p));
}
