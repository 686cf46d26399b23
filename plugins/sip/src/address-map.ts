import { formatHost, formatHostPort, ipAddress, parseHostPort, type IpAddress, type SessionInfo } from '@algd/sdk';

/**
 * What the gateway translates in one direction: the phone's own address
 * into the boundary endpoint (phone to server), and the boundary endpoint
 * back into the phone's (server to phone). Nothing else is touched: a
 * third party's address, a host name, another port of the gateway.
 */
export interface AddressMap {
  /**
   * The replacement for `host[:port]`, or undefined to keep it. In an
   * identity (From, To) a form without a port keeps having none: it names
   * the phone, it does not route to it.
   */
  hostPort(text: string, identity?: boolean): string | undefined;
  /** The replacement for a bare address (Via `received`/`maddr`, URI `maddr`, SDP), brackets kept as written; undefined to keep it. */
  address(text: string): string | undefined;
  /** The replacement for the `rport` value of a Via whose sent-by was translated; undefined to keep it. */
  rport(text: string): string | undefined;
}

/**
 * Phone to server: the phone's address with the phone's port or no port
 * becomes the boundary endpoint. Over TCP any port of the phone's address
 * does: the phone's source port is an ephemeral one, the port it announces
 * (its listening port) cannot be reached through the NAT, and what reaches
 * the boundary endpoint comes down this very connection (RFC 5626's
 * connection reuse).
 */
export function phoneToServer(session: SessionInfo): AddressMap {
  const { client, boundary } = session;
  return {
    hostPort(text, identity = false) {
      const hp = parseHostPort(text);
      if (hp === undefined || hp.address !== client.address) return undefined;
      if (hp.port !== undefined && hp.port !== client.port && session.protocol !== 'tcp') return undefined;
      return identity && hp.port === undefined ? formatHost(boundary.address) : formatHostPort(boundary);
    },
    address: (text) => swapAddress(text, client.address, boundary.address),
    rport: () => undefined,
  };
}

/**
 * Server to phone: the boundary endpoint (or the boundary address without
 * a port) becomes the phone's address as the phone wrote it itself
 * (`phoneForm`, e.g. `198.51.100.2:5060`), so that a response's top Via
 * matches what the phone sent (RFC 3261 §18.1.2). The `rport` the server
 * saw (the boundary port) becomes the phone's own source port.
 */
export function serverToPhone(session: SessionInfo, phoneForm: string): AddressMap {
  const { client, boundary } = session;
  return {
    hostPort(text) {
      const hp = parseHostPort(text);
      if (hp === undefined || hp.address !== boundary.address) return undefined;
      if (hp.port === undefined) return formatHost(client.address);
      return hp.port === boundary.port ? phoneForm : undefined;
    },
    address: (text) => swapAddress(text, boundary.address, client.address),
    rport: (text) => (text === String(boundary.port) ? String(client.port) : undefined),
  };
}

/** `to` in place of an address text that is `from` (with or without IPv6 brackets, which are kept). */
function swapAddress(text: string, from: IpAddress, to: IpAddress): string | undefined {
  let address: IpAddress;
  try {
    address = ipAddress(text);
  } catch {
    return undefined;
  }
  if (address !== from) return undefined;
  return text.startsWith('[') ? formatHost(to) : to;
}
