/**
 * The typed koffi binding to libnetfilter_queue's classic `nfq_*` API.
 *
 * Why the classic API and not the newer `nfq_nlmsg_*` (libmnl) one: the
 * libmnl API leaves socket handling, message building and attribute parsing
 * to the caller, which through FFI means many more calls per packet and
 * hand-built netlink headers in JS. The classic API does the netlink work
 * in C: `nfq_handle_packet` parses a received message in place and calls
 * one registered callback per packet, and `nfq_set_verdict[_batch]` builds
 * and sends the verdict. Both are stable since libnetfilter_queue 1.0.
 *
 * Pointers: handles are `void *`, which koffi 3 gives as BigInt. Pointers
 * the per-packet path handles (the message buffer, `nfq_data`, header and
 * payload addresses) are declared `uintptr_t` instead and travel as plain
 * numbers ({@link Address}): on 64-bit Linux a user address is below 2^48,
 * so a double holds it exactly, and the hot path allocates no BigInt.
 * Every type is anonymous, so loading this module twice (jest's module
 * registry) never collides on koffi's global type names. How the socket is
 * driven from Node's event loop is explained in nfqueue-socket.ts.
 */

import { openLibrary } from '../ffi/open-library';
import { NfqueueUnavailableError } from './nfqueue-errors';

export { NfqueueUnavailableError } from './nfqueue-errors';

/** The shared object the binding loads (Debian: package libnetfilter-queue1). */
export const NFQUEUE_LIBRARY = 'libnetfilter_queue.so.1';

/** linux/netfilter.h verdicts. */
export const NF_DROP = 0;
export const NF_ACCEPT = 1;

/** linux/netfilter/nfnetlink_queue.h: copy the packet, not just metadata. */
export const NFQNL_COPY_PACKET = 2;
/** Queue configuration flags (`nfq_set_queue_flags`). */
export const NFQA_CFG_F_FAIL_OPEN = 1 << 0;
export const NFQA_CFG_F_GSO = 1 << 2;
/**
 * Packet info flags (`nfq_get_skbinfo`; sent with NFQA_CFG_F_GSO):
 * the L4 checksum is partial (CHECKSUM_PARTIAL), the packet is a GSO
 * super-packet (may exceed the MTU), the checksum was not verified.
 */
export const NFQA_SKB_CSUMNOTREADY = 1 << 0;
export const NFQA_SKB_GSO = 1 << 1;
export const NFQA_SKB_CSUM_NOTVERIFIED = 1 << 2;

/** Address families for the (obsolete since Linux 3.8, still harmless) `nfq_bind_pf`. */
export const AF_INET = 2;
export const AF_INET6 = 10;

/**
 * Offsets in `struct nfqnl_msg_packet_hdr` (packed, network order):
 * `__be32 packet_id; __be16 hw_protocol; __u8 hook;`
 */
export const PACKET_HDR_ID = 0;
export const PACKET_HDR_HW_PROTOCOL = 4;
export const PACKET_HDR_HOOK = 6;

/** A handle as koffi 3 returns a `void *`: a BigInt address, or null. */
export type Pointer = bigint | null;

/** A per-packet pointer as a plain number (`uintptr_t`); 0 is NULL. */
export type Address = number;

/** The per-packet callback `nfq_handle_packet` calls: (qh, nfmsg, nfad, data) => int. */
export type NfqCallback = (qh: Address, nfmsg: Address, nfad: Address, data: Address) => number;

/** The library's functions, typed. A `Buffer` may stand wherever C takes a byte pointer. */
export interface NfqueueLib {
  nfq_open(): Pointer;
  nfq_close(h: bigint): number;
  nfq_bind_pf(h: bigint, pf: number): number;
  nfq_unbind_pf(h: bigint, pf: number): number;
  nfq_create_queue(h: bigint, num: number, cb: bigint, data: Pointer): Pointer;
  nfq_destroy_queue(qh: bigint): number;
  nfq_set_mode(qh: bigint, mode: number, range: number): number;
  nfq_set_queue_maxlen(qh: bigint, maxLen: number): number;
  nfq_set_queue_flags(qh: bigint, mask: number, flags: number): number;
  nfq_fd(h: bigint): number;
  nfq_handle_packet(h: bigint, buf: Address, len: number): number;
  nfq_get_msg_packet_hdr(nfad: Address): Address;
  /** Stores the payload's address in `*data` (pass an 8-byte buffer); returns its length or -1. */
  nfq_get_payload(nfad: Address, data: Buffer): number;
  nfq_get_indev(nfad: Address): number;
  nfq_get_outdev(nfad: Address): number;
  nfq_get_nfmark(nfad: Address): number;
  /** The NFQA_SKB_* flags of the packet (host order); 0 when the kernel sent none. */
  nfq_get_skbinfo(nfad: Address): number;
  nfq_set_verdict(qh: bigint, id: number, verdict: number, dataLen: number, buf: Buffer | bigint | null): number;
  /** As nfq_set_verdict, and sets the packet's netfilter mark to `mark` (the whole 32 bits). */
  nfq_set_verdict2(qh: bigint, id: number, verdict: number, mark: number, dataLen: number, buf: Buffer | bigint | null): number;
  /** Sets `verdict` on every queued packet whose id is `id` or older. */
  nfq_set_verdict_batch(qh: bigint, id: number, verdict: number): number;
  /** Registers `cb` as a C function pointer usable by `nfq_create_queue`; release with `unregisterCallback`. */
  registerCallback(cb: NfqCallback): bigint;
  unregisterCallback(ptr: bigint): void;
  /** errno of the last call made through koffi on this thread. */
  errno(): number;
}

const cache = new Map<string, NfqueueLib>();

/**
 * Loads `library` (default libnetfilter_queue.so.1) on first use and binds
 * its functions. Throws {@link NfqueueUnavailableError}, naming the library,
 * when it or koffi is missing.
 */
export function loadNfqueueLib(library: string = NFQUEUE_LIBRARY): NfqueueLib {
  const hit = cache.get(library);
  if (hit) return hit;
  const { koffi, func } = openLibrary(library, 'install libnetfilter-queue1', (message, cause) => new NfqueueUnavailableError(message, { cause }));
  const ptr = 'void *';
  const addr = 'uintptr_t';
  const callbackType = koffi.pointer(koffi.proto('int', [addr, addr, addr, addr]));
  const fn = (name: string, result: string, args: unknown[]): never => func<never>(name, result, args);
  const bound: NfqueueLib = {
    nfq_open: fn('nfq_open', ptr, []),
    nfq_close: fn('nfq_close', 'int', [ptr]),
    nfq_bind_pf: fn('nfq_bind_pf', 'int', [ptr, 'uint16_t']),
    nfq_unbind_pf: fn('nfq_unbind_pf', 'int', [ptr, 'uint16_t']),
    nfq_create_queue: fn('nfq_create_queue', ptr, [ptr, 'uint16_t', callbackType, ptr]),
    nfq_destroy_queue: fn('nfq_destroy_queue', 'int', [ptr]),
    nfq_set_mode: fn('nfq_set_mode', 'int', [ptr, 'uint8_t', 'uint32_t']),
    nfq_set_queue_maxlen: fn('nfq_set_queue_maxlen', 'int', [ptr, 'uint32_t']),
    nfq_set_queue_flags: fn('nfq_set_queue_flags', 'int', [ptr, 'uint32_t', 'uint32_t']),
    nfq_fd: fn('nfq_fd', 'int', [ptr]),
    nfq_handle_packet: fn('nfq_handle_packet', 'int', [ptr, addr, 'int']),
    nfq_get_msg_packet_hdr: fn('nfq_get_msg_packet_hdr', addr, [addr]),
    nfq_get_payload: fn('nfq_get_payload', 'int', [addr, ptr]),
    nfq_get_indev: fn('nfq_get_indev', 'uint32_t', [addr]),
    nfq_get_outdev: fn('nfq_get_outdev', 'uint32_t', [addr]),
    nfq_get_nfmark: fn('nfq_get_nfmark', 'uint32_t', [addr]),
    nfq_get_skbinfo: fn('nfq_get_skbinfo', 'uint32_t', [addr]),
    nfq_set_verdict: fn('nfq_set_verdict', 'int', [ptr, 'uint32_t', 'uint32_t', 'uint32_t', ptr]),
    nfq_set_verdict2: fn('nfq_set_verdict2', 'int', [ptr, 'uint32_t', 'uint32_t', 'uint32_t', 'uint32_t', ptr]),
    nfq_set_verdict_batch: fn('nfq_set_verdict_batch', 'int', [ptr, 'uint32_t', 'uint32_t']),
    registerCallback: (cb) => koffi.register(cb, callbackType),
    unregisterCallback: (p) => koffi.unregister(p),
    errno: () => koffi.errno(),
  };
  cache.set(library, bound);
  return bound;
}
