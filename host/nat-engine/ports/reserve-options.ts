import type { TransportProtocol } from '@algd/sdk';

/** What `PortPool.reserve` is asked for. */
export interface ReserveOptions {
  /** How many ports. Default 1, or 2 with `parity: 'even-odd'`. */
  readonly count?: number;
  /** All ports consecutive (`p, p+1, ...`), within the range. Implied by `parity`. */
  readonly contiguous?: boolean;
  /**
   * `even-odd`: consecutive ports starting at an even one, for RTP (even)
   * and RTCP (the next, odd) as RFC 3550 §11 asks.
   */
  readonly parity?: 'even-odd';
  /**
   * A port to try first, as the first of the run: used when it qualifies
   * and is free (for instance to keep a client's own port, as NATs try to),
   * otherwise the pool searches as usual.
   */
  readonly preferred?: number;
  /** The OS socket table to check for ports in use; both when unset. */
  readonly protocol?: TransportProtocol;
}

/** `1 port`, `4 contiguous udp ports`, `an even/odd pair of udp ports (preferred 40000)`. */
export function describeRequest(r: Readonly<ReserveOptions>): string {
  const proto = r.protocol === undefined ? '' : `${r.protocol} `;
  let text: string;
  if (r.parity === 'even-odd') {
    const count = r.count ?? 2;
    text = count === 2 ? `an even/odd pair of ${proto}ports` : `${count} contiguous ${proto}port${count === 1 ? '' : 's'} starting at an even port`;
  } else {
    const count = r.count ?? 1;
    text = `${count} ${r.contiguous && count > 1 ? 'contiguous ' : ''}${proto}port${count === 1 ? '' : 's'}`;
  }
  return r.preferred === undefined ? text : `${text} (preferred ${r.preferred})`;
}
