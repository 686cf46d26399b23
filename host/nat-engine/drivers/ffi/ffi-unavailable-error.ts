/** A native library a driver needs (koffi itself, libnetfilter_queue, WinDivert.dll) cannot be loaded. */
export class FfiUnavailableError extends Error {
  override readonly name: string = 'FfiUnavailableError';
}
