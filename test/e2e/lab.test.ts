/**
 * The lab itself: client, gateway and server namespaces on the
 * documentation ranges, the gateway's kernel masquerade, the variants
 * tests use to prove they discriminate, captures, and teardown.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';

import {
  CLIENT_V4,
  CLIENT_V6,
  GATEWAY_PUBLIC_V4,
  GATEWAY_PUBLIC_V6,
  SERVER_V4,
  SERVER_V6,
  labAddresses,
} from '../../host/lab/addresses';
import { echoRequest, startTcpEchoServer } from '../../host/lab/echo-peers';
import { checksumProblems, decodeIpPacket, type DecodedIpPacket } from '../../host/lab/ip-packet';
import { captureKernelNat, KERNEL_NAT_PAIR_KINDS, type KernelNatCapture } from '../../host/lab/kernel-nat-capture';
import { Lab } from '../../host/lab/lab';
import { labNamespaceOwner } from '../../host/lab/lab-names';
import { LabReaper } from '../../host/lab/lab-reaper';
import { isProcessRunning, listNetns } from '../../host/lab/netns';
import { readPcap, stripLinkHeader } from '../../host/lab/pcap';
import { describeLab, useLab } from '../lab/require-lab';
import * as topology from '../../host/lab/topology';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import { badChecksumFrames } from '../../host/lab/tshark';

jest.setTimeout(60_000);

const ECHO_PORT = 7007;

function payload(what: string): string {
  return `algd-lab-${what}-${randomBytes(3).toString('hex')}`;
}

/** The quoted packet of an ICMP error. */
function quoted(d: DecodedIpPacket): DecodedIpPacket {
  if (d.transport.kind !== 'icmp' || !d.transport.quoted) throw new Error('not an ICMP error');
  return d.transport.quoted;
}

async function expectNatPairs(capture: KernelNatCapture): Promise<void> {
  const a = labAddresses(capture.family);
  for (const kind of KERNEL_NAT_PAIR_KINDS) {
    const pair = capture.pairs[kind];
    expect(checksumProblems(pair.before)).toEqual([]);
    expect(checksumProblems(pair.after)).toEqual([]);
    const before = decodeIpPacket(pair.before);
    const after = decodeIpPacket(pair.after);
    expect(after.ttl).toBe(before.ttl - 1);
    if (pair.direction === 'outbound') {
      expect([kind, before.src, before.dst]).toEqual([kind, a.client, a.server]);
      expect([kind, after.src, after.dst]).toEqual([kind, a.gatewayPublic, a.server]);
    } else {
      expect([kind, before.src, before.dst]).toEqual([kind, a.server, a.gatewayPublic]);
      expect([kind, after.src, after.dst]).toEqual([kind, a.server, a.client]);
    }
  }
  // The ICMP error's quoted datagram is translated back too.
  const icmp = capture.pairs['icmp-error'];
  expect(quoted(decodeIpPacket(icmp.before)).src).toBe(a.gatewayPublic);
  expect(quoted(decodeIpPacket(icmp.after)).src).toBe(a.client);
  // The pairs really are the captured packets, as pcap.ts reads them from the files.
  const priv0 = readPcap(capture.pcaps.priv0);
  const pub0 = readPcap(capture.pcaps.pub0);
  const ip = (p: ReturnType<typeof readPcap>) => p.packets.map((f) => stripLinkHeader(p.linkType, f.data)?.toString('hex'));
  expect(ip(priv0)).toContain(capture.pairs['tcp-syn'].before.toString('hex'));
  expect(ip(pub0)).toContain(capture.pairs['tcp-syn'].after.toString('hex'));
  // tshark agrees that every captured checksum is right (veth offload is off).
  expect(await badChecksumFrames(capture.pcaps.priv0)).toEqual([]);
  expect(await badChecksumFrames(capture.pcaps.pub0)).toEqual([]);
}

describeLab('the end-to-end lab', () => {
  describe('default lab: IPv4 masquerade, IPv6 routed', () => {
    const lab = useLab();

    it('gives the gateway interfaces priv0 and pub0 with the documented addresses', async () => {
      const out = (await lab().execOk('gateway', ['ip', '-br', 'addr', 'show'])).stdout;
      expect(out).toMatch(new RegExp(`^${GATEWAY_PRIVATE_IFACE}@\\S+\\s+UP\\s+198\\.51\\.100\\.1/24 2001:db8:1::1/64`, 'm'));
      expect(out).toMatch(new RegExp(`^${GATEWAY_PUBLIC_IFACE}@\\S+\\s+UP\\s+203\\.0\\.113\\.1/24 2001:db8:2::1/64`, 'm'));
      const routes = (await lab().execOk('server', ['ip', '-4', 'route', 'show'])).stdout;
      expect(routes).not.toMatch(/198\.51\.100|default/);
    });

    it('carries TCP from the client to the server through masquerade: the server sees 203.0.113.1', async () => {
      const server = await startTcpEchoServer(lab(), 'server', ECHO_PORT);
      try {
        const text = payload('tcp4');
        const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V4, ECHO_PORT, text);
        expect(r).toMatchObject({ ok: true, reply: text, local: { address: CLIENT_V4 } });
        expect(server.peerAddresses()).toEqual([GATEWAY_PUBLIC_V4]);
      } finally {
        await server.stop();
      }
    });

    it('routes IPv6 without NAT: the server sees 2001:db8:1::2', async () => {
      const server = await startTcpEchoServer(lab(), 'server', ECHO_PORT);
      try {
        const text = payload('tcp6');
        const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V6, ECHO_PORT, text);
        expect(r).toMatchObject({ ok: true, reply: text, local: { address: CLIENT_V6 } });
        expect(server.peerAddresses()).toEqual([CLIENT_V6]);
      } finally {
        await server.stop();
      }
    });

    it('captures the kernel masquerade on priv0 and pub0 with real checksums (captureKernelNat, IPv4)', async () => {
      await expectNatPairs(await captureKernelNat(lab()));
    });
  });

  describe('routing: true (no NAT, server routes the private range)', () => {
    const lab = useLab({ routing: true, name: 'routing' });

    it('lets the server see the client itself, 198.51.100.2', async () => {
      expect(lab().options.masquerade).toBe(false);
      const server = await startTcpEchoServer(lab(), 'server', ECHO_PORT);
      try {
        const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V4, ECHO_PORT, payload('routed'));
        expect(r.ok).toBe(true);
        expect(server.peerAddresses()).toEqual([CLIENT_V4]);
      } finally {
        await server.stop();
      }
    });
  });

  describe('masquerade: false without routing', () => {
    const lab = useLab({ masquerade: false, name: 'nonat' });

    it('cannot connect: the server has no way back to 198.51.100.2', async () => {
      const server = await startTcpEchoServer(lab(), 'server', ECHO_PORT);
      try {
        const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V4, ECHO_PORT, payload('nonat'), 1_500);
        expect(r).toMatchObject({ ok: false, error: 'timeout' });
        expect(server.peers()).toEqual([]);
      } finally {
        await server.stop();
      }
    });
  });

  describe('ipv6Nat: true', () => {
    const lab = useLab({ ipv6Nat: true, name: 'nat6' });

    it('masquerades IPv6 too: the server sees 2001:db8:2::1', async () => {
      const server = await startTcpEchoServer(lab(), 'server', ECHO_PORT);
      try {
        const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V6, ECHO_PORT, payload('nat6'));
        expect(r.ok).toBe(true);
        expect(server.peerAddresses()).toEqual([GATEWAY_PUBLIC_V6]);
      } finally {
        await server.stop();
      }
    });

    it('captures the kernel IPv6 masquerade (captureKernelNat, IPv6)', async () => {
      await expectNatPairs(await captureKernelNat(lab(), { family: 6 }));
    });
  });

  describe('teardown', () => {
    it('leaves no namespace and no process behind, and destroy() is idempotent', async () => {
      const lab = await Lab.create({ ipv6: false, name: 'teardown' });
      const names = Object.values(lab.namespaces);
      expect((await listNetns()).filter((n) => names.includes(n)).sort()).toEqual([...names].sort());
      // A daemon the lab does not track (it detaches from its parent) must go too.
      const daemonize = [
        'import os, sys, time',
        'pid = os.fork()',
        'if pid:',
        '    print(pid)',
        '    sys.exit(0)',
        'os.setsid()',
        'null = os.open(os.devnull, os.O_RDWR)',
        'for fd in (0, 1, 2):',
        '    os.dup2(null, fd)',
        'time.sleep(600)',
      ].join('\n');
      const daemonPid = Number((await lab.execOk('server', ['python3', '-c', daemonize])).stdout.trim());
      expect(isProcessRunning(daemonPid)).toBe(true);
      const sleeper = lab.spawn('client', ['sleep', '600']);
      await lab.destroy();
      await lab.destroy();
      expect(sleeper.running).toBe(false);
      expect(isProcessRunning(daemonPid)).toBe(false);
      expect((await listNetns()).filter((n) => names.includes(n))).toEqual([]);
      expect(() => lab.spawn('client', ['true'])).toThrow(/destroyed/);
    });

    it('cleans up after itself when create() fails', async () => {
      const ours = async () => (await listNetns()).filter((n) => labNamespaceOwner(n) === process.pid);
      const labDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith(`algd-${process.pid}-`));
      const [namespacesBefore, dirsBefore] = [await ours(), labDirs()];
      // Fail at the very end, once namespaces, veths and the NAT table all exist.
      const realBuild = topology.buildTopology;
      const spy = jest.spyOn(topology, 'buildTopology').mockImplementationOnce(async (ns, opts) => {
        await realBuild(ns, opts);
        throw new Error('injected failure');
      });
      try {
        await expect(Lab.create({ name: 'failing' })).rejects.toThrow('injected failure');
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
      expect(await ours()).toEqual(namespacesBefore);
      expect(labDirs()).toEqual(dirsBefore);
    });

    it('sweeps only lab namespaces whose owner is dead', async () => {
      const dead = spawnSync('true').pid!;
      const stale = `algd-${dead}-beef-cli`;
      const live = `algd-${process.pid}-beef-srv`;
      expect(labNamespaceOwner(stale)).toBe(dead);
      for (const notOurs of ['algd-x-beef-cli', `algd-${dead}-beef-cli2`, `xalgd-${dead}-beef-cli`, `algd-${dead}-BEEF-gw`, 'algd']) {
        expect(labNamespaceOwner(notOurs)).toBeUndefined();
      }
      spawnSync('ip', ['netns', 'add', stale]);
      spawnSync('ip', ['netns', 'add', live]);
      try {
        const removed = await Lab.sweepStale();
        expect(removed).toContain(stale);
        expect(removed).not.toContain(live);
        const left = await listNetns();
        expect(left).not.toContain(stale);
        expect(left).toContain(live);
      } finally {
        spawnSync('ip', ['netns', 'del', stale]);
        spawnSync('ip', ['netns', 'del', live]);
      }
    });

    it('has a watchdog that deletes the namespaces when the owner goes away without destroy()', async () => {
      const names = [`algd-${process.pid}-dead-cli`, `algd-${process.pid}-dead-gw`];
      for (const n of names) spawnSync('ip', ['netns', 'add', n]);
      try {
        const reaper = LabReaper.start(names, undefined);
        reaper.abandon();
        await reaper.exited();
        expect((await listNetns()).filter((n) => names.includes(n))).toEqual([]);
      } finally {
        for (const n of names) spawnSync('ip', ['netns', 'del', n]);
      }
    });
  });
});
