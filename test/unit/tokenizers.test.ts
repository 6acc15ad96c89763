import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const { CharTokenizer, SubwordTokenizer, truncatePair } = mt.data;
const fixtures = path.join(import.meta.dirname, '..', 'fixtures', 'tokenizers');

describe('CharTokenizer', () => {
  const t = new CharTokenizer({ alphabet: 'abc' });

  it('numbers special tokens first, then the alphabet', () => {
    expect(t.vocabSize).toBe(8);
    expect([t.padId, t.unkId, t.bosId, t.eosId, t.sepId]).toEqual([0, 1, 2, 3, 4]);
    expect(t.tokenToId('a')).toBe(5);
    expect(t.idToToken(7)).toBe('c');
  });

  it('encodes singles and pairs, unknown characters as <unk>', () => {
    expect(t.encode('cab')).toEqual({ ids: [2, 7, 5, 6, 3], tokens: ['<bos>', 'c', 'a', 'b', '<eos>'], tokenTypeIds: [0, 0, 0, 0, 0] });
    expect(t.encode('ax', { pair: 'b' })).toEqual({
      ids: [2, 5, 1, 4, 6, 3],
      tokens: ['<bos>', 'a', 'x', '<sep>', 'b', '<eos>'],
      tokenTypeIds: [0, 0, 0, 0, 1, 1],
    });
    expect(t.encode('ab', { addSpecialTokens: false }).ids).toEqual([5, 6]);
  });

  it('truncates with the special tokens counted', () => {
    expect(t.encode('abcabc', { maxLength: 4 }).tokens).toEqual(['<bos>', 'a', 'b', '<eos>']);
    // Pair budget 7 - 3 = 4 from 5 + 2: longest_first cuts the first segment down to 2.
    expect(t.encode('aaaaa', { pair: 'bb', maxLength: 7 }).tokens.join('')).toBe('<bos>aa<sep>bb<eos>');
    expect(t.encode('aa', { pair: 'bbbbb', maxLength: 6, truncation: 'only_second' }).tokens.join('')).toBe('<bos>aa<sep>b<eos>');
  });

  it('decodes, skipping special tokens unless asked', () => {
    const ids = t.encode('cab').ids;
    expect(t.decode(ids)).toBe('cab');
    expect(t.decode(ids, { skipSpecialTokens: false })).toBe('<bos>cab<eos>');
  });

  it('symbols: builds from a corpus of symbol lists (phonemes), sorted for stability', () => {
    const phonemes = CharTokenizer.fromCorpus([
      ['K', 'AE', 'T'],
      ['D', 'AO', 'G'],
    ]);
    expect(phonemes.symbols.slice(5)).toEqual(['AE', 'AO', 'D', 'G', 'K', 'T']);
    const enc = phonemes.encode(['K', 'AE', 'T']);
    expect(enc.tokens).toEqual(['<bos>', 'K', 'AE', 'T', '<eos>']);
    expect(phonemes.decodeSymbols(enc.ids)).toEqual(['K', 'AE', 'T']);
    expect(CharTokenizer.fromCorpus(['Ab', 'ba'], { lowercase: true }).symbols.slice(5)).toEqual(['a', 'b']);
  });

  it('refuses bad input with the field named', () => {
    expect(() => new CharTokenizer({ alphabet: 5 as never })).toThrow(/'alphabet' must be a string or an array/);
    expect(() => new CharTokenizer({ alphabet: ['a', '<pad>'] })).toThrow(/'<pad>' is both a special token and a symbol/);
    expect(() => t.encode('abc', { maxLength: 1 })).toThrow(/'maxLength' 1 leaves no room for the 2 special tokens/);
    expect(() => t.encode('abc', { maxLength: 0 })).toThrow(/'maxLength' must be positive/);
    expect(() => t.encode('abc', { truncation: 'middle' as never })).toThrow(/'truncation' must be one of 'longest_first'/);
    expect(() => t.encode('a', { pair: 'bbbb', maxLength: 4, truncation: 'only_first' })).toThrow(
      /the second segment alone \(4 tokens\) exceeds maxLength/,
    );
    expect(() => t.decode([99])).toThrow(/'ids\[0\]' = 99 is out of range for a vocabulary of 8/);
    expect(() => t.encode(42 as never)).toThrow(/'text' must be a string or an array of symbols/);
  });
});

describe('truncatePair', () => {
  it('longest_first removes from the longer segment, the second on ties', () => {
    expect(truncatePair([1, 2, 3, 4], [5, 6, 7], 4, 'longest_first')).toEqual([
      [1, 2],
      [5, 6],
    ]);
    expect(truncatePair([1, 2], [3, 4], 3, 'longest_first')).toEqual([[1, 2], [3]]);
    expect(truncatePair([1, 2, 3], undefined, 2, 'longest_first')).toEqual([[1, 2], undefined]);
    expect(truncatePair([1, 2, 3], [4, 5], 3, 'only_first')).toEqual([[1], [4, 5]]);
  });
});

describe('SubwordTokenizer (WordPiece / BPE through @huggingface/tokenizers)', () => {
  it('loads a BERT vocab.txt: lower-cases, splits punctuation, uses ## continuations', () => {
    const wp = SubwordTokenizer.fromVocab(path.join(fixtures, 'vocab.txt'));
    expect(wp.vocabSize).toBe(16);
    expect(wp.padId).toBe(0);
    const enc = wp.encode('The cats sat on a mat.');
    expect(enc.tokens).toEqual(['[CLS]', 'the', 'cat', '##s', 'sat', 'on', 'a', 'mat', '.', '[SEP]']);
    expect(enc.ids).toEqual([2, 5, 6, 10, 7, 8, 14, 9, 13, 3]);
    expect(wp.encode('zebra').tokens).toEqual(['[CLS]', '[UNK]', '[SEP]']);
    expect(wp.decode(wp.encode('The cats sat.').ids)).toBe('the cats sat.');
  });

  it('pair encoding with token types and longest_first truncation', () => {
    const wp = SubwordTokenizer.fromVocab(path.join(fixtures, 'vocab.txt'));
    const full = wp.encode('The dog playing', { pair: 'a cat sat' });
    expect(full.tokens).toEqual(['[CLS]', 'the', 'dog', 'play', '##ing', '[SEP]', 'a', 'cat', 'sat', '[SEP]']);
    expect(full.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    // 4 + 3 tokens into 7 - 3 = 4: the first segment loses two, the second one.
    const cut = wp.encode('The dog playing', { pair: 'a cat sat', maxLength: 7 });
    expect(cut.tokens).toEqual(['[CLS]', 'the', 'dog', '[SEP]', 'a', 'cat', '[SEP]']);
    expect(cut.tokenTypeIds).toEqual([0, 0, 0, 0, 1, 1, 1]);
  });

  it('loads a BPE tokenizer.json and applies its template', () => {
    const bpe = SubwordTokenizer.fromFile(path.join(fixtures, 'bpe-tokenizer.json'));
    expect(bpe.encode('Low lower newest').tokens).toEqual(['<s>', 'low</w>', 'low', 'er</w>', 'new', 'est</w>', '</s>']);
    const pair = bpe.encode('low', { pair: 'newest lowest', maxLength: 6 });
    expect(pair.tokens).toEqual(['<s>', 'low</w>', '</s>', 'new', 'est</w>', '</s>']);
    expect(pair.tokenTypeIds).toEqual([0, 0, 0, 1, 1, 1]);
    expect(bpe.decode(bpe.encode('lower newest').ids)).toBe('lower newest');
  });

  it('trains a WordPiece vocabulary deterministically', () => {
    const corpus = ['the cat sat on the mat', 'the cats sat', 'cats and dogs', 'the dog sat'];
    const a = SubwordTokenizer.trainWordPiece(corpus, { vocabSize: 40 });
    const b = SubwordTokenizer.trainWordPiece(corpus, { vocabSize: 40 });
    expect(a.vocabulary()).toEqual(b.vocabulary());
    expect(a.vocabulary().slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(a.vocabSize).toBeLessThanOrEqual(40);
    expect(a.encode('The cats sat').tokens).toEqual(['[CLS]', 'the', 'cats', 'sat', '[SEP]']);
    // A word never seen is spelled from the learned pieces; one whose first letter never starts a
    // word is unknown, as in WordPiece.
    expect(a.encode('sad').tokens.slice(1, -1)).toEqual(['s', '##a', '##d']);
    expect(a.encode('hat').tokens.slice(1, -1)).toEqual(['[UNK]']);
    // A smaller budget stops merging earlier.
    expect(SubwordTokenizer.trainWordPiece(corpus, { vocabSize: 22 }).vocabSize).toBe(22);
  });

  it('trains a BPE tokenizer (end-of-word suffix, ranked merges, <s> template)', () => {
    const corpus = ['the cat sat on the mat', 'the cats sat', 'cats and dogs', 'the lowest newest'];
    const bpe = SubwordTokenizer.trainBpe(corpus, { vocabSize: 40 });
    expect(bpe.vocabulary().slice(0, 4)).toEqual(['<pad>', '<unk>', '<s>', '</s>']);
    expect(bpe.padId).toBe(0);
    const json = bpe.json as { model: { merges: string[] } };
    // 'th' occurs 4 times: the first merge; 'the</w>' next.
    expect(json.model.merges.slice(0, 2)).toEqual(['t h', 'th e</w>']);
    const enc = bpe.encode('The cats sat', { pair: 'on dogs' });
    expect(enc.tokens.slice(0, 5)).toEqual(['<s>', 'the</w>', 'cats</w>', 'sat</w>', '</s>']);
    expect(enc.tokenTypeIds.slice(4, 6)).toEqual([0, 1]);
    expect(bpe.decode(bpe.encode('the cats sat').ids)).toBe('the cats sat');
    expect(SubwordTokenizer.trainBpe(corpus, { vocabSize: 40 }).vocabulary()).toEqual(bpe.vocabulary());
    expect(() => SubwordTokenizer.trainBpe(corpus, { vocabSize: 4 })).toThrow(/'vocabSize' must exceed the 4 special tokens/);
    expect(() => SubwordTokenizer.trainBpe(5 as never, { vocabSize: 40 })).toThrow(/'texts' must be an iterable of strings/);
    expect(() => SubwordTokenizer.trainBpe(corpus, { vocabSize: 40, minFrequency: 0 })).toThrow(/'minFrequency' must be at least 1/);
  });

  it('refuses bad input with the field named', () => {
    expect(() => SubwordTokenizer.fromFile(path.join(fixtures, 'missing.json'))).toThrow(
      expect.objectContaining({
        code: 'ERR_NOT_FOUND',
        message: expect.stringMatching(/tokenizer\.json.*cannot read '.*missing\.json': no such file/),
      }),
    );
    expect(() => SubwordTokenizer.fromVocab(path.join(fixtures, 'missing.txt'))).toThrow(
      expect.objectContaining({
        code: 'ERR_NOT_FOUND',
        message: expect.stringMatching(/vocab\.txt.*cannot read '.*missing\.txt': no such file/),
      }),
    );
    // Only a regular file is read: a folder is refused, not read as an empty vocabulary.
    expect(() => SubwordTokenizer.fromVocab(fixtures)).toThrow(
      expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/not a regular file \(a folder\)/) }),
    );
    const notJson = path.join(mkdtempSync(path.join(tmpdir(), 'mtl-tok-')), 'tokenizer.json');
    writeFileSync(notJson, '{"model": ');
    expect(() => SubwordTokenizer.fromFile(notJson)).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_DATA', message: expect.stringMatching(/is not valid JSON/) }),
    );
    expect(() => SubwordTokenizer.fromVocab(['a', 'b'])).toThrow(/the vocabulary has no '\[CLS\]' token/);
    expect(() => new SubwordTokenizer({ model: {} })).toThrow(/not a valid tokenizer.json/);
    expect(() => SubwordTokenizer.trainWordPiece(['a'], { vocabSize: 3 })).toThrow(/'vocabSize' must exceed the 5 special tokens/);
    const wp = SubwordTokenizer.fromVocab(path.join(fixtures, 'vocab.txt'));
    expect(() => wp.encode(5 as never)).toThrow(/'text' must be a string/);
    expect(() => wp.encode('the cat', { pair: 'a', maxLength: 2 })).toThrow(/leaves no room for the 3 special tokens/);
  });
});
