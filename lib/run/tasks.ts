/**
 * The tasks of a run: their data sets, their model heads, how inputs are encoded for `predict`
 * and how predictions read as text. Built from the config's `data` part, the same way by `train`,
 * `eval` and `predict`, so a saved run can be rebuilt from its config.json alone.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import * as data from '../data/index.ts';
import type { Dataset } from '../data/dataset.ts';
import { buildDatasets, encodeWords, readTaskRows, taskInfo, type DataSplit, type FileTaskInfo } from '../data/files.ts';
import { trainTokenizer } from '../data/train-tokenizer.ts';
import type { TextTokenizer } from '../data/tokenizers.ts';
import { readJsonFile } from '../files.ts';
import { capabilities } from '../schema.ts';
import { tokenizer as pretrainedTokenizer } from '../model/pretrained.ts';
import { isPretrainedEncoder, tasks as heads, type TaskSpec } from '../model/spec.ts';
import type { DataConfig, DecoderLayers, PhoneticsTask } from './config.ts';

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
  /** Files a new run writes next to its config (a files run's tokenizer.json and data.json), by name. */
  runFiles?: Record<string, string>;
  /** A files run's tokenizer (trained, loaded or the pretrained directory's). */
  tokenizer?: TextTokenizer;
}

/** Where a run's tasks are built for: training (every file is read and checked, a tokenizer may be
 * trained), evaluation of an existing run (its files are read, its tokenizer reloaded), or predictions
 * (no data file is read: the run's data.json and tokenizer.json say everything). */
export interface RunTasksContext {
  /** The run directory, when the run exists already (eval, predict, resume). */
  dir?: string;
  /** 'data' (default): load the data sets; 'predict': only what encoding and answers need. */
  need?: 'data' | 'predict';
}

/** Refuses a pair for a run whose tasks read one text. */
function refusePair(input: RunInput, source: string): void {
  if (input.pair !== undefined)
    throw argumentError(
      'predict',
      `the tasks of this ${source} run read one text: 'pair' has no place (got ${JSON.stringify(input.pair)})`,
    );
}

function memo<K, V>(make: (key: K) => V): (key: K) => V {
  const cache = new Map<K, V>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, make(key));
    return cache.get(key)!;
  };
}

type SourceData = Exclude<DataConfig, { source: 'files' }>;

/** A task's example limit for a split: its own (taskLimits), else the data's. */
function limitFor(config: SourceData, task: string, split: string): number | undefined {
  const own = config.taskLimits?.[task];
  return split === 'train' ? (own?.trainLimit ?? config.trainLimit) : (own?.evalLimit ?? config.evalLimit);
}

function phoneticsTasks(config: Extract<DataConfig, { source: 'phonetics' }>, { decoderLayers }: HeadDepths): RunTasks {
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
      const options = { tokenizer: letters, maxLength, limit: limitFor(config, task, split) };
      return task === 'gender' ? data.firstNames().dataset(split, options) : dict.dataset(task, split, options);
    });
    switch (task) {
      case 'g2p':
        return {
          name: task,
          head: heads.sequence({
            vocabSize: dict.phonemes.vocabSize,
            maxLength: longestPronunciation + 1,
            ...depth(decoderLayers, 'sequence'),
            bosId: dict.phonemes.bosId,
            eosId: dict.phonemes.eosId,
            padId: dict.phonemes.padId,
          }),
          dataset,
          inputFields,
          mainMetric: 'per',
          describe: (ids) => dict.phonemes.decodeSymbols(ids as number[], { skipSpecialTokens: true }).join(' '),
        };
      case 'syllables': {
        const labels = classes(dict.maxSyllables + 1, (c) => `${c} syllable${c === 1 ? '' : 's'}`);
        return {
          name: task,
          head: heads.classification({ classes: labels.length, ...depth(decoderLayers, 'classification') }),
          dataset,
          inputFields,
          labels,
          mainMetric: 'accuracy',
          describe: (c) => labels[c as number] ?? String(c),
        };
      }
      case 'stress': {
        const labels = classes(dict.maxSyllables, (c) => `primary stress on vowel ${c + 1}`);
        return {
          name: task,
          head: heads.classification({ classes: labels.length, ...depth(decoderLayers, 'classification') }),
          dataset,
          inputFields,
          labels,
          mainMetric: 'accuracy',
          describe: (c) => labels[c as number] ?? String(c),
        };
      }
      case 'gender': {
        const labels = [...data.GENDER_LABELS];
        return {
          name: task,
          head: heads.classification({ classes: 2, ...depth(decoderLayers, 'classification') }),
          dataset,
          inputFields,
          labels,
          mainMetric: 'accuracy',
          describe: (c) => labels[c as number] ?? String(c),
        };
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

function glueTasks(config: Extract<DataConfig, { source: 'glue' }>, { decoderLayers }: HeadDepths, encoder: unknown): RunTasks {
  const tokenizer = glueTokenizer(config, encoder);
  const make = (task: data.glue.GlueTask): RunTask => {
    const labels = data.glue.TASK_SPECS[task].labels;
    const load = (split: string) => {
      const limit = limitFor(config, task, split === 'train' ? 'train' : 'eval');
      return data.glue.load(config.dir, task, tokenizer, { split, maxLength: config.maxLength, ...(limit === undefined ? {} : { limit }) });
    };
    const evalSplit = (split: EvalSplit) => (task === 'mnli' ? `${split}_matched` : split);
    const dataset = memo((split: 'train' | EvalSplit) => load(split === 'train' ? 'train' : evalSplit(split)));
    const mismatched = memo((split: EvalSplit) => load(`${split}_mismatched`));
    const mainMetric = task === 'cola' ? 'matthews' : task === 'stsb' ? 'pearson' : task === 'mrpc' || task === 'qqp' ? 'f1' : 'accuracy';
    const head =
      labels === 'regression'
        ? heads.regression(depth(decoderLayers, 'regression'))
        : heads.classification({ classes: labels.length, ...depth(decoderLayers, 'classification') });
    const pairs = 'pair' in Object.values(data.glue.TASK_SPECS[task].splits)[0]!.layout;
    return {
      name: task,
      head,
      dataset,
      mainMetric,
      inputFields: pairs ? ['text', 'pair'] : ['text'],
      ...(labels === 'regression' ? {} : { labels: [...labels] }),
      ...(task === 'mnli' ? { extraEvalSets: { 'mnli-mm': mismatched } } : {}),
      describe: (p) => (labels === 'regression' ? (p as number).toFixed(3) : (labels[p as number] ?? String(p))),
    };
  };
  const encode = (input: RunInput): EncodedInput => {
    const { ids, tokenTypeIds } = tokenizer.encode(input.text, {
      ...(input.pair === undefined ? {} : { pair: input.pair }),
      maxLength: config.maxLength,
    });
    return { ids, tokenTypeIds, words: [] };
  };
  return {
    input: { vocabSize: tokenizer.vocabSize, maxLength: config.maxLength, padId: tokenizer.padId },
    tasks: config.tasks.map(make),
    encode,
  };
}

/** Decoder layers per head kind (the run config's model.decoderLayers); a kind left out takes its head's default. */
export interface HeadDepths {
  decoderLayers: DecoderLayers;
}

/** A head factory's decoderLayers option for `kind`, when the run config sets it. */
function depth(depths: DecoderLayers, kind: keyof DecoderLayers): { decoderLayers?: number } {
  const layers = depths[kind];
  return layers === undefined ? {} : { decoderLayers: layers };
}

type FilesData = Extract<DataConfig, { source: 'files' }>;

/** What a files run keeps about its data (<run>/data.json): each task's kind and labels, and a char tokenizer's symbols. */
interface FilesRunData {
  tasks: Record<string, FileTaskInfo>;
  char?: { symbols: string[]; lowercase: boolean };
}

const DATA_FILE = 'data.json';
const TOKENIZER_FILE = 'tokenizer.json';

async function filesTasks(
  config: FilesData,
  { decoderLayers, encoder }: HeadDepths & { encoder: unknown },
  context: RunTasksContext,
): Promise<RunTasks> {
  const need = context.need ?? 'data';
  const saved =
    context.dir !== undefined && existsSync(path.join(context.dir, DATA_FILE))
      ? (readJsonFile(path.join(context.dir, DATA_FILE), 'run') as FilesRunData)
      : undefined;
  if (context.dir !== undefined && !saved)
    throw new TorchError(`${context.dir} is a files run without its ${DATA_FILE}`, ErrorCode.NOT_FOUND);
  const splits: DataSplit[] = [
    'train',
    'dev',
    ...(Object.values(config.tasks).some((t) => t.test !== undefined || t.split?.test !== undefined) ? ['test' as const] : []),
  ];
  const read = need === 'data' ? await readTaskRows(config, splits) : undefined;
  // The tokenizer: the pretrained directory's, the run's own (reloaded), or made now.
  let tokenizer: TextTokenizer;
  let char: FilesRunData['char'];
  const spec = config.tokenizer;
  const runTokenizer = context.dir === undefined ? undefined : path.join(context.dir, TOKENIZER_FILE);
  if (isPretrainedEncoder(encoder)) {
    tokenizer = pretrainedTokenizer((encoder as { pretrained: string }).pretrained);
  } else if (saved?.char) {
    char = saved.char;
    tokenizer = new data.CharTokenizer({ alphabet: saved.char.symbols.slice(5), lowercase: saved.char.lowercase });
  } else if (runTokenizer !== undefined && existsSync(runTokenizer)) {
    tokenizer = data.SubwordTokenizer.fromFile(runTokenizer);
  } else if (spec && 'file' in spec) {
    if (!existsSync(spec.file)) throw argumentError('config', `'data.tokenizer.file' ${spec.file} does not exist`);
    tokenizer =
      path.extname(spec.file) === '.json' ? data.SubwordTokenizer.fromFile(spec.file) : data.SubwordTokenizer.fromVocab(spec.file);
  } else if (spec && 'char' in spec) {
    const made = data.CharTokenizer.fromCorpus(read!.trainTexts, { lowercase: spec.char.lowercase });
    char = { symbols: [...made.symbols], lowercase: spec.char.lowercase };
    tokenizer = made;
  } else {
    const train = (spec as { train: { kind: 'wordPiece' | 'bpe'; vocabSize: number; lowercase: boolean } }).train;
    tokenizer = trainTokenizer(read!.trainTexts, train);
  }
  // The training text is not needed again: let its strings go before the data sets are made.
  read?.trainTexts.splice(0);
  const infos =
    saved?.tasks ??
    Object.fromEntries(
      Object.entries(config.tasks).map(([name, task]) => [
        name,
        taskInfo(name, task, read!.rows[name]!.train!, tokenizer, config.maxLength),
      ]),
    );
  const datasets = read ? buildDatasets(config, read.rows, infos, tokenizer) : undefined;
  const ends = tokenizer.encode('a').ids;
  const make = (name: string): RunTask => {
    const info = infos[name]!;
    if (!info) throw new TorchError(`the run's ${DATA_FILE} has no task '${name}'`, ErrorCode.BAD_DATA);
    const labels = info.labels;
    const head =
      info.kind === 'classification'
        ? heads.classification({ classes: labels!.length, ...depth(decoderLayers, 'classification') })
        : info.kind === 'regression'
          ? heads.regression(depth(decoderLayers, 'regression'))
          : info.kind === 'multiLabel'
            ? heads.multiLabel({ labels: labels!.length, ...depth(decoderLayers, 'multiLabel') })
            : info.kind === 'tagging'
              ? heads.tagging({ classes: labels!.length })
              : heads.sequence({
                  vocabSize: tokenizer.vocabSize,
                  maxLength: Math.max(2, info.targetLength ?? 2),
                  ...depth(decoderLayers, 'sequence'),
                  bosId: ends[0]!,
                  eosId: ends[ends.length - 1]!,
                  padId: tokenizer.padId,
                });
    return {
      name,
      head,
      inputFields: info.inputFields,
      ...(labels ? { labels } : {}),
      mainMetric: (capabilities('head', head.kind) as { mainMetric: string }).mainMetric,
      dataset: (split) => {
        const set = datasets?.[name]?.[split];
        if (!set) throw argumentError('run', `task '${name}' has no ${split} split (give data.tasks.${name}.${split}, or split.${split})`);
        return set;
      },
      describe: (p) =>
        Array.isArray(p) ? tokenizer.decode(p, { skipSpecialTokens: true }) : labels ? (labels[p] ?? String(p)) : p.toFixed(3),
    };
  };
  const tagging = Object.values(infos).some((info) => info.kind === 'tagging');
  const runData: FilesRunData = { tasks: infos, ...(char ? { char } : {}) };
  const runFiles: Record<string, string> = { [DATA_FILE]: JSON.stringify(runData, null, 2) + '\n' };
  if (!char && !isPretrainedEncoder(encoder)) runFiles[TOKENIZER_FILE] = JSON.stringify((tokenizer as data.SubwordTokenizer).json) + '\n';
  return {
    input: { vocabSize: tokenizer.vocabSize, maxLength: config.maxLength, padId: tokenizer.padId },
    tasks: Object.keys(config.tasks).map(make),
    encode: (input) => encodeWords(tokenizer, input.text, input.pair, config.maxLength, tagging),
    runFiles,
    tokenizer,
  };
}

/** The tasks of a run; `model` is the run config's model part (its encoder may bring the tokenizer). */
export async function runTasks(
  config: DataConfig,
  model: HeadDepths & { encoder: unknown },
  context: RunTasksContext = {},
): Promise<RunTasks> {
  if (config.source === 'files') return filesTasks(config, model, context);
  return config.source === 'phonetics' ? phoneticsTasks(config, model) : glueTasks(config, model, model.encoder);
}
