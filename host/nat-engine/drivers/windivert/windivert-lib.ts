/**
 * The typed koffi binding to the WinDivert 2.x user-mode API.
 *
 * One binding for two libraries with the same exported names: WinDivert.dll
 * on Windows, and on Linux the compat library (compat/, over NFQUEUE) that
 * lets the Windows path run in the lab. The library is loaded lazily, from a
 * folder (`WinDivert.dll` / `libwindivert-compat.so` in it) or a file path.
 *
 * Errors: every call returns a BOOL (or INVALID_HANDLE_VALUE) and leaves the
 * reason in GetLastError(). koffi keeps the thread's last-error value intact
 * across its own work between calls, so `lastError()` right after a failed
 * call on the same thread is exact. The compat library, having no
 * GetLastError, exports `WinDivertCompatGetLastError` (thread-local, like
 * Win32's) and the binding picks it when present.
 *
 * Types: HANDLE is `void *`, which koffi 3 returns as a BigInt (null for
 * NULL). Every buffer parameter is `void *`, so a Buffer or typed array is
 * passed as a pointer to its memory without a copy; the per-packet path
 * therefore reuses a few preallocated buffers and allocates nothing. Every
 * koffi type here is anonymous, so loading twice (jest) never collides on
 * koffi's global type names.
 */

import { basename, dirname, join } from 'node:path';

import type { Koffi } from '../ffi/load-koffi';
import { openLibrary } from '../ffi/open-library';
import { WindivertUnavailableError } from './windivert-errors';

/** A WinDivert HANDLE as koffi returns it. */
export type WindivertHandle = bigint;

/** The file name looked for in a folder: the real DLL on Windows, the compat library elsewhere. */
export const WINDIVERT_LIBRARY_NAME = process.platform === 'win32' ? 'WinDivert.dll' : 'libwindivert-compat.so';

/** The compat library's stand-in for GetLastError(). */
export const COMPAT_LAST_ERROR_SYMBOL = 'WinDivertCompatGetLastError';

/** Where the thread's last error comes from, for a worker thread binding the same library. */
export interface LastErrorSource {
  readonly library: string;
  readonly symbol: string;
}

/**
 * The C signature of WinDivertRecvEx as koffi takes it, shared with the
 * receive worker (windivert-receiver.ts), which binds it on its own thread.
 */
export const RECV_EX_SIGNATURE = {
  name: 'WinDivertRecvEx',
  result: 'int',
  args: ['void *', 'void *', 'uint32_t', 'void *', 'uint64_t', 'void *', 'void *', 'void *'],
} as const;

/** A typed array or Buffer whose memory C reads or writes. */
export type Bytes = Uint8Array | Uint32Array | BigUint64Array;

/** The API, typed; names and argument order are windivert.h's. BOOL results are 0 or 1. */
export interface WindivertLib {
  /** The file that was loaded. */
  readonly library: string;
  /** Its folder (where WinDivert looks for its .sys files). */
  readonly folder: string;
  /** Where `lastError` reads from (for worker threads). */
  readonly lastErrorSource: LastErrorSource;
  WinDivertOpen(filter: string, layer: number, priority: number, flags: number): WindivertHandle | null;
  WinDivertRecvEx(
    handle: WindivertHandle,
    packet: Bytes,
    packetLen: number,
    recvLen: Bytes | null,
    flags: number,
    addr: Bytes,
    addrLen: Bytes | null,
    overlapped: null,
  ): number;
  WinDivertSendEx(
    handle: WindivertHandle,
    packet: Bytes,
    packetLen: number,
    sendLen: Bytes | null,
    flags: number,
    addr: Bytes,
    addrLen: number,
    overlapped: null,
  ): number;
  WinDivertShutdown(handle: WindivertHandle, how: number): number;
  WinDivertClose(handle: WindivertHandle): number;
  WinDivertSetParam(handle: WindivertHandle, param: number, value: number | bigint): number;
  /** Writes the value to `value` (8 bytes: a BigUint64Array(1) or an 8-byte Buffer). */
  WinDivertGetParam(handle: WindivertHandle, param: number, value: Bytes): number;
  WinDivertHelperCalcChecksums(packet: Bytes, packetLen: number, addr: Bytes | null, flags: number): number;
  /**
   * Checks a filter without opening a handle. `errorStr` and `errorPos`
   * are one-element arrays the call fills (`[null]`, `[0]`) on failure.
   */
  WinDivertHelperCompileFilter(filter: string, layer: number, object: Bytes | null, objLen: number, errorStr: (string | null)[] | null, errorPos: number[] | null): number;
  /** 1 if the packet with this address matches the filter; 0 otherwise (lastError() 0: no match, else an error). */
  WinDivertHelperEvalFilter(filter: string, packet: Bytes, packetLen: number, addr: Bytes): number;
  /** GetLastError() of this thread (the compat library's equivalent on Linux). */
  lastError(): number;
}

/** INVALID_HANDLE_VALUE ((HANDLE)-1) as koffi returns it on 64-bit and 32-bit builds, and NULL. */
export function isInvalidHandle(h: WindivertHandle | null | undefined): boolean {
  return h === null || h === undefined || h === 0n || h === 0xffffffffffffffffn || h === 0xffffffffn || h === -1n;
}

/**
 * The library file `path` designates: a file path (ending in .dll, .so or
 * .dylib, or a versioned .so) as is, anything else as a folder holding
 * {@link WINDIVERT_LIBRARY_NAME}. The default folder is the one of the Node
 * executable running algd: a packaged Windows service ships node.exe,
 * algd and WinDivert side by side.
 */
export function resolveWindivertLibrary(path?: string): string {
  if (path === undefined || path === '') return join(dirname(process.execPath), WINDIVERT_LIBRARY_NAME);
  return /\.(dll|dylib|so)(\.\d+)*$/i.test(basename(path)) ? path : join(path, WINDIVERT_LIBRARY_NAME);
}

const cache = new Map<string, WindivertLib>();

/**
 * Loads the library `path` designates (see {@link resolveWindivertLibrary})
 * on first use and binds its functions. Throws
 * {@link WindivertUnavailableError}, naming the file, when it, a function of
 * it, or koffi cannot be loaded.
 */
export function loadWindivertLib(path?: string): WindivertLib {
  const library = resolveWindivertLibrary(path);
  const hit = cache.get(library);
  if (hit) return hit;
  const { koffi, lib, func } = openLibrary(
    library,
    process.platform === 'win32' ? 'install WinDivert 2.x next to algd, or set windivert.path' : 'build the compat library with host/nat-engine/drivers/windivert/compat/build.sh',
    (message, cause) => new WindivertUnavailableError(message, { cause }),
  );
  const fn = (name: string, result: string, args: readonly string[]): never => func<never>(name, result, args);
  const { source, getter } = bindLastError(koffi, lib, library);
  const ptr = 'void *';
  const bound: WindivertLib = {
    library,
    folder: dirname(library),
    lastErrorSource: source,
    WinDivertOpen: fn('WinDivertOpen', ptr, ['const char *', 'int', 'int16_t', 'uint64_t']),
    WinDivertRecvEx: fn(RECV_EX_SIGNATURE.name, RECV_EX_SIGNATURE.result, RECV_EX_SIGNATURE.args),
    WinDivertSendEx: fn('WinDivertSendEx', 'int', [ptr, ptr, 'uint32_t', ptr, 'uint64_t', ptr, 'uint32_t', ptr]),
    WinDivertShutdown: fn('WinDivertShutdown', 'int', [ptr, 'int']),
    WinDivertClose: fn('WinDivertClose', 'int', [ptr]),
    WinDivertSetParam: fn('WinDivertSetParam', 'int', [ptr, 'int', 'uint64_t']),
    WinDivertGetParam: fn('WinDivertGetParam', 'int', [ptr, 'int', ptr]),
    WinDivertHelperCalcChecksums: fn('WinDivertHelperCalcChecksums', 'int', [ptr, 'uint32_t', ptr, 'uint64_t']),
    WinDivertHelperCompileFilter: fn('WinDivertHelperCompileFilter', 'int', ['const char *', 'int', ptr, 'uint32_t', '_Out_ const char **', '_Out_ uint32_t *']),
    WinDivertHelperEvalFilter: fn('WinDivertHelperEvalFilter', 'int', ['const char *', ptr, 'uint32_t', ptr]),
    lastError: getter,
  };
  cache.set(library, bound);
  return bound;
}

type KoffiLib = ReturnType<Koffi['load']>;

/** The compat library's own last-error export if it has one, else kernel32's GetLastError (Windows). */
function bindLastError(koffi: Koffi, lib: KoffiLib, library: string): { source: LastErrorSource; getter: () => number } {
  try {
    const getter = lib.func(COMPAT_LAST_ERROR_SYMBOL, 'uint32_t', []) as () => number;
    return { source: { library, symbol: COMPAT_LAST_ERROR_SYMBOL }, getter };
  } catch {
    // Not the compat library: the real WinDivert.dll, which reports through GetLastError.
  }
  if (process.platform !== 'win32') {
    throw new WindivertUnavailableError(`${library} is not the WinDivert compat library (it lacks ${COMPAT_LAST_ERROR_SYMBOL}); on ${process.platform} only the compat library can be used`);
  }
  const kernel32 = koffi.load('kernel32.dll');
  // __stdcall matters only on 32-bit Windows; WinDivert's own exports are __cdecl.
  const getter = kernel32.func('uint32_t __stdcall GetLastError(void)') as () => number;
  return { source: { library: 'kernel32.dll', symbol: 'GetLastError' }, getter };
}
