/**
 * The launcher of `mtl-torch train ... --nproc N`: starts this machine's N ranks of a data-parallel
 * run as child processes with the torchrun variables set (MASTER_ADDR, MASTER_PORT, RANK,
 * WORLD_SIZE, LOCAL_RANK), as `torchrun --nproc-per-node N` does. With `--nnodes M --node-rank K
 * --master host:port` this machine's ranks join a run over M machines (run the same command on each,
 * with its own --node-rank; node 0's first rank serves the rendezvous at host:port).
 *
 * Faults are loud and quick: when a rank exits with an error, the launcher ends the others at once
 * (after a moment for one failing for the same reason to say so: SIGTERM, which a rank answers by
 * naming why it stops, then SIGKILL), whether they are training or still waiting at the rendezvous
 * for the rank that is gone. The launcher exits with the first failed rank's exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { argumentError } from '../errors.ts';

export interface LaunchOptions {
  /** Ranks on this machine. */
  nproc: number;
  /** Machines in the run. */
  nnodes: number;
  /** This machine's index (0..nnodes-1). */
  nodeRank: number;
  /** host:port of the rendezvous (node 0 serves it); default: 127.0.0.1 and a free port (one machine only). */
  master?: string;
  /** The group's timeout (seconds), passed on to the ranks. */
  timeoutSeconds: number;
  /** The command line of each rank: node's own flags, then the script and its arguments. */
  command: string[];
  /** Writes the launcher's own lines (default: stderr). */
  log?: (line: string) => void;
}

/** After a rank fails: how long the others may take to fail on their own, and to stop after SIGTERM. */
const OWN_FAILURE_MS = 1000;
const TERM_GRACE_MS = 3000;

/** A TCP port free on 127.0.0.1 now (the launcher's rendezvous store for a one-machine run). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** host:port → its parts, or an error naming the flag. */
export function parseMaster(master: string): { addr: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(master);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65_535))
    throw argumentError('--master', `expected host:port (port 1..65535), got ${JSON.stringify(master)}`);
  return { addr: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Starts this machine's ranks and resolves with the run's exit code (0 when every rank succeeded). */
export async function launch(options: LaunchOptions): Promise<number> {
  const { nproc, nnodes, nodeRank } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  if (nodeRank < 0 || nodeRank >= nnodes)
    throw argumentError('--node-rank', `must be in 0..${nnodes - 1} (--nnodes ${nnodes}), got ${nodeRank}`);
  if (nnodes > 1 && options.master === undefined)
    throw argumentError('--master', `a run over ${nnodes} machines needs --master host:port (an address of node 0 that the others reach)`);
  const { addr, port } = options.master !== undefined ? parseMaster(options.master) : { addr: '127.0.0.1', port: await freePort() };
  const worldSize = nnodes * nproc;
  const children: ChildProcess[] = [];
  const exits = Array.from({ length: nproc }, (_, local) => {
    const rank = nodeRank * nproc + local;
    const child = spawn(options.command[0]!, options.command.slice(1), {
      env: {
        ...process.env,
        MASTER_ADDR: addr,
        MASTER_PORT: String(port),
        RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_RANK: String(local),
      },
      stdio: 'inherit',
    });
    children.push(child);
    return new Promise<{ rank: number; code: number }>((resolve) => {
      child.on('error', (error) => {
        log(`mtl-torch: rank ${rank} could not start: ${error.message}`);
        resolve({ rank, code: 1 });
      });
      child.on('exit', (code, signal) =>
        resolve({ rank, code: code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1) : 1) }),
      );
    });
  });
  // Ctrl-C reaches the ranks themselves (same process group): they stop together; the launcher waits.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  let firstFailure: { rank: number; code: number } | undefined;
  const timers: NodeJS.Timeout[] = [];
  const running = () =>
    children.map((c, i) => ({ c, rank: nodeRank * nproc + i })).filter(({ c }) => c.exitCode === null && c.signalCode === null);
  try {
    const pending = exits.map((exit, local) =>
      exit.then((result) => {
        if (result.code !== 0 && !firstFailure) {
          firstFailure = result;
          log(`mtl-torch: rank ${result.rank} exited with code ${result.code}; ending the other ranks`);
          // A rank waiting on the lost one (a collective, the rendezvous) would wait out the group's
          // timeout: each is ended now, after a moment for one failing on its own to say why.
          timers.push(
            setTimeout(() => {
              for (const { c } of running()) c.kill('SIGTERM');
              timers.push(
                setTimeout(() => {
                  for (const { c, rank } of running()) {
                    log(`mtl-torch: rank ${rank} did not stop on SIGTERM; killing it`);
                    c.kill('SIGKILL');
                  }
                }, TERM_GRACE_MS),
              );
            }, OWN_FAILURE_MS),
          );
        }
        return { ...result, local };
      }),
    );
    await Promise.all(pending);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    process.off('SIGINT', ignore);
  }
  return firstFailure?.code ?? 0;
}
