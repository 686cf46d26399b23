import { parseHostPort, sameEndpoint, type SessionContext, type SessionInfo } from '@algd/sdk';
import { elementUri, findParam, splitElements } from './header-values';
import { firstHeaderText, headersNamed, type SipMessage } from './sip-message';
import type { SipOptions } from './sip-options';
import type { PendingRegister, SipState } from './sip-state';
import { findUriAddress } from './sip-uri';

type Ctx = SessionContext<SipOptions, SipState>;

/** RFC 3261 §10.2.1.1: without Expires or an expires parameter, a registrar assumes an hour. */
export const DEFAULT_REGISTRATION_SECONDS = 3600;
/** The host keeps a channel at most a day; a longer registration is refreshed by the phone before that anyway. */
const MAX_PINHOLE_MS = 86_400_000;

/** One Contact element of a REGISTER or its response: its `host[:port]` text and `expires` parameter. */
interface ContactBinding {
  readonly hostPort: string | undefined;
  readonly expires: number | undefined;
}

/** The Contact bindings of a message; `wildcard` for `Contact: *` (remove every binding). */
function contacts(message: SipMessage): { wildcard: boolean; bindings: ContactBinding[] } {
  const { text } = message;
  const bindings: ContactBinding[] = [];
  let wildcard = false;
  for (const h of headersNamed(message, 'contact')) {
    for (const element of splitElements(text, h.value)) {
      if (text.slice(element.start, element.end) === '*') {
        wildcard = true;
        continue;
      }
      const found = elementUri(text, element);
      const address = found && findUriAddress(text, found.uri);
      const expires = found && findParam(text, found.params, 'expires');
      bindings.push({
        hostPort: address ? text.slice(address.hostPort.start, address.hostPort.end) : undefined,
        expires: expires ? seconds(text.slice(expires.start, expires.end)) : undefined,
      });
    }
  }
  return { wildcard, bindings };
}

/**
 * The first Contact of a REGISTER that is not the phone's own: not an IP
 * literal of the phone's address (any port), nor the boundary endpoint (a
 * phone that learnt its public address itself). A phone may register only
 * itself; binding someone else's address to an identity would let it
 * steer that identity's calls to a third party through the gateway.
 */
export function thirdPartyContact(message: SipMessage, session: SessionInfo): string | undefined {
  for (const b of contacts(message).bindings) {
    const hp = b.hostPort === undefined ? undefined : parseHostPort(b.hostPort);
    const own = hp !== undefined && (hp.address === session.client.address || (hp.port !== undefined && sameEndpoint({ address: hp.address, port: hp.port }, session.boundary)));
    if (!own) return b.hostPort ?? '(no SIP URI)';
  }
  return undefined;
}

/** What a REGISTER from the phone asks for; undefined for a query (no Contact), which changes no binding. */
export function pendingRegister(message: SipMessage): PendingRegister | undefined {
  const { wildcard, bindings } = contacts(message);
  if (!wildcard && bindings.length === 0) return undefined;
  const header = expiresHeader(message);
  const requested = bindings.find((b) => b.expires !== undefined)?.expires ?? header;
  const unregister = wildcard || bindings.every((b) => (b.expires ?? header) === 0);
  return { callId: message.callId, cseq: message.cseq.number, unregister, ...(requested === undefined ? {} : { requested }) };
}

/**
 * A final response from the registrar to the pending REGISTER. On a 2xx
 * the pinhole follows the binding: its lifetime is the `expires` of the
 * phone's contact in the response (the boundary endpoint, as the
 * registrar stored it), else the response's Expires, else what the phone
 * asked for, else an hour. A refresh renews the pinhole for the new
 * lifetime; lifetime 0 (un-register) removes it.
 */
export async function registrationAnswered(ctx: Ctx, response: SipMessage, status: number): Promise<void> {
  const pending = ctx.state.pendingRegister;
  if (pending === undefined || pending.callId !== response.callId || pending.cseq !== response.cseq.number || status < 200) return;
  delete ctx.state.pendingRegister;
  if (status >= 300) return;
  const ours = contacts(response).bindings.find((b) => {
    const hp = b.hostPort === undefined ? undefined : parseHostPort(b.hostPort);
    return hp?.port !== undefined && sameEndpoint({ address: hp.address, port: hp.port }, ctx.session.boundary);
  });
  const lifetime = ours?.expires ?? (ours === undefined && pending.unregister ? 0 : undefined) ?? expiresHeader(response) ?? pending.requested ?? DEFAULT_REGISTRATION_SECONDS;
  await setPinhole(ctx, lifetime);
}

/**
 * The registration pinhole: the registrar (the session's server endpoint)
 * may reach the phone through the session's own boundary endpoint for the
 * registration's lifetime. The host carries such a channel with the
 * session itself, so the registrar's requests keep flowing through this
 * plugin.
 */
async function setPinhole(ctx: Ctx, lifetimeSeconds: number): Promise<void> {
  const { session } = ctx;
  const lifetimeMs = Math.min(lifetimeSeconds * 1000, MAX_PINHOLE_MS);
  const current = ctx.state.registration;
  if (current !== undefined && lifetimeSeconds > 0) {
    // A refresh: the same pinhole, its life counted again from now.
    try {
      await ctx.renewDataChannel(current, lifetimeMs);
      ctx.count('register-pinhole-renewed');
      return;
    } catch (err) {
      // Gone already (its end event not yet handled): a new one replaces it below.
      ctx.log.info('registration pinhole not renewed; opening a new one', { channel: current, error: (err as Error).message });
    }
  }
  if (current !== undefined) {
    delete ctx.state.registration;
    try {
      await ctx.removeDataChannel(current);
    } catch (err) {
      ctx.log.warn('remove failed', { channel: current, error: (err as Error).message });
    }
    if (lifetimeSeconds === 0) ctx.count('register-pinhole-removed');
  }
  if (lifetimeSeconds === 0) return;
  try {
    const channel = await ctx.createDataChannel({
      protocol: session.protocol,
      private: session.client,
      public: session.boundary,
      remote: { address: session.server.address, port: session.server.port },
      direction: 'inbound',
      persistent: true,
      lifetimeMs,
      notify: { ended: ['expired'] },
    });
    ctx.state.registration = channel.id;
    ctx.count('register-pinhole');
  } catch (err) {
    ctx.count('register-pinhole-refused');
    ctx.log.warn('registration pinhole refused', { error: (err as Error).message });
  }
}

function expiresHeader(message: SipMessage): number | undefined {
  const text = firstHeaderText(message, 'expires');
  return text === undefined ? undefined : seconds(text.trim());
}

/** A delta-seconds value (RFC 3261 §25.1), saturating at 2^32 - 1 as §20.19 allows; undefined when not digits. */
function seconds(text: string): number | undefined {
  if (!/^[0-9]{1,20}$/.test(text)) return undefined;
  return Math.min(Number(text), 4_294_967_295);
}
