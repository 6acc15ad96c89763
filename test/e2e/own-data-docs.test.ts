// docs/own-data.md: its TypeScript block runs against a run of the example config it shows (fewer
// steps), and the run config it prints is the shipped one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { trainRun } from '../../lib/run/run.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const doc = readFileSync(path.join(root, 'docs', 'own-data.md'), 'utf8');
const blocksOf = (text: string, lang: string) => [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
const blocks = (lang: string) => blocksOf(doc, lang);
// README's own-data section shows the predictor too, on the same run.
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const readmeBlock = blocksOf(readme.slice(readme.indexOf('## Your own data')), 'ts')[0]!;

it('shows the shipped run config', () => {
  const shipped = JSON.parse(readFileSync(path.join(root, 'examples', 'support-tickets', 'run.json'), 'utf8'));
  expect(JSON.parse(blocks('json')[0]!)).toEqual(shipped);
});

it('its TypeScript block runs on a trained run of the example', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-own-data-doc-'));
  const config = JSON.parse(readFileSync(path.join(root, 'examples', 'support-tickets', 'run.json'), 'utf8'));
  config.steps = 40;
  config.evalEvery = 20;
  delete config.baselines;
  config.threads = 1;
  const file = path.join(dir, 'run.json');
  writeFileSync(file, JSON.stringify(config));
  mkdirSync(path.join(dir, 'runs'));
  await trainRun(file, path.join(dir, 'runs', 'tickets'));
  const [code] = blocks('ts');
  const run = (source: string, name: string) => {
    const script = path.join(dir, name);
    writeFileSync(script, source.replace("from 'mtl-torch'", `from ${JSON.stringify(path.join(root, 'lib', 'index.ts'))}`));
    return execFileSync(path.join(root, 'node_modules', '.bin', 'tsx'), [script], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  };
  const out = run(code!, 'block.mts');
  expect(out).toContain("'category: classification'");
  for (const printed of [out, run(readmeBlock, 'readme-block.mts')]) {
    expect(printed).toMatch(/label: '(billing|hardware|login|network|shipping)'/);
    expect(printed).toMatch(/value: -?\d/);
    expect(printed).toMatch(/labels: \[/);
  }
}, 300_000);
