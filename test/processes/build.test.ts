// How the addon is found and loaded: libtorch discovery, the local build, prebuilds, and the errors
// a user sees when something is missing. Each case runs in a child process, as loading is per process.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageWithoutLocalBuild } from '../helpers/no-local-build.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const findScript = path.join(root, 'scripts', 'find-libtorch.cjs');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

// Searching may start Python twice; the children reuse this one search through Torch_DIR.
const found = JSON.parse(execFileSync(process.execPath, [findScript, '--json'], { encoding: 'utf8' }));
const knownTorch = { MTL_TORCH_ONLY_ENV: '1', Torch_DIR: found.torchDir, LIBTORCH: '' };

// The package without build/: the loader there falls through to the prebuilds.
const withoutBuild = packageWithoutLocalBuild();
afterAll(() => withoutBuild.remove());

function runNode(code: string, env: Record<string, string>) {
  return spawnSync(tsx, ['-e', code], {
    cwd: withoutBuild.dir,
    env: { ...process.env, ...knownTorch, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('libtorch discovery', () => {
  it('finds a libtorch and describes it', () => {
    expect(found.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(existsSync(path.join(found.torchDir, 'TorchConfig.cmake'))).toBe(true);
    expect(found.tag).toBe(`torch${found.version}-cxx11abi${found.abi}-${found.cuda ? `cuda${found.cudaVersion}` : 'cpu'}`);
    expect(found.cxxflags[0]).toMatch(/^-D_GLIBCXX_USE_CXX11_ABI=[01]$/);
  });

  it('says what to install when no libtorch is found', () => {
    const result = spawnSync(process.execPath, [findScript], {
      env: { ...process.env, MTL_TORCH_ONLY_ENV: '1', LIBTORCH: '/nonexistent/libtorch', Torch_DIR: '' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no libtorch found');
    expect(result.stderr).toContain('/nonexistent/libtorch');
    expect(result.stderr).toContain('apt-get install libtorch-dev');
  });

  it('refuses an unknown flag', () => {
    const result = spawnSync(process.execPath, [findScript, '--bogus'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown flag --bogus');
  });
});

describe('addon loading', () => {
  const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const hasPrebuild = existsSync(prebuildDir) && readdirSync(prebuildDir).some((f) => f.endsWith('.node'));

  it.skipIf(!hasPrebuild)(
    'loads the prebuild matching the installed libtorch when there is no local build (run `npm run prebuild` to enable)',
    () => {
      const result = runNode("import * as mt from './lib/index.ts'; console.log(JSON.stringify(mt.tensor([1, 2]).add(1).toArray()))", {});
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('[2,3]');
    },
  );

  it('names the libtorch it expected and how to rebuild when nothing loads', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'mtl-prebuilds-'));
    const result = runNode("import './lib/index.ts'", { MTL_TORCH_PREBUILDS: empty });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('no native addon could be loaded');
    expect(result.stderr).toContain('scripts/install.mjs --from-source');
  });

  it('reports why a matching but broken prebuild did not load', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mtl-prebuilds-'));
    const tag = execFileSync(process.execPath, [findScript, '--tag'], { encoding: 'utf8', env: { ...process.env, ...knownTorch } }).trim();
    mkdirSync(path.join(dir, `${process.platform}-${process.arch}`));
    writeFileSync(path.join(dir, `${process.platform}-${process.arch}`, `mtl_torch.napi8-${tag}.node`), 'not a shared object');
    const result = runNode("import './lib/index.ts'", { MTL_TORCH_PREBUILDS: dir });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`libtorch ${tag}`);
    expect(result.stderr).toContain('did not load');
  });
});
