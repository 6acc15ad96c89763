/**
 * The product brief's GLUE setup: a shared 12-layer encoder (d=512, 8 heads, ff 2048, dropout 0.1),
 * a 2-layer decoder per GLUE task, alternating training (one task per step, tasks drawn in
 * proportion to their size) with the brief's dynamic weights λᵢ = 1/(1+e^(−Lᵢ)), AdamW lr 2e-5.
 * Prints dev metrics per task and the GLUE average, and leaves a run directory with a report.
 *
 *   npx tsx scripts/train-glue.ts <glue dir> <vocab.txt | tokenizer.json> [--tasks rte,mrpc,...]
 *        [--steps N] [--out runs/glue] [--tiny]
 *
 * The GLUE directory is the standard layout (CoLA/, SST-2/, MRPC/, STS-B/, QQP/, MNLI/, QNLI/,
 * RTE/, WNLI/ with train.tsv and dev.tsv); nothing is downloaded. --tiny swaps the encoder for a
 * 2-layer d=64 one, to check a setup quickly.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as mt from '../lib/index.ts';
import { trainRun } from '../lib/run/run.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    tasks: { type: 'string', default: mt.data.glue.TASKS.join(',') },
    steps: { type: 'string', default: '20000' },
    out: { type: 'string', default: path.join('runs', 'glue') },
    tiny: { type: 'boolean', default: false },
  },
});
const [dir, tokenizer] = positionals;
if (!dir || !tokenizer) {
  console.error('usage: tsx scripts/train-glue.ts <glue dir> <vocab.txt | tokenizer.json> [--tasks a,b] [--steps N] [--out dir] [--tiny]');
  process.exit(2);
}
const tasks = values.tasks.split(',').map((t) => t.trim().toLowerCase());

const config = {
  data: { source: 'glue', dir, tokenizer, tasks, maxLength: 128 },
  model: {
    encoder: values.tiny
      ? { numLayers: 2, dModel: 64, nhead: 4, dimFeedforward: 128, dropout: 0.1 }
      : { numLayers: 12, dModel: 512, nhead: 8, dimFeedforward: 2048, dropout: 0.1 },
    sharing: { kind: 'sharedEncoder' },
    decoderLayers: { classification: values.tiny ? 1 : 2, regression: values.tiny ? 1 : 2 },
  },
  trainer: {
    strategy: { kind: 'alternating', every: 'step' },
    weighting: { kind: 'sigmoidLoss' },
    sampler: { kind: 'proportional' },
    optimizer: { kind: 'adamW', lr: values.tiny ? 1e-3 : 2e-5, weightDecay: 0.01 },
    schedule: { kind: 'warmupLinear', warmupSteps: Math.floor(Number(values.steps) / 10) },
    batchSize: 32,
    clipGradNorm: 1,
    seed: 0,
  },
  steps: Number(values.steps),
};
const file = path.join(mkdtempSync(path.join(tmpdir(), 'mtl-glue-')), 'glue.json');
writeFileSync(file, JSON.stringify(config));

const {
  results: [result],
} = await trainRun(file, values.out);
console.log('\nGLUE dev metrics');
const scores: Record<string, Record<string, number>> = {};
const { 'mnli-mm': mismatched, ...byTask } = result!.metrics;
for (const [task, measured] of Object.entries(byTask)) {
  // MNLI scores the mean of its matched and mismatched accuracies (the run reports the mismatched
  // dev set as 'mnli-mm').
  const metrics = task === 'mnli' && mismatched ? { ...measured, matched: measured.accuracy!, mismatched: mismatched.accuracy! } : measured;
  scores[task] = metrics;
  const shown = Object.entries(metrics)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join('  ');
  console.log(`  ${task.padEnd(6)} score ${mt.metrics.glueTaskScore(task as mt.metrics.GlueTaskName, metrics).toFixed(4)}  (${shown})`);
}
console.log(`GLUE average over ${Object.keys(scores).length} task(s): ${mt.metrics.glueAverage(scores as never).toFixed(4)}`);
console.log(`run written to ${values.out}`);
