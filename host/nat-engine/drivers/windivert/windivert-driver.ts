/**
 * The Windows packet driver: WinDivert 2.x through koffi. (On Linux the
 * same driver runs over the compat library in compat/, which is how the
 * lab tests it.)
 *
 * ## Which layer, and what algd sees of ICS traffic
 *
 * The handle is opened at WINDIVERT_LAYER_NETWORK, without flags (packets
 * are diverted: algd decides), at the configured priority.
 *
 * Not NETWORK_FORWARD: WinDivert documents that the forward layer "does not
 * interact well with the Windows NAT", and a FORWARD handle without SNIFF
 * breaks ICS (packets cannot be reinjected past its NAT). The NETWORK layer
 * sees, on an ICS gateway:
 *
 * - a private client's packets to the internet only *after* ICS translated
 *   them: on the outbound path of the boundary adapter, from the boundary
 *   address and an ICS-chosen port (WinDivert/WFP sees ICS's translated
 *   packet as one the machine sends);
 * - a private client's packets to the gateway's own addresses inbound on
 *   the private adapter;
 * - packets from the internet inbound on the boundary adapter;
 * - the gateway's own packets outbound; packets from the gateway to itself
 *   (any local address, not only 127/8) as Loopback, outbound only.
 *
 * So algd on Windows works *after* ICS, on the translated connection: the
 * filter (windivert-filter.ts) captures control ports both inbound on
 * private adapters and outbound on boundary adapters.
 *
 * ## Packet meta (what the engine is told)
 *
 * WinDivert shows each packet once, so `stage` is always `single` (the
 * engine applies destination and source rewrites together). `origin`:
 *
 * | captured as | origin |
 * | --- | --- |
 * | inbound on a private adapter | `private` |
 * | inbound on a public adapter (or an unknown one: the safe side) | `public` |
 * | outbound, not loopback, on a public adapter: an ICS-translated client packet | `private` |
 * | outbound on a private adapter, or loopback, or an unknown adapter: the gateway's own | `local` |
 *
 * The gateway's own connections to the internet are not captured at all:
 * the filter excludes control-port traffic whose source port lies in
 * listenerPorts, so **the host must bind its upstream sockets (listener →
 * server) to a port of listenerPorts on Windows**, or it would be
 * redirected to itself.
 *
 * ## The redirect to the listener, in a way WinDivert supports
 *
 * Windows does not route a packet from a remote source to 127.0.0.1 (an
 * inbound packet rewritten to loopback is dropped), and WinDivert delivers
 * loopback only on the outbound path with both addresses local. Of the
 * three workable ways (reflect with Outbound kept and both addresses
 * loopback; reflect by swapping addresses and injecting inbound; listen on
 * an adapter address) algd uses the last one, because it needs no
 * translation beyond the engine's own destination/source rewrites:
 *
 * - **On Windows the listeners bind to the gateway's adapter address** (the
 *   boundary address for ICS-translated connections; the private address
 *   for clients seen inbound on the private adapter), not 127.0.0.1, and
 *   the host gives that endpoint to the engine as the redirect's listener.
 *   A redirected packet's destination then stays a local address; its
 *   direction is kept, so an inbound packet is delivered normally and an
 *   outbound one (the ICS case: boundary address to boundary address) is
 *   looped back by the stack, i.e. "reflected with Outbound kept, both
 *   addresses local".
 * - The listener's replies are loopback packets (ICS case) or leave by the
 *   private adapter. The engine rewrites their source back to the server.
 *   A loopback reply whose new source is no longer a local address is not
 *   loopback any more: the driver injects it **inbound** on the interface
 *   that owns its destination (the boundary adapter), so ICS translates it
 *   back to the client as if it came from the server. This direction
 *   choice is the driver's only post-processing: WinDivert picks the path
 *   by the Outbound flag, never by the addresses.
 * - A listener on the boundary address is reachable from the internet: the
 *   installer must add a Windows Firewall rule admitting listenerPorts only
 *   from loopback and the private adapters.
 *
 * ## Data channels
 *
 * ICS translates a private client's packets itself, and a static filter
 * cannot follow a client's own data port, so an inbound data channel is
 * carried entirely in userland, both ends translated: the host makes the
 * private host see the gateway as its peer (ListenerPlacement
 * .inboundChannelsFromGateway: the gateway's private address and a mapping
 * port). The filter captures connections to mappingPorts inbound on public
 * adapters (the remote peer's side) and on private adapters (the private
 * host's replies, addressed to the gateway itself). After translation both
 * directions come from one of the gateway's own addresses, so the driver
 * sends them outbound, as the gateway's own packets: to the private host
 * out of its adapter, to the remote peer out of the boundary adapter, past
 * ICS (which translates only forwarded traffic).
 *
 * ## Data path
 *
 * A worker thread receives batches of up to 255 packets (RecvEx) into
 * shared memory (windivert-receiver.ts explains why not koffi's async
 * calls). On the main thread each packet is handed to the engine in place
 * (offset and length into the batch buffer, no copy); accepted packets are
 * compacted to the front of the buffer with their addresses, and re-sent
 * with one SendEx. Dropped packets are simply not re-sent.
 *
 * Checksums: each address carries the IP/TCP/UDP checksum-valid flags as
 * received, unchanged. A valid checksum stays valid because the engine
 * updates checksums incrementally; a flag that was clear (checksum offload)
 * makes WinDivert compute that checksum fully on send. So the driver never
 * needs WinDivertHelperCalcChecksums.
 *
 * Closing: WinDivertShutdown(RECV) stops new packets being queued; the
 * packets already queued are still received, processed and re-sent
 * (drained) until RecvEx reports ERROR_NO_DATA; then WinDivertClose.
 */

import type { ProcessOutcome } from '../../engine-counters';
import type { CaptureAdapter, CaptureSpec } from '../capture-spec';
import type { PacketMeta, PacketOrigin } from '../../packet-meta';
import type { ListenerPlacement, DriverStats, PacketDriver, PacketProcessor } from '../packet-driver';
import { defaultInterfaceIndexResolver, type InterfaceIndexResolver } from './interface-index';
import { OsLocalAddresses, type LocalAddressBook } from './local-addresses';
import { ThrottledLog, type LogFn } from '../throttled-log';
import { WindivertAddress } from './windivert-address';
import {
  WINDIVERT_ADDRESS_SIZE,
  WINDIVERT_LAYER,
  WINDIVERT_MTU_MAX,
  WINDIVERT_PARAM,
  WINDIVERT_SHUTDOWN,
  WINDIVERT_SUPPORTED_MAJOR,
} from './windivert-constants';
import { WIN32_ERROR, WindivertError, WindivertUnavailableError, win32ErrorLabel } from './windivert-errors';
import { buildWindivertFilter } from './windivert-filter';
import { isInvalidHandle, loadWindivertLib, type WindivertHandle, type WindivertLib } from './windivert-lib';
import { WindivertReceiver, type BatchSource } from './windivert-receiver';

export interface WindivertDriverOptions {
  /** `windivert.path`: the folder of WinDivert.dll (and its .sys files), or a library file (the compat .so on Linux). */
  readonly path?: string;
  /** `windivert.priority`; default 0. */
  readonly priority?: number;
  /** `windivert.queueLength` (WINDIVERT_PARAM_QUEUE_LENGTH); default 4096. */
  readonly queueLength?: number;
  /** `windivert.queueTimeMs` (WINDIVERT_PARAM_QUEUE_TIME); default 2000. */
  readonly queueTimeMs?: number;
  /** Receive buffer size in bytes; default 2 MiB (at least one maximal packet). */
  readonly bufferSize?: number;
  /** How long close() lets the queue drain before closing the handle anyway; default 5 s. */
  readonly closeTimeoutMs?: number;
  readonly log?: LogFn;
  /** Replaces the library binding (tests). */
  readonly lib?: WindivertLib;
  /** Replaces adapter-name resolution (tests). */
  readonly resolveInterfaceIndex?: InterfaceIndexResolver;
  /** Replaces the local address table (tests). */
  readonly localAddresses?: LocalAddressBook;
  /** Replaces the receive thread (tests). */
  readonly createSource?: (lib: WindivertLib, handle: WindivertHandle, bufferSize: number) => BatchSource;
}

const DEFAULT_BUFFER_SIZE = 2 * 1024 * 1024;

/** One frozen meta object per origin: nothing is allocated per packet. */
const META: Readonly<Record<PacketOrigin, PacketMeta>> = {
  private: Object.freeze({ origin: 'private', stage: 'single' }),
  public: Object.freeze({ origin: 'public', stage: 'single' }),
  local: Object.freeze({ origin: 'local', stage: 'single' }),
};

interface OpenState {
  readonly lib: WindivertLib;
  readonly handle: WindivertHandle;
  readonly processor: PacketProcessor;
  readonly source: BatchSource;
  /** Adapter side by interface index. */
  readonly sides: ReadonlyMap<number, CaptureAdapter['side']>;
  readonly filter: string;
  /** Resolves when the source has ended. */
  readonly ended: Promise<void>;
  /** Replaced by a handle with a new filter (updateCapture): its end is expected. */
  retiring: boolean;
}

/** The `windivert` driver. See the module comment. */
export class WindivertDriver implements PacketDriver {
  readonly name = 'windivert';
  /** See "The redirect to the listener" and "Data channels" above. */
  readonly listenerPlacement: ListenerPlacement = { ipv4: 'adapter', upstreamFromListenerPorts: true, inboundChannelsFromGateway: true };
  private state: OpenState | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters = { received: 0, accepted: 0, dropped: 0, modified: 0, errors: 0 };
  private readonly addr = new WindivertAddress();
  private localAddresses: LocalAddressBook | undefined;
  private readonly log: ThrottledLog;
  private readonly rawLog: LogFn;

  constructor(private readonly opts: WindivertDriverOptions = {}) {
    this.rawLog = opts.log ?? (() => undefined);
    this.log = new ThrottledLog(this.rawLog);
  }

  get stats(): DriverStats {
    return { ...this.counters };
  }

  /** The filter string of the open handle (for status and tests). */
  get filter(): string | undefined {
    return this.state?.filter;
  }

  async open(spec: CaptureSpec, processor: PacketProcessor): Promise<void> {
    if (this.state || this.closing) throw new Error('the windivert driver is already open');
    this.state = this.capture(this.opts.lib ?? loadWindivertLib(this.opts.path), spec, processor);
  }

  /**
   * Captures what `spec` asks for from now on (a reload that enables,
   * disables or re-ports a plugin). A WinDivert filter is fixed for the
   * life of its handle, so a handle with the new filter opens first and
   * the old one is then shut down and drained: no packet goes uncaptured
   * in between. A packet both handles divert in the overlap passes through
   * the engine twice, which leaves an already translated packet alone.
   */
  async updateCapture(spec: CaptureSpec): Promise<void> {
    const old = this.state;
    if (!old || this.closing) throw new Error('the windivert driver is not open');
    if (this.compile(spec).filter === old.filter) return;
    const next = this.capture(old.lib, spec, old.processor);
    this.state = next;
    old.retiring = true;
    await this.shutdown(old);
  }

  /** The filter for `spec`, and the side of each adapter by interface index. */
  private compile(spec: CaptureSpec): { filter: string; sides: Map<number, CaptureAdapter['side']> } {
    const resolve = this.resolveIndex();
    const indexes = new Map<string, number>();
    const sides = new Map<number, CaptureAdapter['side']>();
    for (const a of spec.adapters) {
      const idx = resolve(a.name);
      const other = sides.get(idx);
      if (other !== undefined && other !== a.side) throw new Error(`adapter "${a.name}" (interface ${idx}) is configured both private and public`);
      indexes.set(a.name, idx);
      sides.set(idx, a.side);
    }
    return { filter: buildWindivertFilter(spec, indexes), sides };
  }

  private resolveIndex(): InterfaceIndexResolver {
    return this.opts.resolveInterfaceIndex ?? defaultInterfaceIndexResolver();
  }

  /** Opens a handle with the filter for `spec` and starts receiving from it. */
  private capture(lib: WindivertLib, spec: CaptureSpec, processor: PacketProcessor): OpenState {
    const { filter, sides } = this.compile(spec);
    const handle = this.openHandle(lib, filter);
    const bufferSize = Math.max(this.opts.bufferSize ?? DEFAULT_BUFFER_SIZE, WINDIVERT_MTU_MAX);
    let source: BatchSource;
    try {
      source = this.opts.createSource
        ? this.opts.createSource(lib, handle, bufferSize)
        : new WindivertReceiver({ handle, library: lib.library, lastError: lib.lastErrorSource, bufferSize });
    } catch (err) {
      lib.WinDivertClose(handle);
      throw err;
    }
    this.localAddresses ??= this.opts.localAddresses ?? new OsLocalAddresses(this.resolveIndex());
    let ended!: () => void;
    const endedPromise = new Promise<void>((r) => (ended = r));
    const state: OpenState = { lib, handle, processor, source, sides, filter, ended: endedPromise, retiring: false };
    try {
      source.start({
        onBatch: (count, length) => this.onBatch(state, count, length),
        onError: (code) => {
          this.counters.errors++;
          this.log.report(`recv-${code}`, 'warn', `windivert: WinDivertRecvEx failed: ${win32ErrorLabel(code)}`);
        },
        onEnd: (code, err) => {
          if (!this.closing && !state.retiring) {
            const why = err ? err.message : code === undefined ? 'the receive thread stopped' : win32ErrorLabel(code);
            this.rawLog('error', `windivert: receiving stopped unexpectedly (${why}); captured traffic is no longer processed`);
          }
          ended();
        },
      });
    } catch (err) {
      lib.WinDivertClose(handle);
      throw err;
    }
    this.rawLog('info', `windivert: capturing with ${lib.library} at priority ${this.opts.priority ?? 0}: ${filter}`);
    return state;
  }

  /** WinDivertOpen, the driver version check and the queue parameters; closes the handle if any step fails. */
  private openHandle(lib: WindivertLib, filter: string): WindivertHandle {
    const handle = lib.WinDivertOpen(filter, WINDIVERT_LAYER.NETWORK, this.opts.priority ?? 0, 0);
    if (isInvalidHandle(handle)) throw new WindivertError(lib.lastError(), { operation: 'WinDivertOpen', driverFolder: lib.folder, filter });
    try {
      const value = new BigUint64Array(1);
      if (!lib.WinDivertGetParam(handle!, WINDIVERT_PARAM.VERSION_MAJOR, value)) {
        throw new WindivertError(lib.lastError(), { operation: 'WinDivertGetParam(VERSION_MAJOR)', driverFolder: lib.folder });
      }
      const major = Number(value[0]);
      if (major !== WINDIVERT_SUPPORTED_MAJOR) {
        throw new WindivertUnavailableError(`the loaded WinDivert driver is version ${major}.x; algd needs ${WINDIVERT_SUPPORTED_MAJOR}.x (install WinDivert ${WINDIVERT_SUPPORTED_MAJOR}.x next to algd, and stop programs that use another version)`);
      }
      const params: [string, number, number][] = [
        ['QUEUE_LENGTH', WINDIVERT_PARAM.QUEUE_LENGTH, this.opts.queueLength ?? 4096],
        ['QUEUE_TIME', WINDIVERT_PARAM.QUEUE_TIME, this.opts.queueTimeMs ?? 2000],
      ];
      for (const [name, param, v] of params) {
        if (!lib.WinDivertSetParam(handle!, param, v)) throw new WindivertError(lib.lastError(), { operation: `WinDivertSetParam(${name}, ${v})` });
      }
    } catch (err) {
      lib.WinDivertClose(handle!);
      throw err;
    }
    return handle!;
  }

  /** One received batch: engine, compaction, one SendEx, then the next receive. */
  private onBatch(state: OpenState, count: number, length: number): void {
    const { packets, addresses } = state.source;
    const a = this.addr;
    let inOff = 0;
    let outOff = 0;
    let kept = 0;
    let i = 0;
    for (; i < count; i++) {
      const len = ipPacketLength(packets, inOff, length);
      if (len === 0) break;
      a.wrap(addresses, i);
      let outcome: ProcessOutcome | 'engine-error';
      try {
        outcome = state.processor.process(packets, this.metaFor(a, state.sides), inOff, len);
      } catch (err) {
        // The engine never throws for packet bytes; if it does anyway, the packet is dropped, not the loop.
        this.counters.errors++;
        this.log.report('process', 'error', `windivert: the engine failed on a packet: ${(err as Error).message}`);
        outcome = 'engine-error';
      }
      if (outcome === 'pass' || outcome === 'translated') {
        if (outcome === 'translated') {
          this.counters.modified++;
          if (a.loopback) this.leaveLoopback(a, packets, inOff);
          else if (!a.outbound) this.leaveAsGateway(a, packets, inOff);
        }
        if (outOff !== inOff) packets.copyWithin(outOff, inOff, inOff + len);
        if (kept !== i) addresses.copyWithin(kept * WINDIVERT_ADDRESS_SIZE, i * WINDIVERT_ADDRESS_SIZE, (i + 1) * WINDIVERT_ADDRESS_SIZE);
        outOff += len;
        kept++;
      } else {
        this.counters.dropped++;
      }
      inOff += len;
    }
    this.counters.received += count;
    if (i < count) {
      // The batch cannot be parsed past this point: its remaining packets are lost (dropped).
      this.counters.errors++;
      this.counters.dropped += count - i;
      this.log.report('batch', 'error', `windivert: malformed batch (packet ${i} of ${count} at byte ${inOff} of ${length}); ${count - i} packets dropped`);
    }
    if (kept > 0) {
      if (state.lib.WinDivertSendEx(state.handle, packets, outOff, null, 0, addresses, kept * WINDIVERT_ADDRESS_SIZE, null)) {
        this.counters.accepted += kept;
      } else {
        const code = state.lib.lastError();
        this.counters.errors++;
        this.counters.dropped += kept;
        this.log.report(`send-${code}`, 'warn', `windivert: WinDivertSendEx of ${kept} packets failed: ${win32ErrorLabel(code)}`);
      }
    }
    state.source.next();
  }

  /** Origin from direction, loopback and adapter (table in the module comment). */
  private metaFor(a: WindivertAddress, sides: ReadonlyMap<number, CaptureAdapter['side']>): PacketMeta {
    if (!a.outbound) return sides.get(a.ifIdx) === 'private' ? META.private : META.public;
    if (a.loopback) return META.local;
    return sides.get(a.ifIdx) === 'public' ? META.private : META.local;
  }

  /**
   * A loopback packet the engine translated: if its source is no longer a
   * local address (a listener's reply now "from" the server), it is sent
   * inbound on the interface owning its destination, so the stack (ICS)
   * takes it as arriving from outside. Otherwise it stays loopback.
   */
  private leaveLoopback(a: WindivertAddress, packets: Buffer, off: number): void {
    const book = this.localAddresses!;
    const v6 = packets[off]! >> 4 === 6;
    const alen = v6 ? 16 : 4;
    const src = off + (v6 ? 8 : 12);
    if (book.ifIdxOf(packets, src, alen) !== undefined) return;
    const ifIdx = book.ifIdxOf(packets, src + alen, alen);
    if (ifIdx === undefined) return;
    a.outbound = false;
    a.loopback = false;
    a.ifIdx = ifIdx;
    a.subIfIdx = 0;
  }

  /**
   * An inbound packet the engine translated to come from one of the
   * gateway's own addresses (a data channel that shows the gateway as the
   * private host's peer, either way) is the gateway's packet now: it is sent
   * outbound from the interface owning that address. Injected inbound with a
   * local source, the stack would drop it as spoofed.
   */
  private leaveAsGateway(a: WindivertAddress, packets: Buffer, off: number): void {
    const v6 = packets[off]! >> 4 === 6;
    const ifIdx = this.localAddresses!.ifIdxOf(packets, off + (v6 ? 8 : 12), v6 ? 16 : 4);
    if (ifIdx === undefined) return;
    a.outbound = true;
    a.ifIdx = ifIdx;
    a.subIfIdx = 0;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    const state = this.state;
    if (!state) return Promise.resolve();
    this.closing = this.shutdown(state).finally(() => {
      this.state = undefined;
      this.closing = undefined;
    });
    return this.closing;
  }

  private async shutdown(state: OpenState): Promise<void> {
    const { lib, handle } = state;
    const timeoutMs = this.opts.closeTimeoutMs ?? 5_000;
    if (!lib.WinDivertShutdown(handle, WINDIVERT_SHUTDOWN.RECV)) {
      this.rawLog('warn', `windivert: WinDivertShutdown failed: ${win32ErrorLabel(lib.lastError())}`);
    }
    // Packets still queued keep flowing through the engine until RecvEx reports ERROR_NO_DATA.
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      state.ended.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) this.rawLog('warn', `windivert: the packet queue did not drain within ${timeoutMs} ms; closing the handle anyway`);
    const closed = lib.WinDivertClose(handle);
    const closeError = closed ? undefined : lib.lastError();
    await state.source.stop();
    if (closeError !== undefined && closeError !== WIN32_ERROR.ERROR_INVALID_HANDLE) {
      throw new WindivertError(closeError, { operation: 'WinDivertClose' });
    }
  }
}

/**
 * Length of the IP packet at `off` (IPv4 total length, IPv6 40 + payload
 * length), or 0 when no well-formed packet fits before `end`. RecvEx packs
 * packets back to back without lengths; this is how they are split.
 */
export function ipPacketLength(buf: Buffer, off: number, end: number): number {
  if (off + 1 > end) return 0;
  const version = buf[off]! >> 4;
  let len: number;
  if (version === 4) {
    if (off + 20 > end) return 0;
    len = buf.readUInt16BE(off + 2);
    if (len < 20) return 0;
  } else if (version === 6) {
    if (off + 40 > end) return 0;
    len = 40 + buf.readUInt16BE(off + 4);
  } else {
    return 0;
  }
  return off + len > end ? 0 : len;
}
