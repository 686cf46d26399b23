import { formatEndpoint, ipFromBytes, port, type Endpoint, type TransportProtocol } from '@algd/sdk';
import { EngineCounters, type DropReason, type ProcessOutcome } from './engine-counters';
import { FlowTable, FlowTableError, formatTuple, reverseTuple, tupleFromPacket, type FiveTuple, type Flow, type FlowEntry, type FlowRemoveReason, type FlowTimeouts, type TupleSource } from './flow';
import { decodePacket, PacketView, rewriteDestination, rewriteInnerDestination, rewriteInnerSource, rewriteSource } from './packet';
import type { KernelRedirect } from './drivers/kernel-redirect';
import type { NatStage, PacketMeta } from './packet-meta';
import { endpointRewrite, type DirectionRewrite } from './translation/endpoint-rewrite';
import type { FlowTranslation } from './translation/flow-translation';
import { Mapping, type MappingEndReason, type MappingSpec } from './translation/mapping';
import { offloadable } from './offload/offload-rules';
import type { OffloadSink } from './offload/offload-sink';
import { RedirectRule, type RedirectSpec } from './translation/redirect-rule';

const TCP = 6;
const UDP = 17;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_RST = 0x04;
/** How long the original destination of a kernel-redirected connection waits for its listener to ask. */
const KERNEL_REDIRECT_LOOKUP_MS = 60_000;
/** At most this many wait at once (a SYN flood must not grow the engine without bound); the oldest go first. */
const KERNEL_REDIRECT_LOOKUP_MAX = 65_536;

/** Notifications about data-channel mappings, for their owners. */
export interface NatEngineEvents {
  /** A connection was made through the mapping. */
  mappingUsed?(mapping: Mapping, flow: Flow<FlowTranslation>): void;
  /** The mapping takes no new connections (used, expired or removed). */
  mappingEnded?(mapping: Mapping, reason: MappingEndReason): void;
  /** The mapping has ended and no connection made through it is left: its public port is free again. */
  mappingReleased?(mapping: Mapping): void;
}

export interface NatEngineOptions {
  readonly timeouts?: Partial<FlowTimeouts>;
  readonly maxFlows?: number;
  /** Milliseconds clock; injectable for tests. */
  readonly now?: () => number;
  readonly events?: NatEngineEvents;
}

/**
 * The userland NAT: redirects captured control connections to listeners,
 * carries data channels through mappings, and translates replies and ICMP
 * errors back. Pure computation over packet buffers: drivers feed it, and it
 * rewrites packets in place.
 *
 * Flows are created only by a connection's first packet (a TCP SYN), so
 * connections that existed before algd started are left alone; redirects
 * and inbound mappings only at `prerouting`/`single` (they rewrite the
 * destination, which must happen before routing), outbound mappings at any
 * stage (a driver may first see a new connection leaving through a public
 * adapter after routing). Each direction of a flow rewrites either its
 * destination (applied before routing) or its source (applied after
 * routing), and its packets are tracked at that stage.
 */
export class NatEngine {
  readonly counters = new EngineCounters();
  /** See PacketProcessor.lastTranslationComplete: the last `prerouting` packet's direction rewrites no source after routing. */
  lastTranslationComplete = false;
  /** See PacketProcessor.lastKernelRedirect: the last packet was a SYN the driver's kernel redirect is to carry. */
  lastKernelRedirect = false;
  private readonly view = new PacketView();
  private readonly reversedInner = new ReversedTuple();
  private readonly flows: FlowTable<FlowTranslation>;
  private readonly now: () => number;
  private readonly events: NatEngineEvents;
  private readonly redirects = new Map<number, RedirectRule>();
  private readonly inboundMappings = new Map<number, Mapping[]>();
  private readonly outboundMappings = new Map<number, Mapping[]>();
  /** Every mapping not yet released: active ones and ended ones whose connections still live. */
  private readonly mappings = new Map<number, Mapping>();
  /** The same mappings by owner, so a control session's end finds its own without walking every mapping. */
  private readonly mappingsByOwner = new Map<string, Set<Mapping>>();
  /** The live flows of each mapping that has any: closing a mapping's flows visits only its own. */
  private readonly mappingFlows = new Map<Mapping, Set<Flow<FlowTranslation>>>();
  /** Active mappings by protocol and public endpoint: one public endpoint carries one mapping at a time. */
  private readonly activeByPublic = new Map<string, Mapping>();
  private readonly originalDestinations = new Map<string, Flow<FlowTranslation>>();
  /**
   * The original destinations of connections the kernel redirected: the
   * engine keeps no flow for them (it sees only their SYN), just this, in
   * SYN order, for the listener to ask until it expires.
   */
  private readonly kernelRedirected = new Map<string, { readonly dst: Endpoint; readonly expiresAt: number }>();
  /** The driver's kernel redirect, when it has one (useKernelRedirect): TCP redirects are carried there. */
  private kernelRedirect: KernelRedirect | undefined;
  /**
   * Directions that rewrite both ends (a mapping with a private source):
   * their packets reach postrouting with the destination already rewritten
   * and the source not yet, a tuple the flow table does not hold. Keyed by
   * that half-way tuple; empty unless such mappings are in use.
   */
  private readonly halfway = new Map<string, FlowEntry<FlowTranslation>>();
  private nextId = 1;
  /** The kernel fast path, when the driver has one (attachOffload), and how much a flow carries before it goes there. */
  private offload: OffloadSink | undefined;
  private offloadMinBytes = 0;

  constructor(opts: NatEngineOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.events = opts.events ?? {};
    this.flows = new FlowTable<FlowTranslation>({
      timeouts: opts.timeouts,
      maxFlows: opts.maxFlows,
      now: this.now,
      onRemove: (flow, reason) => this.flowRemoved(flow, reason),
    });
  }

  // ---- rules -------------------------------------------------------------

  /** Captures a control channel. Throws if the same protocol, family and port is already captured. */
  addRedirect(spec: RedirectSpec): RedirectRule {
    const rule = new RedirectRule(this.nextId++, spec);
    const key = redirectKey(protocolNumber(rule.protocol), rule.family, rule.port);
    const existing = this.redirects.get(key);
    if (existing) throw new Error(`${rule.describe()} conflicts with ${existing.describe()}`);
    this.redirects.set(key, rule);
    if (this.kernelRedirect !== undefined && rule.protocol === 'tcp') void this.installKernelRedirect(rule, this.kernelRedirect);
    return rule;
  }

  /** Stops capturing; connections already redirected keep going until they end. */
  removeRedirect(rule: RedirectRule): void {
    const key = redirectKey(protocolNumber(rule.protocol), rule.family, rule.port);
    if (this.redirects.get(key) !== rule) return;
    this.redirects.delete(key);
    if (this.kernelRedirect !== undefined && rule.carrier !== 'userland') {
      rule.carrier = 'userland';
      // The driver logs a failure; the entry then only ever sees unmarked SYNs.
      this.kernelRedirect.delete(rule.family, rule.port).catch(() => undefined);
    }
  }

  /**
   * Hands TCP redirects to the driver's kernel redirect (see
   * PacketProcessor.useKernelRedirect): resolves once every TCP redirect in
   * place is installed there (or refused). A redirect whose kernel entry is
   * not installed lets its connections through uncaptured, counted
   * (RedirectRule.missed), as if algd were not running: the driver queues
   * only their SYNs, so the engine could not carry them itself.
   * `undefined` takes them back (the driver is closing).
   */
  async useKernelRedirect(redirect: KernelRedirect | undefined): Promise<void> {
    this.kernelRedirect = redirect;
    const tcp = [...this.redirects.values()].filter((r) => r.protocol === 'tcp');
    if (redirect === undefined) {
      for (const rule of tcp) rule.carrier = 'userland';
      this.kernelRedirected.clear();
      return;
    }
    await Promise.all(tcp.map((rule) => this.installKernelRedirect(rule, redirect)));
  }

  private async installKernelRedirect(rule: RedirectRule, redirect: KernelRedirect): Promise<void> {
    rule.carrier = 'pending';
    let carrier: RedirectRule['carrier'] = 'installed';
    try {
      await redirect.set({ family: rule.family, port: rule.port, listener: rule.listener.endpoint });
    } catch {
      carrier = 'refused';
    }
    // Unless the rule was removed (or the driver left) in the meantime.
    if (rule.carrier === 'pending' && this.kernelRedirect === redirect) rule.carrier = carrier;
  }

  /** Opens a data channel (the ALG API's CreateDataChannel / CreatePersistentDataChannel). */
  createMapping(spec: MappingSpec): Mapping {
    const mapping = new Mapping(this.nextId++, spec, this.now());
    const proto = protocolNumber(mapping.protocol);
    const publicKey = publicEndpointKey(mapping);
    const other = this.activeByPublic.get(publicKey);
    if (other) throw new Error(`public endpoint ${formatEndpoint(spec.public)} is already mapped (${other.describe()})`);
    this.activeByPublic.set(publicKey, mapping);
    if (mapping.protocol === 'udp' && !mapping.anyPrivatePort) this.supersedeUdpFlows(mapping);
    this.mappings.set(mapping.id, mapping);
    let owned = this.mappingsByOwner.get(mapping.owner);
    if (owned === undefined) this.mappingsByOwner.set(mapping.owner, (owned = new Set()));
    owned.add(mapping);
    this.counters.mappingsCreated++;
    // A carried mapping is never looked up: its packets belong to the owner's socket.
    if (spec.carried === true) return mapping;
    if (mapping.direction !== 'outbound') addToIndex(this.inboundMappings, mappingKey(proto, mapping.public.port), mapping);
    if (mapping.direction !== 'inbound') addToIndex(this.outboundMappings, mappingKey(proto, mapping.private.port), mapping);
    return mapping;
  }

  /**
   * UDP has no end of connection: a flow made through a mapping that has
   * ended lives on until it idles out. When a new mapping is made for the
   * same private endpoint, the application has moved on (a phone's next
   * call from the same RTP port, a channel renewed on new terms): its
   * datagrams must follow the new mapping, and a left-over flow holding the
   * private endpoint's tuples would make the engine refuse them as tuple
   * conflicts. So those flows go; the next datagram takes the new mapping.
   */
  private supersedeUdpFlows(next: Mapping): void {
    for (const old of [...this.mappings.values()]) {
      if (old.active || old.liveFlows === 0 || old.protocol !== 'udp' || old.family !== next.family) continue;
      if (old.private.port !== next.private.port || formatEndpoint(old.private.endpoint) !== formatEndpoint(next.private.endpoint)) continue;
      this.removeMapping(old, { closeFlows: true });
    }
  }

  /**
   * Ends a mapping: it takes no new connections. Connections already made
   * through it continue unless `closeFlows` is set.
   */
  removeMapping(mapping: Mapping, opts: { closeFlows?: boolean } = {}): void {
    if (mapping.active) this.endMapping(mapping, 'removed');
    if (opts.closeFlows) {
      const flows = this.mappingFlows.get(mapping);
      if (flows !== undefined) for (const flow of [...flows]) this.flows.remove(flow);
    }
  }

  /**
   * Renews an active mapping: it expires `lifetimeMs` from now, on the same
   * endpoints and terms, with the same id and counters (no remove and
   * recreate, so no new mapping is counted). Throws for a mapping that has
   * ended or is not this engine's.
   */
  renewMapping(mapping: Mapping, lifetimeMs: number): void {
    if (this.mappings.get(mapping.id) !== mapping) throw new Error(`mapping ${mapping.id} is not installed`);
    if (!mapping.active) throw new Error(`mapping ${mapping.id} has ended (${mapping.endReason})`);
    mapping.renew(this.now(), lifetimeMs);
  }

  /** Ends every mapping of an owner (a control session that ended). Returns how many. */
  removeMappingsOf(owner: string, opts: { closeFlows?: boolean } = {}): number {
    const owned = this.mappingsByOwner.get(owner);
    if (owned === undefined) return 0;
    let n = 0;
    for (const m of [...owned]) {
      if (m.active || opts.closeFlows) {
        this.removeMapping(m, opts);
        n++;
      }
    }
    return n;
  }

  /**
   * Hands data channels' established TCP flows to `sink` (the driver's
   * kernel fast path) once they have carried `minBytes` of payload: bulk
   * transfers leave userland after their first bytes, short ones (a
   * listing) never pay for the rules. Without a sink nothing is offloaded.
   */
  attachOffload(sink: OffloadSink, minBytes: number): void {
    this.offload = sink;
    this.offloadMinBytes = minBytes;
  }

  /** Offloads nothing more and reports nothing more (before the driver that took the flows closes). */
  detachOffload(): void {
    this.offload = undefined;
  }

  /** The kernel saw packets of an offloaded flow: its idle timeout restarts as if the engine had. */
  touchFlow(flow: Flow<FlowTranslation>, now = this.now()): void {
    this.flows.touch(flow, now);
  }

  /**
   * The destination a redirected client asked for, looked up by what the
   * listener sees: the client's endpoint (its peer) and its own endpoint.
   */
  originalDestination(protocol: TransportProtocol, peer: Endpoint, listener: Endpoint): Endpoint | undefined {
    const key = originalDestinationKey(protocol, peer, listener);
    const flow = this.originalDestinations.get(key);
    if (!flow) return this.kernelRedirected.get(key)?.dst;
    return { address: ipFromBytes(flow.original.dstAddr), port: port(flow.original.dstPort) };
  }

  // ---- the data path -----------------------------------------------------

  /**
   * Processes one IP packet in place. Returns what was done; on a drop
   * reason the driver must drop the packet, otherwise forward it (rewritten
   * when `translated`). Never throws for any input bytes. With
   * `meta.checksumPartial` the L4 checksum field is treated as a partial
   * (pseudo-header) sum and left partial.
   */
  process(buf: Buffer, meta: PacketMeta, offset = 0, length = buf.length - offset): ProcessOutcome {
    this.lastTranslationComplete = false;
    this.lastKernelRedirect = false;
    const outcome = this.processPacket(buf, meta, offset, length);
    this.counters.count(outcome);
    return outcome;
  }

  private processPacket(buf: Buffer, meta: PacketMeta, offset: number, length: number): ProcessOutcome {
    const v = this.view;
    const rejected = decodePacket(buf, v, offset, length);
    if (rejected !== undefined) return rejected;
    // A partial L4 checksum stays partial through the rewrites (PacketMeta.checksumPartial).
    v.checksumPartial = meta.checksumPartial === true;
    if (v.inner !== undefined) return this.processIcmpError(v, meta.stage);
    if (v.protocol !== TCP && v.protocol !== UDP) return 'pass';

    let entry = this.flows.lookup(v);
    if (entry === undefined && meta.stage === 'postrouting' && this.halfway.size > 0) entry = this.halfway.get(formatTuple(tupleFromPacket(v)));
    if (entry !== undefined && entry.direction === 'original' && isTcpOpening(v) && this.flows.isClosing(entry.flow)) {
      // A new connection reusing the 5-tuple of one that is closing.
      this.flows.remove(entry.flow);
      entry = undefined;
    }
    if (entry === undefined) {
      if (v.protocol === TCP && !isTcpOpening(v)) return 'pass';
      const created = this.createFlow(v, meta);
      if (typeof created === 'string') return created;
      entry = created;
    }
    const flow = entry.flow;
    const rw = entry.direction === 'original' ? flow.data.original : flow.data.reply;
    // Each packet is tracked once: at the stage where its direction is
    // rewritten, the one stage every driver shows it at (a Linux driver sees
    // a listener's replies only after routing, a client's only before).
    if (meta.stage === 'single' || (rw.dst !== undefined) === (meta.stage === 'prerouting')) {
      this.flows.track(entry, v, v.payloadLength);
      if (this.offload !== undefined && flow.data.kind === 'mapping') this.updateOffload(flow, this.offload);
    }
    this.lastTranslationComplete = meta.stage === 'prerouting' && rw.src === undefined;
    return applyRewrite(v, rw, meta.stage) ? 'translated' : 'pass';
  }

  /**
   * An ICMP error about a packet of one of our flows travels in the opposite
   * direction of that packet: the reverse of its embedded header is a tuple
   * of our flow table. The outer address and the embedded header are
   * translated as that direction's packets are (RFC 5508 §4).
   */
  private processIcmpError(v: PacketView, stage: NatStage): ProcessOutcome {
    const inner = v.inner!;
    if (inner.protocol !== TCP && inner.protocol !== UDP) return 'pass';
    const entry = this.flows.lookup(this.reversedInner.wrap(inner));
    if (entry === undefined) return 'pass';
    const rw = entry.direction === 'original' ? entry.flow.data.original : entry.flow.data.reply;
    let changed = false;
    if (rw.dst !== undefined && stage !== 'postrouting') {
      rewriteDestination(v, rw.dst.addr, undefined);
      rewriteInnerSource(v, rw.dst.addr, rw.dst.port);
      changed = true;
    }
    if (rw.src !== undefined && stage !== 'prerouting') {
      rewriteSource(v, rw.src.addr, undefined);
      rewriteInnerDestination(v, rw.src.addr, rw.src.port);
      changed = true;
    }
    return changed ? 'translated' : 'pass';
  }

  /**
   * A data channel's flow goes to the kernel once established with enough
   * carried, and comes back for good as soon as it leaves `established`
   * (its FIN or RST always reaches the engine: the fast path leaves them).
   */
  private updateOffload(flow: Flow<FlowTranslation>, sink: OffloadSink): void {
    if (flow.offload === 'none') {
      if (flow.state === 'established' && flow.bytes.original + flow.bytes.reply >= this.offloadMinBytes && offloadable(flow)) {
        flow.offload = 'kernel';
        sink.offloadFlow(flow);
      }
    } else if (flow.offload === 'kernel' && flow.state !== 'established') {
      flow.offload = 'retired';
      sink.reclaimFlow(flow);
    }
  }

  private createFlow(v: PacketView, meta: PacketMeta): FlowEntry<FlowTranslation> | 'pass' | DropReason {
    // After routing only a source rewrite can still apply: outbound mappings.
    const beforeRouting = meta.stage !== 'postrouting';
    if (beforeRouting && meta.origin !== 'private') {
      const m = findMapping(this.inboundMappings.get(mappingKey(v.protocol, v.dstPort)), (c) => c.family === v.family && v.dstAddrEquals(c.public.addr) && remoteMatches(c, v, 'src'));
      if (m) return this.insertMappingFlow(m, v, 'inbound');
    }
    if (meta.origin !== 'public') {
      const outbound = (c: Mapping): boolean => c.family === v.family && v.srcAddrEquals(c.private.addr) && remoteMatches(c, v, 'dst');
      // A mapping for the host's exact port first, then one that takes any of its ports.
      const m = findMapping(this.outboundMappings.get(mappingKey(v.protocol, v.srcPort)), outbound) ?? findMapping(this.outboundMappings.get(mappingKey(v.protocol, 0)), outbound);
      if (m) return this.insertMappingFlow(m, v, 'outbound');
    }
    const rule = beforeRouting ? this.redirects.get(redirectKey(v.protocol, v.family, v.dstPort)) : undefined;
    if (rule && rule.from.has(meta.origin)) return rule.protocol === 'tcp' && this.kernelRedirect !== undefined ? this.redirectInKernel(rule, v) : this.insertRedirectFlow(rule, v);
    return 'pass';
  }

  /**
   * The SYN of a connection the kernel redirect carries: it passes
   * unchanged, flagged for the driver (lastKernelRedirect), and the engine
   * keeps only its original destination for the listener.
   */
  private redirectInKernel(rule: RedirectRule, v: PacketView): 'pass' {
    if (rule.carrier !== 'installed') {
      rule.missed++;
      this.counters.redirectsMissed++;
      return 'pass';
    }
    const t = tupleFromPacket(v);
    const key = redirectLookupKey(rule, t);
    const waiting = this.kernelRedirected;
    // A retransmitted SYN (or the client's port reused within the expiry, counted once) moves its entry to the back:
    // the map stays in expiry order, and the listener learns the latest destination.
    if (!waiting.delete(key)) {
      rule.hits++;
      this.counters.redirected++;
    }
    waiting.set(key, { dst: { address: ipFromBytes(t.dstAddr), port: port(t.dstPort) }, expiresAt: this.now() + KERNEL_REDIRECT_LOOKUP_MS });
    if (waiting.size > KERNEL_REDIRECT_LOOKUP_MAX) waiting.delete(waiting.keys().next().value!);
    this.lastKernelRedirect = true;
    return 'pass';
  }

  private insertRedirectFlow(rule: RedirectRule, v: PacketView): FlowEntry<FlowTranslation> | DropReason {
    const original = tupleFromPacket(v);
    const listener = rule.listener;
    const reply: FiveTuple = { ...original, srcAddr: listener.addr, srcPort: listener.port, dstAddr: original.srcAddr, dstPort: original.srcPort };
    const server = endpointRewrite({ address: ipFromBytes(original.dstAddr), port: port(original.dstPort) });
    const lookupKey = redirectLookupKey(rule, original);
    const flow = this.insert(original, reply, { kind: 'redirect', rule, original: { dst: listener }, reply: { src: server }, lookupKey });
    if (typeof flow === 'string') return flow;
    rule.hits++;
    this.counters.redirected++;
    this.originalDestinations.set(lookupKey, flow);
    return flowEntry(this.flows.lookup(v));
  }

  private insertMappingFlow(m: Mapping, v: PacketView, way: 'inbound' | 'outbound'): FlowEntry<FlowTranslation> | DropReason {
    const original = tupleFromPacket(v);
    let reply: FiveTuple;
    let rewrites: { original: DirectionRewrite; reply: DirectionRewrite };
    if (way === 'inbound' && m.privateSource) {
      // remote -> public becomes source -> private; replies private -> source go back as public -> remote.
      const source = m.privateSource;
      reply = { ...original, srcAddr: m.private.addr, srcPort: m.private.port, dstAddr: source.addr, dstPort: source.port };
      const remote = endpointRewrite({ address: ipFromBytes(original.srcAddr), port: port(original.srcPort) });
      rewrites = { original: { dst: m.private, src: source }, reply: { src: m.public, dst: remote } };
    } else if (way === 'inbound') {
      // remote -> public becomes remote -> private; replies private -> remote leave as public.
      reply = { ...original, srcAddr: m.private.addr, srcPort: m.private.port, dstAddr: original.srcAddr, dstPort: original.srcPort };
      rewrites = { original: { dst: m.private }, reply: { src: m.public } };
    } else {
      // private -> remote leaves as public -> remote; replies remote -> public go to private
      // (to the port the connection came from, when the mapping takes any).
      reply = { ...original, srcAddr: original.dstAddr, srcPort: original.dstPort, dstAddr: m.public.addr, dstPort: m.public.port };
      const back = m.anyPrivatePort ? endpointRewrite({ address: m.private.endpoint.address, port: port(original.srcPort) }) : m.private;
      rewrites = { original: { src: m.public }, reply: { dst: back } };
    }
    const flow = this.insert(original, reply, { kind: 'mapping', mapping: m, ...rewrites });
    if (typeof flow === 'string') return flow;
    if (rewrites.original.src !== undefined && rewrites.original.dst !== undefined) {
      // Half-way tuples: original remote -> private, reply private -> remote.
      const toPrivate: FiveTuple = { ...original, dstAddr: m.private.addr, dstPort: m.private.port };
      this.halfway.set(formatTuple(toPrivate), flow.originalEntry);
      this.halfway.set(formatTuple(reverseTuple(toPrivate)), flow.replyEntry);
    }
    m.uses++;
    m.liveFlows++;
    const flows = this.mappingFlows.get(m);
    if (flows === undefined) this.mappingFlows.set(m, new Set([flow]));
    else flows.add(flow);
    this.events.mappingUsed?.(m, flow);
    if (!m.persistent) this.endMapping(m, 'used');
    return flowEntry(this.flows.lookup(v));
  }

  private insert(original: FiveTuple, reply: FiveTuple, data: FlowTranslation): Flow<FlowTranslation> | DropReason {
    try {
      const flow = this.flows.insert(original, reply, data);
      this.counters.flowsCreated++;
      return flow;
    } catch (err) {
      if (err instanceof FlowTableError) return err.kind === 'full' ? 'flow-table-full' : 'tuple-conflict';
      throw err;
    }
  }

  private flowRemoved(flow: Flow<FlowTranslation>, _reason: FlowRemoveReason): void {
    if (flow.offload === 'kernel') {
      flow.offload = 'retired';
      this.offload?.reclaimFlow(flow);
    }
    const nat = flow.data;
    if (nat.kind === 'redirect') {
      if (this.originalDestinations.get(nat.lookupKey) === flow) this.originalDestinations.delete(nat.lookupKey);
      return;
    }
    const m = nat.mapping;
    if (nat.original.src !== undefined && nat.original.dst !== undefined) {
      for (const [key, entry] of this.halfway) if (entry.flow === flow) this.halfway.delete(key);
    }
    m.liveFlows--;
    const flows = this.mappingFlows.get(m);
    if (flows !== undefined && flows.delete(flow) && flows.size === 0) this.mappingFlows.delete(m);
    if (!m.active && m.liveFlows === 0) this.release(m);
  }

  private endMapping(m: Mapping, reason: MappingEndReason): void {
    m.endReason = reason;
    this.counters.mappingsEnded++;
    const publicKey = publicEndpointKey(m);
    if (this.activeByPublic.get(publicKey) === m) this.activeByPublic.delete(publicKey);
    const proto = protocolNumber(m.protocol);
    removeFromIndex(this.inboundMappings, mappingKey(proto, m.public.port), m);
    removeFromIndex(this.outboundMappings, mappingKey(proto, m.private.port), m);
    this.events.mappingEnded?.(m, reason);
    if (m.liveFlows === 0) this.release(m);
  }

  private release(m: Mapping): void {
    if (!this.mappings.delete(m.id)) return;
    const owned = this.mappingsByOwner.get(m.owner);
    owned?.delete(m);
    if (owned?.size === 0) this.mappingsByOwner.delete(m.owner);
    this.events.mappingReleased?.(m);
  }

  // ---- time and state ----------------------------------------------------

  /** Expires idle flows and unused or outlived mappings. Drivers call it about once a second. */
  tick(now = this.now()): void {
    this.flows.expire(now);
    for (const [key, waiting] of this.kernelRedirected) {
      if (waiting.expiresAt > now) break;
      this.kernelRedirected.delete(key);
    }
    for (const m of [...this.mappings.values()]) {
      if (m.active && m.expiresAt <= now) this.endMapping(m, 'expired');
    }
  }

  /** Removes every rule, mapping and flow (on stop). */
  clear(): void {
    for (const m of [...this.mappings.values()]) this.removeMapping(m, { closeFlows: true });
    for (const flow of [...this.flows]) this.flows.remove(flow);
    // The driver's kernel entries go with the driver (close).
    for (const rule of this.redirects.values()) rule.carrier = 'userland';
    this.redirects.clear();
    this.kernelRedirected.clear();
  }

  get flowCount(): number {
    return this.flows.size;
  }

  /** Installed redirects. */
  listRedirects(): RedirectRule[] {
    return [...this.redirects.values()];
  }

  /** Mappings not yet released (active, or ended with connections still alive). */
  listMappings(): Mapping[] {
    return [...this.mappings.values()];
  }

  /** Live flows, for status views. */
  listFlows(): Flow<FlowTranslation>[] {
    return [...this.flows];
  }
}

/** The engine's flow table lookups over an ICMP error's embedded header, source and destination swapped. */
class ReversedTuple implements TupleSource {
  buf: Buffer = Buffer.alloc(0);
  family: 4 | 6 = 4;
  protocol = 0;
  srcAddrOffset = 0;
  dstAddrOffset = 0;
  addrLength: 4 | 16 = 4;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;

  wrap(inner: PacketView): this {
    this.buf = inner.buf;
    this.family = inner.family;
    this.protocol = inner.protocol;
    this.srcAddrOffset = inner.dstAddrOffset;
    this.dstAddrOffset = inner.srcAddrOffset;
    this.addrLength = inner.addrLength;
    this.srcPort = inner.dstPort;
    this.dstPort = inner.srcPort;
    this.tcpFlags = 0;
    return this;
  }
}

function applyRewrite(v: PacketView, rw: DirectionRewrite, stage: NatStage): boolean {
  let changed = false;
  if (rw.dst !== undefined && stage !== 'postrouting') {
    rewriteDestination(v, rw.dst.addr, rw.dst.port);
    changed = true;
  }
  if (rw.src !== undefined && stage !== 'prerouting') {
    rewriteSource(v, rw.src.addr, rw.src.port);
    changed = true;
  }
  return changed;
}

/** A SYN without ACK or RST: the first packet of a TCP connection. */
function isTcpOpening(v: PacketView): boolean {
  return v.protocol !== TCP || (v.tcpFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
}

function remoteMatches(m: Mapping, v: PacketView, side: 'src' | 'dst'): boolean {
  if (m.remoteAddr !== undefined && !(side === 'src' ? v.srcAddrEquals(m.remoteAddr) : v.dstAddrEquals(m.remoteAddr))) return false;
  return m.remotePort === undefined || m.remotePort === (side === 'src' ? v.srcPort : v.dstPort);
}

function findMapping(candidates: Mapping[] | undefined, match: (m: Mapping) => boolean): Mapping | undefined {
  if (candidates === undefined) return undefined;
  for (const m of candidates) if (match(m)) return m;
  return undefined;
}

function flowEntry(entry: FlowEntry<FlowTranslation> | undefined): FlowEntry<FlowTranslation> | DropReason {
  // The flow was inserted under this packet's tuple a moment ago.
  return entry ?? 'tuple-conflict';
}

function protocolNumber(p: TransportProtocol): number {
  return p === 'tcp' ? TCP : UDP;
}

function redirectKey(protocol: number, family: 4 | 6, dstPort: number): number {
  return (protocol * 16 + family) * 65536 + dstPort;
}

function mappingKey(protocol: number, p: number): number {
  return protocol * 65536 + p;
}

function publicEndpointKey(m: Mapping): string {
  return `${m.protocol} ${formatEndpoint(m.public.endpoint)}`;
}

function originalDestinationKey(protocol: TransportProtocol, peer: Endpoint, listener: Endpoint): string {
  return `${protocol} ${formatEndpoint(peer)} ${formatEndpoint(listener)}`;
}

/** The originalDestination key of a connection `rule` redirects, from its first packet's tuple: what its listener will see. */
function redirectLookupKey(rule: RedirectRule, original: FiveTuple): string {
  return originalDestinationKey(rule.protocol, { address: ipFromBytes(original.srcAddr), port: port(original.srcPort) }, rule.listener.endpoint);
}

function addToIndex(index: Map<number, Mapping[]>, key: number, m: Mapping): void {
  const list = index.get(key);
  if (list) list.push(m);
  else index.set(key, [m]);
}

function removeFromIndex(index: Map<number, Mapping[]>, key: number, m: Mapping): void {
  const list = index.get(key);
  if (!list) return;
  const i = list.indexOf(m);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) index.delete(key);
}
