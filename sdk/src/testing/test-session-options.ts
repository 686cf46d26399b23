import type { Framing } from '../framing/framing';
import { endpoint, ipAddress, type Endpoint, type TransportProtocol } from '../net';
import type { PluginDefinition } from '../plugin';
import type { AdapterInfo, ClientSide, SessionInfo } from '../session';
import type { InMemoryServicesConfig } from './in-memory-host-services';

/**
 * How a {@link PluginTestSession} is set up. Everything is optional; the
 * defaults are the design's test network ({@link TEST_SESSION_DEFAULTS}): a
 * private client 198.51.100.2, a server 203.0.113.2 on the plugin's first
 * port, the gateway 198.51.100.1 inside and 203.0.113.1 outside.
 */
export interface PluginTestSessionOptions {
  /** The plugin's options as they would appear in the configuration file; parsed with the plugin's `options` parser (passed as is when it has none). */
  readonly options?: unknown;
  /** The session's transport. Default: the first control channel's. */
  readonly protocol?: TransportProtocol;
  /** Default 198.51.100.2:40000. */
  readonly client?: Endpoint;
  /** Default 203.0.113.2 on the first port of the first control channel of the protocol. */
  readonly server?: Endpoint;
  /** The gateway's endpoint on the upstream leg. Default 203.0.113.1:61234. */
  readonly boundary?: Endpoint;
  /** Default `private`. */
  readonly clientSide?: ClientSide;
  /** Default a private adapter 198.51.100.1 and a boundary adapter 203.0.113.1. */
  readonly adapters?: readonly AdapterInfo[];
  /** Public ports for channels without a `public` endpoint and for reservations. Default 61000-64999. */
  readonly publicPorts?: { readonly from: number; readonly to: number };
  /** Open data channels the session may have at once. Default 16. */
  readonly maxDataChannels?: number;
}

/** The defaults of {@link PluginTestSessionOptions}. */
export const TEST_SESSION_DEFAULTS = Object.freeze({
  client: endpoint('198.51.100.2', 40000),
  serverAddress: ipAddress('203.0.113.2'),
  boundary: endpoint('203.0.113.1', 61234),
  clientSide: 'private' as ClientSide,
  adapters: Object.freeze([
    Object.freeze({ name: 'lan', type: 'private', addresses: Object.freeze([ipAddress('198.51.100.1')]) }),
    Object.freeze({ name: 'wan', type: 'boundary', addresses: Object.freeze([ipAddress('203.0.113.1')]) }),
  ]) as readonly AdapterInfo[],
  publicPorts: Object.freeze({ from: 61000, to: 64999 }),
  maxDataChannels: 16,
});

/** A test session's setup with every default filled in. */
export interface ResolvedTestSession {
  readonly session: SessionInfo;
  /** The framing of the control channel the session is on (undefined: raw). */
  readonly framing: Framing | undefined;
  readonly services: InMemoryServicesConfig;
}

/**
 * Fills in the defaults. The session is on the first control channel of
 * the protocol that captures the server's port (or the first of the
 * protocol); throws when the plugin captures nothing on that protocol.
 */
export function resolveTestSession(plugin: PluginDefinition<any, any>, o: PluginTestSessionOptions): ResolvedTestSession {
  const protocol = o.protocol ?? plugin.controlChannels[0]!.protocol;
  const candidates = plugin.controlChannels.filter((c) => c.protocol === protocol);
  if (candidates.length === 0) throw new Error(`plugin ${plugin.name} has no ${protocol} control channel`);
  const channel = candidates.find((c) => o.server !== undefined && c.ports.includes(o.server.port)) ?? candidates[0]!;
  const d = TEST_SESSION_DEFAULTS;
  const session: SessionInfo = {
    id: `${plugin.name}-1`,
    plugin: plugin.name,
    protocol,
    client: o.client ?? d.client,
    server: o.server ?? { address: d.serverAddress, port: channel.ports[0]! },
    boundary: o.boundary ?? d.boundary,
    clientSide: o.clientSide ?? d.clientSide,
    adapters: o.adapters ?? d.adapters,
  };
  return {
    session: structuredClone(session),
    framing: channel.framing,
    services: { publicPorts: o.publicPorts ?? d.publicPorts, maxDataChannels: o.maxDataChannels ?? d.maxDataChannels },
  };
}
