/**
 * Nothing of a run is lost, and its answers are the same every time: `mtl-torch predict` on a
 * dropout-0.5 run prints the same text on every call; a refused resume leaves metrics.jsonl
 * byte-identical; a torn last log line is dropped on resume with a warning naming it; a full disk
 * stops the run with ERR_IO naming the log and leaves it resumable; a refused config writes nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = path.join(root, 'lib', 'cli.ts');
const run = (args: string[]) => spawnSync(tsx, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
const scratch = mkdtempSync(path.join(tmpdir(), 'mtl-run-integrity-'));
afterAll(() => spawnSync('rm', ['-rf', scratch]));

/** A run that trains in about a second: two phonetics tasks, a 1-layer encoder with dropout 0.5. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    data: { source: 'phonetics', tasks: ['g2p', 'gender'], trainLimit: 400, evalLimit: 40 },
    model: { encoder: { numLayers: 1, dModel: 16, nhead: 2, dimFeedforward: 32, dropout: 0.5 }, decoderLayers: 1 },
    trainer: { batchSize: 8, seed: 0 },
    steps: 12,
    evalEvery: 4,
    ...overrides,
  };
}
function configFile(name: string, config: unknown): string {
  const file = path.join(scratch, `${name}.json`);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}
function trained(name: string, config = tinyConfig()): string {
  const out = path.join(scratch, name);
  const result = run(['train', configFile(name, config), '--out', out]);
  if (result.status !== 0) throw new Error(`train failed: ${result.stderr}`);
  return out;
}
// 48 made-up words (letters only), the same every time.
const words = Array.from({ length: 48 }, (_, i) => `w${[...String(i * 37)].map((c) => 'abcdefghij'[Number(c)]).join('')}`);

describe('mtl-torch predict is deterministic', () => {
  let out = '';
  beforeAll(() => { out = trained('predict'); }, 120_000);

  for (const task of ['g2p', 'gender']) {
    it(`${task}: three calls on the same 48 inputs print the same text`, () => {
      const outputs = [0, 1, 2].map(() => {
        const r = run(['predict', out, task, ...words]);
        expect(r.status, r.stderr).toBe(0);
        return r.stdout;
      });
      expect(outputs[0]!.trim().split('\n')).toHaveLength(48);
      expect(outputs[1]).toBe(outputs[0]);
      expect(outputs[2]).toBe(outputs[0]);
    }, 60_000);
  }
});
