/**
 * A WordPiece or BPE tokenizer trained on a run's own text with Hugging Face's `tokenizers` (its Rust
 * trainers, through the npm binding), then cut to the vocabulary size asked for and written in the
 * tokenizer.json layout SubwordTokenizer reads.
 *
 * The binding exposes no trainer options (FACTS.md): it trains up to its default 30,000 tokens, with
 * no special tokens. Its vocabulary is ordered alphabet first (sorted), then the continuing-subword
 * alphabet (WordPiece's `##x`), then each merge's token in the order the merges were learned (the most
 * frequent pair first), as checked in test/unit/own-data.test.ts; so the first N - specials ids are the
 * alphabet and the N most useful merges, and the special tokens go in front.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BPE,
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  lowercase as lowercaseNormalizer,
  whitespacePreTokenizer,
} from 'tokenizers';
import { argumentError } from '../errors.ts';
import { BERT_SPECIALS, BPE_SPECIALS, SubwordTokenizer, bertTokenizerJson, bpeTokenizerJson } from './tokenizers.ts';

export interface TrainTokenizerOptions {
  kind: 'wordPiece' | 'bpe';
  /** Tokens kept, special tokens included. */
  vocabSize: number;
  lowercase: boolean;
}

/** Trains on `texts` (written to a temporary file the trainer reads, removed afterwards). */
export function trainTokenizer(texts: readonly string[], options: TrainTokenizerOptions): SubwordTokenizer {
  const where = 'trainTokenizer';
  const specials = options.kind === 'wordPiece' ? BERT_SPECIALS : BPE_SPECIALS;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize <= specials.length)
    throw argumentError(where, `'vocabSize' must exceed the ${specials.length} special tokens, got ${options.vocabSize}`);
  if (texts.length === 0) throw argumentError(where, 'there is no training text');
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-tokenizer-'));
  try {
    const corpus = path.join(dir, 'corpus.txt');
    // Written a slice at a time: one joined string of a large corpus would double its memory.
    const fd = openSync(corpus, 'w');
    try {
      for (let i = 0; i < texts.length; i += 10_000)
        writeSync(
          fd,
          texts
            .slice(i, i + 10_000)
            .map((t) => t.replace(/[\r\n]+/g, ' ') + '\n')
            .join(''),
        );
    } finally {
      closeSync(fd);
    }
    const trained = new Tokenizer(options.kind === 'wordPiece' ? (WordPiece.empty() as never) : BPE.empty());
    if (options.kind === 'wordPiece') {
      trained.setNormalizer(bertNormalizer({ lowercase: options.lowercase } as never));
      trained.setPreTokenizer(bertPreTokenizer());
    } else {
      if (options.lowercase) trained.setNormalizer(lowercaseNormalizer());
      trained.setPreTokenizer(whitespacePreTokenizer());
    }
    trained.train([corpus]);
    const file = path.join(dir, 'trained.json');
    trained.save(file);
    const model = (
      JSON.parse(readFileSync(file, 'utf8')) as { model: { vocab: Record<string, number>; merges?: ([string, string] | string)[] } }
    ).model;
    const ordered = Object.entries(model.vocab)
      .sort((a, b) => a[1] - b[1])
      .map(([token]) => token)
      .filter((t) => !specials.includes(t));
    const vocab = [...specials, ...ordered.slice(0, options.vocabSize - specials.length)];
    if (options.kind === 'wordPiece') return new SubwordTokenizer(bertTokenizerJson(vocab, options.lowercase));
    const kept = new Set(vocab);
    const merges = (model.merges ?? [])
      .map((m) => (typeof m === 'string' ? (m.split(' ') as [string, string]) : m))
      .filter(([a, b]) => kept.has(a) && kept.has(b) && kept.has(a + b));
    return new SubwordTokenizer(bpeTokenizerJson(vocab, merges, options.lowercase, null));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
