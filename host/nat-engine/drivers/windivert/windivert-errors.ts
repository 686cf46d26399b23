/**
 * WinDivert failures as errors an operator can act on.
 *
 * WinDivert reports failures through GetLastError() (Win32 error codes; the
 * Linux compat library reports the same codes through
 * `WinDivertCompatGetLastError`). WinDivertOpen's documented codes each
 * have one usual cause and one fix, so the message names both, plus the
 * folder the driver files were looked for in when that matters.
 */

import { FfiUnavailableError } from '../ffi/ffi-unavailable-error';

/** Win32 error codes WinDivert documents (and a few a DLL load or a call can produce). */
export const WIN32_ERROR = {
  ERROR_FILE_NOT_FOUND: 2,
  ERROR_ACCESS_DENIED: 5,
  ERROR_INVALID_HANDLE: 6,
  ERROR_NOT_ENOUGH_MEMORY: 8,
  ERROR_NOT_SUPPORTED: 50,
  ERROR_INVALID_PARAMETER: 87,
  ERROR_INSUFFICIENT_BUFFER: 122,
  ERROR_MOD_NOT_FOUND: 126,
  ERROR_BAD_EXE_FORMAT: 193,
  ERROR_NO_DATA: 232,
  ERROR_INVALID_IMAGE_HASH: 577,
  ERROR_DRIVER_FAILED_PRIOR_UNLOAD: 654,
  ERROR_OPERATION_ABORTED: 995,
  ERROR_IO_PENDING: 997,
  ERROR_SERVICE_DOES_NOT_EXIST: 1060,
  ERROR_HOST_UNREACHABLE: 1232,
  ERROR_DRIVER_BLOCKED: 1275,
  EPT_S_NOT_REGISTERED: 1753,
} as const;

export type Win32ErrorName = keyof typeof WIN32_ERROR;

const NAMES = new Map<number, Win32ErrorName>(Object.entries(WIN32_ERROR).map(([name, code]) => [code, name as Win32ErrorName]));

/** `ERROR_ACCESS_DENIED (5)`, or `Win32 error 1234` for codes WinDivert does not document. */
export function win32ErrorLabel(code: number): string {
  const name = NAMES.get(code);
  return name === undefined ? `Win32 error ${code}` : `${name} (${code})`;
}

/** What was being done when the error happened, for the message. */
export interface WindivertErrorContext {
  /** The WinDivert function, e.g. `WinDivertOpen`. */
  readonly operation: string;
  /** The folder WinDivert.dll (and so the .sys driver files) was loaded from. */
  readonly driverFolder?: string;
  /** The filter string passed to WinDivertOpen. */
  readonly filter?: string;
}

/**
 * The cause and remedy of `code` in one sentence. Codes of WinDivertOpen's
 * documented list get their documented meaning; others a generic line.
 */
export function explainWindivertError(code: number, ctx: WindivertErrorContext): string {
  const folder = ctx.driverFolder ?? 'the folder of WinDivert.dll';
  switch (code) {
    case WIN32_ERROR.ERROR_FILE_NOT_FOUND:
      return `the WinDivert driver files (WinDivert64.sys, WinDivert32.sys) were not found in ${folder}: put them next to WinDivert.dll, or point windivert.path at the folder that has them`;
    case WIN32_ERROR.ERROR_ACCESS_DENIED:
      return 'access denied: opening WinDivert needs Administrator rights; run algd as an elevated Administrator or as a service (LocalSystem)';
    case WIN32_ERROR.ERROR_INVALID_PARAMETER:
      return `WinDivert rejected the filter, layer, priority or flags${ctx.filter === undefined ? '' : ` (filter: ${ctx.filter})`}; this is a bug in algd's filter generation or a driver that does not support it`;
    case WIN32_ERROR.ERROR_INVALID_IMAGE_HASH:
      return `the WinDivert driver in ${folder} has no valid digital signature: use the signed files of an official WinDivert 2.x release, and check that driver signature enforcement (Secure Boot, HVCI) accepts them`;
    case WIN32_ERROR.ERROR_DRIVER_FAILED_PRIOR_UNLOAD:
      return 'an incompatible version of the WinDivert driver is already loaded (another program uses a different WinDivert version): stop that program, or reboot, so the version shipped with algd can load';
    case WIN32_ERROR.ERROR_SERVICE_DOES_NOT_EXIST:
      return 'the WinDivert driver service is not installed, and the handle was opened with WINDIVERT_FLAG_NO_INSTALL so it was not installed now';
    case WIN32_ERROR.ERROR_DRIVER_BLOCKED:
      return 'Windows blocked the WinDivert driver: security software (antivirus, Memory integrity/HVCI) blocks it, or this virtual machine does not support kernel drivers';
    case WIN32_ERROR.EPT_S_NOT_REGISTERED:
      return 'the Base Filtering Engine service (BFE) is not running; WinDivert needs it: set it to start automatically and start it (services.msc, or `sc config BFE start= auto` then `net start BFE`)';
    case WIN32_ERROR.ERROR_NO_DATA:
      return 'the handle has been shut down and its packet queue is empty';
    case WIN32_ERROR.ERROR_INSUFFICIENT_BUFFER:
      return 'a captured packet is larger than the receive buffer; it was truncated';
    case WIN32_ERROR.ERROR_HOST_UNREACHABLE:
      return 'an impostor packet ran out of TTL/hop limit on reinjection (a packet loop between WinDivert users)';
    case WIN32_ERROR.ERROR_INVALID_HANDLE:
      return 'the WinDivert handle is not valid (already closed)';
    case WIN32_ERROR.ERROR_OPERATION_ABORTED:
      return 'the operation was aborted because the handle was closed';
    case WIN32_ERROR.ERROR_NOT_ENOUGH_MEMORY:
      return 'not enough memory';
    default:
      return 'WinDivert reported an error it does not document for this call';
  }
}

/** A WinDivert call failed; `code` is its GetLastError() value. */
export class WindivertError extends Error {
  override readonly name = 'WindivertError';
  readonly operation: string;

  constructor(
    readonly code: number,
    ctx: WindivertErrorContext,
  ) {
    super(`${ctx.operation} failed: ${explainWindivertError(code, ctx)} [${win32ErrorLabel(code)}]`);
    this.operation = ctx.operation;
  }
}

/** WinDivert (the DLL, the compat library, or koffi under it) cannot be loaded, or the driver is not one this binding speaks. */
export class WindivertUnavailableError extends FfiUnavailableError {
  override readonly name: string = 'WindivertUnavailableError';
}
