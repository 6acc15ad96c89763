/**
 * Every ```ts block of README.md and docs/*.md runs: each is written to its own file (its
 * `from 'mtl-torch'` pointing at lib/index.ts) and executed by tsx in a child process, from the
 * repository's root as a reader's shell would be (paths such as test/fixtures/... resolve); it must
 * exit 0 and leave the repository's files as they were. A block opts out only with `<!-- not run: <reason> -->` on the line(s)
 * just before its fence; the opted-out blocks are listed, each with its reason.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const library = pathToFileURL(path.join(root, 'lib', 'index.ts')).href;
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

interface Block {
  file: string;
  line: number;
  code: string;
  notRun?: string;
}

/** The ```ts (or ```typescript) blocks of a Markdown file, indentation removed, with any opt-out marker before each. */
export function tsBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++)
      body.push(lines[i]!.slice(Math.min(indent, lines[i]!.length - lines[i]!.trimStart().length)));
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: a \`\`\`ts block that never closes`);
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? /<!--\s*not run:\s*(.*?)\s*-->/.exec(lines[before]!) : null;
    blocks.push({ file, line: start + 1, code: body.join('\n'), ...(marker ? { notRun: marker[1]! } : {}) });
  }
  return blocks;
}

/** The work tree's changed and untracked files (git status), to catch a block writing into the repository. */
function repositoryState(): string {
  return spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: root, encoding: 'utf8' }).stdout;
}

const files = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => path.join('docs', f)),
];
const blocks = files.flatMap((file) => tsBlocks(file, readFileSync(path.join(root, file), 'utf8')));
const work = mkdtempSync(path.join(tmpdir(), 'mtl-doc-blocks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the TypeScript blocks of README.md and docs/ run', () => {
  it('finds the blocks (the extractor reads fences, indented ones and opt-outs)', () => {
    expect(blocks.filter((b) => b.notRun === undefined).length).toBeGreaterThan(0);
    const sample = tsBlocks(
      'x.md',
      [
        'a',
        '<!-- not run: needs a download -->',
        '',
        '  ```ts',
        '  const a = 1;',
        '    const b = 2;',
        '  ```',
        '```ts',
        'x();',
        '```',
      ].join('\n'),
    );
    expect(sample).toEqual([
      { file: 'x.md', line: 4, code: 'const a = 1;\n  const b = 2;', notRun: 'needs a download' },
      { file: 'x.md', line: 8, code: 'x();' },
    ]);
  });

  it('lists the blocks that opt out, each with a reason', () => {
    const optedOut = blocks.filter((b) => b.notRun !== undefined);
    if (optedOut.length > 0) console.log(`doc blocks not run:\n${optedOut.map((b) => `  ${b.file}:${b.line}: ${b.notRun}`).join('\n')}`);
    for (const b of optedOut) expect(b.notRun!.length, `${b.file}:${b.line}: a 'not run' marker needs a reason`).toBeGreaterThan(10);
  });

  for (const block of blocks.filter((b) => b.notRun === undefined)) {
    it(`${block.file}:${block.line}`, () => {
      const dir = mkdtempSync(path.join(work, 'block-'));
      const script = path.join(dir, 'block.mts');
      writeFileSync(script, block.code.replace(/from\s+(['"])mtl-torch\1/g, `from '${library}'`));
      const before = repositoryState();
      const run = spawnSync(tsx, [script], {
        cwd: root,
        encoding: 'utf8',
        timeout: 170_000,
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      });
      expect(run.error, `${block.file}:${block.line}`).toBeUndefined();
      expect(run.status, `${block.file}:${block.line} exited with ${run.status} ${run.signal ?? ''}:\n${run.stderr}`).toBe(0);
      expect(repositoryState(), `${block.file}:${block.line} wrote into the repository (write under os.tmpdir())`).toBe(before);
    }, 180_000);
  }
});
