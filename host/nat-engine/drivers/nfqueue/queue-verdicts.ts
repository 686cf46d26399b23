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
 *   packet's mark; a drop reason → drop.
 * - The driver adds no policy of its own: an algd connection's packet the
 *   engine passes but that should have been translated is the nat guard's
 *   (nat-guard.ts) to drop, in the kernel, which also covers a bypassed queue.
 *
 * Allocates nothing per packet except the payload view of translated ones.
 */

import type { ProcessOutcome } from '../../engine-counters';
import type { PacketMeta } from '../../packet-meta';
import type { PacketProcessor } from '../packet-driver';
import { ALGD_MARK } from './algd-mark';
import type { InterfaceSides } from './interface-sides';
import { NF_INET_HOOK, type NfqueuePacket } from './nfqueue-packet';
import type { NfqueueDecision } from './nfqueue-socket';
import { ThrottledLog, type LogFn } from '../throttled-log';

const ACCEPT: NfqueueDecision = Object.freeze({ verdict: 'accept' });
const DROP: NfqueueDecision = Object.freeze({ verdict: 'drop' });

function meta(origin: PacketMeta['origin'], stage: PacketMeta['stage']): PacketMeta {
  return Object.freeze({ origin, stage });
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
  private readonly decisions: NfqueueDecision[] = [];
  private readonly marked: MarkedAccept[] = [];
  private readonly log: ThrottledLog;

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
    let m: PacketMeta;
    if (p.hook === NF_INET_HOOK.PRE_ROUTING) {
      m = sides.sideOf(p.inIfIndex) === 'private' ? PRE_PRIVATE : PRE_PUBLIC;
    } else if (p.hook === NF_INET_HOOK.POST_ROUTING) {
      m = p.inIfIndex === 0 ? POST_LOCAL : sides.sideOf(p.inIfIndex) === 'private' ? POST_PRIVATE : POST_PUBLIC;
    } else {
      this.unexpected++;
      this.log.report('hook', 'error', `${this.label}: a packet from hook ${p.hook}, which algd does not queue; accepted untouched`);
      return ACCEPT;
    }
    const outcome: ProcessOutcome = this.processor.process(p.buffer, m, p.offset, p.length);
    if (outcome === 'translated') {
      const d = (this.marked[i] ??= new MarkedAccept());
      d.modified = p.payload;
      d.mark = (p.mark | ALGD_MARK) >>> 0;
      return d;
    }
    return outcome === 'pass' ? ACCEPT : DROP;
  }
}
