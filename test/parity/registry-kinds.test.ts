/**
 * Kinds live in their registering .cc and their schema line only: what the rest of the package
 * knows of a kind comes from the registry the addon publishes (mt.registry).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { PYTHON } from '../helpers/reference.ts';

describe("data sets build any registered head's targets from its published layout", () => {
  it('every head publishes a target layout, and the target kinds are exactly the heads', () => {
    const heads = mt.registry.head;
    expect([...mt.data.TARGET_KINDS].sort()).toEqual(Object.keys(heads).sort());
    for (const [kind, entry] of Object.entries(heads)) {
      expect(entry.targets, kind).toBeDefined();
      expect(['int64', 'float32'], kind).toContain(entry.targets!.dtype);
      expect(['none', 'toInputs', 'toTargetLengths'], kind).toContain(entry.targets!.trim);
    }
  });

  it("the tensors a data set holds have the dtype and rank of the head's layout", () => {
    const inputIds = [
      [3, 4, 5],
      [6, 7],
    ];
    const targetsOf: Record<string, mt.data.Target[]> = {
      classification: [1, 0],
      regression: [0.5, -1],
      multiLabel: [
        [1, 0, 1],
        [0, 1, 0],
      ],
      sequence: [
        [4, 5, 2],
        [6, 2],
      ],
      tagging: [
        [1, 2, 0],
        [3, 1],
      ],
    };
    for (const kind of mt.data.TARGET_KINDS) {
      const layout = mt.registry.head[kind]!.targets!;
      // A head added without a case here fails: say what its targets look like.
      expect(targetsOf[kind], `a sample target for head '${kind}'`).toBeDefined();
      const set = mt.data.Dataset.fromArrays({ inputIds, targets: targetsOf[kind]!, targetKind: kind });
      const held = set.tensors();
      expect(held.targets!.dtype, kind).toBe(layout.dtype);
      expect(held.targets!.shape.length, kind).toBe(layout.dims);
      expect(held.targetLengths !== undefined, `${kind}: targetLengths`).toBe(layout.trim === 'toTargetLengths');
      if (layout.trim === 'toInputs') expect(held.targets!.shape[1], kind).toBe(set.maxLength);
      for (const t of Object.values(held)) (t as mt.Tensor | undefined)?.dispose();
      set.dispose();
    }
  });
});

describe('the PyTorch twin implements exactly the registered kinds', () => {
  it('python/multitask_twin.py has a class for every sharing scheme and head of mt.registry, and no other', () => {
    const script = path.join(import.meta.dirname, 'oracles', 'multitask_twin_jobs.py');
    const twin = JSON.parse(execFileSync(PYTHON, [script, '--kinds'], { encoding: 'utf8' })) as { sharing: string[]; head: string[] };
    expect(twin.sharing).toEqual(Object.keys(mt.registry.sharing).sort());
    expect(twin.head).toEqual(Object.keys(mt.registry.head).sort());
  });

  it('the twin refuses a config naming a kind it does not implement, naming the kind', () => {
    const program = [
      'import sys',
      `sys.path.insert(0, ${JSON.stringify(path.join(import.meta.dirname, '..', '..', 'python'))})`,
      'from multitask_twin import MultiTaskTwin',
      'config = {"input": {"vocabSize": 8, "maxLength": 4, "padId": 0, "features": 0}, "encoder": {"numLayers": 1, "dModel": 8, "nhead": 2, "dimFeedforward": 8, "dropout": 0.0},',
      '          "sharing": {"kind": "telepathy"}, "tasks": []}',
      'try:',
      '    MultiTaskTwin(config)',
      'except ValueError as error:',
      '    print(error)',
    ].join('\n');
    expect(execFileSync(PYTHON, ['-c', program], { encoding: 'utf8' })).toContain("no PyTorch twin for the sharing scheme 'telepathy'");
  });
});

describe('mt.nn blocks take their defaults from the native options structs', () => {
  it('a block built without its optional options has the defaults the addon publishes', () => {
    const nn = mt.registry.defaults.nn;
    const layer = new mt.nn.TransformerEncoderLayer({ dModel: 8, nhead: 2 });
    expect(layer.options).toEqual({ dModel: 8, nhead: 2, ...nn.transformerLayer });
    const stack = new mt.nn.TransformerEncoder({ dModel: 8, nhead: 2, numLayers: 1 });
    expect(stack.options).toMatchObject({ ...nn.transformerLayer, ...nn.transformerStack });
    // The defaults are torch.nn's, asked of PyTorch itself (a native struct changed by mistake shows here).
    const torchDefaults = JSON.parse(
      execFileSync(
        PYTHON,
        [
          '-c',
          [
            'import json, torch',
            'l = torch.nn.TransformerEncoderLayer(8, 2)',
            'print(json.dumps({"dimFeedforward": l.linear1.out_features, "dropout": l.dropout.p, "layerNormEps": l.norm1.eps, "normFirst": l.norm_first}))',
          ].join('\n'),
        ],
        { encoding: 'utf8' },
      ),
    );
    expect(nn.transformerLayer).toMatchObject(torchDefaults);
  });
});
