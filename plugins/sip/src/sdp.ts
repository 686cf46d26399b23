import { ipAddress, isPort, type IpAddress, type Port } from '@algd/sdk';
import type { Span } from './span';

/** A connection address (`c=IN IP4 198.51.100.2`, `o=... IN IP6 2001:db8::2`, `a=rtcp:port IN IP4 addr`). */
export interface SdpAddress {
  /** Canonical when it is an IP literal of the declared family; undefined for a host name or anything else. */
  readonly address: IpAddress | undefined;
  readonly span: Span;
}

/** One `m=` section. */
export interface SdpMedia {
  readonly port: Port;
  readonly portSpan: Span;
  /** Media-level `c=`, which overrides the session's (RFC 4566 §5.7). */
  readonly connection?: SdpAddress;
  /** `a=rtcp:` (RFC 3605): the RTCP port, and address when given. */
  readonly rtcp?: { readonly port: Port; readonly portSpan: Span; readonly address?: SdpAddress };
}

/** The address-carrying lines of a session description, spans over the message text. */
export interface Sdp {
  readonly origin?: SdpAddress;
  readonly connection?: SdpAddress;
  readonly media: readonly SdpMedia[];
  /** ICE candidates (`a=candidate`, RFC 8839) anywhere: the phone handles NAT itself. */
  readonly hasCandidates: boolean;
}

/** More `m=` lines than any call has; a description with more is not read. */
export const MAX_MEDIA = 16;

/**
 * Reads a session description (RFC 4566 / RFC 8866) at `text[body]`, line
 * by line: `o=`, session and media `c=`, `m=` ports, `a=rtcp` and
 * `a=candidate`. Every line must be `x=...`; `m=` and `c=` lines must be
 * well formed. Undefined when it is not a description this plugin can
 * rewrite safely.
 */
export function parseSdp(text: string, body: Span): Sdp | undefined {
  let origin: SdpAddress | undefined;
  let connection: SdpAddress | undefined;
  let hasCandidates = false;
  const media: { port: Port; portSpan: Span; connection?: SdpAddress; rtcp?: SdpMedia['rtcp'] }[] = [];
  let pos = body.start;
  while (pos < body.end) {
    let lf = text.indexOf('\n', pos);
    if (lf < 0 || lf >= body.end) lf = body.end;
    const end = lf > pos && text[lf - 1] === '\r' ? lf - 1 : lf;
    const line = text.slice(pos, end);
    const start = pos;
    pos = lf + 1;
    if (line === '') continue;
    if (!/^[a-z]=/.test(line)) return undefined;
    const value = start + 2;
    const current = media[media.length - 1];
    switch (line[0]) {
      case 'o': {
        const m = /^o=\S+ \S+ \S+ IN (IP[46]) (\S+)$/.exec(line);
        if (m) origin = address(m[1]!, m[2]!, start + line.length - m[2]!.length);
        break;
      }
      case 'c': {
        const m = /^c=IN (IP[46]) ([^/\s]+)(\/[0-9/]+)?$/.exec(line);
        if (!m) return undefined;
        const c = address(m[1]!, m[2]!, value + 'IN IPx '.length);
        if (current) current.connection = c;
        else connection = c;
        break;
      }
      case 'm': {
        const m = /^m=\S+ ([0-9]{1,5})(\/[0-9]+)? \S+/.exec(line);
        if (!m || !isPort(Number(m[1])) || media.length >= MAX_MEDIA) return undefined;
        const portStart = line.indexOf(' ') + start + 1;
        media.push({ port: Number(m[1]) as Port, portSpan: { start: portStart, end: portStart + m[1]!.length } });
        break;
      }
      case 'a': {
        if (/^a=candidate:/i.test(line)) hasCandidates = true;
        const rtcp = /^a=rtcp:([0-9]{1,5})(?: IN (IP[46]) (\S+))?$/.exec(line);
        if (rtcp && current && isPort(Number(rtcp[1]))) {
          const portStart = value + 'rtcp:'.length;
          current.rtcp = {
            port: Number(rtcp[1]) as Port,
            portSpan: { start: portStart, end: portStart + rtcp[1]!.length },
            ...(rtcp[2] === undefined ? {} : { address: address(rtcp[2], rtcp[3]!, start + line.length - rtcp[3]!.length) }),
          };
        }
        break;
      }
      default:
        break;
    }
  }
  return { ...(origin ? { origin } : {}), ...(connection ? { connection } : {}), media, hasCandidates };
}

/** The unspecified address (`0.0.0.0`, `::`): RFC 2543 hold, or "address not yet known". */
export function isUnspecified(address: IpAddress): boolean {
  return address === '0.0.0.0' || address === '::';
}

function address(family: string, text: string, at: number): SdpAddress {
  let canonical: IpAddress | undefined;
  try {
    canonical = ipAddress(text);
  } catch {
    canonical = undefined;
  }
  // The declared family must be the address's; IPv6 is never bracketed here.
  if (canonical !== undefined && (text.startsWith('[') || (family === 'IP6') !== canonical.includes(':'))) canonical = undefined;
  return { address: canonical, span: { start: at, end: at + text.length } };
}
