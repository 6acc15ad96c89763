/**
 * The tasks of a run: their data sets, their model heads, how inputs are encoded for `predict`
 * and how predictions read as text. Built from the config's `data` part, the same way by `train`,
 * `eval` and `predict`, so a saved run can be rebuilt from its config.json alone.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argumentError } from '../errors.ts';
import * as data from '../data/index.ts';
import type { Dataset } from '../data/dataset.ts';
import { tokenizer as pretrainedTokenizer } from '../model/pretrained.ts';
import { isPretrainedEncoder, tasks as heads, type TaskSpec } from '../model/spec.ts';
import type { DataConfig, PhoneticsTask } from './config.ts';

export type EvalSplit = 'dev' | 'test';

/** One raw input: a text, and for sentence-pair tasks its pair. */
export interface RunInput {
  text: string;
  pair?: string;
}

/** An input as the model reads it. */
export interface EncodedInput {
  ids: number[];
  tokenTypeIds: number[];
  /** The input's whitespace-separated words and the position of each one's first token (tagging reads one tag there). */
  words: { word: string; start: number }[];
}

export interface RunTask {
  name: string;
  head: TaskSpec;
  /** Loads a split's data set (created on first use, kept for the run). */
  dataset(split: 'train' | EvalSplit): Dataset;
  /** More evaluation sets of the same task, by the name their metrics are reported under (MNLI: 'mnli-mm', the mismatched split). */
  extraEvalSets?: Record<string, (split: EvalSplit) => Dataset>;
  /** The inputs it reads: a text, and a pair for sentence-pair tasks. */
  inputFields: ('text' | 'pair')[];
  /** Names of the classes (classification), labels (multi-label) or tags (tagging), in id order. */
  labels?: string[];
  /** A prediction (class id, value, or generated ids) as text. */
  describe(prediction: number | number[]): string;
  /** The metric a model is judged by on this task (see lib/train's evaluation). */
  mainMetric: string;
}

export interface RunTasks {
  input: { vocabSize: number; maxLength: number; padId: number };
  tasks: RunTask[];
  /** Input ids (and segment ids) of one raw input, the same for every task (the encoder reads them once). */
  encode(input: RunInput): EncodedInput;
}

/** Refuses a pair for a run whose tasks read one text. */
function refusePair(input: RunInput, source: string): void {
  if (input.pair !== undefined) throw argumentError('predict', `the tasks of this ${source} run read one text: 'pair' has no place (got ${JSON.stringify(input.pair)})`);
}

function memo<K, V>(make: (key: K) => V): (key: K) => V {
  const cache = new Map<K, V>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, make(key));
    return cache.get(key)!;
  };
}

function limitFor(config: DataConfig, split: 'train' | EvalSplit): number | undefined {
  return split === 'train' ? config.trainLimit : config.evalLimit;
}

function phoneticsTasks(config: Extract<DataConfig, { source: 'phonetics' }>, { decoderLayers, headLayers }: HeadDepths): RunTasks {
  const dict = data.cmudict();
  const letters = dict.letters;
  const maxLength = dict.longestWord + 2;
  const longestPronunciation = dict.entries.reduce((m, e) => Math.max(m, e.phonemes.length), 0);
  const encode = (input: RunInput): EncodedInput => {
    refusePair(input, 'phonetics');
    const { ids, tokenTypeIds } = letters.encode(input.text.toLowerCase(), { maxLength });
    return { ids, tokenTypeIds, words: [] };
  };
  const classes = (n: number, describe: (c: number) => string) => Array.from({ length: n }, (_, c) => describe(c));
  const inputFields: RunTask['inputFields'] = ['text'];
  const make = (task: PhoneticsTask): RunTask => {
    const dataset = memo((split: 'train' | EvalSplit) => {
      const options = { tokenizer: letters, maxLength, limit: limitFor(config, split) };
      return task === 'gender' ? data.firstNames().dataset(split, options) : dict.dataset(task, split, options);
    });
    switch (task) {
      case 'g2p':
        return {
          name: task,
          head: heads.sequence({
            vocabSize: dict.phonemes.vocabSize, maxLength: longestPronunciation + 1, decoderLayers,
            bosId: dict.phonemes.bosId, eosId: dict.phonemes.eosId, padId: dict.phonemes.padId,
          }),
          dataset, inputFields, mainMetric: 'per',
          describe: (ids) => dict.phonemes.decodeSymbols(ids as number[], { skipSpecialTokens: true }).join(' '),
        };
      case 'syllables': {
        const labels = classes(dict.maxSyllables + 1, (c) => `${c} syllable${c === 1 ? '' : 's'}`);
        return { name: task, head: heads.classification({ classes: labels.length, decoderLayers: headLayers }), dataset, inputFields, labels, mainMetric: 'accuracy', describe: (c) => labels[c as number] ?? String(c) };
      }
      case 'stress': {
        const labels = classes(dict.maxSyllables, (c) => `primary stress on vowel ${c + 1}`);
        return { name: task, head: heads.classification({ classes: labels.length, decoderLayers: headLayers }), dataset, inputFields, labels, mainMetric: 'accuracy', describe: (c) => labels[c as number] ?? String(c) };
      }
      case 'gender': {
        const labels = [...data.GENDER_LABELS];
        return { name: task, head: heads.classification({ classes: 2, decoderLayers: headLayers }), dataset, inputFields, labels, mainMetric: 'accuracy', describe: (c) => labels[c as number] ?? String(c) };
      }
    }
  };
  return { input: { vocabSize: letters.vocabSize, maxLength, padId: letters.padId }, tasks: config.tasks.map(make), encode };
}

/** The tokenizer of a GLUE run: the pretrained model directory's, or data.tokenizer. */
export function glueTokenizer(config: Extract<DataConfig, { source: 'glue' }>, encoder: unknown): data.SubwordTokenizer {
  if (isPretrainedEncoder(encoder)) return pretrainedTokenizer((encoder as { pretrained: string }).pretrained);
  const file = config.tokenizer!;
  if (!existsSync(file)) throw argumentError('config', `'data.tokenizer' ${file} does not exist`);
  return path.extname(file) === '.json' ? data.SubwordTokenizer.fromFile(file) : data.SubwordTokenizer.fromVocab(file);
}

function glueTasks(config: Extract<DataConfig, { source: 'glue' }>, { headLayers }: HeadDepths, encoder: unknown): RunTasks {
  const tokenizer = glueTokenizer(config, encoder);
  const make = (task: data.glue.GlueTask): RunTask => {
    const labels = data.glue.TASK_SPECS[task].labels;
    const load = (split: string) => data.glue.load(config.dir, task, tokenizer, { split, maxLength: config.maxLength });
    const evalSplit = (split: EvalSplit) => (task === 'mnli' ? `${split}_matched` : split);
    const dataset = memo((split: 'train' | EvalSplit) => load(split === 'train' ? 'train' : evalSplit(split)));
    const mismatched = memo((split: EvalSplit) => load(`${split}_mismatched`));
    const mainMetric = task === 'cola' ? 'matthews' : task === 'stsb' ? 'pearson' : task === 'mrpc' || task === 'qqp' ? 'f1' : 'accuracy';
    const head = labels === 'regression'
      ? heads.regression({ decoderLayers: headLayers })
      : heads.classification({ classes: labels.length, decoderLayers: headLayers });
    const pairs = 'pair' in Object.values(data.glue.TASK_SPECS[task].splits)[0]!.layout;
    return {
      name: task, head, dataset, mainMetric, inputFields: pairs ? ['text', 'pair'] : ['text'],
      ...(labels === 'regression' ? {} : { labels: [...labels] }),
      ...(task === 'mnli' ? { extraEvalSets: { 'mnli-mm': mismatched } } : {}),
      describe: (p) => (labels === 'regression' ? (p as number).toFixed(3) : labels[p as number] ?? String(p)),
    };
  };
  const encode = (input: RunInput): EncodedInput => {
    const { ids, tokenTypeIds } = tokenizer.encode(input.text, { ...(input.pair === undefined ? {} : { pair: input.pair }), maxLength: config.maxLength });
    return { ids, tokenTypeIds, words: [] };
  };
  return { input: { vocabSize: tokenizer.vocabSize, maxLength: config.maxLength, padId: tokenizer.padId }, tasks: config.tasks.map(make), encode };
}

/** Decoder layers of sequence heads and of classification/regression heads. */
export interface HeadDepths {
  decoderLayers: number;
  headLayers: number;
}

/** The tasks of a run; `model` is the run config's model part (its encoder may bring the tokenizer). */
export function runTasks(config: DataConfig, model: HeadDepths & { encoder: unknown }): RunTasks {
  return config.source === 'phonetics' ? phoneticsTasks(config, model) : glueTasks(config, model, model.encoder);
}
