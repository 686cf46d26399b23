/**
 * The iptables rules that hand algd what the capture specification asks
 * for, and nothing else: everything not queued stays in the kernel's fast
 * path (its conntrack and NAT). Pure: the driver installs what this returns.
 *
 * - raw PREROUTING (before conntrack, so conntrack records the engine's
 *   destination rewrite: the loopback listener, a mapping's private host;
 *   with the kernel redirect, only the SYNs of TCP control connections,
 *   whose translation is then conntrack's),
 *   except packets the kernel's fast path already translated
 *   (ALGD_DONE_MARK, offload-table.ts): new and later packets from private adapters to control ports, and from
 *   public adapters to published ports of the gateway's own addresses, and
 *   from private adapters to the gateway's own mapping ports (mappings that
 *   show the gateway as the private host's peer); packets
 *   from public adapters to mapping ports (inbound data channels and the
 *   replies of outbound ones), but not UDP a socket of algd's takes
 *   (`-m socket`: a relay's upstream socket); ICMP errors arriving on public adapters (they
 *   quote the public side of a mapping, which conntrack does not know).
 * - mangle POSTROUTING (after routing, before NAT): every packet of a
 *   connection marked as algd's (source rewrites: the listener's replies,
 *   the private host's side of a mapping) but those the engine finished
 *   before routing (they carry ALGD_DONE_MARK); and the first packet of every
 *   new TCP/UDP connection leaving through a public adapter (only the
 *   engine knows which ones an outbound mapping takes).
 *
 * - filter FORWARD, for firewalled public adapters only: a connection algd
 *   translated (its connmark carries algd's bit, saved at nat PREROUTING
 *   from the first packet's verdict) is accepted coming in through the
 *   adapter. That is the pinhole of a data channel: it exists for the
 *   connections made through the channel and goes with them; anything else
 *   meets the administrator's policy. (An accept here ends iptables' filter
 *   FORWARD chain only: a drop in another nftables table still wins.)
 *
 * A queued packet that is accepted resumes at the next hook, so rules after
 * algd's jump in raw PREROUTING and mangle POSTROUTING do not see it; algd's
 * jump comes first because an earlier ACCEPT would hide traffic from it.
 */

import type { CaptureSpec } from '../capture-spec';
import { ALGD_DONE_MARK_MATCH, ALGD_MARK_MATCH } from './algd-mark';
import { nfqueueTarget, type AlgdRule, type IpFamily } from './iptables-rules';

export interface CaptureRuleOptions {
  readonly queueNum: number;
  /** `--queue-bypass`: without a reader the kernel accepts instead of dropping. */
  readonly failOpen: boolean;
  /**
   * TCP control connections are redirected by the kernel (kernel-redirects.ts):
   * only their SYNs are queued. Default false: every packet, for the engine.
   */
  readonly kernelRedirect?: boolean;
}

const ICMP_ERRORS: Readonly<Record<IpFamily, { readonly proto: string; readonly option: string; readonly types: readonly string[] }>> = {
  4: { proto: 'icmp', option: '--icmp-type', types: ['destination-unreachable', 'time-exceeded', 'parameter-problem'] },
  6: { proto: 'ipv6-icmp', option: '--icmpv6-type', types: ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem'] },
};

export function captureRules(spec: CaptureSpec, opts: CaptureRuleOptions): AlgdRule[] {
  const queue = nfqueueTarget(opts.queueNum, { bypass: opts.failOpen });
  const families = spec.families;
  const privates = spec.adapters.filter((a) => a.side === 'private').map((a) => a.name);
  const publics = spec.adapters.filter((a) => a.side === 'public').map((a) => a.name);
  const mappingPorts = `${spec.mappingPorts.from}:${spec.mappingPorts.to}`;
  const rules: AlgdRule[] = [];
  // With the kernel redirect, the engine sees a TCP control connection's SYN only.
  const control = (protocol: string): string[] => (protocol === 'tcp' && opts.kernelRedirect === true ? ['-p', 'tcp', '--syn'] : ['-p', protocol]);
  const pre = (argv: string[], only?: readonly IpFamily[]): void => {
    rules.push({ hook: 'PREROUTING', argv: [...argv, ...queue], families: only ?? families });
  };

  // Translated by the kernel's fast path (offload-table.ts) before this hook: not the engine's to see.
  rules.push({ hook: 'PREROUTING', argv: ['-m', 'mark', '--mark', ALGD_DONE_MARK_MATCH, '-j', 'RETURN'], families });
  for (const iface of privates) {
    for (const c of uniqueControlPorts(spec)) pre(['-i', iface, ...control(c.protocol), '--dport', String(c.port)]);
    // A private host's side of a mapping that shows the gateway as the peer (privateSource): its packets come to the gateway's mapping ports.
    for (const proto of ['tcp', 'udp']) pre(['-i', iface, '-p', proto, '--dport', mappingPorts, '-m', 'addrtype', '--dst-type', 'LOCAL']);
  }
  for (const iface of publics) {
    for (const c of spec.publishedPorts ?? []) pre(['-i', iface, ...control(c.protocol), '--dport', String(c.port), '-m', 'addrtype', '--dst-type', 'LOCAL']);
    // A datagram for one of algd's own sockets in the range (a UDP relay's upstream socket, connected to its server) is the
    // socket's, not a mapping's: the engine would only pass it, so it is not queued (one crossing less per SIP message from a server).
    rules.push({ hook: 'PREROUTING', argv: ['-i', iface, '-p', 'udp', '--dport', mappingPorts, '-m', 'socket', '-j', 'RETURN'], families });
    for (const proto of ['tcp', 'udp']) pre(['-i', iface, '-p', proto, '--dport', mappingPorts]);
    for (const family of families) {
      const icmp = ICMP_ERRORS[family];
      for (const type of icmp.types) pre(['-i', iface, '-p', icmp.proto, icmp.option, type], [family]);
    }
  }

  const post = (argv: string[]): void => {
    rules.push({ hook: 'POSTROUTING', argv, families });
  };
  // Translated before routing with nothing left for after it (algd-mark.ts): not queued twice.
  post(['-m', 'mark', '--mark', ALGD_DONE_MARK_MATCH, '-j', 'RETURN']);
  post(['-m', 'connmark', '--mark', ALGD_MARK_MATCH, ...queue]);
  for (const iface of publics) {
    for (const proto of ['tcp', 'udp']) post(['-o', iface, '-p', proto, '-m', 'conntrack', '--ctstate', 'NEW', ...queue]);
  }
  for (const a of spec.adapters.filter((x) => x.side === 'public' && x.firewalled === true)) {
    rules.push({ hook: 'FORWARD', argv: ['-i', a.name, '-m', 'connmark', '--mark', ALGD_MARK_MATCH, '-j', 'ACCEPT'], families });
  }
  return rules;
}

function uniqueControlPorts(spec: CaptureSpec): { protocol: string; port: number }[] {
  const seen = new Map<string, { protocol: string; port: number }>();
  for (const c of spec.controlPorts) seen.set(`${c.protocol}/${c.port}`, { protocol: c.protocol, port: c.port });
  return [...seen.values()];
}
