/**
 * WinDivert 2.x API constants, as windivert.h defines them. Plain numbers:
 * they travel through koffi as C integers and through workerData.
 */

/** `WINDIVERT_LAYER`: where a handle captures. algd uses only NETWORK (see windivert-driver.ts). */
export const WINDIVERT_LAYER = {
  NETWORK: 0,
  NETWORK_FORWARD: 1,
  FLOW: 2,
  SOCKET: 3,
  REFLECT: 4,
} as const;

/** `WINDIVERT_EVENT_NETWORK_PACKET`, the only event of the network layers. */
export const WINDIVERT_EVENT_NETWORK_PACKET = 0;

/** `WinDivertOpen` flags. */
export const WINDIVERT_FLAG = {
  SNIFF: 0x0001,
  DROP: 0x0002,
  RECV_ONLY: 0x0004,
  SEND_ONLY: 0x0008,
  NO_INSTALL: 0x0010,
  FRAGMENTS: 0x0020,
} as const;

/** `WINDIVERT_PARAM`: handle parameters for WinDivertSetParam / WinDivertGetParam. */
export const WINDIVERT_PARAM = {
  QUEUE_LENGTH: 0,
  QUEUE_TIME: 1,
  QUEUE_SIZE: 2,
  VERSION_MAJOR: 3,
  VERSION_MINOR: 4,
} as const;

/** `WINDIVERT_SHUTDOWN`: what WinDivertShutdown stops. */
export const WINDIVERT_SHUTDOWN = {
  RECV: 0x1,
  SEND: 0x2,
  BOTH: 0x3,
} as const;

/** Limits from windivert.h. */
export const WINDIVERT_PRIORITY_HIGHEST = 30000;
export const WINDIVERT_PRIORITY_LOWEST = -30000;
export const WINDIVERT_QUEUE_LENGTH_MIN = 32;
export const WINDIVERT_QUEUE_LENGTH_MAX = 16384;
export const WINDIVERT_QUEUE_TIME_MIN = 100;
export const WINDIVERT_QUEUE_TIME_MAX = 16000;
/** Most packets one WinDivertRecvEx / WinDivertSendEx call moves. */
export const WINDIVERT_BATCH_MAX = 255;
/** Largest packet WinDivert hands out (40 + 0xFFFF: an IPv6 header plus a maximal payload). */
export const WINDIVERT_MTU_MAX = 40 + 0xffff;
/** sizeof(WINDIVERT_ADDRESS). */
export const WINDIVERT_ADDRESS_SIZE = 80;

/** The driver major version this binding speaks (WINDIVERT_PARAM_VERSION_MAJOR). */
export const WINDIVERT_SUPPORTED_MAJOR = 2;

/** `WinDivertHelperCalcChecksums` flags: checksums to leave alone. */
export const WINDIVERT_HELPER_NO = {
  IP_CHECKSUM: 1,
  ICMP_CHECKSUM: 2,
  ICMPV6_CHECKSUM: 4,
  TCP_CHECKSUM: 8,
  UDP_CHECKSUM: 16,
} as const;
