/**
 * The driver's batch handler: turns each queued packet into an engine call
 * and the engine's outcome into a verdict. No translation happens here.
 *
 * - Stage from the hook (PREROUTING → `prerouting`, POSTROUTING →
 *   `postrouting`); origin from the input interface (a private adapter →
 *   `private`; none, i.e. sent by this host, → `local`, possible only after
 *   routing; anything else → `public`).
 * - `pass` → accept (the socket batches plain accepts); `translated` →
 *   accept with the rewritten bytes and the algd mark bit added to the
 *   packet's mark, and the done bit when the engine finished the packet
 *   before routing (algd-mark.ts); `pass` of a SYN the engine hands to the
 *   kernel redirect → accept with the redirect bit added; a drop reason →
 *   drop.
 * - Checksums: a packet the kernel flags CSUMNOTREADY (CHECKSUM_PARTIAL,
 *   only with the queue's GSO flag) goes to the engine with
 *   `checksumPartial`, which keeps its L4 field a partial sum. But the
 *   kernel marks every packet whose bytes a verdict replaces CHECKSUM_NONE
 *   (nfnetlink_queue.c, nfqnl_mangle), i.e. complete, so a translated
 *   partial packet has its L4 checksum completed here, over all its L4
 *   bytes, before the verdict: a packet delivered locally is verified
 *   against it, and a TCP GSO packet is resegmented on output with
 *   checksums computed afresh (tcp4/6_gso_segment, since it is no longer
 *   CHECKSUM_PARTIAL). Except a UDP GSO packet (UDP_SEGMENT senders, UDP
 *   GRO): the kernel derives its segments' checksums from the field as a
 *   partial sum whatever its checksum state (__udp_gso_segment), so it
 *   stays partial.
 * - The driver adds no policy of its own: an algd connection's packet the
 *   engine passes but that should have been translated is the nat guard's
 *   (nat-guard.ts) to drop, in the kernel, which also covers a bypassed queue.
 *
 * Allocates nothing per packet except the payload view of translated ones.
 */

import type { ProcessOutcome } from '../../engine-counters';
import type { PacketMeta } from '../../packet-meta';
import type { PacketProcessor } from '../packet-driver';
import { ALGD_DONE_MARK, ALGD_MARK, ALGD_REDIRECT_MARK } from './algd-mark';
import { completePartialChecksum, decodePacket, IpProtocol, PacketView } from '../../packet';
import type { InterfaceSides } from './interface-sides';
import { NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO } from './nfqueue-lib';
import { NF_INET_HOOK, type NfqueuePacket } from './nfqueue-packet';
import type { NfqueueDecision } from './nfqueue-socket';
import { ThrottledLog, type LogFn } from '../throttled-log';

const ACCEPT: NfqueueDecision = Object.freeze({ verdict: 'accept' });
const DROP: NfqueueDecision = Object.freeze({ verdict: 'drop' });

/** The packet's meta: [complete checksum, partial checksum]. */
function meta(origin: PacketMeta['origin'], stage: PacketMeta['stage']): readonly [PacketMeta, PacketMeta] {
  return [Object.freeze({ origin, stage }), Object.freeze({ origin, stage, checksumPartial: true })];
}

const PRE_PRIVATE = meta('private', 'prerouting');
const PRE_PUBLIC = meta('public', 'prerouting');
const POST_PRIVATE = meta('private', 'postrouting');
const POST_PUBLIC = meta('public', 'postrouting');
const POST_LOCAL = meta('local', 'postrouting');

/** A translated packet's decision; one per batch position, reused. */
class MarkedAccept implements NfqueueDecision {
  readonly verdict = 'accept';
  modified: Buffer | undefined = undefined;
  mark = 0;
}

export class QueueVerdicts {
  /** Packets from a hook algd does not queue (accepted untouched). */
  unexpected = 0;
  /** Translated packets whose partial L4 checksum was completed before the verdict. */
  completedChecksums = 0;
  private readonly decisions: NfqueueDecision[] = [];
  private readonly marked: MarkedAccept[] = [];
  private readonly log: ThrottledLog;
  /** For completing checksums of translated partial packets. */
  private readonly view = new PacketView();

  constructor(
    private readonly processor: PacketProcessor,
    private readonly sides: InterfaceSides,
    log: LogFn,
    private readonly label = 'nfqueue',
  ) {
    this.log = new ThrottledLog(log);
  }

  /** The batch handler (see NfqueueSocket): one decision per packet, by index; the array is reused. */
  readonly handle = (packets: readonly NfqueuePacket[]): readonly NfqueueDecision[] => {
    const out = this.decisions;
    out.length = 0;
    for (let i = 0; i < packets.length; i++) out.push(this.decide(packets[i]!, i));
    return out;
  };

  private decide(p: NfqueuePacket, i: number): NfqueueDecision {
    const sides = this.sides;
    let m: readonly [PacketMeta, PacketMeta];
    if (p.hook === NF_INET_HOOK.PRE_ROUTING) {
      m = sides.sideOf(p.inIfIndex) === 'private' ? PRE_PRIVATE : PRE_PUBLIC;
    } else if (p.hook === NF_INET_HOOK.POST_ROUTING) {
      m = p.inIfIndex === 0 ? POST_LOCAL : sides.sideOf(p.inIfIndex) === 'private' ? POST_PRIVATE : POST_PUBLIC;
    } else {
      this.unexpected++;
      this.log.report('hook', 'error', `${this.label}: a packet from hook ${p.hook}, which algd does not queue; accepted untouched`);
      return ACCEPT;
    }
    const partial = (p.skbInfo & NFQA_SKB_CSUMNOTREADY) !== 0;
    const outcome: ProcessOutcome = this.processor.process(p.buffer, m[partial ? 1 : 0], p.offset, p.length);
    if (outcome === 'translated') {
      if (partial && decodePacket(p.buffer, this.view, p.offset, p.length) === undefined && !((p.skbInfo & NFQA_SKB_GSO) !== 0 && this.view.protocol === IpProtocol.UDP)) {
        completePartialChecksum(this.view);
        this.completedChecksums++;
      }
      const d = (this.marked[i] ??= new MarkedAccept());
      d.modified = p.payload;
      const done = p.hook === NF_INET_HOOK.PRE_ROUTING && this.processor.lastTranslationComplete === true;
      d.mark = (p.mark | ALGD_MARK | (done ? ALGD_DONE_MARK : 0)) >>> 0;
      return d;
    }
    if (outcome !== 'pass') return DROP;
    if (this.processor.lastKernelRedirect !== true) return ACCEPT;
    // A captured control connection's SYN: the kernel's nat sends it to the listener (kernel-redirects.ts).
    const d = (this.marked[i] ??= new MarkedAccept());
    d.modified = undefined;
    d.mark = (p.mark | ALGD_REDIRECT_MARK) >>> 0;
    return d;
  }
}
