/**
 * Tokenizers. `CharTokenizer` is built in (characters, or arbitrary symbols such as phonemes);
 * `SubwordTokenizer` wraps a maintained library, @huggingface/tokenizers (a pure JavaScript
 * implementation of the `tokenizer.json` format), for WordPiece and BPE. Both produce the same
 * `Encoding` and share one truncation routine, so loaders accept either.
 */
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { readJsonFile, readTextFile } from '../files.ts';
import { checkBoolean, checkInt, checkOneOf, describe, optionsObject } from '../validate.ts';

export interface Encoding {
  ids: number[];
  tokens: string[];
  /** 0 for the first segment (and its special tokens), 1 for the second. */
  tokenTypeIds: number[];
}

/**
 * How a pair is cut to `maxLength`: `longest_first` removes one token at a time from the end of
 * the longer segment (the second one on ties, as Hugging Face's Python tokenizers), `only_first` /
 * `only_second` cut only that segment.
 */
export const TRUNCATION_STRATEGIES = ['longest_first', 'only_first', 'only_second'] as const;
export type TruncationStrategy = (typeof TRUNCATION_STRATEGIES)[number];

export interface EncodeOptions {
  /** A second segment (sentence pairs). */
  pair?: string;
  /** Total length, special tokens included; longer encodings are truncated. */
  maxLength?: number;
  truncation?: TruncationStrategy;
  /** Add the special tokens ([CLS]/[SEP] or <bos>/<sep>/<eos>); default true. */
  addSpecialTokens?: boolean;
}

/** What the loaders need from a tokenizer. */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  encode(text: string, options?: EncodeOptions): Encoding;
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** Cuts segments `a` and `b` so that together they hold at most `budget` tokens. */
export function truncatePair<V>(
  a: readonly V[],
  b: readonly V[] | undefined,
  budget: number,
  strategy: TruncationStrategy,
  where = 'truncate',
): [V[], V[] | undefined] {
  let first = a.length;
  let second = b?.length ?? 0;
  if (first + second > budget) {
    const excess = first + second - budget;
    if (strategy === 'only_first' || b === undefined) {
      if (b !== undefined && second > budget)
        throw argumentError(where, `the second segment alone (${second} tokens) exceeds maxLength and truncation is '${strategy}'`);
      first = Math.max(0, first - excess);
    } else if (strategy === 'only_second') {
      if (first > budget)
        throw argumentError(where, `the first segment alone (${first} tokens) exceeds maxLength and truncation is 'only_second'`);
      second -= excess;
    } else {
      for (let k = 0; k < excess; k++) {
        if (first > second) first--;
        else second--;
      }
    }
  }
  return [a.slice(0, first), b?.slice(0, second)];
}

function checkEncodeOptions(options: EncodeOptions | undefined, where: string) {
  const o = options ?? {};
  if (typeof o !== 'object') throw argumentError(where, `'options' must be an object, got ${describe(o)}`);
  if (o.pair !== undefined && typeof o.pair !== 'string') throw argumentError(where, `'pair' must be a string, got ${describe(o.pair)}`);
  const maxLength = o.maxLength === undefined ? undefined : checkInt(o.maxLength, where, 'maxLength');
  if (maxLength !== undefined && maxLength <= 0) throw argumentError(where, `'maxLength' must be positive, got ${maxLength}`);
  const truncation = o.truncation === undefined ? 'longest_first' : checkOneOf(o.truncation, TRUNCATION_STRATEGIES, where, 'truncation');
  const addSpecialTokens = o.addSpecialTokens === undefined ? true : checkBoolean(o.addSpecialTokens, where, 'addSpecialTokens');
  return { pair: o.pair, maxLength, truncation, addSpecialTokens };
}

// The token budget left for the segments once special tokens are counted.
function segmentBudget(maxLength: number, specials: number, where: string): number {
  if (maxLength < specials) throw argumentError(where, `'maxLength' ${maxLength} leaves no room for the ${specials} special tokens`);
  return maxLength - specials;
}

export interface CharSpecialTokens {
  pad: string;
  unk: string;
  bos: string;
  eos: string;
  sep: string;
}
export const DEFAULT_CHAR_SPECIALS: CharSpecialTokens = { pad: '<pad>', unk: '<unk>', bos: '<bos>', eos: '<eos>', sep: '<sep>' };

export interface CharTokenizerOptions {
  /** The symbols, in id order after the special tokens: a string (its characters) or an array. */
  alphabet: string | readonly string[];
  /** Lower-case text before encoding (default false). */
  lowercase?: boolean;
  specials?: Partial<CharSpecialTokens>;
}

/**
 * A character (or symbol) tokenizer. Ids: pad 0, unk 1, bos 2, eos 3, sep 4, then the alphabet.
 * `encode` takes a string (split into characters) or an array of symbols (e.g. ARPAbet phonemes).
 * With special tokens, a single text is `<bos> a <eos>` and a pair `<bos> a <sep> b <eos>`.
 */
export class CharTokenizer implements TextTokenizer {
  readonly symbols: readonly string[];
  readonly specials: CharSpecialTokens;
  readonly lowercase: boolean;
  private readonly ids: Map<string, number>;

  constructor(options: CharTokenizerOptions) {
    const where = 'CharTokenizer';
    if (typeof options !== 'object' || options === null) throw argumentError(where, `expected an options object, got ${describe(options)}`);
    const alphabet = typeof options.alphabet === 'string' ? Array.from(options.alphabet) : options.alphabet;
    if (!Array.isArray(alphabet))
      throw argumentError(where, `'alphabet' must be a string or an array of symbols, got ${describe(options.alphabet)}`);
    this.lowercase = options.lowercase === undefined ? false : checkBoolean(options.lowercase, where, 'lowercase');
    this.specials = { ...DEFAULT_CHAR_SPECIALS, ...(options.specials ?? {}) };
    const specialList = [this.specials.pad, this.specials.unk, this.specials.bos, this.specials.eos, this.specials.sep];
    this.ids = new Map();
    const symbols: string[] = [];
    for (const s of [...specialList, ...alphabet]) {
      if (typeof s !== 'string' || s.length === 0) throw argumentError(where, `symbols must be non-empty strings, got ${describe(s)}`);
      if (this.ids.has(s)) {
        if (symbols.indexOf(s) < specialList.length)
          throw argumentError(where, `'${s}' is both a special token and a symbol, or a duplicate special token`);
        continue; // a repeated alphabet symbol keeps its first id
      }
      this.ids.set(s, symbols.length);
      symbols.push(s);
    }
    this.symbols = symbols;
  }

  /** A tokenizer whose alphabet is every symbol of `corpus`, sorted by code point (so it is stable). */
  static fromCorpus(corpus: Iterable<string | readonly string[]>, options: Omit<CharTokenizerOptions, 'alphabet'> = {}): CharTokenizer {
    options = optionsObject(options, 'CharTokenizer.fromCorpus');
    const seen = new Set<string>();
    for (const item of corpus) {
      const text = typeof item === 'string' && options.lowercase ? item.toLowerCase() : item;
      for (const s of typeof text === 'string' ? Array.from(text) : text) seen.add(s);
    }
    return new CharTokenizer({ ...options, alphabet: [...seen].sort() });
  }

  get vocabSize(): number {
    return this.symbols.length;
  }
  get padId(): number {
    return 0;
  }
  get unkId(): number {
    return 1;
  }
  get bosId(): number {
    return 2;
  }
  get eosId(): number {
    return 3;
  }
  get sepId(): number {
    return 4;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }
  idToToken(id: number): string | undefined {
    return this.symbols[id];
  }

  private split(text: string | readonly string[], where: string): string[] {
    if (typeof text === 'string') return Array.from(this.lowercase ? text.toLowerCase() : text);
    if (!Array.isArray(text)) throw argumentError(where, `'text' must be a string or an array of symbols, got ${describe(text)}`);
    return text.map((s) => (this.lowercase && typeof s === 'string' ? s.toLowerCase() : s));
  }

  encode(text: string | readonly string[], options?: Omit<EncodeOptions, 'pair'> & { pair?: string | readonly string[] }): Encoding {
    const where = 'CharTokenizer.encode';
    const { pair: _ignored, ...rest } = options ?? {};
    const o = checkEncodeOptions(rest, where);
    const a = this.split(text, where);
    const b = options?.pair === undefined ? undefined : this.split(options.pair, where);
    const specials = o.addSpecialTokens ? (b === undefined ? 2 : 3) : 0;
    const [first, second] =
      o.maxLength === undefined ? [a, b] : truncatePair(a, b, segmentBudget(o.maxLength, specials, where), o.truncation, where);
    const s = this.specials;
    const tokens = o.addSpecialTokens
      ? [s.bos, ...first, ...(second === undefined ? [] : [s.sep, ...second]), s.eos]
      : [...first, ...(second ?? [])];
    // Token types: 0 up to and including the separator (or the first segment), 1 after it.
    const firstSpan = o.addSpecialTokens ? first.length + 2 : first.length;
    return {
      ids: tokens.map((t) => this.ids.get(t) ?? this.unkId),
      tokens,
      tokenTypeIds: tokens.map((_, i) => (i < firstSpan ? 0 : 1)),
    };
  }

  /** The symbols of `ids` (special tokens dropped unless skipSpecialTokens is false). */
  decodeSymbols(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string[] {
    options = optionsObject(options, 'CharTokenizer.decodeSymbols');
    const skip = options.skipSpecialTokens ?? true;
    const out: string[] = [];
    ids.forEach((id, i) => {
      const symbol = this.symbols[checkInt(id, 'CharTokenizer.decode', `ids[${i}]`)];
      if (symbol === undefined)
        throw argumentError('CharTokenizer.decode', `'ids[${i}]' = ${id} is out of range for a vocabulary of ${this.vocabSize}`);
      if (!(skip && id < 5)) out.push(symbol);
    });
    return out;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    options = optionsObject(options, 'CharTokenizer.decode');
    return this.decodeSymbols(ids, options).join('');
  }
}

export interface SubwordTrainOptions {
  /** Target vocabulary size, special tokens included. */
  vocabSize: number;
  /** Lower-case and strip accents (BERT "uncased"); default true. */
  lowercase?: boolean;
  /** Pairs seen fewer times than this are not merged (default 2). */
  minFrequency?: number;
}

export const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

// A BERT-style tokenizer.json (the layout Hugging Face's tokenizers writes for bert-base-uncased)
// around a WordPiece vocabulary: a vocab.txt is turned into this in memory.
export function bertTokenizerJson(vocab: readonly string[], lowercase: boolean): object {
  const ids: Record<string, number> = Object.create(null); // a token may be named __proto__ or constructor
  vocab.forEach((token, i) => {
    if (!(token in ids)) ids[token] = i;
  });
  const idOf = (t: string) => {
    if (!(t in ids)) throw argumentError('SubwordTokenizer.fromVocab', `the vocabulary has no '${t}' token`);
    return ids[t]!;
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIALS.filter((t) => t in ids).map((t) => ({
      id: ids[t],
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [idOf('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [idOf('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

export const BPE_SPECIALS = ['<pad>', '<unk>', '<s>', '</s>'];
const END_OF_WORD = '</w>';

// A BPE tokenizer.json: lower-casing (optional), whitespace/punctuation pre-tokenizer, merges in
// rank order, and the `<s> A </s> B </s>` template.
export function bpeTokenizerJson(
  vocab: readonly string[],
  merges: readonly [string, string][],
  lowercase: boolean,
  suffix: string | null = END_OF_WORD,
): object {
  const ids: Record<string, number> = Object.create(null); // a token may be named __proto__ or constructor
  vocab.forEach((token, i) => {
    if (!(token in ids)) ids[token] = i;
  });
  const special = (t: string, type: number) => ({ SpecialToken: { id: t, type_id: type } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BPE_SPECIALS.map((t) => ({
      id: ids[t],
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: lowercase ? { type: 'Lowercase' } : null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('<s>', 0), { Sequence: { id: 'A', type_id: 0 } }, special('</s>', 0)],
      pair: [
        special('<s>', 0),
        { Sequence: { id: 'A', type_id: 0 } },
        special('</s>', 0),
        { Sequence: { id: 'B', type_id: 1 } },
        special('</s>', 1),
      ],
      special_tokens: Object.fromEntries(['<s>', '</s>'].map((t) => [t, { id: t, ids: [ids[t]], tokens: [t] }])),
    },
    decoder: suffix === null ? null : { type: 'BPEDecoder', suffix },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: suffix,
      fuse_unk: false,
      vocab: ids,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

interface TrainOptions {
  vocabSize: number;
  lowercase: boolean;
  minFrequency: number;
}

function checkTrainOptions(options: SubwordTrainOptions, specials: number, where: string): TrainOptions {
  if (typeof options !== 'object' || options === null) throw argumentError(where, `expected an options object, got ${describe(options)}`);
  const vocabSize = checkInt(options.vocabSize, where, 'vocabSize');
  if (vocabSize <= specials) throw argumentError(where, `'vocabSize' must exceed the ${specials} special tokens, got ${vocabSize}`);
  const lowercase = options.lowercase === undefined ? true : checkBoolean(options.lowercase, where, 'lowercase');
  const minFrequency = options.minFrequency === undefined ? 2 : checkInt(options.minFrequency, where, 'minFrequency');
  if (minFrequency < 1) throw argumentError(where, `'minFrequency' must be at least 1, got ${minFrequency}`);
  return { vocabSize, lowercase, minFrequency };
}

// Word frequencies, the words split by the normalizer and pre-tokenizer of `splitter` (a tokenizer
// of the kind being trained) so that training sees words exactly as encoding will.
function wordCounts(splitter: HFTokenizer, texts: Iterable<string>, where: string): Map<string, number> {
  if (texts === null || typeof (texts as Iterable<string>)?.[Symbol.iterator] !== 'function') {
    throw argumentError(where, `'texts' must be an iterable of strings, got ${describe(texts)}`);
  }
  const counts = new Map<string, number>();
  for (const text of texts) {
    if (typeof text !== 'string') throw argumentError(where, `'texts' must hold strings, got ${describe(text)}`);
    const normalized = splitter.normalizer ? splitter.normalizer(text) : text;
    const words: string[] = splitter.pre_tokenizer ? splitter.pre_tokenizer(normalized) : normalized.split(/\s+/);
    for (const w of words) if (w.length > 0) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

/**
 * The merge loop shared by WordPiece and BPE training: every word starts as its spelled pieces
 * (`spell`), the vocabulary as the specials plus every piece; then the most frequent adjacent pair
 * (counted over word frequencies) is merged into `join(a, b)` everywhere, until the vocabulary has
 * `vocabSize` entries or no pair occurs `minFrequency` times. Ties go to the pair seen first, so
 * training is deterministic. O(merges × words): meant for small corpora.
 */
function learnVocabulary(
  counts: Map<string, number>,
  specials: readonly string[],
  options: TrainOptions,
  scheme: { spell: (word: string) => string[]; join: (a: string, b: string) => string },
): { vocab: string[]; merges: [string, string][] } {
  const words = [...counts].map(([w, count]) => ({ pieces: scheme.spell(w), count }));
  const vocab = [...specials];
  const known = new Set(vocab);
  const merges: [string, string][] = [];
  for (const { pieces } of words)
    for (const p of pieces)
      if (!known.has(p)) {
        known.add(p);
        vocab.push(p);
      }
  while (vocab.length < options.vocabSize) {
    const pairCounts = new Map<string, number>();
    for (const { pieces, count } of words) {
      for (let i = 0; i + 1 < pieces.length; i++) {
        const key = `${pieces[i]}\u0000${pieces[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairCounts)
      if (count > bestCount) {
        best = key;
        bestCount = count;
      }
    if (best === undefined || bestCount < options.minFrequency) break;
    const [a, b] = best.split('\u0000') as [string, string];
    const merged = scheme.join(a, b);
    merges.push([a, b]);
    for (const word of words) {
      const out: string[] = [];
      for (let i = 0; i < word.pieces.length; i++) {
        if (i + 1 < word.pieces.length && word.pieces[i] === a && word.pieces[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(word.pieces[i]!);
      }
      word.pieces = out;
    }
    if (!known.has(merged)) {
      known.add(merged);
      vocab.push(merged);
    }
  }
  return { vocab, merges };
}

/**
 * WordPiece and BPE tokenizers through @huggingface/tokenizers: load a `tokenizer.json` (any model
 * the library supports), a BERT `vocab.txt`, or train a WordPiece or BPE vocabulary on your data. The
 * library encodes; truncation and the pair template are applied here so that `maxLength` counts
 * the special tokens.
 */
export class SubwordTokenizer implements TextTokenizer {
  readonly json: object;
  private readonly hf: HFTokenizer;
  private readonly vocab: Map<string, number>;
  private readonly specialsSingle: number;
  private readonly specialsPair: number;
  readonly padId: number;

  constructor(tokenizerJson: object, tokenizerConfig: object = {}) {
    const where = 'SubwordTokenizer';
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null)
      throw argumentError(where, `'tokenizerJson' must be an object, got ${describe(tokenizerJson)}`);
    try {
      this.hf = new HFTokenizer(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw argumentError(where, `not a valid tokenizer.json: ${(error as Error).message}`);
    }
    this.json = tokenizerJson;
    this.vocab = this.hf.get_vocab(true);
    // Special tokens the post-processor adds, measured rather than assumed (BERT: 2 and 3).
    const count = (pair: string | null, special: boolean) => this.hf.tokenize('a', { text_pair: pair, add_special_tokens: special }).length;
    this.specialsSingle = count(null, true) - count(null, false);
    this.specialsPair = count('a', true) - count('a', false);
    const padding = (tokenizerJson as { padding?: { pad_id?: number } | null }).padding;
    this.padId = padding?.pad_id ?? ['[PAD]', '<pad>', '<|padding|>'].map((t) => this.vocab.get(t)).find((id) => id !== undefined) ?? 0;
  }

  /** Loads a `tokenizer.json` file. */
  static fromFile(path: string): SubwordTokenizer {
    const json = readJsonFile(path, 'SubwordTokenizer.fromFile (tokenizer.json)');
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new TorchError(`SubwordTokenizer.fromFile: ${path} is not a JSON object`, ErrorCode.BAD_DATA);
    }
    try {
      return new SubwordTokenizer(json);
    } catch (error) {
      // The content is refused: say which file holds it.
      if (!(error instanceof TorchError)) throw error;
      throw new TorchError(`SubwordTokenizer.fromFile: ${path}: ${error.message.replace(/^SubwordTokenizer: /, '')}`, ErrorCode.BAD_DATA);
    }
  }

  /** A BERT WordPiece tokenizer from a `vocab.txt` file (one token per line) or a token list. */
  static fromVocab(vocab: string | readonly string[], options: { lowercase?: boolean } = {}): SubwordTokenizer {
    options = optionsObject(options, 'SubwordTokenizer.fromVocab');
    const where = 'SubwordTokenizer.fromVocab';
    let tokens: string[];
    if (typeof vocab === 'string') {
      tokens = readTextFile(vocab, `${where} (vocab.txt)`).split(/\r?\n/);
      if (tokens[tokens.length - 1] === '') tokens.pop();
    } else if (Array.isArray(vocab)) {
      tokens = [...vocab];
    } else {
      throw argumentError(where, `'vocab' must be a vocab.txt path or an array of tokens, got ${describe(vocab)}`);
    }
    const lowercase = options.lowercase === undefined ? true : checkBoolean(options.lowercase, where, 'lowercase');
    return new SubwordTokenizer(bertTokenizerJson(tokens, lowercase));
  }

  /**
   * Trains a BERT-style WordPiece vocabulary on `texts`, as Hugging Face's WordPieceTrainer does:
   * words (split by the library's BERT normalizer and pre-tokenizer) start as characters, non-initial
   * ones prefixed `##`, and the most frequent adjacent pair is merged (see learnVocabulary).
   * Specials: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.
   */
  static trainWordPiece(texts: Iterable<string>, options: SubwordTrainOptions): SubwordTokenizer {
    const where = 'SubwordTokenizer.trainWordPiece';
    const o = checkTrainOptions(options, BERT_SPECIALS.length, where);
    const splitter = new HFTokenizer(bertTokenizerJson(BERT_SPECIALS, o.lowercase), {});
    const { vocab } = learnVocabulary(wordCounts(splitter, texts, where), BERT_SPECIALS, o, {
      spell: (word) => Array.from(word).map((c, i) => (i === 0 ? c : `##${c}`)),
      join: (a, b) => a + b.replace(/^##/, ''),
    });
    return new SubwordTokenizer(bertTokenizerJson(vocab, o.lowercase));
  }

  /**
   * Trains a BPE tokenizer on `texts` (words split on whitespace and punctuation, each ending in
   * the suffix `</w>`, as the original subword-nmt BPE): the merges are learned as for WordPiece
   * (see learnVocabulary) and saved in rank order. Specials: <pad> 0, <unk> 1, <s> 2, </s> 3;
   * a text encodes as `<s> A </s>`, a pair as `<s> A </s> B </s>`.
   */
  static trainBpe(texts: Iterable<string>, options: SubwordTrainOptions): SubwordTokenizer {
    const where = 'SubwordTokenizer.trainBpe';
    const o = checkTrainOptions(options, BPE_SPECIALS.length, where);
    const splitter = new HFTokenizer(bpeTokenizerJson(BPE_SPECIALS, [], o.lowercase), {});
    const { vocab, merges } = learnVocabulary(wordCounts(splitter, texts, where), BPE_SPECIALS, o, {
      spell: (word) => Array.from(word).map((c, i, all) => (i === all.length - 1 ? `${c}${END_OF_WORD}` : c)),
      join: (a, b) => a + b,
    });
    return new SubwordTokenizer(bpeTokenizerJson(vocab, merges, o.lowercase));
  }

  get vocabSize(): number {
    let largest = -1;
    for (const id of this.vocab.values()) largest = Math.max(largest, id);
    return largest + 1;
  }
  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }
  /** The vocabulary in id order (vocab.txt layout). */
  vocabulary(): string[] {
    const out = new Array<string>(this.vocabSize).fill('');
    for (const [token, id] of this.vocab) out[id] = token;
    return out;
  }

  encode(text: string, options?: EncodeOptions): Encoding {
    const where = 'SubwordTokenizer.encode';
    if (typeof text !== 'string') throw argumentError(where, `'text' must be a string, got ${describe(text)}`);
    const o = checkEncodeOptions(options, where);
    const a = this.hf.tokenize(text, { add_special_tokens: false });
    const b = o.pair === undefined ? undefined : this.hf.tokenize(o.pair, { add_special_tokens: false });
    const specials = o.addSpecialTokens ? (b === undefined ? this.specialsSingle : this.specialsPair) : 0;
    const [first, second] =
      o.maxLength === undefined ? [a, b] : truncatePair(a, b, segmentBudget(o.maxLength, specials, where), o.truncation, where);
    const processed = this.hf.post_processor
      ? this.hf.post_processor(first, second ?? null, o.addSpecialTokens)
      : { tokens: [...first, ...(second ?? [])] };
    // Some post-processors (ByteLevel) return the pair apart instead of merged.
    const tokens: string[] = processed.tokens_pair ? [...processed.tokens, ...processed.tokens_pair] : processed.tokens;
    const unk = this.hf.model?.unk_token_id ?? 0;
    const types: number[] =
      processed.token_type_ids ?? tokens.map((_, i) => (second !== undefined && i >= tokens.length - second.length ? 1 : 0));
    return { ids: tokens.map((t) => this.vocab.get(t) ?? unk), tokens, tokenTypeIds: types };
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    options = optionsObject(options, 'SubwordTokenizer.decode');
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }
}
