/**
 * The size limits a model or block is checked against before anything is allocated (a typo such as
 * `dModel: 65536` with 256 layers is refused with ERR_TOO_LARGE instead of allocating until memory
 * runs out). `maxParameters` counts parameters and buffer elements; default 2·10⁹ (8 GB of float32
 * weights, about 32 GB to train with AdamW). MTL_TORCH_MAX_PARAMETERS or mt.setLimits changes it.
 */
import { argumentError, ErrorCode, TorchError } from './errors.ts';

const DEFAULT_MAX_PARAMETERS = 2e9;

function fromEnvironment(value: string | undefined, fallback: number): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

export const limits = { maxParameters: fromEnvironment(process.env.MTL_TORCH_MAX_PARAMETERS, DEFAULT_MAX_PARAMETERS) };

/** Changes the limits (mt.limits): `maxParameters`, a positive integer. */
export function setLimits(options: { maxParameters?: number }): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw argumentError('setLimits', `expected an object, got ${options === null ? 'null' : typeof options}`);
  }
  const { maxParameters, ...rest } = options;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw argumentError('setLimits', `'${unknown[0]}' is not a limit (maxParameters)`);
  if (maxParameters !== undefined) {
    if (!Number.isSafeInteger(maxParameters) || maxParameters < 1)
      throw argumentError('setLimits', `'maxParameters' must be an integer > 0, got ${String(maxParameters)}`);
    limits.maxParameters = maxParameters;
  }
}

/** Refuses (ERR_TOO_LARGE) something of about `parameters` parameters above limits.maxParameters. */
export function checkParameterBudget(where: string, parameters: number): void {
  if (!(parameters <= limits.maxParameters)) {
    throw new TorchError(
      `${where}: it would have about ${parameters.toExponential(2)} parameters, more than the limit of ${limits.maxParameters} (mt.setLimits({ maxParameters }) or MTL_TORCH_MAX_PARAMETERS raise it)`,
      ErrorCode.TOO_LARGE,
    );
  }
}
