/**
 * The few libc calls the nfqueue socket needs that libnetfilter_queue does
 * not wrap: a non-blocking `recv` (so a drain never blocks the event loop),
 * the receive-buffer size, and an eventfd that wakes the readiness watcher
 * when the socket closes. Linux x86-64/arm64 values; this driver is Linux only.
 */

import { loadKoffi } from '../ffi/load-koffi';
import { NfqueueUnavailableError } from './nfqueue-errors';

export const LIBC_LIBRARY = 'libc.so.6';

export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const POLLIN = 0x001;

export interface Libc {
  /** `buf` is an address as a plain number (see nfqueue-lib.ts, Address). */
  recv(fd: number, buf: number, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, valueLen: number): number;
  eventfd(initial: number, flags: number): number;
  write(fd: number, buf: Buffer, len: number): number;
  close(fd: number): number;
  errno(): number;
}

let cached: Libc | undefined;

/** libc, bound on first use. */
export function loadLibc(): Libc {
  if (cached) return cached;
  const koffi = loadKoffi();
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(LIBC_LIBRARY);
  } catch (err) {
    throw new NfqueueUnavailableError(`${LIBC_LIBRARY} cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  cached = {
    recv: lib.func('recv', 'intptr_t', ['int', 'uintptr_t', 'size_t', 'int']),
    setsockopt: lib.func('setsockopt', 'int', ['int', 'int', 'int', 'void *', 'uint32_t']),
    eventfd: lib.func('eventfd', 'int', ['uint32_t', 'int']),
    write: lib.func('write', 'intptr_t', ['int', 'void *', 'size_t']),
    close: lib.func('close', 'int', ['int']),
    errno: () => koffi.errno(),
  };
  return cached;
}
