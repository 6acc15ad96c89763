/**
 * mt.ReferenceModel: a small real multi-task model (a shared MLP trunk over features or mean token
 * embeddings, one linear head per task) implemented natively (native/core/train/testing/). The
 * trainer's tests and benchmarks use it, and it is a quick baseline for tabular multi-task data.
 */
import { argumentError } from '../errors.ts';
import { native, type NativeReferenceModelHandle, type NativeBatch } from '../native.ts';
import type { Batch } from '../data/dataset.ts';
import { Tensor } from '../tensor.ts';
import { checkDevice, checkInt, checkNumber, describe, type Device } from '../validate.ts';

export type ReferenceTask = { kind: 'classification'; classes: number } | { kind: 'regression' };

export interface ReferenceModelConfig {
  /** Width of each example's `features` (give this, or vocabSize and embedDim). */
  inputDim?: number;
  vocabSize?: number;
  embedDim?: number;
  /** Sizes of the shared trunk's hidden layers (default [32]). */
  hidden?: number[];
  dropout?: number;
  tasks: Record<string, ReferenceTask>;
  device?: Device;
}

const WHERE = 'ReferenceModel';

function batchHandles(batch: Batch): NativeBatch {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(batch)) if (value instanceof Tensor) fields[key] = value.handle;
  return fields as unknown as NativeBatch;
}

export class ReferenceModel {
  /** @internal */
  readonly handle: NativeReferenceModelHandle;

  constructor(config: ReferenceModelConfig) {
    if (typeof config !== 'object' || config === null) throw argumentError(WHERE, `expected a config object, got ${describe(config)}`);
    const positive = (v: unknown, name: string) => {
      const n = checkInt(v, WHERE, name);
      if (n <= 0) throw argumentError(WHERE, `'${name}' must be a positive integer, got ${n}`);
      return n;
    };
    const inputDim = config.inputDim === undefined ? 0 : positive(config.inputDim, 'inputDim');
    const vocabSize = config.vocabSize === undefined ? 0 : positive(config.vocabSize, 'vocabSize');
    const embedDim = config.embedDim === undefined ? 0 : positive(config.embedDim, 'embedDim');
    if (inputDim === 0 && (vocabSize === 0 || embedDim === 0)) throw argumentError(WHERE, "give 'inputDim' (features) or 'vocabSize' and 'embedDim' (token ids)");
    const hidden = config.hidden ?? [32];
    if (!Array.isArray(hidden) || hidden.length === 0) throw argumentError(WHERE, `'hidden' must be a non-empty array of sizes, got ${describe(hidden)}`);
    hidden.forEach((h, i) => positive(h, `hidden[${i}]`));
    const dropout = config.dropout === undefined ? 0 : checkNumber(config.dropout, WHERE, 'dropout');
    if (!(dropout >= 0 && dropout < 1)) throw argumentError(WHERE, `'dropout' must be in [0, 1), got ${dropout}`);
    if (typeof config.tasks !== 'object' || config.tasks === null || Object.keys(config.tasks).length === 0) {
      throw argumentError(WHERE, "'tasks' must map task names to { kind: 'classification', classes } or { kind: 'regression' }");
    }
    const tasks = Object.entries(config.tasks).map(([name, task]) => {
      if (task?.kind === 'classification') return { name, kind: task.kind, outputs: positive(task.classes, `tasks.${name}.classes`) };
      if (task?.kind === 'regression') return { name, kind: task.kind, outputs: 1 };
      throw argumentError(WHERE, `'tasks.${name}.kind' must be 'classification' or 'regression', got ${describe((task as { kind?: unknown } | undefined)?.kind)}`);
    });
    const device = checkDevice(config.device, WHERE) ?? 'cpu';
    this.handle = new native.NativeReferenceModel({ inputDim, vocabSize, embedDim, hidden, dropout, tasks, device });
  }

  taskNames(): string[] {
    return this.handle.taskNames();
  }

  /** The parameters by torch.nn name; the tensors share storage with the model. */
  namedParameters(): Record<string, Tensor> {
    const { names, tensors } = this.handle.namedParameters();
    return Object.fromEntries(names.map((name, i) => [name, new Tensor(tensors[i]!)]));
  }

  /** Copies values into the parameters of the given names. */
  loadParameters(values: Record<string, Tensor>): void {
    const names = Object.keys(values);
    this.handle.loadParameters(names, names.map((n) => values[n]!.handle));
  }

  /** Parts of the model for per-part learning rates: "shared", "task:<name>". */
  parameterGroups(): { name: string; parameterNames: string[] }[] {
    return this.handle.parameterGroups();
  }

  taskLosses(batches: Record<string, Batch>): Record<string, Tensor> {
    const handles: Record<string, NativeBatch> = {};
    for (const [task, batch] of Object.entries(batches)) handles[task] = batchHandles(batch);
    const out = this.handle.taskLosses(handles);
    return Object.fromEntries(Object.entries(out).map(([task, h]) => [task, new Tensor(h)]));
  }

  /** Class ids (classification) or values (regression), without gradients. */
  predict(task: string, batch: Batch): Tensor {
    return new Tensor(this.handle.predict(task, batchHandles(batch)));
  }
}
