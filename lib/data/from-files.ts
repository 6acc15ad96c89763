/**
 * mt.data.fromFiles: the run config's `files` data source from the API. Each task's data sets
 * (train, dev, and test when given), its head spec for mt.multitask, its labels, and the tokenizer,
 * built exactly as `mtl-torch train` builds them (lib/run/tasks.ts), with the same checks.
 */
import { z } from 'zod';
import type { Dataset } from './dataset.ts';
import type { TextTokenizer } from './tokenizers.ts';
import type { TaskSpec } from '../model/spec.ts';
import { DataSchema, FileTaskSchema, FileTokenizerSchema } from '../run/config.ts';
import { runTasks, type EncodedInput, type RunInput } from '../run/tasks.ts';
import { parse } from '../schema.ts';

export interface FromFilesOptions {
  /** { train: { kind, vocabSize, lowercase } }, { file }, or { char: {} } (as the run config's data.tokenizer). */
  tokenizer: z.input<typeof FileTokenizerSchema>;
  maxLength?: number;
}

export interface FilesTask {
  /** The head for mt.multitask's tasks (decoder layers: the head kind's default). */
  head: TaskSpec;
  labels?: string[];
  train: Dataset;
  dev: Dataset;
  test?: Dataset;
}

export interface FilesData {
  tasks: Record<string, FilesTask>;
  tokenizer: TextTokenizer;
  /** Ids of a raw input as the tasks' data sets hold them. */
  encode(input: RunInput): EncodedInput;
  input: { vocabSize: number; maxLength: number; padId: number };
}

/** Reads and checks every file of `tasks` (each as a run config's data.tasks entry) and builds their data sets. */
export async function fromFiles(tasks: Record<string, z.input<typeof FileTaskSchema>>, options: FromFilesOptions): Promise<FilesData> {
  const config = parse(DataSchema, { source: 'files', tasks, ...options }, 'fromFiles') as Extract<
    z.output<typeof DataSchema>,
    { source: 'files' }
  >;
  const built = await runTasks(config, { decoderLayers: {}, encoder: {} });
  const hasTest = (name: string) => config.tasks[name]!.test !== undefined || config.tasks[name]!.split?.test !== undefined;
  return {
    tasks: Object.fromEntries(
      built.tasks.map((t) => [
        t.name,
        {
          head: t.head,
          ...(t.labels ? { labels: t.labels } : {}),
          train: t.dataset('train'),
          dev: t.dataset('dev'),
          ...(hasTest(t.name) ? { test: t.dataset('test') } : {}),
        },
      ]),
    ),
    tokenizer: built.tokenizer!,
    encode: built.encode,
    input: built.input,
  };
}
