/**
 * The lab's network: three namespaces joined by two veth pairs.
 *
 * ```
 *   client [eth0] ──veth── [priv0] gateway [pub0] ──veth── [eth0] server
 *                                  [priv1]
 *                                     └──veth── [eth0] client2   (only with `secondClient`)
 * ```
 *
 * Addresses are in addresses.ts. The client's default routes point at the
 * gateway. The server has no default route and, unless `routing` is set,
 * no route to the private IPv4 range: it can answer only the gateway's
 * public address, so a connection from the client works only through NAT.
 * That is what makes ALG tests discriminate.
 *
 * Everything is configured inside the lab's own namespaces: the veth ends
 * are created directly in them (`ip -n GW link add ... peer ... netns X`),
 * so nothing of the lab ever appears in the root namespace except the
 * namespace names themselves.
 */

import {
  CLIENT2_V4,
  CLIENT_V4,
  CLIENT_V6,
  GATEWAY_PRIVATE2_V4,
  GATEWAY_PRIVATE_V4,
  GATEWAY_PRIVATE_V6,
  GATEWAY_PUBLIC_V4,
  GATEWAY_PUBLIC_V6,
  PREFIX_LENGTH,
  PRIVATE_PREFIX_V4,
  PRIVATE_PREFIX_V6,
  SECOND_PRIVATE_PREFIX_V4,
  SERVER_V4,
  SERVER_V6,
} from './addresses';
import type { LabNamespaces } from './lab-names';
import { runOk } from '../os/run-command';

/** The gateway's interface towards the client: the "private" adapter in algd configs. */
export const GATEWAY_PRIVATE_IFACE = 'priv0';
/** The gateway's interface towards client2 (`secondClient`): a second "private" adapter. */
export const GATEWAY_PRIVATE2_IFACE = 'priv1';
/** The gateway's interface towards the server: the "boundary" adapter in algd configs. */
export const GATEWAY_PUBLIC_IFACE = 'pub0';
/** The client's and the server's only interface. */
export const HOST_IFACE = 'eth0';
/** The nftables table holding the lab's masquerade rule on the gateway. */
export const LAB_NAT_TABLE = { family: 'inet', name: 'algd_lab_nat' } as const;

export interface LabOptions {
  /** Configure IPv6 (2001:db8:1::/64 private, 2001:db8:2::/64 public). Default true; false disables IPv6 in the lab. */
  readonly ipv6?: boolean;
  /**
   * IPv4 masquerade on the gateway (nftables, `oifname "pub0"`), so the
   * server sees 203.0.113.1. Default: true, unless `routing` is set.
   */
  readonly masquerade?: boolean;
  /**
   * Masquerade IPv6 too, and give the server no route to 2001:db8:1::/64.
   * Default false: IPv6 is routed without NAT (the server routes
   * 2001:db8:1::/64 via the gateway), because algd's IPv6 case is a
   * firewalled adapter, not NAT. Requires `ipv6`.
   */
  readonly ipv6Nat?: boolean;
  /**
   * Give the server routes back to the private ranges via the gateway, so
   * traffic flows without NAT (and masquerade defaults to off): the server
   * then sees 198.51.100.2. Tests use it to prove they discriminate.
   * Default false.
   */
  readonly routing?: boolean;
  /** A label in the namespace names (1-12 lower-case letters or digits), to tell labs apart. */
  readonly name?: string;
  /**
   * Leave the veths' offloads on (checksum offload, TSO/GSO, GRO, as veth
   * creates them): hosts then send 64 KiB TCP super-packets with partial
   * checksums (CHECKSUM_PARTIAL) across the lab, as on a real gateway with
   * offloading NICs. Default false: every offload off, so captures show
   * exactly the wire bytes (complete checksums, MTU-sized segments).
   */
  readonly offloads?: boolean;
  /**
   * A second client, host `client2` (192.0.2.2/24, IPv4 only), on its own
   * private network behind the gateway's `priv1` (192.0.2.1/24),
   * masqueraded like the first (the masquerade rule matches the public
   * interface only) and routed from the server with `routing`. For two
   * clients behind one gateway asking for the same ports. Default false.
   */
  readonly secondClient?: boolean;
}

export interface ResolvedLabOptions {
  readonly ipv6: boolean;
  readonly masquerade: boolean;
  readonly ipv6Nat: boolean;
  readonly routing: boolean;
  readonly name: string | undefined;
  readonly offloads: boolean;
  readonly secondClient: boolean;
}

/** Applies defaults and rejects contradictory options. */
export function resolveLabOptions(opts: LabOptions = {}): ResolvedLabOptions {
  const routing = opts.routing ?? false;
  const resolved: ResolvedLabOptions = {
    ipv6: opts.ipv6 ?? true,
    masquerade: opts.masquerade ?? !routing,
    ipv6Nat: opts.ipv6Nat ?? false,
    routing,
    name: opts.name,
    offloads: opts.offloads ?? false,
    secondClient: opts.secondClient ?? false,
  };
  if (resolved.ipv6Nat && !resolved.ipv6) throw new Error('lab option ipv6Nat needs ipv6');
  return resolved;
}

const READY_TIMEOUT_MS = 5_000;

function inNs(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** The nftables ruleset the gateway gets (empty when it masquerades nothing). */
export function labNatRuleset(opts: ResolvedLabOptions): string {
  const rules: string[] = [];
  if (opts.masquerade) rules.push(`oifname "${GATEWAY_PUBLIC_IFACE}" meta nfproto ipv4 masquerade`);
  if (opts.ipv6Nat) rules.push(`oifname "${GATEWAY_PUBLIC_IFACE}" meta nfproto ipv6 masquerade`);
  if (rules.length === 0) return '';
  return [
    `table ${LAB_NAT_TABLE.family} ${LAB_NAT_TABLE.name} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * Creates the namespaces (`ns.client`, `ns.gateway`, `ns.server`, and
 * `ns.client2` with `secondClient`) and everything in them; resolves once
 * every interface is up and every address usable. On failure it leaves what
 * it made for the caller to delete.
 */
export async function buildTopology(ns: LabNamespaces, opts: ResolvedLabOptions): Promise<void> {
  // Names and options come from one place (Lab); a mismatch is a bug, not a network to half-build.
  if (opts.secondClient !== (ns.client2 !== undefined)) throw new Error('secondClient and the client2 namespace must come together');
  const client2 = ns.client2;
  const hosts = [ns.client, ns.gateway, ns.server, ...(client2 === undefined ? [] : [client2])];
  for (const name of hosts) await runOk(['ip', 'netns', 'add', name]);

  // Before any interface exists, so they inherit it: no DAD (addresses are
  // usable at once; `nodad` below covers the global ones too), no router
  // advertisements or solicitations, or no IPv6 at all.
  const v6Sysctls = opts.ipv6
    ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0', 'net.ipv6.conf.default.router_solicitations=0']
    : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
  for (const name of hosts) await runOk(inNs(name, ['sysctl', '-q', '-w', ...v6Sysctls]));

  // The veth pairs, created directly inside the namespaces.
  await runOk(['ip', '-n', ns.gateway, 'link', 'add', GATEWAY_PRIVATE_IFACE, 'type', 'veth', 'peer', 'name', HOST_IFACE, 'netns', ns.client]);
  await runOk(['ip', '-n', ns.gateway, 'link', 'add', GATEWAY_PUBLIC_IFACE, 'type', 'veth', 'peer', 'name', HOST_IFACE, 'netns', ns.server]);
  if (client2 !== undefined) {
    await runOk(['ip', '-n', ns.gateway, 'link', 'add', GATEWAY_PRIVATE2_IFACE, 'type', 'veth', 'peer', 'name', HOST_IFACE, 'netns', client2]);
  }
  const ends: [string, string][] = [
    [ns.client, HOST_IFACE],
    [ns.gateway, GATEWAY_PRIVATE_IFACE],
    [ns.gateway, GATEWAY_PUBLIC_IFACE],
    [ns.server, HOST_IFACE],
    ...(client2 === undefined ? [] : [[ns.gateway, GATEWAY_PRIVATE2_IFACE], [client2, HOST_IFACE]] as [string, string][]),
  ];
  // veth offloads would leave partial checksums (CHECKSUM_PARTIAL) in captured
  // packets and merge segments (GRO); off, captures show exactly the wire bytes.
  // With `offloads` they stay as veth made them.
  if (!opts.offloads) {
    for (const [name, iface] of ends) {
      await runOk(inNs(name, ['ethtool', '-K', iface, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']));
    }
  }
  for (const name of hosts) await runOk(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  for (const [name, iface] of ends) await runOk(['ip', '-n', name, 'link', 'set', iface, 'up']);

  const addr = async (name: string, iface: string, address: string, family: 4 | 6): Promise<void> => {
    const extra = family === 6 ? ['nodad'] : [];
    await runOk(['ip', '-n', name, `-${family}`, 'addr', 'add', `${address}/${PREFIX_LENGTH[family]}`, 'dev', iface, ...extra]);
  };
  await addr(ns.client, HOST_IFACE, CLIENT_V4, 4);
  await addr(ns.gateway, GATEWAY_PRIVATE_IFACE, GATEWAY_PRIVATE_V4, 4);
  await addr(ns.gateway, GATEWAY_PUBLIC_IFACE, GATEWAY_PUBLIC_V4, 4);
  await addr(ns.server, HOST_IFACE, SERVER_V4, 4);
  await runOk(['ip', '-n', ns.client, '-4', 'route', 'add', 'default', 'via', GATEWAY_PRIVATE_V4]);
  if (opts.routing) await runOk(['ip', '-n', ns.server, '-4', 'route', 'add', PRIVATE_PREFIX_V4, 'via', GATEWAY_PUBLIC_V4]);
  if (client2 !== undefined) {
    // IPv4 only: the second network exists for clients that collide on ports behind one NAT.
    await addr(ns.gateway, GATEWAY_PRIVATE2_IFACE, GATEWAY_PRIVATE2_V4, 4);
    await addr(client2, HOST_IFACE, CLIENT2_V4, 4);
    await runOk(['ip', '-n', client2, '-4', 'route', 'add', 'default', 'via', GATEWAY_PRIVATE2_V4]);
    if (opts.routing) await runOk(['ip', '-n', ns.server, '-4', 'route', 'add', SECOND_PRIVATE_PREFIX_V4, 'via', GATEWAY_PUBLIC_V4]);
  }
  if (opts.ipv6) {
    await addr(ns.client, HOST_IFACE, CLIENT_V6, 6);
    await addr(ns.gateway, GATEWAY_PRIVATE_IFACE, GATEWAY_PRIVATE_V6, 6);
    await addr(ns.gateway, GATEWAY_PUBLIC_IFACE, GATEWAY_PUBLIC_V6, 6);
    await addr(ns.server, HOST_IFACE, SERVER_V6, 6);
    await runOk(['ip', '-n', ns.client, '-6', 'route', 'add', 'default', 'via', GATEWAY_PRIVATE_V6]);
    if (opts.routing || !opts.ipv6Nat) {
      await runOk(['ip', '-n', ns.server, '-6', 'route', 'add', PRIVATE_PREFIX_V6, 'via', GATEWAY_PUBLIC_V6]);
    }
  }

  // The gateway forwards (these sysctls exist per namespace; the root namespace is untouched).
  const forwarding = ['net.ipv4.ip_forward=1', ...(opts.ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : [])];
  await runOk(inNs(ns.gateway, ['sysctl', '-q', '-w', ...forwarding]));
  const ruleset = labNatRuleset(opts);
  if (ruleset !== '') await runOk(inNs(ns.gateway, ['nft', '-f', '-']), { input: ruleset });

  for (const [name, iface] of ends) await waitInterfaceReady(name, iface);
}

interface IpAddrJson {
  operstate?: string;
  addr_info?: { local?: string; tentative?: boolean; dadfailed?: boolean }[];
}

/** Polls until `iface` in `ns` is operationally up and none of its addresses is tentative. */
async function waitInterfaceReady(ns: string, iface: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  for (;;) {
    const out = (await runOk(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', iface])).stdout;
    last = out;
    const [link] = JSON.parse(out) as IpAddrJson[];
    const addrs = link?.addr_info ?? [];
    if (addrs.some((a) => a.dadfailed)) throw new Error(`duplicate address detected on ${iface} in ${ns}: ${out}`);
    if (link?.operstate === 'UP' && !addrs.some((a) => a.tentative)) return;
    if (Date.now() > deadline) throw new Error(`${iface} in ${ns} not ready after ${READY_TIMEOUT_MS} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
