/**
 * Every refusal a library error with a code (issue #25, items 9 and 10): misuses that escaped as
 * TypeError or RangeError, and values that were accepted though they meant nothing.
 */
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';

const refused = (run: () => unknown, message: RegExp) =>
  expect(run).toThrow(expect.objectContaining({ name: 'TorchError', code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) }));

describe("errors that were not the library's", () => {
  it('mt.tidy of a non-function', () => refused(() => mt.tidy(mt.tensor([1]) as never), /tidy: 'fn' must be a function, got Tensor/));

  it('mt.dispose of a deeply nested array walks it without recursion', () => {
    const t = mt.tensor([1, 2]);
    let nested: unknown = t;
    for (let i = 0; i < 200_000; i++) nested = [nested];
    mt.dispose(nested);
    expect(t.isDisposed).toBe(true);
  });

  it('a task named constructor given as a number', () => {
    refused(
      () =>
        mt.multitask({
          input: { vocabSize: 12, maxLength: 6 },
          encoder: { numLayers: 1, dModel: 8, nhead: 2 },
          tasks: { constructor: 3 } as never,
        }),
      /tasks\.constructor/,
    );
  });

  it('metrics.glueTaskScore with odd objects', () => {
    refused(() => mt.metrics.glueTaskScore(Object.create(null), [] as never), /'task' must be one of cola/);
    refused(() => mt.metrics.glueTaskScore('cola', null as never), /'metrics' must be an object/);
  });

  it('objects that only look like a Tensor', () => {
    const fake = Object.create(mt.Tensor.prototype) as mt.Tensor;
    refused(() => mt.dispose([fake]), /not a tensor mt made/);
    refused(() => fake.dispose(), /not a Tensor made by mt/);
    refused(() => mt.tidy(() => fake), /not a tensor mt made/);
    refused(() => mt.nn.functional.mseLoss(fake, mt.tensor([1])), /'input' must be a Tensor.*not a tensor mt made/);
  });
});

describe('values that mean nothing', () => {
  const logits = () => mt.tensor([[0.1, 0.9, 0.3]]);
  const target = () => mt.tensor([1], { dtype: 'int64' });
  it('nllLoss has no labelSmoothing: refused whatever its value', () => {
    for (const value of [NaN, 2, -0.5, 0.1])
      refused(
        () => mt.nn.functional.nllLoss(logits().logSoftmax(1), target(), { labelSmoothing: value } as never),
        /nllLoss: has no 'labelSmoothing'/,
      );
  });
  it('crossEntropy labelSmoothing outside [0, 1)', () => {
    for (const value of [NaN, 2, -0.5, 1])
      refused(() => mt.nn.functional.crossEntropy(logits(), target(), { labelSmoothing: value }), /'labelSmoothing' must be in \[0, 1\)/);
    expect(mt.nn.functional.crossEntropy(logits(), target(), { labelSmoothing: 0.1 }).item()).toBeGreaterThan(0);
  });
  it('t.to({}) names neither a dtype nor a device', () => refused(() => mt.tensor([1]).to({}), /names neither a dtype nor a device/));
});
