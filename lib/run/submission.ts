/**
 * GLUE leaderboard submissions: a trained GLUE run's predictions on the test splits, written as the
 * files the GLUE server reads (gluebenchmark.com/submit): one `<Name>.tsv` per task with the header
 * `index\tprediction` and one row per test example, in the test file's order:
 *
 *   CoLA.tsv SST-2.tsv MRPC.tsv QQP.tsv WNLI.tsv   0 or 1
 *   STS-B.tsv                                      the score, clipped to [0, 5], 3 decimals
 *   MNLI-m.tsv MNLI-mm.tsv AX.tsv                  entailment | neutral | contradiction
 *   QNLI.tsv RTE.tsv                               entailment | not_entailment
 *
 * AX (the diagnostic set) is predicted by the MNLI model from `<glue dir>/diagnostic/diagnostic.tsv`
 * (columns index, sentence1, sentence2). Tasks the run did not train have no file: the server needs
 * all of them, so the result lists what is missing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import { makeDirectory, MAX_TEXT_DATA_BYTES, readTextFile, writeFileAtomic } from '../files.ts';
import * as data from '../data/index.ts';
import { Dataset } from '../data/dataset.ts';
import { MultiTaskModel } from '../model/model.ts';
import { noGrad } from '../tensor.ts';
import { runModelDir, runTasksOf } from './run.ts';
import { glueTokenizer } from './tasks.ts';

/** The GLUE server's file of each task's test split (MNLI has two). */
export const SUBMISSION_FILES: Record<data.glue.GlueTask, Record<string, string>> = {
  cola: { test: 'CoLA.tsv' },
  sst2: { test: 'SST-2.tsv' },
  mrpc: { test: 'MRPC.tsv' },
  stsb: { test: 'STS-B.tsv' },
  qqp: { test: 'QQP.tsv' },
  mnli: { test_matched: 'MNLI-m.tsv', test_mismatched: 'MNLI-mm.tsv' },
  qnli: { test: 'QNLI.tsv' },
  rte: { test: 'RTE.tsv' },
  wnli: { test: 'WNLI.tsv' },
};
const ALL_FILES = [...Object.values(SUBMISSION_FILES).flatMap((f) => Object.values(f)), 'AX.tsv'];

export interface SubmissionResult {
  /** Files written, with their row counts. */
  written: Record<string, number>;
  /** Server files this run cannot produce (tasks it did not train; AX without MNLI or diagnostic.tsv). */
  missing: string[];
}

/** Predictions of `task` for every row of an unlabeled data set, in order. */
function predictAll(model: MultiTaskModel, task: string, dataset: Dataset, batchSize = 64): number[] {
  const out: number[] = [];
  for (let start = 0; start < dataset.size; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, dataset.size - start) }, (_, i) => start + i);
    noGrad(() => {
      const batch = dataset.batch(indices);
      out.push(...(model.predict(task, batch).toArray() as number[]));
      for (const t of Object.values(batch)) (t as { dispose?: () => void } | undefined)?.dispose?.();
    });
  }
  return out;
}

function label(task: data.glue.GlueTask, prediction: number): string {
  const labels = data.glue.TASK_SPECS[task].labels;
  if (labels === 'regression') return Math.min(5, Math.max(0, prediction)).toFixed(3);
  return labels[prediction]!;
}

function writeTsv(file: string, ids: string[], predictions: string[]): void {
  writeFileAtomic(
    file,
    ['index\tprediction', ...ids.map((id, i) => `${id}\t${predictions[i]}`)].join('\n') + '\n',
    'predict --glue-submission',
  );
}

/** Writes the GLUE server's test files of a trained GLUE run (its best weights when it kept them) into `out`. */
export async function writeGlueSubmission(run: string, out: string): Promise<SubmissionResult> {
  const where = 'predict --glue-submission';
  const { config, tasks } = await runTasksOf(run);
  if (config.data.source !== 'glue') throw argumentError(where, `${run} is not a GLUE run (data.source is ${config.data.source})`);
  const glue = config.data;
  const model = await MultiTaskModel.load(runModelDir(run), { device: config.device });
  model.eval();
  const tokenizer = glueTokenizer(glue, config.model.encoder);
  makeDirectory(out, where);
  const written: Record<string, number> = {};
  for (const task of tasks.tasks) {
    const name = task.name as data.glue.GlueTask;
    for (const [split, file] of Object.entries(SUBMISSION_FILES[name])) {
      const examples = data.glue.readExamples(glue.dir, name, { split });
      const dataset = data.glue.load(glue.dir, name, tokenizer, { split, maxLength: glue.maxLength });
      try {
        const predictions = predictAll(model, name, dataset).map((p) => label(name, p));
        writeTsv(
          path.join(out, file),
          examples.examples.map((e) => e.id),
          predictions,
        );
        written[file] = predictions.length;
      } finally {
        dataset.dispose();
      }
    }
  }
  const diagnostic = path.join(glue.dir, 'diagnostic', 'diagnostic.tsv');
  if (tasks.tasks.some((t) => t.name === 'mnli') && existsSync(diagnostic)) {
    const rows = readTextFile(diagnostic, where, MAX_TEXT_DATA_BYTES)
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .filter((l) => l.length > 0);
    const header = rows[0]!.split('\t');
    const [index, first, second] = ['index', 'sentence1', 'sentence2'].map((c) => header.indexOf(c));
    if (index! < 0 || first! < 0 || second! < 0)
      throw argumentError(where, `${diagnostic} needs the columns index, sentence1 and sentence2`);
    const fields = rows.slice(1).map((r) => r.split('\t'));
    const encodings = fields.map((f) => tokenizer.encode(f[first!]!, { pair: f[second!]!, maxLength: glue.maxLength }));
    const dataset = Dataset.fromExamples(
      encodings.map((e) => ({ inputIds: e.ids, tokenTypeIds: e.tokenTypeIds })),
      { targetKind: 'classification', padId: tokenizer.padId, vocabSize: tokenizer.vocabSize, name: 'glue/ax' },
    );
    try {
      const predictions = predictAll(model, 'mnli', dataset).map((p) => label('mnli', p));
      writeTsv(
        path.join(out, 'AX.tsv'),
        fields.map((f) => f[index!]!),
        predictions,
      );
      written['AX.tsv'] = predictions.length;
    } finally {
      dataset.dispose();
    }
  }
  return { written, missing: ALL_FILES.filter((f) => !(f in written)) };
}
