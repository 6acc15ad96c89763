// `mtl-torch train --resume <run>` after the process was killed (SIGKILL, no chance to clean up):
// the resumed run ends with the same weights, best weights and results as a run never interrupted.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lib', 'cli.ts');
// node itself (with tsx as a loader), so that the pid killed is the process that trains.
const nodeArgs = ['--import', 'tsx', cli];

function events(run: string): { kind: string; model?: string; [k: string]: unknown }[] {
  return readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

it('a run killed after a checkpoint resumes to the same final and best weights, metrics and Δm', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-resume-'));
  const config = JSON.parse(readFileSync(path.join(root, 'configs', 'phonetics-demo.json'), 'utf8'));
  Object.assign(config, { steps: 120, evalEvery: 20, checkpointEvery: 20, baselines: ['gender'], keepBest: { metric: 'g2p.per' } });
  delete config.diagnosticsEvery;
  config.data.trainLimit = 3000;
  config.data.evalLimit = 100;
  config.model.encoder = { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0.1 };
  config.model.decoderLayers = { ...config.model.decoderLayers, sequence: 1 };
  config.trainer.batchSize = 16;
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));

  const straight = path.join(dir, 'straight');
  const done = spawnSync(process.execPath, [...nodeArgs, 'train', file, '--out', straight], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
  });
  expect(done.status, done.stderr).toBe(0);

  // The same run, killed once its multi-task model has written its second checkpoint (step 40).
  const cut = path.join(dir, 'cut');
  const child = spawn(process.execPath, [...nodeArgs, 'train', file, '--out', cut], { cwd: root, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
  const checkpoint = path.join(cut, 'checkpoint', 'checkpoint.safetensors');
  const deadline = Date.now() + 240_000;
  while (
    Date.now() < deadline &&
    !(existsSync(checkpoint) && events(cut).some((e) => e.kind === 'eval' && e.model === 'multi-task' && (e.step as number) >= 40))
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  const before = events(cut);
  expect(
    before.some((e) => e.kind === 'result'),
    'the run was cut before its multi-task model finished',
  ).toBe(false);

  const resumed = spawnSync(process.execPath, [...nodeArgs, 'train', '--resume', cut], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  expect(resumed.status, resumed.stderr).toBe(0);
  expect(resumed.stdout).toMatch(/Δm\s+[+-]\d+\.\d %/);

  for (const weights of ['model/model.safetensors', 'best/model.safetensors', 'baselines/gender/model/model.safetensors']) {
    expect(readFileSync(path.join(cut, weights)).equals(readFileSync(path.join(straight, weights))), weights).toBe(true);
  }
  // The log reads as one run: the same evaluations and results, each once.
  const strip = (e: Record<string, unknown>) => {
    const { wallSeconds: _, ...rest } = e;
    return rest;
  };
  const pick = (run: string) =>
    events(run)
      .filter((e) => e.kind === 'eval' || e.kind === 'result' || e.kind === 'delta')
      .map(strip);
  expect(pick(cut)).toEqual(pick(straight));
}, 600_000);
