/**
 * The package as an install without a local build sees it, for the tests of prebuild selection: a
 * temporary folder holding a copy of lib/ (so the loader's package root is the copy, which has no
 * build/) and links to what else the loader and tsx read. The product's loader has no switch for
 * this; tests load `./lib/index.ts` with this folder as their working directory.
 */
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

export function packageWithoutLocalBuild(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'mtl-no-local-build-'));
  cpSync(path.join(root, 'lib'), path.join(dir, 'lib'), { recursive: true });
  for (const name of ['package.json', 'tsconfig.json', 'node_modules', 'scripts', 'prebuilds']) {
    if (existsSync(path.join(root, name))) symlinkSync(path.join(root, name), path.join(dir, name));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
