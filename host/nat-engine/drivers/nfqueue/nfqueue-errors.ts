import { FfiUnavailableError } from '../ffi/ffi-unavailable-error';

/** libnetfilter_queue (or the FFI layer under it) is not installed or cannot be loaded. */
export class NfqueueUnavailableError extends FfiUnavailableError {
  override readonly name: string = 'NfqueueUnavailableError';
}

/** A libnetfilter_queue or libc call failed; `errno` is the C errno, when there was one. */
export class NfqueueError extends Error {
  override readonly name = 'NfqueueError';
  constructor(
    message: string,
    readonly operation: string,
    readonly errno?: number,
  ) {
    super(message);
  }
}
