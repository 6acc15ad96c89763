/** mt.data: native-resident data sets, loaders and tokenizers. */
export { Dataset, TARGET_KINDS } from './dataset.ts';
export type {
  Batch,
  DatasetArrays,
  DatasetTensors,
  DatasetOptions,
  Target,
  TargetKind,
  TokenizedExample,
  WithTargetsOptions,
} from './dataset.ts';
export * as glue from './glue.ts';
export { cmudict, firstNames, fnv1a, splitOf, Cmudict, FirstNames, CMUDICT_TASKS, GENDER_LABELS, SPLITS } from './phonetics.ts';
export type { CmudictTask, Name, Pronunciation, Split } from './phonetics.ts';
export { CharTokenizer, SubwordTokenizer, truncatePair, TRUNCATION_STRATEGIES } from './tokenizers.ts';
export type { CharTokenizerOptions, EncodeOptions, Encoding, TextTokenizer, TruncationStrategy } from './tokenizers.ts';
export { fromFiles } from './from-files.ts';
export type { FilesData, FilesTask, FromFilesOptions } from './from-files.ts';
export { readRecords, FILE_FORMATS } from './files.ts';
export type { FileRecord, FileFormat } from './files.ts';
