/**
 * One validation edge: the schemas and the native registry agree (every registered kind has a
 * schema, every default comes from the registry), the run config's JSON Schema shipped in configs/
 * is the one the schemas generate, and every error code thrown anywhere is in mt.ErrorCode.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { runConfigJsonSchema } from '../../lib/run/config.ts';

const root = path.join(import.meta.dirname, '..', '..');

function files(dir: string, extensions: string[]): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return files(full, extensions);
    return extensions.some((e) => name.endsWith(e)) ? [full] : [];
  });
}

describe('the native registry behind the schemas', () => {
  it('lists every kind of every concept with its defaults and capabilities', () => {
    expect(Object.keys(mt.registry.weighting).sort()).toEqual([
      'cagrad',
      'dwa',
      'equal',
      'famo',
      'fixed',
      'gcs',
      'gradNorm',
      'metaBalance',
      'nashMtl',
      'olAux',
      'oneSidedProjection',
      'pcgrad',
      'sigmoidLoss',
      'uncertainty',
    ]);
    expect(Object.keys(mt.registry.sharing).sort()).toEqual(['adapters', 'fullyShared', 'layerwise', 'lora', 'mmoe', 'sharedEncoder']);
    expect(Object.keys(mt.registry.head).sort()).toEqual(['classification', 'multiLabel', 'regression', 'sequence', 'tagging']);
    expect(Object.keys(mt.registry.strategy).sort()).toEqual(['alternating', 'joint', 'progressive']);
    expect(Object.keys(mt.registry.sampler).sort()).toEqual(['proportional', 'roundRobin', 'temperature', 'uniform']);
    expect(mt.registry.head.sequence!.capabilities).toMatchObject({
      mainMetric: 'per',
      metrics: { per: 'min', wer: 'min' },
      generates: true,
    });
    expect(mt.registry.sharing.adapters!.defaults).toEqual({ reduction: 8, placement: 'houlsby', freezeBackbone: false });
  });

  it('factories fill the registry defaults, and a spec fills them for every part', () => {
    expect(mt.sharing.lora()).toEqual({ kind: 'lora', rank: 8, alpha: 16, targets: ['q', 'v'], freezeBackbone: false });
    expect(mt.tasks.sequence({ vocabSize: 10, maxLength: 5 })).toEqual({
      kind: 'sequence',
      vocabSize: 10,
      maxLength: 5,
      decoderLayers: 2,
      bosId: 1,
      eosId: 2,
      padId: 0,
      labelSmoothing: 0,
      ignoreIndex: -100,
    });
    const model = mt.multitask({
      input: { vocabSize: 5, maxLength: 4 },
      encoder: { numLayers: 1, dModel: 8, nhead: 2 },
      tasks: { t: { kind: 'regression' } as never },
    });
    expect(model.config.encoder).toEqual({
      numLayers: 1,
      dModel: 8,
      nhead: 2,
      dimFeedforward: 32,
      dropout: 0.1,
      activation: 'relu',
      normFirst: false,
      layerNormEps: 1e-5,
      attentionDropout: 0.1,
      activationDropout: 0.1,
      positions: 'sinusoidal',
      positionOffset: 0,
      typeVocabSize: 0,
      embeddingNorm: false,
      embeddingSize: 0,
      pooler: false,
    });
    expect(model.config.sharing).toEqual({ kind: 'sharedEncoder' });
    expect(model.config.tasks).toEqual([{ name: 't', kind: 'regression', decoderLayers: 0, pooling: 'mean' }]);
  });
});

describe('the run config JSON Schema', () => {
  it('configs/run-config.schema.json is the one the schemas generate (regenerate with `mtl-torch schema`)', () => {
    const shipped = JSON.parse(readFileSync(path.join(root, 'configs', 'run-config.schema.json'), 'utf8'));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(runConfigJsonSchema())));
  });

  it('carries the native defaults, so editors show them', () => {
    const schema = runConfigJsonSchema() as { properties: { trainer: { properties: Record<string, { default?: unknown }> } } };
    expect(schema.properties.trainer.properties.batchSize!.default).toBe(32);
  });
});

describe('error codes', () => {
  it('every code thrown in lib/ and native/ is listed in mt.ErrorCode', () => {
    const listed = new Set(Object.values(mt.ErrorCode));
    const thrown = new Set<string>();
    for (const file of [
      ...files(path.join(root, 'lib'), ['.ts']),
      ...files(path.join(root, 'native'), ['.cc', '.h']),
      path.join(root, 'scripts', 'find-libtorch.cjs'),
    ]) {
      for (const match of readFileSync(file, 'utf8').matchAll(/'(ERR_[A-Z_]+)'|"(ERR_[A-Z_]+)"/g)) thrown.add(match[1] ?? match[2]!);
    }
    expect(thrown.size).toBeGreaterThan(5);
    for (const code of thrown) expect(listed.has(code as mt.ErrorCode), code).toBe(true);
  });
});
