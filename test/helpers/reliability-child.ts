/**
 * Child process of test/processes/reliability.test.ts: one scenario per process, so that a crash shows as a
 * signal and a hang as a timeout. Prints "ready" once a fit has taken its first step (the parent then
 * knows the native loop runs), and "refused <code> <message>" for each refusal it was asked to provoke.
 *
 *   node --import tsx reliability-child.ts <scenario> [dir]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import * as mt from '../../lib/index.ts';
import { featureModel, syntheticProblem } from './train.ts';

const scenario = isMainThread ? process.argv[2]! : 'worker';

function fixture(strategy: ReturnType<typeof mt.strategy.joint> | ReturnType<typeof mt.strategy.alternating> = mt.strategy.joint()) {
  mt.manualSeed(0);
  const problem = syntheticProblem(4, { a: { kind: 'classification', classes: 3, rows: 40 }, b: { kind: 'regression', rows: 30 } }, 7);
  const sets = { a: problem.toDataset('a', 40).dataset, b: problem.toDataset('b', 30).dataset };
  const model = featureModel(4, { a: { kind: 'classification', classes: 3 }, b: { kind: 'regression' } });
  const trainer = new mt.Trainer(model, {
    strategy,
    batchSize: 8,
    ...(strategy.kind === 'alternating' ? { sampler: mt.sampler.uniform() } : {}),
  });
  return { model, trainer, sets };
}

/** A fit that would run for hours: `onStep` runs at its first step. */
function endlessFit(onStep: () => void): Promise<unknown> {
  const { trainer, sets } = fixture();
  let first = true;
  return trainer.fit(sets, {
    steps: 1e9,
    onProgress: (event) => {
      if (event.kind !== 'step' || !first) return;
      first = false;
      console.log('ready');
      onStep();
    },
  });
}

function report(what: string, action: () => unknown): Promise<void> {
  return (async () => {
    try {
      await action();
      console.log(`accepted ${what}`);
    } catch (error) {
      const e = error as mt.TorchError;
      console.log(`${e instanceof mt.TorchError ? 'refused' : 'escaped'} ${what} ${e.code} ${e.message}`);
    }
  })();
}

/** A checkpoint of two steps of `fixture(strategy)` with one entry replaced, then a resume from it. */
async function resumeEdited(what: string, strategy: Parameters<typeof fixture>[0], entry: string, value: mt.Tensor): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-rel-'));
  try {
    const cut = fixture(strategy);
    await cut.trainer.fit(cut.sets, { steps: 2, checkpointDir: dir });
    const file = path.join(dir, 'checkpoint.safetensors');
    const { tensors, metadata } = mt.loadWithMetadata(file);
    tensors[entry] = value;
    mt.save(file, tensors, metadata);
    const resumed = fixture(strategy);
    await report(what, () => resumed.trainer.fit(resumed.sets, { steps: 4, resumeFrom: file }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function modelDirWith(what: string, replace: (config: string) => void): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-rel-'));
  try {
    await fixture().model.save(dir);
    const config = path.join(dir, 'config.json');
    unlinkSync(config);
    replace(config);
    await report(what, () => mt.MultiTaskModel.load(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const int = (value: number) => mt.tensor([value]).reshape([]);

switch (scenario) {
  // ---- crashes: each must be refused with a TorchError ----
  case 'crashes':
    await resumeEdited('negative-position', mt.strategy.joint(), 'data.a.position', int(-5));
    await resumeEdited('epoch-task', mt.strategy.alternating({ every: 'epoch' }), 'strategy.epoch_task', int(99));
    await modelDirWith('config-dev-zero', (config) => symlinkSync('/dev/zero', config));
    await modelDirWith('config-fifo', (config) => execFileSync('mkfifo', [config]));
    await report('threads-1000', () => mt.setNumThreads(1000));
    console.log('done');
    break;
  // ---- the process going away during a fit: it must end within seconds ----
  case 'exit-timer':
    void endlessFit(() => setTimeout(() => process.exit(7), 50));
    break;
  case 'exit-progress':
    void endlessFit(() => process.exit(7));
    break;
  case 'sigint':
    process.on('SIGINT', () => process.exit(7));
    void endlessFit(() => process.kill(process.pid, 'SIGINT'));
    break;
  case 'uncaught':
    void endlessFit(() =>
      setTimeout(() => {
        throw new Error('an uncaught error during a fit');
      }, 50),
    );
    break;
  case 'terminate': {
    // A worker does not inherit the parent's --import hooks (Node 20): it registers tsx itself.
    const tsx = import.meta.resolve('tsx/esm/api');
    const source = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(source, { eval: true });
    worker.on('message', async (message) => {
      if (message !== 'ready') return;
      console.log('ready');
      await worker.terminate();
      console.log('terminated');
    });
    worker.on('error', (error) => {
      console.error(error);
      process.exit(2);
    });
    break;
  }
  case 'worker':
    void endlessFit(() => parentPort!.postMessage('ready'));
    break;
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
