import type { CommandRunner } from '../../../../host/nat-engine/drivers/nfqueue/command-runner';
import { addFlowCommands, OffloadTable, OffloadTableError, offloadRuleset, parseCounters, removeFlowCommands } from '../../../../host/nat-engine/drivers/nfqueue/offload-table';
import type { OffloadRule } from '../../../../host/nat-engine/drivers/flow-offload';
import { addr } from '../../../support/packets';

/** An active FTP data connection: the server's data reaches the client through 203.0.113.1:61000, the client's ACKs leave as it. */
const RULES: OffloadRule[] = [
  { hook: 'prerouting', match: { family: 4, protocol: 6, srcAddr: addr('203.0.113.2'), srcPort: 20, dstAddr: addr('203.0.113.1'), dstPort: 61000 }, rewrite: { side: 'dst', addr: addr('198.51.100.2'), port: 40001 } },
  { hook: 'postrouting', match: { family: 4, protocol: 6, srcAddr: addr('198.51.100.2'), srcPort: 40001, dstAddr: addr('203.0.113.2'), dstPort: 20 }, rewrite: { side: 'src', addr: addr('203.0.113.1'), port: 61000 } },
];
const RULES6: OffloadRule[] = [
  { hook: 'prerouting', match: { family: 6, protocol: 6, srcAddr: addr('2001:db8:2::2'), srcPort: 20, dstAddr: addr('2001:db8:2::1'), dstPort: 61001 }, rewrite: { side: 'dst', addr: addr('2001:db8:1::2'), port: 40002 } },
];

describe('the offload table (nftables table inet algd_offload)', () => {
  it('hooks before the raw capture and before mangle, leaves SYN/FIN/RST to the engine, and looks 5-tuples up per family', () => {
    expect(offloadRuleset([4, 6])).toBe([
      'table inet algd_offload',
      'delete table inet algd_offload',
      'table inet algd_offload {',
      '  map pre4 {',
      '    type inet_proto . ipv4_addr . ipv4_addr . inet_service . inet_service : verdict',
      '  }',
      '  map post4 {',
      '    type inet_proto . ipv4_addr . ipv4_addr . inet_service . inet_service : verdict',
      '  }',
      '  map pre6 {',
      '    type inet_proto . ipv6_addr . ipv6_addr . inet_service . inet_service : verdict',
      '  }',
      '  map post6 {',
      '    type inet_proto . ipv6_addr . ipv6_addr . inet_service . inet_service : verdict',
      '  }',
      '  chain prerouting {',
      '    type filter hook prerouting priority -310; policy accept;',
      '    tcp flags & (fin | syn | rst) != 0 return',
      '    meta nfproto ipv4 meta l4proto . ip saddr . ip daddr . th sport . th dport vmap @pre4',
      '    meta nfproto ipv6 meta l4proto . ip6 saddr . ip6 daddr . th sport . th dport vmap @pre6',
      '  }',
      '  chain postrouting {',
      '    type filter hook postrouting priority -160; policy accept;',
      '    tcp flags & (fin | syn | rst) != 0 return',
      '    meta nfproto ipv4 meta l4proto . ip saddr . ip daddr . th sport . th dport vmap @post4',
      '    meta nfproto ipv6 meta l4proto . ip6 saddr . ip6 daddr . th sport . th dport vmap @post6',
      '  }',
      '}',
      '',
    ].join('\n'));
    expect(offloadRuleset([4])).not.toContain('ip6');
  });

  it('adds a flow in one transaction: a counted chain per direction that rewrites one end and sets both mark bits, and its map elements', () => {
    expect(addFlowCommands(7, RULES)).toBe([
      'table inet algd_offload {',
      '  counter f7_0 {',
      '  }',
      '  chain f7_0 {',
      '    counter name "f7_0" ip daddr set 198.51.100.2 tcp dport set 40001 meta mark set meta mark | 0x30000000 accept',
      '  }',
      '  counter f7_1 {',
      '  }',
      '  chain f7_1 {',
      '    counter name "f7_1" ip saddr set 203.0.113.1 tcp sport set 61000 meta mark set meta mark | 0x30000000 accept',
      '  }',
      '}',
      'add element inet algd_offload pre4 { tcp . 203.0.113.2 . 203.0.113.1 . 20 . 61000 : jump f7_0 }',
      'add element inet algd_offload post4 { tcp . 198.51.100.2 . 203.0.113.2 . 40001 . 20 : jump f7_1 }',
      '',
    ].join('\n'));
    expect(addFlowCommands(8, RULES6)).toContain('ip6 daddr set 2001:db8:1::2 tcp dport set 40002');
    expect(addFlowCommands(8, RULES6)).toContain('add element inet algd_offload pre6 { tcp . 2001:db8:2::2 . 2001:db8:2::1 . 20 . 61001 : jump f8_0 }');
  });

  it('removes a flow elements first, then its chains and counters', () => {
    expect(removeFlowCommands(7, RULES)).toBe([
      'delete element inet algd_offload pre4 { tcp . 203.0.113.2 . 203.0.113.1 . 20 . 61000 }',
      'delete element inet algd_offload post4 { tcp . 198.51.100.2 . 203.0.113.2 . 40001 . 20 }',
      'delete chain inet algd_offload f7_0',
      'delete counter inet algd_offload f7_0',
      'delete chain inet algd_offload f7_1',
      'delete counter inet algd_offload f7_1',
      '',
    ].join('\n'));
  });

  it('refuses a protocol the maps cannot hold', () => {
    const icmp: OffloadRule = { ...RULES[0]!, match: { ...RULES[0]!.match, protocol: 1 } };
    expect(() => addFlowCommands(1, [icmp])).toThrow(OffloadTableError);
  });

  it('sums each flow\'s directions from nft -j list counters, ignoring what is not a flow counter', () => {
    const json = JSON.stringify({ nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'inet', name: 'f7_0', table: 'algd_offload', packets: 100, bytes: 150_000 } },
      { counter: { family: 'inet', name: 'f7_1', table: 'algd_offload', packets: 50, bytes: 2_600 } },
      { counter: { family: 'inet', name: 'f9_0', table: 'algd_offload', packets: 0, bytes: 0 } },
      { counter: { family: 'inet', name: 'other', table: 'algd_offload', packets: 5, bytes: 5 } },
    ] });
    expect(parseCounters(json)).toEqual(new Map([[7, { packets: 150, bytes: 152_600 }], [9, { packets: 0, bytes: 0 }]]));
  });

  it('runs nft in order, reads the last counters before removing, and forgets a flow the kernel refused', async () => {
    const calls: string[] = [];
    let fail = false;
    const run: CommandRunner = async (argv, input) => {
      calls.push(`${argv.join(' ')}${input === undefined ? '' : ` <<${input.split('\n')[0]}`}`);
      if (fail) return { code: 1, stdout: '', stderr: 'Error: Could not process rule' };
      const counters = { nftables: [{ counter: { name: 'f7_0', packets: 3, bytes: 300 } }, { counter: { name: 'f7_1', packets: 2, bytes: 104 } }] };
      return { code: 0, stdout: argv.includes('-j') ? JSON.stringify(counters) : '', stderr: '' };
    };
    const table = new OffloadTable({ families: [4], netns: 'gw', run });
    await table.install();
    expect(await table.counters()).toEqual(new Map()); // nothing installed: no nft run
    await table.add(7, RULES);
    await expect(table.add(7, RULES)).rejects.toThrow(/already offloaded/);
    expect(table.size).toBe(1);
    expect(await table.counters()).toEqual(new Map([[7, { packets: 5, bytes: 404 }]]));
    expect(await table.remove(7)).toEqual({ packets: 5, bytes: 404 });
    expect(await table.remove(7)).toBeUndefined();
    fail = true;
    await expect(table.add(8, RULES)).rejects.toThrow(/Could not process rule/);
    expect(table.size).toBe(0);
    fail = false;
    await table.drop();
    expect(calls).toEqual([
      'ip netns exec gw nft -f - <<table inet algd_offload',
      'ip netns exec gw nft -f - <<table inet algd_offload {',
      'ip netns exec gw nft -j list counters table inet algd_offload',
      'ip netns exec gw nft -j list counters table inet algd_offload',
      'ip netns exec gw nft -f - <<delete element inet algd_offload pre4 { tcp . 203.0.113.2 . 203.0.113.1 . 20 . 61000 }',
      'ip netns exec gw nft -f - <<table inet algd_offload {',
      'ip netns exec gw nft -f - <<table inet algd_offload',
    ]);
  });
});
