// Reading + tokenizing a large CSV through the files data source: generates N rows (two text columns,
// three label columns: a class, a value, multi-labels) and times mt.data.fromFiles over them (the
// tokenizer trained on the text with Hugging Face's tokenizers, then every row encoded once for the
// three tasks, data sets built). Run under /usr/bin/time -v for the peak RSS:
//   /usr/bin/time -v npx tsx scripts/bench/files-read.ts [rows, default 1000000]
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as mt from '../../lib/index.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'mtl-files-bench-'));
const file = path.join(dir, 'big.csv');
const WORDS = [
  'printer',
  'invoice',
  'login',
  'password',
  'vpn',
  'parcel',
  'refund',
  'screen',
  'urgent',
  'slow',
  'broken',
  'again',
  'please',
  'today',
  'account',
];
let state = 1;
const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
const sentence = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');

const written = performance.now();
await new Promise<void>((resolve, reject) => {
  const out = createWriteStream(file);
  out.on('error', reject);
  out.write('subject,body,category,score,tags\n');
  let i = 0;
  const more = () => {
    let ok = true;
    while (i < rows && ok) {
      const tags = ['a', 'b', 'c'].filter(() => random() < 0.3).join('|') || 'none';
      ok = out.write(`"${sentence(4)}","${sentence(12)}, ${i}",c${i % 5},${random().toFixed(3)},"${tags}"\n`);
      i++;
    }
    if (i < rows) out.once('drain', more);
    else out.end(resolve);
  };
  more();
});
console.log(`wrote ${rows} rows (${(statSync(file).size / 1e6).toFixed(1)} MB) in ${((performance.now() - written) / 1000).toFixed(1)} s`);

const started = performance.now();
const task = (label: string, kind?: 'regression' | 'multiLabel') => ({
  train: file,
  split: { dev: 0.01 },
  text: 'subject',
  pair: 'body',
  label,
  ...(kind ? { kind } : {}),
});
const data = await mt.data.fromFiles(
  { category: task('category'), score: task('score', 'regression'), tags: task('tags', 'multiLabel') },
  { tokenizer: { train: { kind: 'wordPiece', vocabSize: 2000 } }, maxLength: 48 },
);
const seconds = (performance.now() - started) / 1000;
console.log(
  `read + tokenizer training + encoding + data sets: ${seconds.toFixed(1)} s, ${Math.round(rows / seconds)} rows/s; train rows ${data.tasks.category!.train.size}, dev rows ${data.tasks.category!.dev.size}`,
);
rmSync(dir, { recursive: true, force: true });
