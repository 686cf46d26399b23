import type { SessionContext } from '@algd/sdk';
import type { SipOptions } from './sip-options';
import type { SipState } from './sip-state';

type Ctx = SessionContext<SipOptions, SipState>;

/**
 * How long a session stays once its last call has ended and it holds no
 * registration: RFC 3261's T4, the longest a message stays in the network
 * (Timer K, 5 s over UDP). It is longer than T2 (4 s), the longest gap
 * between retransmissions of a request or a 2xx, and the host counts it
 * from the last message either way, so a BYE retransmitted because its 200
 * was lost, and that 200 again, still pass; only silence that long ends
 * the session.
 *
 * The host's idle timeout (`sessions.udpIdleTimeoutMs`, 120 s) is made for
 * a phone that keeps its socket between calls. A session holds a public
 * port from the mapping pool for its relay socket, and phones (or a proxy
 * in front of them) that open a socket per call leave behind one session
 * per call: at a few hundred calls a second, 120 s of each is tens of
 * thousands of ports, past the default pool of 4000. A SIP-aware NAT knows
 * when a binding carries nothing more, and lets it go.
 *
 * Over TCP nothing changes: the host's connection to the server has an
 * ephemeral port of the OS, not one of the pool, and a phone keeps its
 * connection for its next call.
 */
export const QUIET_IDLE_MS = 5_000;

/** What a message did, for the session's idle timeout. */
export type MessageEffect =
  /** It ended a call (BYE, CANCEL, a failed INVITE). */
  | 'ended'
  /** It may begin something the session must carry (any other request, a keepalive, anything unread). */
  | 'begins'
  /** Neither (a response, an ACK). */
  | 'neutral';

/**
 * Sets the session's idle timeout after a message: {@link QUIET_IDLE_MS}
 * once a call has ended and the session holds no call, no registration
 * and no REGISTER in flight; the host's configured timeout again as soon
 * as anything may begin (a new call, a REGISTER, a keepalive, an
 * unreadable message) or something is held again. Tells the host only of
 * changes (`state.quiet` remembers), so most messages cost nothing.
 */
export function settleIdle(ctx: Ctx, effect: MessageEffect): void {
  if (ctx.session.protocol !== 'udp') return;
  const s = ctx.state;
  const holdsNothing = s.dialogs.size === 0 && s.registration === undefined && s.pendingRegister === undefined;
  if (effect === 'ended' && holdsNothing) {
    if (s.quiet !== true) {
      s.quiet = true;
      ctx.setIdleTimeout(QUIET_IDLE_MS);
    }
    return;
  }
  if (s.quiet === true && (effect !== 'neutral' || !holdsNothing)) {
    delete s.quiet;
    ctx.setIdleTimeout();
  }
}
