/**
 * Dynamic batching for the server: concurrent requests are coalesced into one predict call (up to
 * `maxBatch` inputs, waiting at most `maxDelayMs` for more after the first arrives), one call at a
 * time, and the rows are split back per request. Requests asking for other tasks or another topK
 * go in other calls. The queue is bounded in inputs: a request that would overflow it is refused
 * at once (QueueFullError, the server's 503), so memory stays bounded under any load.
 */
import type { PredictInput, PredictionRow, PredictOptions } from '../predict/predictor.ts';

export type PredictFunction = (inputs: PredictInput[], options: PredictOptions) => Promise<PredictionRow[]>;

export interface BatcherOptions {
  /** Most inputs in one predict call (a larger request runs alone). */
  maxBatch: number;
  /** Longest wait, after a request arrives, for others to join its call; 0: no waiting. */
  maxDelayMs: number;
  /** Most inputs waiting (not yet running); beyond it, requests are refused. */
  maxQueue: number;
}

/** The queue holds `maxQueue` inputs already: retry later. */
export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly limit: number,
  ) {
    super(`the queue is full (${queued} inputs waiting, at most ${limit}); retry later`);
  }
}

/** The request was dropped before its call ran: its deadline passed or its client went away. */
export class CancelledError extends Error {}

interface Job {
  inputs: PredictInput[];
  options: PredictOptions;
  key: string;
  resolve: (rows: PredictionRow[]) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

export class DynamicBatcher {
  readonly #predict: PredictFunction;
  readonly #options: BatcherOptions;
  readonly #queue: Job[] = [];
  #queuedInputs = 0;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];
  /** Called after each predict call with its number of inputs (metrics). */
  onBatch: ((inputs: number, requests: number) => void) | undefined;

  constructor(predict: PredictFunction, options: BatcherOptions) {
    this.#predict = predict;
    this.#options = options;
  }

  /** Inputs waiting for a call. */
  get queuedInputs(): number {
    return this.#queuedInputs;
  }

  get busy(): boolean {
    return this.#running !== undefined || this.#queue.length > 0;
  }

  /**
   * The rows of `inputs`, from a call shared with other requests. `signal` drops the request while
   * it waits (CancelledError); once its call runs, the call finishes and the rows are discarded.
   */
  submit(inputs: PredictInput[], options: PredictOptions, signal?: AbortSignal): Promise<PredictionRow[]> {
    if (this.#queuedInputs + inputs.length > this.#options.maxQueue && this.#queue.length > 0) {
      return Promise.reject(new QueueFullError(this.#queuedInputs, this.#options.maxQueue));
    }
    return new Promise<PredictionRow[]>((resolve, reject) => {
      const job: Job = {
        inputs,
        options,
        key: JSON.stringify([options.tasks ?? null, options.topK ?? null]),
        resolve,
        reject,
        settled: false,
      };
      if (signal) {
        if (signal.aborted) return reject(new CancelledError(String(signal.reason ?? 'cancelled')));
        signal.addEventListener('abort', () => this.#cancel(job, signal.reason), { once: true });
      }
      this.#queue.push(job);
      this.#queuedInputs += inputs.length;
      this.#schedule();
    });
  }

  /** Runs what waits now, without waiting out maxDelayMs (a drain). */
  flush(): void {
    this.#startNow();
  }

  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #cancel(job: Job, reason: unknown): void {
    const at = this.#queue.indexOf(job);
    if (at < 0 || job.settled) return; // running already: its rows will be dropped by the caller
    this.#queue.splice(at, 1);
    this.#queuedInputs -= job.inputs.length;
    job.settled = true;
    job.reject(new CancelledError(String(reason ?? 'cancelled')));
    this.#checkIdle();
  }

  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    if (this.#queuedInputs >= this.#options.maxBatch || this.#options.maxDelayMs === 0) {
      this.#startNow();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#startNow();
      }, this.#options.maxDelayMs);
    }
  }

  /** Runs the next call now; whatever arrives meanwhile has waited already and runs right after. */
  #startNow(): void {
    if (this.#running || this.#queue.length === 0) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#runBatch().finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#startNow();
      else this.#checkIdle();
    });
  }

  /** Takes the first job and every later one of the same kind that fits, and runs them as one call. */
  async #runBatch(): Promise<void> {
    const first = this.#queue[0]!;
    const jobs: Job[] = [];
    let count = 0;
    for (let i = 0; i < this.#queue.length;) {
      const job = this.#queue[i]!;
      if (job.key === first.key && (jobs.length === 0 || count + job.inputs.length <= this.#options.maxBatch)) {
        jobs.push(job);
        count += job.inputs.length;
        this.#queue.splice(i, 1);
        this.#queuedInputs -= job.inputs.length;
        if (count >= this.#options.maxBatch) break;
      } else {
        i++;
      }
    }
    for (const job of jobs) job.settled = true;
    const inputs = jobs.flatMap((j) => j.inputs);
    try {
      // One encoder pass for a coalesced call; a lone request above maxBatch runs in passes of maxBatch.
      const rows = await this.#predict(inputs, { ...first.options, batchSize: Math.max(1, Math.min(count, this.#options.maxBatch)) });
      this.onBatch?.(count, jobs.length);
      let at = 0;
      for (const job of jobs) {
        job.resolve(rows.slice(at, at + job.inputs.length));
        at += job.inputs.length;
      }
    } catch (error) {
      for (const job of jobs) job.reject(error);
    }
  }

  #checkIdle(): void {
    if (this.busy) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
