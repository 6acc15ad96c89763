/**
 * The module system of mt.nn: every block is a native torch::nn module (native/core/nn) held by a
 * NativeModule; this base class gives them torch.nn's generic methods. Parameter and buffer names
 * are torch.nn's, so a state dict moves between PyTorch and mtl-torch unchanged.
 */
import { argumentError } from '../errors.ts';
import { checkParameterBudget } from '../limits.ts';
import { native, type NativeModule, type NativeModuleBase, type NativeTensor } from '../native.ts';
import type { StateDict } from '../serialization.ts';
import { checkTensor, Tensor } from '../tensor.ts';
import { checkBoolean, checkDevice, checkDtype, describe, type Device, type DType, optionsObject } from '../validate.ts';

export interface LoadStateDictResult {
  /** Module keys absent from the dict (only possible with strict: false). */
  missingKeys: string[];
  /** Dict keys the module does not have (only possible with strict: false). */
  unexpectedKeys: string[];
}

function entries(list: { names: string[]; tensors: NativeTensor[] }): [string, Tensor][] {
  return list.names.map((name, i) => [name, new Tensor(list.tensors[i]!)]);
}

/** An upper bound of a block's parameters and buffer elements, from its validated options. */
function blockParameters(kind: string, o: Record<string, unknown>): number {
  const n = (key: string) => (typeof o[key] === 'number' ? (o[key] as number) : 0);
  const layer = (attentions: number) =>
    attentions * (4 * n('dModel') * n('dModel') + 4 * n('dModel')) +
    2 * n('dModel') * n('dimFeedforward') +
    n('dimFeedforward') +
    6 * n('dModel');
  switch (kind) {
    case 'linear':
      return (n('inFeatures') + 1) * n('outFeatures');
    case 'embedding':
      return n('numEmbeddings') * n('embeddingDim');
    case 'layerNorm':
      return 2 * (o.normalizedShape as number[]).reduce((a, b) => a * b, 1);
    case 'multiheadAttention': {
      const e = n('embedDim');
      return e * (2 * e + n('kdim') + n('vdim')) + 4 * e;
    }
    case 'transformerEncoderLayer':
      return layer(1);
    case 'transformerDecoderLayer':
      return layer(2);
    case 'transformerEncoder':
      return n('numLayers') * layer(1);
    case 'transformerDecoder':
      return n('numLayers') * layer(2);
    default:
      return n('maxLen') * n('dModel'); // positional encodings; dropout has none
  }
}

/**
 * torch.nn.Module's generic methods over a native module: the mt.nn blocks (a native block of a
 * kind) and MultiTaskModel (the native multi-task model) share this one implementation.
 */
export abstract class Module<N extends NativeModuleBase = NativeModule> {
  /** @internal */
  readonly native: N;

  /** A block of native/core/nn (`kind` with validated, complete options), or a native module made elsewhere. */
  protected constructor(kind: string, options: object);
  protected constructor(nativeModule: N);
  protected constructor(kindOrNative: string | N, options?: object) {
    if (typeof kindOrNative === 'string')
      checkParameterBudget(kindOrNative, blockParameters(kindOrNative, options as Record<string, unknown>));
    this.native = (typeof kindOrNative === 'string' ? new native.NativeModule(kindOrNative, options!) : kindOrNative) as N;
  }

  /** Parameters with their torch.nn names ("layers.0.self_attn.in_proj_weight"), in torch's order.
   * The tensors are the module's own: gradients land on them and in-place changes change the module. */
  namedParameters(): [string, Tensor][] {
    return entries(this.native.namedParameters());
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(): [string, Tensor][] {
    return entries(this.native.namedBuffers());
  }

  /** Parameters, then buffers, detached (as torch's state_dict()): they share storage with the module. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) out[name] = t.detach();
    return out;
  }

  /**
   * Copies a state dict into the module (dtype and device converted). Mis-shaped keys always fail;
   * missing and unexpected keys fail when strict (the default); an entry of another kind than the
   * module's (an integer tensor for a floating-point weight) or with NaN or infinite values fails
   * (ERR_BAD_DATA). The error lists every bad key, and a failed load changes nothing.
   */
  loadStateDict(stateDict: StateDict, options: { strict?: boolean } = {}): LoadStateDictResult {
    options = optionsObject(options, 'Module.loadStateDict');
    const where = 'loadStateDict';
    const strict = options.strict === undefined ? true : checkBoolean(options.strict, where, 'strict');
    return this.loadStateDictFrom(stateDict, strict, undefined);
  }

  /**
   * @internal loadStateDict of tensors read from `file` (named in every refusal): the one rule of
   * every weight loader (native/core/nn/state_dict.h entryProblem) applies to each entry.
   */
  protected loadStateDictFrom(stateDict: StateDict, strict: boolean, file: string | undefined): LoadStateDictResult {
    const where = 'loadStateDict';
    if (typeof stateDict !== 'object' || stateDict === null) {
      throw argumentError(where, `'stateDict' must be an object or Map of tensors, got ${describe(stateDict)}`);
    }
    const items = stateDict instanceof Map ? [...stateDict.entries()] : Object.entries(stateDict);
    const names = items.map(([name]) => name);
    const tensors = items.map(([name, t]) => checkTensor(t, where, `stateDict['${name}']`).handle);
    const result =
      file === undefined ? this.native.loadStateDict(names, tensors, strict) : this.native.loadStateDict(names, tensors, strict, file);
    return { missingKeys: result.missing, unexpectedKeys: result.unexpected };
  }

  /** Training mode (dropout active) for this module and every submodule. */
  train(mode = true): this {
    this.native.train(checkBoolean(mode, 'train', 'mode'));
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  get training(): boolean {
    return this.native.isTraining();
  }

  /** Moves parameters and buffers to a device and/or a floating dtype, in place. */
  to(target: Device | DType | { device?: Device; dtype?: DType }): this {
    const where = 'Module.to';
    let device: Device | undefined;
    let dtype: DType | undefined;
    if (typeof target === 'string') {
      if (target === 'cpu' || target.startsWith('cuda')) device = checkDevice(target, where, 'target');
      else dtype = checkDtype(target, where, 'target');
    } else if (typeof target === 'object' && target !== null) {
      device = checkDevice(target.device, where, 'device');
      dtype = checkDtype(target.dtype, where, 'dtype');
    } else {
      throw argumentError(where, `'target' must be a device, a dtype or { device, dtype }, got ${describe(target)}`);
    }
    if (dtype !== undefined && !['float32', 'float64', 'float16', 'bfloat16'].includes(dtype)) {
      throw argumentError(where, `a module's dtype must be a floating type, got ${dtype}`);
    }
    this.native.to(device, dtype);
    return this;
  }

  /** Stops gradients for every parameter, or only those whose name starts with one of `prefixes`. */
  freeze(prefixes?: string[]): this {
    return this.setTrainable(false, prefixes);
  }
  unfreeze(prefixes?: string[]): this {
    return this.setTrainable(true, prefixes);
  }

  /** The number of parameter elements, or only of those that require grad with { trainable: true }. */
  numParameters(options: { trainable?: boolean } = {}): number {
    options = optionsObject(options, 'Module.numParameters');
    const trainable = options.trainable === undefined ? false : checkBoolean(options.trainable, 'numParameters', 'trainable');
    return this.parameters().reduce((sum, t) => sum + (!trainable || t.requiresGrad ? t.numel : 0), 0);
  }

  private setTrainable(value: boolean, prefixes?: string[]): this {
    const where = value ? 'unfreeze' : 'freeze';
    if (prefixes === undefined) {
      this.native.setRequiresGrad(value);
      return this;
    }
    if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== 'string')) {
      throw argumentError(where, `'prefixes' must be an array of strings, got ${describe(prefixes)}`);
    }
    const matched = this.namedParameters().filter(([name]) =>
      prefixes.some((p) => name === p || name.startsWith(p.endsWith('.') ? p : `${p}.`)),
    );
    if (matched.length === 0) throw argumentError(where, `no parameter name starts with ${prefixes.map((p) => `'${p}'`).join(', ')}`);
    for (const [, t] of matched) t.requiresGrad = value;
    return this;
  }

  /** @internal One native forward call of an nn block; results wrapped as tensors. */
  protected call(...args: unknown[]): Tensor {
    return new Tensor((this.native as unknown as NativeModule).forward(...args) as NativeTensor);
  }
}

/** @internal A tensor argument as the native side takes it. */
export function handleOf(t: Tensor | undefined): NativeTensor | undefined {
  return t === undefined ? undefined : t.handle;
}
