/**
 * The fuzz test's runner: `npm run fuzz -- --calls 500000 [--seed 1] [--batch-calls 2000] [--jobs 2]`.
 * Splits the calls into batches, each in a child process (test/processes/fuzz/child.ts) so that a crash is seen
 * by its signal and a hang by its timeout, and prints the totals: calls, crashes, hangs, errors that
 * escaped as something other than a TorchError, and bad-input classes that were accepted. Exits 1
 * unless all four are zero. test/processes/fuzz.test.ts runs it with 20,000 calls.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FuzzSummary {
  calls: number;
  batches: number;
  accepted: number;
  refused: Record<string, number>;
  crashes: string[];
  hangs: string[];
  escaped: Record<string, number>;
  acceptedBad: Record<string, number>;
  /** ERR_NATIVE refusals by message (not failures; each is worth a look). */
  native: Record<string, number>;
  seconds: number;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/** A batch that has not finished in this time hangs (a batch of 2,000 calls takes seconds). */
const BATCH_TIMEOUT_MS = 300_000;

function runBatch(
  seed: number,
  batch: number,
  calls: number,
  only: string,
): Promise<{ result?: Record<string, unknown>; failure?: string; kind?: 'crash' | 'hang' }> {
  const scratch = mkdtempSync(path.join(tmpdir(), `mtl-fuzz-${seed}-${batch}-`));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CHILD,
      '--seed',
      String(seed),
      '--batch',
      String(batch),
      '--calls',
      String(calls),
      '--scratch',
      scratch,
      ...(only ? ['--only', only] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Models above 10⁷ parameters are refused, so no call allocates more than a few hundred MB.
      env: { ...process.env, MTL_TORCH_MAX_PARAMETERS: '10000000', MTL_TORCH_NO_FSYNC: '1' },
    },
  );
  let tail = '';
  let lastCall = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-100_000);
    const lines = tail.split('\n');
    for (let i = lines.length - 1; i >= 0; i--)
      if (lines[i]!.startsWith('#')) {
        lastCall = lines[i]!;
        break;
      }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, BATCH_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      rmSync(scratch, { recursive: true, force: true });
      const where = `seed ${seed} batch ${batch} at ${lastCall || 'start'}`;
      const resultLine = tail.split('\n').find((l) => l.startsWith('RESULT '));
      const hangLine = tail.split('\n').find((l) => l.startsWith('HANG '));
      if (timedOut || hangLine)
        return resolve({
          kind: 'hang',
          failure: `${where}${hangLine ? ` (${hangLine})` : ''}`,
          result: resultLine ? JSON.parse(resultLine.slice(7)) : undefined,
        });
      if (signal || code !== 0 || !resultLine)
        return resolve({
          kind: 'crash',
          failure: `${where}: ${signal ?? `exit ${code}`} ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
        });
      resolve({ result: JSON.parse(resultLine.slice(7)) });
    });
  });
}

export async function fuzz(options: {
  calls: number;
  seed: number;
  batchCalls: number;
  jobs: number;
  only?: string;
  log?: (line: string) => void;
}): Promise<FuzzSummary> {
  const started = Date.now();
  const batches = Math.ceil(options.calls / options.batchCalls);
  const summary: FuzzSummary = {
    calls: 0,
    batches,
    accepted: 0,
    refused: {},
    crashes: [],
    hangs: [],
    escaped: {},
    acceptedBad: {},
    native: {},
    seconds: 0,
  };
  const merge = (into: Record<string, number>, from: unknown) => {
    for (const [k, v] of Object.entries((from ?? {}) as Record<string, number>)) into[k] = (into[k] ?? 0) + v;
  };
  let next = 0;
  const worker = async () => {
    while (next < batches) {
      const batch = next++;
      const calls = Math.min(options.batchCalls, options.calls - batch * options.batchCalls);
      const outcome = await runBatch(options.seed, batch, calls, options.only ?? '');
      if (outcome.result) {
        const r = outcome.result;
        summary.calls += r.calls as number;
        summary.accepted += r.accepted as number;
        merge(summary.refused, r.refused);
        merge(summary.escaped, r.escaped);
        merge(summary.acceptedBad, r.acceptedBad);
        merge(summary.native, r.native);
      }
      if (outcome.kind === 'crash') summary.crashes.push(outcome.failure!);
      if (outcome.kind === 'hang') summary.hangs.push(outcome.failure!);
      options.log?.(`batch ${batch + 1}/${batches}: ${outcome.kind ?? 'ok'}${outcome.failure ? ` ${outcome.failure}` : ''}`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, worker));
  summary.seconds = Math.round((Date.now() - started) / 1000);
  return summary;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const summary = await fuzz({
    calls: Number(arg('calls', '20000')),
    seed: Number(arg('seed', '1')),
    batchCalls: Number(arg('batch-calls', '2000')),
    jobs: Number(arg('jobs', '2')),
    only: arg('only', ''),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(summary, null, 2));
  const clean =
    summary.crashes.length === 0 &&
    summary.hangs.length === 0 &&
    Object.keys(summary.escaped).length === 0 &&
    Object.keys(summary.acceptedBad).length === 0;
  process.exit(clean ? 0 : 1);
}
