import type { CaptureSpec } from '../../../../host/nat-engine/drivers/capture-spec';
import { captureRules } from '../../../../host/nat-engine/drivers/nfqueue/capture-rules';
import { port } from '@algd/sdk';

const spec: CaptureSpec = {
  adapters: [
    { name: 'eth1', side: 'private' },
    { name: 'eth0', side: 'public' },
  ],
  controlPorts: [
    { protocol: 'tcp', port: port(21) },
    { protocol: 'udp', port: port(5060) },
    { protocol: 'tcp', port: port(21) },
  ],
  listenerPorts: { from: 3000, to: 5000 },
  mappingPorts: { from: 61000, to: 64999 },
  families: [4, 6],
};

const Q = ['-j', 'NFQUEUE', '--queue-num', '4200', '--queue-bypass'];

describe('captureRules', () => {
  it('queues control ports from private adapters and mapping ports and ICMP errors from public ones before conntrack, but not what the kernel fast path translated nor datagrams for algd\'s own sockets', () => {
    const pre = captureRules(spec, { queueNum: 4200, failOpen: true }).filter((r) => r.hook === 'PREROUTING');
    expect(pre.filter((r) => r.families!.length === 2).map((r) => r.argv.join(' '))).toEqual([
      '-m mark --mark 0x10000000/0x10000000 -j RETURN',
      `-i eth1 -p tcp --dport 21 ${Q.join(' ')}`,
      `-i eth1 -p udp --dport 5060 ${Q.join(' ')}`,
      `-i eth1 -p tcp --dport 61000:64999 -m addrtype --dst-type LOCAL ${Q.join(' ')}`,
      `-i eth1 -p udp --dport 61000:64999 -m addrtype --dst-type LOCAL ${Q.join(' ')}`,
      '-i eth0 -p udp --dport 61000:64999 -m socket -j RETURN',
      `-i eth0 -p tcp --dport 61000:64999 ${Q.join(' ')}`,
      `-i eth0 -p udp --dport 61000:64999 ${Q.join(' ')}`,
    ]);
    const icmp = pre.filter((r) => r.families!.length === 1);
    expect(icmp.filter((r) => r.families![0] === 4).map((r) => r.argv.slice(0, 6).join(' '))).toEqual([
      '-i eth0 -p icmp --icmp-type destination-unreachable',
      '-i eth0 -p icmp --icmp-type time-exceeded',
      '-i eth0 -p icmp --icmp-type parameter-problem',
    ]);
    expect(icmp.filter((r) => r.families![0] === 6)).toHaveLength(4);
  });

  it('after routing: queues every packet of algd connections but those finished before routing, and the first packet of new connections leaving public adapters', () => {
    const post = captureRules(spec, { queueNum: 4200, failOpen: true }).filter((r) => r.hook === 'POSTROUTING');
    expect(post.map((r) => r.argv.join(' '))).toEqual([
      '-m mark --mark 0x10000000/0x10000000 -j RETURN',
      `-m connmark --mark 0x20000000/0x20000000 ${Q.join(' ')}`,
      `-o eth0 -p tcp -m conntrack --ctstate NEW ${Q.join(' ')}`,
      `-o eth0 -p udp -m conntrack --ctstate NEW ${Q.join(' ')}`,
    ]);
  });

  it('with the kernel redirect, queues only the SYNs of TCP control and published ports; UDP ones and the rest as before', () => {
    const published: CaptureSpec = { ...spec, publishedPorts: [{ protocol: 'tcp', port: port(21) }, { protocol: 'udp', port: port(69) }] };
    const pre = captureRules(published, { queueNum: 4200, failOpen: true, kernelRedirect: true }).filter((r) => r.hook === 'PREROUTING' && r.families!.length === 2);
    expect(pre.map((r) => r.argv.join(' ')).slice(0, 4)).toEqual([
      '-m mark --mark 0x10000000/0x10000000 -j RETURN',
      `-i eth1 -p tcp --syn --dport 21 ${Q.join(' ')}`,
      `-i eth1 -p udp --dport 5060 ${Q.join(' ')}`,
      `-i eth1 -p tcp --dport 61000:64999 -m addrtype --dst-type LOCAL ${Q.join(' ')}`,
    ]);
    expect(pre.map((r) => r.argv.join(' ')).filter((a) => a.includes('-i eth0') && a.includes('LOCAL'))).toEqual([
      `-i eth0 -p tcp --syn --dport 21 -m addrtype --dst-type LOCAL ${Q.join(' ')}`,
      `-i eth0 -p udp --dport 69 -m addrtype --dst-type LOCAL ${Q.join(' ')}`,
    ]);
    const without = captureRules(published, { queueNum: 4200, failOpen: true });
    expect(without.some((r) => r.argv.includes('--syn'))).toBe(false);
    // After routing nothing changes: a kernel-redirected connection carries no algd connmark.
    expect(captureRules(spec, { queueNum: 4200, failOpen: true, kernelRedirect: true }).filter((r) => r.hook === 'POSTROUTING')).toEqual(without.filter((r) => r.hook === 'POSTROUTING'));
  });

  it('fail-closed rules have no --queue-bypass; only the requested families get rules', () => {
    const rules = captureRules({ ...spec, families: [4] }, { queueNum: 7, failOpen: false });
    expect(rules.every((r) => !r.argv.includes('--queue-bypass'))).toBe(true);
    expect(rules.every((r) => r.families!.every((f) => f === 4))).toBe(true);
    expect(rules.some((r) => r.argv.includes('ipv6-icmp'))).toBe(false);
  });

  it('opens no pinholes on boundary adapters, and lets algd\'s connections in through firewalled ones', () => {
    expect(captureRules(spec, { queueNum: 4200, failOpen: true }).filter((r) => r.hook === 'FORWARD')).toEqual([]);
    const firewalled: CaptureSpec = { ...spec, adapters: [...spec.adapters, { name: 'wan6', side: 'public', firewalled: true }] };
    expect(captureRules(firewalled, { queueNum: 4200, failOpen: true }).filter((r) => r.hook === 'FORWARD')).toEqual([
      { hook: 'FORWARD', argv: ['-i', 'wan6', '-m', 'connmark', '--mark', '0x20000000/0x20000000', '-j', 'ACCEPT'], families: [4, 6] },
    ]);
  });

  it('queues published ports coming in on public adapters to the gateway\'s own addresses', () => {
    const rules = captureRules({ ...spec, publishedPorts: [{ protocol: 'tcp', port: port(21) }] }, { queueNum: 4200, failOpen: true });
    expect(rules.filter((r) => r.hook === 'PREROUTING' && r.argv.includes('eth0') && r.argv.includes('21')).map((r) => r.argv.join(' '))).toEqual([
      `-i eth0 -p tcp --dport 21 -m addrtype --dst-type LOCAL ${Q.join(' ')}`,
    ]);
  });
});
