/**
 * Data-parallel training (mt.distributed, native/core/distributed): ranks are child processes on
 * 127.0.0.1 (test/helpers/ddp-child.ts). Two ranks with batch 16 must step exactly like one process
 * with batch 32; a rank killed mid-run must end the other with an error naming it, within the
 * timeout; each start-up mismatch must be refused with a clear error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { freePort } from '../../lib/run/launch.ts';
import type { ChildSpec } from '../helpers/ddp-child.ts';
import { featureModel, tempDir } from '../helpers/train.ts';

const CHILD = fileURLToPath(new URL('../helpers/ddp-child.ts', import.meta.url));
const haveGloo = mt.distributed.backends().includes('gloo');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  at: number;
}
interface Rank {
  child: ChildProcess;
  exit: Promise<Exit>;
  stdout: () => string;
}

function start(spec: ChildSpec, env: Record<string, string> = {}): Rank {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(spec)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, at: Date.now() })),
  );
  return { child, exit, stdout: () => stdout };
}

function rankEnv(port: number, rank: number, worldSize: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    RANK: String(rank),
    WORLD_SIZE: String(worldSize),
    LOCAL_RANK: String(rank),
    ...extra,
  };
}

/** Runs `worldSize` ranks of `spec` and returns their exits (rank order). */
async function runRanks(spec: ChildSpec, worldSize: number, perRank: (rank: number) => Partial<ChildSpec> = () => ({})): Promise<Exit[]> {
  const port = await freePort();
  const ranks = Array.from({ length: worldSize }, (_, r) => start({ ...spec, ...perRank(r) }, rankEnv(port, r, worldSize)));
  return Promise.all(ranks.map((r) => r.exit));
}

function expectOk(exits: Exit[]): void {
  exits.forEach((e, r) => expect(e.code, `rank ${r} failed:\n${e.stderr}`).toBe(0));
}

/** max |a − b| / max |b| over each tensor; the largest over the state dict. */
function maxRelativeDifference(file: string, reference: string): { max: number; worst: string } {
  const a = mt.load(file);
  const b = mt.load(reference);
  let max = 0;
  let worst = '';
  for (const [name, t] of Object.entries(b)) {
    const x = Array.from(a[name]!.dataSync() as Float32Array);
    const y = Array.from(t.dataSync() as Float32Array);
    const scale = Math.max(...y.map(Math.abs), 1e-12);
    const diff = Math.max(...y.map((v, i) => Math.abs(v - x[i]!))) / scale;
    if (diff > max) [max, worst] = [diff, name];
  }
  for (const t of [...Object.values(a), ...Object.values(b)]) t.dispose();
  return { max, worst };
}

function losses(dir: string): { steps: number; losses: Record<string, number>[]; communication: number[] } {
  return JSON.parse(readFileSync(path.join(dir, 'losses.json'), 'utf8'));
}

describe.skipIf(!haveGloo)('data parallel: 2 ranks × batch 16 step like 1 process × batch 32', () => {
  const STEPS = 20;
  for (const config of ['joint-equal', 'joint-pcgrad', 'joint-uncertainty', 'alternating-temperature'] as const) {
    it(
      config,
      async () => {
        const single = tempDir('mtl-ddp-single-');
        const parallel = tempDir('mtl-ddp-parallel-');
        const [alone, ranks] = await Promise.all([
          start({ config, batchSize: 32, steps: STEPS, out: single, distributed: false, evaluate: true }).exit,
          runRanks({ config, batchSize: 16, steps: STEPS, out: parallel, distributed: true, evaluate: true }, 2),
        ]);
        expectOk([alone]);
        expectOk(ranks);
        const { max, worst } = maxRelativeDifference(path.join(parallel, 'weights.safetensors'), path.join(single, 'weights.safetensors'));
        console.log(`${config}: max relative weight difference ${max.toExponential(2)} (${worst})`);
        expect(max, worst).toBeLessThan(1e-5);
        // The losses rank 0 logged are the global ones (every step).
        const a = losses(single);
        const b = losses(parallel);
        expect(b.steps).toBe(STEPS);
        expect(b.losses.length).toBe(STEPS);
        b.losses.forEach((step, i) => {
          expect(Object.keys(step).sort()).toEqual(Object.keys(a.losses[i]!).sort());
          for (const [task, value] of Object.entries(step)) expect(value).toBeCloseTo(a.losses[i]![task]!, 5);
        });
        expect(b.communication.every((s) => s > 0)).toBe(true);
        // Sharded evaluation: every rank reports the metrics of the whole evaluation sets.
        const reference = JSON.parse(readFileSync(path.join(single, 'metrics-0.json'), 'utf8')) as Record<string, Record<string, number>>;
        for (const rank of [0, 1]) {
          const metrics = JSON.parse(readFileSync(path.join(parallel, `metrics-${rank}.json`), 'utf8')) as Record<
            string,
            Record<string, number>
          >;
          for (const [task, values] of Object.entries(reference)) {
            for (const [metric, value] of Object.entries(values)) expect(metrics[task]![metric], `${task}.${metric}`).toBeCloseTo(value, 4);
          }
        }
      },
      120_000,
    );
  }
});

/** The pids whose parent is `parent`, read from /proc (no pgrep: under the sanitizer run's LD_PRELOAD it can hang). */
function childPids(parent: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent ? [Number(name)] : [];
      } catch {
        return []; // exited meanwhile
      }
    });
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!haveGloo)('data parallel: faults are loud, and a run resumes', () => {
  it('kill -9 of one rank ends the other within the timeout, naming it; the run resumes from the last checkpoint (same world size bit for bit, 1 rank × 32 within tolerance)', async () => {
    const TIMEOUT = 20;
    const STEPS = 120;
    const base: ChildSpec = {
      config: 'joint-uncertainty',
      batchSize: 16,
      steps: STEPS,
      out: '',
      distributed: true,
      timeoutSeconds: TIMEOUT,
    };
    // The reference: the same run, uninterrupted.
    const straight = tempDir('mtl-ddp-straight-');
    const cut = tempDir('mtl-ddp-cut-');
    const checkpointDir = path.join(cut, 'checkpoint');
    const port = await freePort();
    const spec = { ...base, out: cut, checkpointDir, checkpointEvery: 10 };
    const ranks = [0, 1].map((r) => start(spec, rankEnv(port, r, 2)));
    const straightRun = runRanks({ ...base, out: straight }, 2);
    await waitFor(() => /^step 25$/m.test(ranks[1]!.stdout()), 60_000);
    const killedAt = Date.now();
    ranks[1]!.child.kill('SIGKILL');
    const [survivor, killed] = await Promise.all(ranks.map((r) => r.exit));
    expect(killed!.signal).toBe('SIGKILL');
    const seconds = (survivor!.at - killedAt) / 1000;
    console.log(`rank 0 exited ${seconds.toFixed(2)} s after rank 1 was killed: ${survivor!.stderr.trim()}`);
    expect(survivor!.code).toBe(1);
    expect(survivor!.stderr).toMatch(/ERR_DISTRIBUTED/);
    expect(survivor!.stderr).toMatch(/rank 1 .*(lost|stopped|died)|lost.*rank 1/);
    expect(seconds).toBeLessThan(TIMEOUT);
    const steps = [...survivor!.stdout.matchAll(/^step (\d+)$/gm)].map((m) => Number(m[1]));
    expect(Math.max(...steps)).toBeLessThan(STEPS);

    const checkpoint = path.join(checkpointDir, 'checkpoint.safetensors');
    expect(existsSync(checkpoint)).toBe(true);
    expectOk(await straightRun);
    // Same world size: bit for bit.
    const resumed = tempDir('mtl-ddp-resumed-');
    expectOk(await runRanks({ ...base, out: resumed, resumeFrom: checkpoint }, 2));
    expect(losses(resumed).steps).toBe(STEPS);
    expect(maxRelativeDifference(path.join(resumed, 'weights.safetensors'), path.join(straight, 'weights.safetensors')).max).toBe(0);
    // One process with the same global batch continues the same run.
    const alone = tempDir('mtl-ddp-alone-');
    expectOk([await start({ ...base, out: alone, distributed: false, batchSize: 32, resumeFrom: checkpoint }).exit]);
    const { max } = maxRelativeDifference(path.join(alone, 'weights.safetensors'), path.join(straight, 'weights.safetensors'));
    console.log(`resumed on 1 rank × 32 from a 2 × 16 checkpoint: max relative weight difference ${max.toExponential(2)}`);
    expect(max).toBeLessThan(1e-4);
    // Another global batch is refused.
    const wrong = await start({ ...base, out: alone, distributed: false, batchSize: 16, resumeFrom: checkpoint }).exit;
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/globalBatchSize/);
  }, 180_000);
});

describe.skipIf(!haveGloo)('data parallel: a rank that raises mid-run', () => {
  // Rank 0 serves the rendezvous store, and its process ends with its error: the others learn of it
  // when its connections close, and name rank 0 as gone; the reason is in rank 0's own output. (A
  // rank other than 0 that raises is named with its reason: the store outlives it.)
  it('stops the others within the timeout, which name it (rank 0 cannot write its checkpoint)', async () => {
    const STEPS = 400;
    const dir = tempDir('mtl-ddp-raise-');
    const checkpointDir = path.join(dir, 'checkpoint');
    const spec: ChildSpec = {
      config: 'joint-equal',
      batchSize: 16,
      steps: STEPS,
      out: dir,
      distributed: true,
      timeoutSeconds: 20,
      checkpointDir,
      checkpointEvery: 10,
    };
    const port = await freePort();
    const ranks = [0, 1].map((r) => start(spec, rankEnv(port, r, 2)));
    const checkpoint = path.join(checkpointDir, 'checkpoint.safetensors');
    await waitFor(() => existsSync(checkpoint), 60_000);
    // A folder where the checkpoint goes: rank 0's next checkpoint write raises ERR_IO inside the fit.
    rmSync(checkpoint, { force: true });
    mkdirSync(checkpoint);
    const replacedAt = Date.now();
    const [zero, one] = await Promise.all(ranks.map((r) => r.exit));
    console.log(`rank 0: ${zero!.stderr.trim()}\nrank 1 (${((one!.at - replacedAt) / 1000).toFixed(1)} s later): ${one!.stderr.trim()}`);
    expect(zero!.code).toBe(1);
    expect(zero!.stderr).toMatch(/ERROR ERR_IO: cannot write '.*checkpoint\.safetensors': it is a folder/);
    expect(one!.code).toBe(1);
    expect(one!.stderr).toMatch(/ERROR ERR_DISTRIBUTED: .*failed on rank 1: rank 0 is lost/);
    expect((one!.at - replacedAt) / 1000).toBeLessThan(20);
    const steps = [...one!.stdout.matchAll(/^step (\d+)$/gm)].map((m) => Number(m[1]));
    expect(Math.max(...steps)).toBeLessThan(STEPS);
  }, 120_000);
});

describe.skipIf(!haveGloo)('data parallel: start-up errors', () => {
  const spec = (out: string): ChildSpec => ({ config: 'joint-equal', batchSize: 16, steps: 2, out, distributed: true, timeoutSeconds: 4 });

  it('a wrong MASTER_PORT: the rank cannot reach the store, rank 0 names the rank that did not join', async () => {
    const [port, wrong] = [await freePort(), await freePort()];
    const out = tempDir('mtl-ddp-port-');
    const [e0, e1] = await Promise.all([start(spec(out), rankEnv(port, 0, 2)).exit, start(spec(out), rankEnv(wrong, 1, 2)).exit]);
    expect(e0!.code).toBe(1);
    expect(e1!.code).toBe(1);
    expect(e1!.stderr).toMatch(new RegExp(`ERR_DISTRIBUTED: .*could not reach the rendezvous store at 127\\.0\\.0\\.1:${wrong}`));
    expect(e0!.stderr).toMatch(/ERR_DISTRIBUTED: .*rank 1 did not join/);
  }, 60_000);

  it('a world-size mismatch', async () => {
    const port = await freePort();
    const out = tempDir('mtl-ddp-world-');
    const [e0, e1] = await Promise.all([start(spec(out), rankEnv(port, 0, 2)).exit, start(spec(out), rankEnv(port, 1, 3)).exit]);
    for (const e of [e0!, e1!]) {
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/ERR_DISTRIBUTED: .*WORLD_SIZE differs: rank 0 has 2, rank 1 has 3/);
    }
  }, 60_000);

  it('mixed backends and devices', async () => {
    const port = await freePort();
    const out = tempDir('mtl-ddp-device-');
    const [e0, e1] = await Promise.all([
      start(spec(out), rankEnv(port, 0, 2)).exit,
      start({ ...spec(out), init: { backend: 'nccl', device: 'cuda' } }, rankEnv(port, 1, 2)).exit,
    ]);
    for (const e of [e0!, e1!]) {
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/ERR_DISTRIBUTED: .*rank 1 cannot start/);
      expect(e.stderr).toMatch(/the backend differs: rank 0 has gloo, rank 1 has nccl/);
      expect(e.stderr).toMatch(/the device type differs: rank 0 has cpu, rank 1 has cuda/);
    }
  }, 60_000);

  it('different model configs', async () => {
    const port = await freePort();
    const out = tempDir('mtl-ddp-config-');
    const [e0, e1] = await Promise.all([
      start(spec(out), rankEnv(port, 0, 2)).exit,
      start({ ...spec(out), dModel: 8 }, rankEnv(port, 1, 2)).exit,
    ]);
    for (const e of [e0!, e1!]) {
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/ERR_DISTRIBUTED: .*the model and trainer options .* differs across ranks \(rank 1 differs from rank 0\)/);
    }
  }, 60_000);

  it('a missing variable is named before any connection', async () => {
    const out = tempDir('mtl-ddp-env-');
    const e = await start(spec(out), { WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1234', MASTER_ADDR: '' }).exit;
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/ERR_INVALID_ARG: distributed.init: the environment variable MASTER_ADDR is not set/);
  }, 30_000);
});

describe.skipIf(!haveGloo)('mtl-torch train --nproc 2', () => {
  const root = path.resolve(import.meta.dirname, '..', '..');
  const cli = ['--import', 'tsx', path.join(root, 'lib', 'cli.ts')];
  const cliRun = (args: string[]) =>
    new Promise<Exit>((resolve) => {
      const child = spawn(process.execPath, [...cli, ...args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, WORLD_SIZE: '' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, at: Date.now() }));
    });

  it('trains a run over 2 local ranks; rank 0 alone writes the run directory', async () => {
    const dir = tempDir('mtl-ddp-cli-');
    const config = {
      data: { source: 'phonetics', tasks: ['stress', 'gender'], trainLimit: 600, evalLimit: 60 },
      model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0 } },
      trainer: { batchSize: 8, seed: 1 },
      steps: 12,
      evalEvery: 6,
      baselines: ['gender'],
      keepBest: { metric: 'gender.accuracy' },
      checkpointEvery: 6,
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const out = path.join(dir, 'run');
    const result = await cliRun(['train', file, '--out', out, '--nproc', '2', '--timeout', '30']);
    expect(result.code, result.stderr).toBe(0);
    for (const f of [
      'config.json',
      'metrics.jsonl',
      'report.html',
      'model/model.safetensors',
      'best/model.safetensors',
      'checkpoint/checkpoint.safetensors',
      'baselines/gender/model/model.safetensors',
    ]) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    const events = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; model?: string; step?: number });
    // One writer: each result once, each evaluation once.
    expect(events.filter((e) => e.kind === 'result').map((e) => e.model)).toEqual(['multi-task', 'single-task gender']);
    expect(events.filter((e) => e.kind === 'eval' && e.model === 'multi-task').map((e) => e.step)).toEqual([6, 12]);
    expect(result.stdout.match(/Dev metrics/g)).toHaveLength(1);
  }, 180_000);

  it('--nnodes 2: two launchers (node ranks 0 and 1, one rank each) meet at --master and train one run', async () => {
    const dir = tempDir('mtl-ddp-cli-nodes-');
    const config = {
      data: { source: 'phonetics', tasks: ['stress', 'gender'], trainLimit: 300, evalLimit: 40 },
      model: { encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0 } },
      trainer: { batchSize: 8, seed: 1 },
      steps: 6,
      evalEvery: 3,
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const master = `127.0.0.1:${await freePort()}`;
    // Each "machine" writes to its own directory: only node 0's rank 0 may write.
    const [node0, node1] = await Promise.all(
      [0, 1].map((k) =>
        cliRun([
          'train',
          file,
          '--out',
          path.join(dir, `node${k}`),
          '--nproc',
          '1',
          '--nnodes',
          '2',
          '--node-rank',
          String(k),
          '--master',
          master,
          '--timeout',
          '30',
        ]),
      ),
    );
    expect(node0!.code, node0!.stderr).toBe(0);
    expect(node1!.code, node1!.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'node0', 'metrics.jsonl'))).toBe(true);
    expect(existsSync(path.join(dir, 'node0', 'model', 'model.safetensors'))).toBe(true);
    expect(existsSync(path.join(dir, 'node1'))).toBe(false);
    const events = readFileSync(path.join(dir, 'node0', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; step?: number });
    expect(events.filter((e) => e.kind === 'eval').map((e) => e.step)).toEqual([3, 6]);
    const bad = await cliRun(['train', file, '--nproc', '1', '--nnodes', '2', '--node-rank', '2', '--master', master]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--node-rank: must be in 0\.\.1 \(--nnodes 2\), got 2/);
    const noPort = await cliRun(['train', file, '--nproc', '1', '--nnodes', '2', '--node-rank', '0', '--master', '127.0.0.1']);
    expect(noPort.code).toBe(1);
    expect(noPort.stderr).toMatch(/--master: expected host:port/);
  }, 200_000);

  it('a run killed mid-way resumes with train --resume --nproc 2 (another number of ranks is refused: batchSize is per rank)', async () => {
    const dir = tempDir('mtl-ddp-cli-resume-');
    const config = {
      data: { source: 'phonetics', tasks: ['stress', 'gender'], trainLimit: 600, evalLimit: 60 },
      model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0 } },
      trainer: { batchSize: 8, seed: 1 },
      steps: 400,
      evalEvery: 10,
      checkpointEvery: 10,
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const out = path.join(dir, 'run');
    const launcher = spawn(process.execPath, [...cli, 'train', file, '--out', out, '--nproc', '2', '--timeout', '20'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WORLD_SIZE: '' },
    });
    let stderr = '';
    launcher.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    launcher.stdout.resume();
    const exited = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
    const checkpoint = path.join(out, 'checkpoint', 'checkpoint.safetensors');
    await waitFor(() => existsSync(checkpoint), 120_000);
    // kill -9 of one rank (a child of the launcher, found by its parent's pid).
    const ranks = childPids(launcher.pid!);
    expect(ranks).toHaveLength(2);
    process.kill(ranks[1]!, 'SIGKILL');
    expect(await exited).not.toBe(0);
    expect(stderr).toMatch(/rank \d exited with code/);
    expect(stderr).toMatch(/ERR_DISTRIBUTED/);
    const before = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
    expect(before).not.toMatch(/"kind":"result"/);
    // One rank cannot continue a 2 × 8 run (the global batch would change).
    const one = await cliRun(['train', '--resume', out, '--nproc', '1', '--timeout', '20']);
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/globalBatchSize/);
    const resumed = await cliRun(['train', '--resume', out, '--nproc', '2', '--timeout', '20']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const events = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; model?: string; step?: number });
    expect(events.filter((e) => e.kind === 'result').map((e) => e.model)).toEqual(['multi-task']);
    const evals = events.filter((e) => e.kind === 'eval').map((e) => e.step);
    expect(evals).toEqual(Array.from({ length: 40 }, (_, i) => 10 * (i + 1)));
  }, 400_000);

  it('a rank killed 1 s after launch (start-up, the rendezvous) ends the launcher within 8 s', async () => {
    const dir = tempDir('mtl-ddp-cli-startup-');
    const file = path.join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        data: { source: 'phonetics', tasks: ['stress', 'gender'], trainLimit: 600, evalLimit: 60 },
        model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0 } },
        trainer: { batchSize: 8, seed: 1 },
        steps: 400,
      }),
    );
    const started = Date.now();
    const launcher = spawn(process.execPath, [...cli, 'train', file, '--out', path.join(dir, 'run'), '--nproc', '2', '--timeout', '60'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WORLD_SIZE: '' },
    });
    let stderr = '';
    launcher.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    launcher.stdout.resume();
    const exited = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
    // The launcher's children that are ranks (esbuild's service, tsx's, is a child too), by their RANK.
    const rankOf = (pid: number) => /(?:^|\0)RANK=(\d+)\0/.exec(readFileSync(`/proc/${pid}/environ`, 'latin1'))?.[1];
    const ranks = () =>
      childPids(launcher.pid!).filter((pid) => {
        try {
          return rankOf(pid) !== undefined;
        } catch {
          return false;
        }
      });
    await waitFor(() => ranks().length === 2, 60_000);
    const launched = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    const killed = Date.now();
    process.kill(
      ranks().find((pid) => rankOf(pid) === '1')!,
      'SIGKILL',
    );
    expect(await exited).not.toBe(0);
    const seconds = (Date.now() - killed) / 1000;
    console.log(
      `rank 1 killed ${((killed - launched) / 1000).toFixed(1)} s after the ranks started (${((killed - started) / 1000).toFixed(1)} s after the launcher): the launcher ended ${seconds.toFixed(1)} s later (--timeout 60)`,
    );
    expect(seconds).toBeLessThan(8);
    expect(stderr).toMatch(/rank 1 exited with code 137; ending the other ranks/);
    // Rank 0 was still starting (loading the addon, before its handler): SIGTERM ended it at once, silently or naming why.
    expect(stderr).not.toMatch(/did not stop on SIGTERM/);
  }, 120_000);

  it('a failing rank fails the launch with its exit code, and the flags are checked', async () => {
    const dir = tempDir('mtl-ddp-cli-bad-');
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ data: { source: 'phonetics' }, model: {}, steps: 0 }));
    const bad = await cliRun(['train', file, '--nproc', '2', '--timeout', '5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[rank 0\]: config/);
    expect(bad.stderr).toMatch(/\[rank 1\]: config/);
    const flags = await cliRun(['train', file, '--nproc', '2', '--nnodes', '2']);
    expect(flags.code).toBe(1);
    expect(flags.stderr).toMatch(/--master: a run over 2 machines needs --master host:port/);
    // Data-parallel flags without ranks would do nothing: refused.
    const lone = await cliRun(['train', file, '--timeout', '5']);
    expect(lone.code).toBe(1);
    expect(lone.stderr).toMatch(/--timeout configures a data-parallel run: give --nproc N/);
    const loneBackend = await cliRun(['train', file, '--backend', 'gloo', '--timeout', '5']);
    expect(loneBackend.code).toBe(1);
    expect(loneBackend.stderr).toMatch(/--backend and --timeout configure a data-parallel run/);
    const nnodesAlone = await cliRun(['train', file, '--nnodes', '2']);
    expect(nnodesAlone.code).toBe(1);
    expect(nnodesAlone.stderr).toMatch(/--nnodes, --node-rank and --master go with --nproc/);
  }, 60_000);
});

describe('mt.distributed: bad arguments are refused, naming them', () => {
  it('init: options and environment values', async () => {
    const saved = Object.fromEntries(['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'].map((k) => [k, process.env[k]]));
    try {
      await expect(mt.distributed.init({ backend: 'mpi' } as never)).rejects.toThrow(/distributed\.init.*backend/);
      await expect(mt.distributed.init({ device: 'tpu' } as never)).rejects.toThrow(/distributed\.init.*device.*'cpu', 'cuda' or 'cuda:N'/);
      await expect(mt.distributed.init({ timeoutSeconds: 0 })).rejects.toThrow(/distributed\.init.*timeoutSeconds/);
      await expect(mt.distributed.init({ masterAddr: '127.0.0.1', masterPort: 70_000, rank: 0, worldSize: 1 })).rejects.toThrow(
        /distributed\.init.*masterPort/,
      );
      await expect(mt.distributed.init({ masterAddr: '127.0.0.1', masterPort: 1234, rank: 2, worldSize: 2 })).rejects.toThrow(
        /RANK=2 is outside 0\.\.1 \(WORLD_SIZE=2\)/,
      );
      Object.assign(process.env, { MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1234', RANK: '0', WORLD_SIZE: 'two' });
      await expect(mt.distributed.init()).rejects.toThrow(/the environment variable WORLD_SIZE="two" is not an integer/);
      Object.assign(process.env, { WORLD_SIZE: '2', MASTER_PORT: '99999' });
      await expect(mt.distributed.init()).rejects.toThrow(/the environment variable MASTER_PORT="99999" is not an integer in 1\.\.65535/);
      Object.assign(process.env, { MASTER_PORT: '1234', RANK: '' });
      await expect(mt.distributed.init()).rejects.toThrow(/the environment variable RANK is not set/);
      expect(mt.distributed.currentGroup()).toBeUndefined();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("Trainer: 'distributed' must be a group, or true after init()", () => {
    const model = featureModel(6, { a: { kind: 'classification', classes: 3 } });
    expect(() => new mt.Trainer(model, { distributed: true })).toThrow(
      /distributed: true trains over the group of mt\.distributed\.init\(\): await it first/,
    );
    expect(() => new mt.Trainer(model, { distributed: 'yes' as never })).toThrow(/'distributed' must be true, false or a process group/);
    // false: one process, as without the option.
    expect(new mt.Trainer(model, { distributed: false }).group).toBeUndefined();
  });
});
