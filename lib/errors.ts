/** Every error mtl-torch throws: libtorch's (with its short message), and bad arguments. */
export class TorchError extends Error {
  /** ERR_INVALID_ARG, ERR_DISPOSED, ERR_TORCH, ERR_TORCH_INDEX, ERR_TORCH_VALUE, ERR_TORCH_TYPE,
   * ERR_OUT_OF_MEMORY, ERR_TORCH_NOT_IMPLEMENTED, ERR_NATIVE, ERR_ADDON_LOAD */
  readonly code: string;
  constructor(message: string, code = 'ERR_TORCH') {
    super(message);
    this.name = 'TorchError';
    this.code = code;
  }
}

/** A bad argument, refused in TypeScript before it reaches native code. */
export function argumentError(where: string, message: string): TorchError {
  return new TorchError(`${where}: ${message}`, 'ERR_INVALID_ARG');
}
