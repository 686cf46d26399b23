/** The Windows packet driver: WinDivert 2.x through koffi (and, on Linux, its NFQUEUE-based compat library). */

export { WindivertDriver, ipPacketLength, type WindivertDriverOptions } from './windivert-driver';
export { WindivertAddress, ADDRESS_FLAG, ADDRESS_OFFSET } from './windivert-address';
export { buildWindivertFilter, MAX_FILTER_TESTS, WindivertFilterError } from './windivert-filter';
export { isInvalidHandle, loadWindivertLib, resolveWindivertLibrary, WINDIVERT_LIBRARY_NAME, type WindivertHandle, type WindivertLib } from './windivert-lib';
export { explainWindivertError, win32ErrorLabel, WIN32_ERROR, WindivertError, WindivertUnavailableError } from './windivert-errors';
export * from './windivert-constants';
export { WindivertReceiver, type BatchSource, type ReceiverEvents } from './windivert-receiver';
export { defaultInterfaceIndexResolver, linuxInterfaceIndex, UnknownAdapterError, type InterfaceIndexResolver } from './interface-index';
export { OsLocalAddresses, type LocalAddressBook } from './local-addresses';
export { compatLibraryPath, buildCompatLibrary } from './compat-library';
export type { LogFn, LogLevel } from '../throttled-log';
