/**
 * mt.distributed: data-parallel training on libtorch's own distributed engine (c10d), as
 * torch.distributed does it. Each process is one rank; `await mt.distributed.init()` joins the
 * group from the torchrun variables (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK) through
 * a c10d TCPStore that rank 0 serves, then connects Gloo (CPU) or NCCL (CUDA). A Trainer built with
 * `distributed: true` (or the group) then trains data parallel (native/core/distributed/).
 * `mtl-torch train config.json --nproc N` starts the ranks of one machine with the variables set.
 */
import { z } from 'zod';
import { argumentError } from './errors.ts';
import { native, type NativeProcessGroupHandle } from './native.ts';
import type { MultiTaskModel } from './model/model.ts';
import { deviceName, nonEmptyString, nonNegativeInt, parse, positiveInt, positiveNumber } from './schema.ts';
import { describe } from './validate.ts';

const WHERE = 'distributed.init';

export const InitOptionsSchema = z.strictObject({
  /** 'auto': NCCL for a CUDA device when this build has it, Gloo otherwise. */
  backend: z.enum(['auto', 'gloo', 'nccl']).default('auto'),
  /** Where the collectives run: 'cpu', or 'cuda' (cuda:LOCAL_RANK) / 'cuda:N' under NCCL. */
  device: deviceName.default('cpu'),
  /** Bounds the rendezvous and every collective: a rank lost or stuck longer than this ends the run with an error naming it. */
  timeoutSeconds: positiveNumber.max(86_400).default(60),
  /** How often each rank proves through the store that it is alive (a lost rank is named within three intervals). */
  heartbeatSeconds: positiveNumber.max(3_600).default(1),
  /** Default: the environment variables of the same names, as torchrun sets them. */
  masterAddr: nonEmptyString.optional(),
  masterPort: positiveInt.max(65_535).optional(),
  rank: nonNegativeInt.optional(),
  worldSize: positiveInt.optional(),
  localRank: nonNegativeInt.optional(),
  /** The network interface Gloo binds to (default: GLOO_SOCKET_IFNAME, else loopback for a loopback master, else the host's address). */
  glooInterface: nonEmptyString.optional(),
});
export type InitOptions = z.input<typeof InitOptionsSchema>;

/** The variables of a rendezvous, as torchrun sets them. */
export const ENVIRONMENT = ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'] as const;

/** Whether this process was started as a rank of a data-parallel run (WORLD_SIZE is set). */
export function environmentHasRendezvous(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.WORLD_SIZE ?? '') !== '';
}

function fromEnvironment(name: string, max: number, min: number, required: boolean): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    if (!required) return undefined;
    throw argumentError(
      WHERE,
      `the environment variable ${name} is not set (a data-parallel run needs MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE, as torchrun and \`mtl-torch train --nproc\` set them), and no '${name.toLowerCase().replace(/_(.)/g, (_, c: string) => c.toUpperCase())}' option was given`,
    );
  }
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max)
    throw argumentError(WHERE, `the environment variable ${name}=${JSON.stringify(raw)} is not an integer in ${min}..${max}`);
  return value;
}

/** Which collective backends this build can create ('gloo', 'nccl'). */
export function backends(): string[] {
  return native.NativeProcessGroup.availableBackends();
}

/** Whether data parallelism is available at all (this build has a backend). */
export function isAvailable(): boolean {
  return backends().length > 0;
}

/** One rank's membership of a data-parallel group (c10d). */
export class ProcessGroup {
  /** @internal */
  readonly handle: NativeProcessGroupHandle;
  readonly rank: number;
  readonly worldSize: number;
  /** This rank's index on its machine (its GPU under NCCL). */
  readonly localRank: number;
  readonly backend: 'gloo' | 'nccl';
  readonly device: string;
  readonly timeoutSeconds: number;

  /** @internal Use mt.distributed.init(). */
  constructor(handle: NativeProcessGroupHandle) {
    this.handle = handle;
    const info = handle.info();
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.localRank = info.localRank;
    this.backend = info.backend as 'gloo' | 'nccl';
    this.device = info.device;
    this.timeoutSeconds = info.timeoutMs / 1000;
  }

  /** Rank 0: the rank that writes checkpoints, logs and reports. */
  get isMain(): boolean {
    return this.rank === 0;
  }

  /** Resolves when every rank has called it (bounded by the timeout; a lost rank rejects it, named). */
  barrier(): Promise<void> {
    return this.handle.barrier();
  }

  /** Every rank's model weights become `root`'s (every rank must call it). */
  broadcastModel(model: MultiTaskModel, root = 0): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize)
      throw argumentError('broadcastModel', `'root' must be a rank (0..${this.worldSize - 1}), got ${describe(root)}`);
    this.handle.broadcastModel(model.native, root);
  }

  /** Tells the other ranks that this one is failing: their next collective fails naming this rank and `reason`. */
  abort(reason: string): void {
    this.handle.abort(String(reason));
  }

  /** Leaves the group (rank 0 waits until the others have left: its store serves them). Trainers built on it keep it alive. */
  async destroy(): Promise<void> {
    if (current === this) current = undefined;
    await this.handle.destroy();
  }
}

let current: ProcessGroup | undefined;

/**
 * Joins the data-parallel group: the rendezvous through rank 0's TCPStore and the start-up checks
 * (world size, backend, device type, libtorch version, ranks claimed twice, an unreachable store),
 * each failure an ERR_DISTRIBUTED error naming the ranks. Resolves when every rank has joined.
 * Options not given come from the environment (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK).
 */
export async function init(options: InitOptions = {}): Promise<ProcessGroup> {
  const o = parse(InitOptionsSchema, options, WHERE);
  if (current) throw argumentError(WHERE, `this process is already rank ${current.rank} of a group; destroy() it first`);
  const masterAddr = o.masterAddr ?? process.env.MASTER_ADDR;
  if (!masterAddr)
    throw argumentError(
      WHERE,
      "the environment variable MASTER_ADDR is not set (a data-parallel run needs MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE, as torchrun and `mtl-torch train --nproc` set them), and no 'masterAddr' option was given",
    );
  const masterPort = o.masterPort ?? fromEnvironment('MASTER_PORT', 65_535, 1, true)!;
  const worldSize = o.worldSize ?? fromEnvironment('WORLD_SIZE', 1 << 20, 1, true)!;
  const rank = o.rank ?? fromEnvironment('RANK', 1 << 20, 0, true)!;
  const localRank = o.localRank ?? fromEnvironment('LOCAL_RANK', 1 << 20, 0, false) ?? rank;
  if (rank >= worldSize) throw argumentError(WHERE, `RANK=${rank} is outside 0..${worldSize - 1} (WORLD_SIZE=${worldSize})`);
  const glooInterface = o.glooInterface ?? (process.env.GLOO_SOCKET_IFNAME || undefined);
  // A backend this build lacks, or NCCL on the CPU, is refused by the start-up checks of the whole
  // group (every rank names this one), not here, where the others would only see it missing.
  const handle = new native.NativeProcessGroup();
  await handle.join({
    masterAddr,
    masterPort,
    rank,
    worldSize,
    localRank,
    backend: o.backend,
    device: o.device,
    timeoutMs: Math.round(o.timeoutSeconds * 1000),
    heartbeatMs: Math.round(o.heartbeatSeconds * 1000),
    ...(glooInterface ? { glooInterface } : {}),
  });
  current = new ProcessGroup(handle);
  return current;
}

/** The group mt.distributed.init() joined (what a Trainer's `distributed: true` uses), if any. */
export function currentGroup(): ProcessGroup | undefined {
  return current;
}
