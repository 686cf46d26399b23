/**
 * The Linux packet driver: netfilter queues to the engine exactly the
 * packets the capture specification names, and the kernel stays the fast
 * path for everything else, conntrack and NAT included.
 *
 * How a connection algd translates goes through the kernel:
 * - Its first packet is queued at raw PREROUTING (redirects, inbound
 *   mappings: before conntrack, so conntrack records the engine's new
 *   destination) or at mangle POSTROUTING (outbound mappings: the first
 *   packet of each new connection leaving a public adapter). The verdict
 *   carries {@link ALGD_MARK}; algd's nat chains save it in the connection's
 *   mark and give the connection an identity NAT binding, so no other NAT
 *   touches it (nat-guard.ts).
 * - Every later packet of the connection is queued at mangle POSTROUTING
 *   (connmark), where the engine applies source rewrites (the listener's
 *   replies, a mapping's private side); packets addressed to a control or
 *   mapping port are also queued at raw PREROUTING for destination rewrites.
 * - A TCP control connection, with the kernel redirect (the default): only
 *   its SYN is queued; the engine's verdict marks it
 *   ({@link ALGD_REDIRECT_MARK}) and the kernel's NAT sends the connection
 *   to its listener and translates it from then on (kernel-redirects.ts).
 * - Hooks map to the engine's stages: PREROUTING → `prerouting`,
 *   POSTROUTING → `postrouting`. The origin comes from the input interface:
 *   a private adapter → `private`, none (sent by this host) → `local`,
 *   anything else → `public`.
 * - A data channel's connection the engine offloaded (established, with
 *   `offload.minBytes` carried) is rewritten by the kernel itself from then
 *   on (offload-table.ts: per-connection nftables rules at both hooks that
 *   mark what they rewrote, so the capture rules let it pass); only its
 *   SYN, FIN and RST still reach the queue.
 * Rules are in capture-rules.ts, the listener's loopback routing in
 * route-localnet.ts, crash leftovers in marked-connections.ts.
 *
 * Verdicts (queue-verdicts.ts): `pass` → accept, batched; `translated` →
 * accept with the new bytes and the mark bit; a drop reason → drop. A
 * packet of an algd connection that would leave a public adapter
 * untranslated (the engine forgot the connection, or nobody reads the
 * queue) is dropped by the nat guard's filter chain, in the kernel.
 *
 * GSO and checksums: the queue runs with NFQA_CFG_F_GSO (option `gso`,
 * default true), so GSO/GRO super-packets (up to 64 KiB) cross userland
 * whole, one crossing instead of one per segment, and the kernel no longer
 * completes partial checksums (CHECKSUM_PARTIAL, e.g. locally generated
 * packets under checksum offload, GRO-merged TCP) before copying a packet
 * to us. The kernel says which per packet (NFQA_SKB_CSUMNOTREADY, _GSO);
 * the engine rewrites a partial packet in partial mode
 * (PacketMeta.checksumPartial), and queue-verdicts.ts completes its L4
 * checksum before a modified verdict, since the kernel takes the bytes of a
 * modified packet as CHECKSUM_NONE (nfqnl_mangle). A TCP GSO packet the
 * verdict modified is resegmented by the kernel on output, which recomputes
 * the segments' checksums; a UDP GSO packet keeps its partial field, from
 * which the kernel derives its segments' checksums (see queue-verdicts.ts). Limits: the kernel copies at most 65531 bytes
 * (its netlink attribute limit), so a GRO super-packet of 65532-65535 bytes
 * arrives cut short; the engine rejects it (bad-ip-total-length, its IP
 * length exceeds what arrived) and it is dropped rather than truncated by
 * a modified verdict. BIG TCP (IPv4 total length 0, > 64 KiB) likewise.
 * Without `gso` the kernel segments and completes checksums first.
 *
 * One queue, on the main thread. Several queues (`--queue-balance` served
 * by worker threads) are not implemented: the engine's flows, redirects and
 * mappings are one table on one thread, and NFQUEUE's balancing hash
 * (source XOR destination address) does not keep a translated connection
 * on one queue, since translation changes its addresses (a client's packets
 * to server:21 and the listener's replies from 127.0.0.1 hash apart);
 * besides, a data channel's mapping is made by another connection, its
 * control session. If one core is ever not enough, the way is to shard the
 * engine by connection with steering that follows the connection (e.g. a
 * queue number kept in the connection mark), not per-packet hashing. The
 * capture already keeps the per-packet load to algd's own connections and
 * the first packet of others.
 *
 * Leaves alone: the engine's timers (the host calls `tick()`), and rules
 * after algd's jumps (see capture-rules.ts).
 */

import type { CaptureSpec } from '../capture-spec';
import type { ListenerPlacement, DriverStats, PacketDriver, PacketProcessor } from '../packet-driver';
import { captureRules } from './capture-rules';
import type { CommandRunner } from './command-runner';
import { InterfaceSides, type IfindexReader } from './interface-sides';
import { KernelRedirects } from './kernel-redirects';
import { IptablesRules } from './iptables-rules';
import { deleteMarkedConnections } from './marked-connections';
import { acquireNamespaceLock, type NamespaceLock } from './namespace-lock';
import { NatGuard } from './nat-guard';
import { NfqueueSocket, type NfqueueStats } from './nfqueue-socket';
import { OffloadTable } from './offload-table';
import type { FlowOffload } from '../flow-offload';
import { QueueVerdicts } from './queue-verdicts';
import { RouteLocalnet } from './route-localnet';
import type { LogFn } from '../throttled-log';

export interface NfqueueDriverOptions {
  /** The netfilter queue number. Default 4200. */
  readonly queueNum?: number;
  /** Packets the kernel queues before the fail policy applies. Default 4096. */
  readonly maxLen?: number;
  /** Without a reader, or on overflow, accept captured traffic (true, default) or drop it. */
  readonly failOpen?: boolean;
  /** Where crash-recovery state lives (the route_localnet values found). Default /run/algd. */
  readonly stateDir?: string;
  readonly log?: LogFn;
  /** Replaces running iptables, nft and conntrack (tests). */
  readonly run?: CommandRunner;
  /** Replaces the sysfs ifindex lookup (tests). */
  readonly ifindex?: IfindexReader;
  /** Queue GSO super-packets whole (NFQA_CFG_F_GSO; see above). Default true. */
  readonly gso?: boolean;
  /** Offer the kernel fast path (offload-table.ts). Default true; when the kernel refuses its table, the driver runs without it and says so. */
  readonly offload?: boolean;
  /**
   * Redirect TCP control connections in the kernel (kernel-redirects.ts):
   * only their SYNs are queued. Default true; when the kernel refuses the
   * nat maps, or the processor cannot use it, the engine carries them.
   */
  readonly kernelRedirect?: boolean;
}

/** Counters beyond {@link DriverStats}. */
export interface NfqueueDriverDetails extends DriverStats {
  readonly overruns: number;
  readonly batches: number;
  readonly largestBatch: number;
  /** Packets the kernel queued as GSO super-packets. */
  readonly gsoPackets: number;
  /** Packets with a partial L4 checksum (CHECKSUM_PARTIAL). */
  readonly partialChecksums: number;
  /** Translated partial packets whose checksum the driver completed. */
  readonly completedChecksums: number;
  /** The largest packet received, in bytes. */
  readonly largestPacket: number;
}

const DEFAULT_QUEUE = 4200;
const DEFAULT_STATE_DIR = '/run/algd';

const NO_SOCKET_STATS: NfqueueStats = { received: 0, accepted: 0, dropped: 0, modified: 0, errors: 0, overruns: 0, batches: 0, largestBatch: 0, gsoPackets: 0, partialChecksums: 0, largestPacket: 0 };

export class NfqueueDriver implements PacketDriver {
  readonly name = 'nfqueue';
  /** route_localnet lets redirected packets reach 127.0.0.1. */
  readonly listenerPlacement: ListenerPlacement = { ipv4: 'loopback', upstreamFromListenerPorts: false };
  private readonly queueNum: number;
  private readonly failOpen: boolean;
  private readonly log: LogFn;
  private verdicts: QueueVerdicts | undefined;
  private socket: NfqueueSocket | undefined;
  private lastSocketStats: NfqueueStats = NO_SOCKET_STATS;
  private rules: IptablesRules | undefined;
  private guard: NatGuard | undefined;
  private localnet: RouteLocalnet | undefined;
  private offloadTable: OffloadTable | undefined;
  private offloadReady = false;
  /** The kernel redirect, once handed to the processor. */
  private kernelRedirects: KernelRedirects | undefined;
  private processor: PacketProcessor | undefined;
  private lock: NamespaceLock | undefined;
  private families: readonly (4 | 6)[] = [];
  private opened = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: NfqueueDriverOptions = {}) {
    this.queueNum = opts.queueNum ?? DEFAULT_QUEUE;
    this.failOpen = opts.failOpen ?? true;
    this.log = opts.log ?? (() => undefined);
  }

  async open(spec: CaptureSpec, processor: PacketProcessor): Promise<void> {
    if (this.opened) throw new Error('the nfqueue driver is already open (drivers open once)');
    this.opened = true;
    this.families = spec.families;
    // Before anything is touched: a second driver here would take the first one's rules for a crash's leftovers.
    this.lock = await acquireNamespaceLock();
    const run = this.opts.run;
    this.rules = new IptablesRules({ families: spec.families, ...(run ? { run } : {}) });
    const kernelRedirect = (this.opts.kernelRedirect ?? true) && processor.useKernelRedirect !== undefined;
    this.guard = new NatGuard({ families: spec.families, publicAdapters: spec.adapters.filter((a) => a.side === 'public').map((a) => a.name), kernelRedirect, ...(run ? { run } : {}) });
    this.localnet = new RouteLocalnet({ stateDir: this.opts.stateDir ?? DEFAULT_STATE_DIR });
    try {
      // What a killed run left: its rules (also replaced below), its sysctl values, its connections.
      const restored = this.localnet.recover();
      if (restored.length > 0) this.log('warn', `nfqueue: restored route_localnet on ${restored.join(', ')} as a previous run left it recorded in ${this.localnet.stateFile}`);
      await this.rules.removeAll();
      this.offloadTable = new OffloadTable({ families: spec.families, ...(run ? { run } : {}) });
      await this.offloadTable.drop();
      await this.guard.remove();
      await this.deleteMarked('left by a previous run');

      const sides = new InterfaceSides(spec.adapters, this.opts.ifindex);
      const missing = sides.missing();
      if (missing.length > 0) this.log('warn', `nfqueue: no interface named ${missing.join(', ')} (yet); its rules are installed by name`);

      // The queue before the rules: with fail-closed rules a queued packet must find a reader.
      this.verdicts = new QueueVerdicts(processor, sides, this.log, `nfqueue ${this.queueNum}`);
      this.socket = NfqueueSocket.open({ queueNum: this.queueNum, maxLen: this.opts.maxLen, failOpen: this.failOpen, gso: this.opts.gso ?? true, log: this.log }, this.verdicts.handle);

      // route_localnet where redirected connections come in: private adapters, and public ones for published servers.
      const publishes = (spec.publishedPorts ?? []).length > 0;
      const redirectedFrom = spec.adapters.filter((a) => a.side === 'private' || publishes).map((a) => a.name);
      if (spec.controlPorts.length > 0 && spec.families.includes(4)) this.localnet.enable(redirectedFrom);
      const guard = await this.guard.install();
      if (guard.refused !== undefined) this.log('warn', `nfqueue: control connections are redirected in userland (the kernel refused the redirect maps): ${guard.refused}`);
      if (guard.kernelRedirect) {
        // Before the capture queues only SYNs: from then on the engine must not carry a TCP redirect itself.
        this.kernelRedirects = new KernelRedirects({ log: this.log, ...(run ? { run } : {}) });
        this.processor = processor;
        await processor.useKernelRedirect!(this.kernelRedirects);
      }
      if (this.opts.offload ?? true) await this.installOffload();
      await this.rules.install(captureRules(spec, this.captureOptions()));
      this.log('info', `nfqueue: queue ${this.queueNum} (${this.failOpen ? 'fail-open' : 'fail-closed'}), ${spec.adapters.map((a) => `${a.name} ${a.side}`).join(', ')}`);
    } catch (err) {
      await this.close().catch((cleanupErr: unknown) => this.log('error', `nfqueue: cleaning up after a failed open: ${String(cleanupErr)}`));
      throw err;
    }
  }

  /**
   * Captures what `spec` asks for from now on (a reload that enables,
   * disables or re-ports a plugin): the capture rules are replaced in place,
   * and route_localnet is set on the adapters redirected connections now
   * come in on. Adapters and families stay as opened (a restart changes them).
   */
  async updateCapture(spec: CaptureSpec): Promise<void> {
    if (!this.opened || this.closing || this.rules === undefined || this.localnet === undefined) throw new Error('the nfqueue driver is not open');
    const publishes = (spec.publishedPorts ?? []).length > 0;
    const redirectedFrom = spec.adapters.filter((a) => a.side === 'private' || publishes).map((a) => a.name);
    if (spec.controlPorts.length > 0 && this.families.includes(4)) this.localnet.enable(redirectedFrom);
    await this.rules.replace(captureRules({ ...spec, families: this.families }, this.captureOptions()));
    this.log('info', `nfqueue: capture now ${spec.controlPorts.map((c) => `${c.protocol}/${c.port}`).join(', ') || 'no control port'}${publishes ? `, published ${(spec.publishedPorts ?? []).map((c) => `${c.protocol}/${c.port}`).join(', ')}` : ''}`);
  }

  private captureOptions(): { queueNum: number; failOpen: boolean; kernelRedirect: boolean } {
    return { queueNum: this.queueNum, failOpen: this.failOpen, kernelRedirect: this.kernelRedirects !== undefined };
  }

  /** The kernel fast path, once open with it installed. */
  get offload(): FlowOffload | undefined {
    return this.offloadReady && !this.closing ? this.offloadTable : undefined;
  }

  private async installOffload(): Promise<void> {
    try {
      await this.offloadTable!.install();
      this.offloadReady = true;
    } catch (err) {
      // An older kernel or nft without verdict maps over concatenations: the engine translates every packet, as without offload.
      this.log('warn', `nfqueue: no kernel fast path (the offload table was refused): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Removes rules, the fast path, algd's connections, the queue, the nat table and the sysctl changes, in that order. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  get stats(): DriverStats {
    const s = this.socketStats();
    return { received: s.received, accepted: s.accepted, dropped: s.dropped, modified: s.modified, errors: s.errors + (this.verdicts?.unexpected ?? 0) };
  }

  get details(): NfqueueDriverDetails {
    const s = this.socketStats();
    return {
      ...this.stats,
      overruns: s.overruns,
      batches: s.batches,
      largestBatch: s.largestBatch,
      gsoPackets: s.gsoPackets,
      partialChecksums: s.partialChecksums,
      completedChecksums: this.verdicts?.completedChecksums ?? 0,
      largestPacket: s.largestPacket,
    };
  }

  private socketStats(): NfqueueStats {
    return this.socket?.stats ?? this.lastSocketStats;
  }

  private async teardown(): Promise<void> {
    // Without the lock nothing was touched, and what is there belongs to another instance.
    if (this.lock === undefined) return;
    const errors: unknown[] = [];
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
        this.log('error', `nfqueue: ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    // Rules first: nothing new is queued, new connections get the kernel's NAT. Until algd's
    // connections are gone from conntrack, the nat guard keeps their packets from leaving untranslated.
    await step('removing the iptables rules', () => this.rules?.removeAll());
    // Nothing is queued any more: the engine takes its TCP redirects back (their kernel entries go with the nat table).
    await step('taking the redirects back from the kernel', async () => {
      this.kernelRedirects?.forget();
      await this.processor?.useKernelRedirect?.(undefined);
    });
    // The kernel stops translating offloaded flows before their connections go.
    await step('removing the offload table', () => this.offloadTable?.drop());
    await step('deleting algd connections from conntrack', () => this.deleteMarked('at close'));
    await step('closing the queue', async () => {
      const socket = this.socket;
      if (socket === undefined) return;
      await socket.close();
      this.lastSocketStats = socket.stats;
      this.socket = undefined;
    });
    await step('removing the nat table', () => this.guard?.remove());
    await step('restoring route_localnet', () => this.localnet?.restore());
    await step('releasing the namespace lock', () => this.lock?.release());
    if (errors.length > 0) throw errors[0];
  }

  private async deleteMarked(when: string): Promise<void> {
    const n = await deleteMarkedConnections(this.families, this.opts.run);
    if (n === undefined) this.log('warn', 'nfqueue: the conntrack tool is missing; connections of algd stay in conntrack until they time out');
    else if (n > 0) this.log('info', `nfqueue: deleted ${n} algd connection(s) from conntrack ${when}`);
  }
}
