/**
 * Every error mtl-torch throws is a TorchError whose `code` is one of ErrorCode: the list below is
 * complete (a test checks that every code thrown in lib/ and native/ is here).
 */
export const ErrorCode = {
  /** An argument or option refused before any native work (the message names the field). */
  INVALID_ARG: 'ERR_INVALID_ARG',
  /** A tensor or data set used after dispose(). */
  DISPOSED: 'ERR_DISPOSED',
  /** libtorch's own checks, by the kind of c10::Error. */
  TORCH: 'ERR_TORCH',
  TORCH_INDEX: 'ERR_TORCH_INDEX',
  TORCH_VALUE: 'ERR_TORCH_VALUE',
  TORCH_TYPE: 'ERR_TORCH_TYPE',
  TORCH_NOT_IMPLEMENTED: 'ERR_TORCH_NOT_IMPLEMENTED',
  OUT_OF_MEMORY: 'ERR_OUT_OF_MEMORY',
  /** Any other native failure (a C++ exception). */
  NATIVE: 'ERR_NATIVE',
  /** The addon could not be loaded (no build and no prebuild that fits the libtorch found). */
  ADDON_LOAD: 'ERR_ADDON_LOAD',
  /** No libtorch was found (install time). */
  LIBTORCH_NOT_FOUND: 'ERR_LIBTORCH_NOT_FOUND',
  /** A fit, evaluate or step is running on the model: a second job or a change is refused. */
  MODEL_BUSY: 'ERR_MODEL_BUSY',
  /** A loss became NaN or infinite (onNonFinite: 'stop'). */
  NON_FINITE_LOSS: 'ERR_NON_FINITE_LOSS',
  /** A file or folder that does not exist (data, weights, checkpoints, model folders). */
  NOT_FOUND: 'ERR_NOT_FOUND',
  /** A file could not be read or written: permissions, a full disk, a path that is not a regular
   * file (a symbolic link, device or FIFO is never read as a config or replaced by a write). */
  IO: 'ERR_IO',
  /** A model, config or request larger than the limits (mt.limits): layers, widths, parameters, file sizes. */
  TOO_LARGE: 'ERR_TOO_LARGE',
  /** A data file whose content is not what its format says. */
  BAD_DATA: 'ERR_BAD_DATA',
  /**
   * Data-parallel training (mt.distributed): a start-up check failed (world size, backend, device,
   * model or data differing across ranks, an unreachable rendezvous store), or a rank was lost or
   * failed during the run (the message names it), or a collective timed out.
   */
  DISTRIBUTED: 'ERR_DISTRIBUTED',
  /** A pretrained model directory that cannot be used: a pickle checkpoint, an unknown model_type, weights
   * that do not match config.json, a tokenizer larger than the embedding table. */
  BAD_CHECKPOINT: 'ERR_BAD_CHECKPOINT',
  /** Serving (mt.serve): the request queue holds maxQueue inputs already (HTTP 503 with Retry-After). */
  QUEUE_FULL: 'ERR_QUEUE_FULL',
  /** Serving: no answer within requestTimeoutMs (HTTP 504). */
  TIMEOUT: 'ERR_TIMEOUT',
  /** Serving: the server is shutting down and takes no new request (HTTP 503 with Retry-After). */
  DRAINING: 'ERR_DRAINING',
  /** Serving: the client closed the connection before its answer (logged with status 499, never seen by it). */
  CANCELLED: 'ERR_CANCELLED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every error mtl-torch throws: libtorch's (with its short message), bad arguments, bad data. */
export class TorchError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = ErrorCode.TORCH) {
    super(message);
    this.name = 'TorchError';
    this.code = code;
  }
}

/** A bad argument, refused in TypeScript before it reaches native code. */
export function argumentError(where: string, message: string): TorchError {
  return new TorchError(`${where}: ${message}`, ErrorCode.INVALID_ARG);
}
