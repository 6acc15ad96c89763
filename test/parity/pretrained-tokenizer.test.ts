/**
 * Pair encoding of a model directory's tokenizer files against reference tokenizers written from
 * Hugging Face's algorithms (test/parity/oracles/hf_tokenizers.py: BertTokenizer's basic + WordPiece
 * tokenization from vocab.txt, and a BPE tokenizer.json): input ids, token types and attention mask
 * of a padded batch, as they reach the model through a GLUE data set.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { PYTHON, tempDir } from './oracles/multitask-twin.ts';

const SCRIPT = fileURLToPath(new URL('./oracles/hf_tokenizers.py', import.meta.url));
const GLUE = fileURLToPath(new URL('../fixtures/glue', import.meta.url));
const BPE_FIXTURE = fileURLToPath(new URL('../fixtures/tokenizers/bpe-tokenizer.json', import.meta.url));
const tmp = tempDir('mtl-pretrained-tok-');
afterAll(() => tmp.remove());

interface Encoded {
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
}

function reference(cases: object[]): Encoded[] {
  const input = path.join(tmp.dir, `cases-${Math.random().toString(36).slice(2)}.json`);
  const output = `${input}.out`;
  writeFileSync(input, JSON.stringify(cases));
  execFileSync(PYTHON, [SCRIPT, input, output], { stdio: ['ignore', 'inherit', 'inherit'] });
  return JSON.parse(readFileSync(output, 'utf8'));
}

/** The GLUE fixtures' sentence pairs (MNLI, RTE, MRPC, QQP) and single sentences (SST-2, CoLA). */
function glueTexts(): [string, string | null][] {
  const out: [string, string | null][] = [];
  for (const task of ['mnli', 'rte', 'mrpc', 'qqp', 'sst2', 'cola']) {
    for (const e of mt.data.glue.readExamples(GLUE, task).examples) out.push([e.text, e.pair ?? null]);
  }
  return out;
}

/** A model directory holding `files` and a BERT config with enough rows. */
function modelDir(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [to, from] of Object.entries(files)) copyFileSync(from, path.join(dir, to));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', vocab_size: 5000 }));
  writeFileSync(path.join(dir, 'model.safetensors'), '');
  return dir;
}

/** What the model receives for these pairs through a data set: padded ids, token types, and the mask from lengths. */
function throughDataset(tokenizer: mt.data.TextTokenizer, pairs: [string, string | null][], maxLength: number): Encoded {
  const encodings = pairs.map(([text, pair]) => tokenizer.encode(text, { ...(pair === null ? {} : { pair }), maxLength }));
  const dataset = mt.data.Dataset.fromExamples(
    encodings.map((e) => ({ inputIds: e.ids, tokenTypeIds: e.tokenTypeIds })),
    { targetKind: 'classification', padId: tokenizer.padId, vocabSize: tokenizer.vocabSize },
  );
  const batch = dataset.batch(pairs.map((_, i) => i));
  const lengths = batch.lengths.toArray() as number[];
  const width = batch.inputIds.shape[1]!;
  return {
    input_ids: batch.inputIds.toArray() as number[][],
    token_type_ids: batch.tokenTypeIds!.toArray() as number[][],
    attention_mask: lengths.map((n) => Array.from({ length: width }, (_, i) => (i < n ? 1 : 0))),
  };
}

describe('pair encoding matches the reference tokenizers', () => {
  const pairs = glueTexts();
  const corpus = pairs.flatMap(([a, b]) => (b === null ? [a] : [a, b]));

  it('WordPiece from a vocab.txt (BERT uncased): ids, token types, attention mask', () => {
    const vocabFile = path.join(tmp.dir, 'vocab.txt');
    writeFileSync(
      vocabFile,
      mt.data.SubwordTokenizer.trainWordPiece(corpus, { vocabSize: 300, minFrequency: 1 }).vocabulary().join('\n') + '\n',
    );
    const tokenizer = mt.pretrained.tokenizer(modelDir('wordpiece', { 'vocab.txt': vocabFile }));
    for (const maxLength of [128, 16]) {
      const [expected] = reference([{ kind: 'wordpiece', file: vocabFile, lowercase: true, maxLength, pairs }]);
      expect(throughDataset(tokenizer, pairs, maxLength)).toEqual(expected);
    }
  });

  it('BPE from a tokenizer.json: ids, token types, attention mask', () => {
    const trained = path.join(tmp.dir, 'trained-bpe.json');
    writeFileSync(trained, JSON.stringify(mt.data.SubwordTokenizer.trainBpe(corpus, { vocabSize: 200, minFrequency: 2 }).json));
    for (const file of [BPE_FIXTURE, trained]) {
      const tokenizer = mt.pretrained.tokenizer(modelDir(path.basename(file, '.json'), { 'tokenizer.json': file }));
      const extra: [string, string | null][] = [
        ['lowest newer', 'low new'],
        ['newest', null],
      ];
      const [expected] = reference([{ kind: 'bpe', file, maxLength: 24, pairs: [...pairs, ...extra] }]);
      expect(throughDataset(tokenizer, [...pairs, ...extra], 24)).toEqual(expected);
    }
  });

  it("a GLUE pair task's data set carries the token types to the model", () => {
    const tokenizer = mt.pretrained.tokenizer(modelDir('glue-bert', { 'vocab.txt': path.join(tmp.dir, 'vocab.txt') }));
    const set = mt.data.glue.load(GLUE, 'rte', tokenizer, { maxLength: 64 });
    const batch = set.batch([0, 1]);
    const types = batch.tokenTypeIds!.toArray() as number[][];
    const ids = batch.inputIds.toArray() as number[][];
    const sep = tokenizer.tokenToId('[SEP]');
    for (const [row, rowIds] of ids.entries()) {
      const firstSep = rowIds.indexOf(sep!);
      expect(types[row]!.slice(0, firstSep + 1).every((t) => t === 0)).toBe(true);
      expect(types[row]![firstSep + 1]).toBe(1);
    }
  });
});
