/**
 * One batch of the fuzz test (test/processes/fuzz/run.ts starts it in a child process, so that a crash shows
 * as a signal and a hang as a timeout). Seeded: the same --seed and --batch make the same calls.
 * Each call is printed ("#<index> <generator>") before it runs, so the last line names a crash.
 * The last line of a finished batch is "RESULT <json>": calls, refusals by code, errors that
 * escaped as something other than a TorchError, and bad inputs that were accepted.
 *
 *   node --import tsx test/processes/fuzz/child.ts --seed 1 --batch 0 --calls 2000 --scratch /tmp/dir
 */
import { writeSync } from 'node:fs';
import * as mt from '../../../lib/index.ts';
import { rng } from '../../helpers/train.ts';
import { generators, type Fuzz } from './generators.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const seed = Number(arg('seed', '1'));
const batch = Number(arg('batch', '0'));
const calls = Number(arg('calls', '1000'));
const scratch = arg('scratch', '/tmp');
const only = arg('only', '');
const CALL_TIMEOUT_MS = 30_000;

const random = rng((seed * 1_000_003 + batch * 7919) >>> 0);
const fuzz: Fuzz = {
  random,
  int: (n) => Math.floor(random() * n),
  pick: (items) => items[Math.floor(random() * items.length)]!,
  chance: (p) => random() < p,
  scratch,
};

const chosen = only ? generators.filter((g) => only.split(',').includes(g.name)) : generators;
const totalWeight = chosen.reduce((s, g) => s + g.weight, 0);
function choose() {
  let r = random() * totalWeight;
  for (const g of chosen) {
    r -= g.weight;
    if (r < 0) return g;
  }
  return chosen[chosen.length - 1]!;
}

const result = {
  calls: 0,
  accepted: 0,
  refused: {} as Record<string, number>,
  escaped: {} as Record<string, number>,
  acceptedBad: {} as Record<string, number>,
  /** ERR_NATIVE refusals by message: a native failure no check named (each deserves a look). */
  native: {} as Record<string, number>,
  hangs: 0,
};
const bump = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1;
};
const log = (line: string) => writeSync(1, line + '\n');

for (let i = 0; i < calls; i++) {
  const generator = choose();
  const call = generator.make(fuzz);
  log(`#${i} ${generator.name}${call.label ? ` ${call.label}` : ''}`);
  result.calls++;
  try {
    let value = call.run();
    if (value instanceof Promise) {
      let timer: NodeJS.Timeout | undefined;
      value = await Promise.race([
        value,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('HANG')), CALL_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
    }
    result.accepted++;
    if (call.bad) bump(result.acceptedBad, `${generator.name}: ${call.bad}`);
  } catch (error) {
    if ((error as Error)?.message === 'HANG') {
      result.hangs++;
      log(`HANG #${i} ${generator.name}`);
      break;
    }
    if (error instanceof mt.TorchError && Object.values(mt.ErrorCode).includes(error.code)) {
      bump(result.refused, error.code);
      if (error.code === 'ERR_NATIVE') bump(result.native, `${generator.name}: ${error.message.slice(0, 120)}`);
    } else {
      const e = error as Error;
      bump(result.escaped, `${generator.name}: ${e?.constructor?.name ?? typeof e}: ${String(e?.message ?? e).slice(0, 100)}`);
    }
  } finally {
    call.cleanup?.();
  }
  if (i % 50 === 49) mt.releaseHostMemory();
}
log(`RESULT ${JSON.stringify(result)}`);
// Pending native jobs (a fit the fuzzer started and did not await) must not keep the batch alive.
process.exit(0);
