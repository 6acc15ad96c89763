// `npm run format:check`: Prettier over the TypeScript and scripts, clang-format over native/ (dry run,
// warnings are errors). Changes nothing; exits non-zero on the first tool that finds a difference.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const prettier = path.join(root, 'node_modules', '.bin', 'prettier');
const prettierStatus = run(prettier, ['--check', 'lib', 'scripts', 'test', 'vitest.config.ts', 'eslint.config.js']);

const probe = spawnSync('clang-format', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error('format:check: clang-format is not installed (Debian: apt-get install clang-format)');
  process.exit(1);
}
const native = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'native'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((file) => /\.(cc|h)$/.test(file));
const clangStatus = run('clang-format', ['--dry-run', '-Werror', ...native]);
process.exit(prettierStatus || clangStatus);
