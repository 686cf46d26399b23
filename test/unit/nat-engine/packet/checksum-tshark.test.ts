/**
 * An outside opinion on our checksums: a few hundred packets, rewritten by
 * the code under test (random but seeded), written to a pcap and read back by
 * tshark, which must call every IP, TCP, UDP, ICMP and ICMPv6 checksum good.
 * A control run with corrupted copies proves that tshark really checks.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodePacket, PacketView, rewriteSource } from '../../../../host/nat-engine/packet';
import { addr, buildPacket, writePcap } from '../../../support/packets';
import { describeIfTool } from '../../../support/require-tool';
import {
  addr4Arb, applyErrorRewrite, applyRewrite, buildCase, buildErrorCase, errorRewriteCaseArb, ipv4Arb, portArb, quotedLength, rewriteCaseArb, SEED, udpArb,
} from './packet-arbitraries';

/** tshark's checksum status values (proto_checksum_enum_e). */
const BAD = '0';
const GOOD = '1';
const NOT_PRESENT = '3';

const FIELDS = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status'] as const;
type Field = (typeof FIELDS)[number];
type Statuses = Record<Field, string[]>;

interface Sample {
  readonly packet: Buffer;
  readonly family: 4 | 6;
  /** The outer L4 checksum status field. */
  readonly l4Field: Field;
  /** What tshark must say about the outer L4 checksum. */
  readonly l4Status: string;
  /**
   * For ICMP errors: the quoted L4 status field, and whether tshark's verdict
   * on it means anything. It does for a whole quoted TCP/UDP packet. It does
   * not when the quote is cut short (tshark then checks the TCP checksum over
   * the quoted bytes only and calls it bad), for quoted ICMP (never checked),
   * nor in a redirect (tshark stops after 8 bytes). Our own property tests
   * cover those cases against the reference builder.
   */
  readonly quoted?: { readonly field: Field; readonly meaningful: boolean };
}

function l4FieldOf(kind: 'tcp' | 'udp' | 'icmp' | 'raw', family: 4 | 6): Field {
  if (kind === 'tcp') return 'tcp.checksum.status';
  if (kind === 'udp') return 'udp.checksum.status';
  return family === 4 ? 'icmp.checksum.status' : 'icmpv6.checksum.status';
}

function samples(): Sample[] {
  const out: Sample[] = [];
  const view = new PacketView();
  const decode = (buf: Buffer) => {
    if (decodePacket(buf, view) !== undefined) throw new Error('test packet does not decode');
  };

  for (const [c, op] of fc.sample(rewriteCaseArb, { seed: SEED, numRuns: 200 })) {
    const packet = buildCase(c);
    decode(packet);
    applyRewrite(view, op);
    out.push({ packet, family: c.ip.family, l4Field: l4FieldOf(c.l4.kind, c.ip.family), l4Status: GOOD });
  }

  for (const [e, op] of fc.sample(errorRewriteCaseArb, { seed: SEED + 1, numRuns: 150 })) {
    const packet = buildErrorCase(e);
    decode(packet);
    applyErrorRewrite(view, op);
    const whole = quotedLength(e) === buildCase(e.inner).length;
    const transport = e.inner.l4.kind === 'tcp' || e.inner.l4.kind === 'udp';
    const redirect = e.outer.family === 4 && e.type === 5;
    out.push({
      packet, family: e.outer.family, l4Field: l4FieldOf('icmp', e.outer.family), l4Status: GOOD,
      quoted: { field: l4FieldOf(e.inner.l4.kind, e.inner.ip.family), meaningful: whole && transport && !redirect },
    });
  }

  // UDP over IPv4 without a checksum must stay without one.
  for (const [ip, udp, to, port] of fc.sample(fc.tuple(ipv4Arb, udpArb, addr4Arb, portArb), { seed: SEED + 2, numRuns: 30 })) {
    const packet = buildPacket(ip, { ...udp, checksum: 'none' });
    decode(packet);
    rewriteSource(view, addr(to), port);
    out.push({ packet, family: 4, l4Field: 'udp.checksum.status', l4Status: NOT_PRESENT });
  }
  return out;
}

function runTshark(pcap: string): Statuses[] {
  const args = [
    '-r', pcap, '-n',
    '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,',
    '-e', 'frame.number', ...FIELDS.flatMap((f) => ['-e', f]),
  ];
  const r = spawnSync('tshark', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark failed (${String(r.status)}): ${r.stderr}`);
  return r.stdout.trimEnd().split('\n').map((line) => {
    const [, ...cols] = line.split('\t');
    const statuses = {} as Statuses;
    FIELDS.forEach((f, i) => { statuses[f] = (cols[i] ?? '') === '' ? [] : cols[i]!.split(','); });
    return statuses;
  });
}

/** What is wrong with tshark's verdict on one sample, if anything. */
function complaints(s: Sample, st: Statuses): string[] {
  const out: string[] = [];
  const verdicts = { ...st };
  if (s.quoted) {
    // The quoted packet's status comes last in its field (after the outer one when both are ICMP).
    const values = st[s.quoted.field];
    const quoted = values[values.length - 1];
    if (s.quoted.meaningful && quoted !== GOOD) out.push(`quoted ${s.quoted.field} ${String(quoted)}`);
    if (!s.quoted.meaningful) verdicts[s.quoted.field] = values.slice(0, -1);
    if (s.family === 4 && st['ip.checksum.status'][1] !== GOOD) out.push(`quoted ip.checksum.status ${String(st['ip.checksum.status'][1])}`);
  }
  for (const f of FIELDS) if (verdicts[f].includes(BAD)) out.push(`${f} bad`);
  if (s.family === 4 && st['ip.checksum.status'][0] !== GOOD) out.push(`outer ip.checksum.status ${String(st['ip.checksum.status'][0])}`);
  if (st[s.l4Field][0] !== s.l4Status) out.push(`outer ${s.l4Field} ${String(st[s.l4Field][0])}, want ${s.l4Status}`);
  return out;
}

describeIfTool('tshark', 'checksums after rewriting, as tshark sees them', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'algd-tshark-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('are all good for a few hundred rewritten packets', () => {
    const all = samples();
    const pcap = join(dir, 'rewritten.pcap');
    writePcap(pcap, all.map((s) => s.packet));
    const verdicts = runTshark(pcap);
    expect(verdicts).toHaveLength(all.length);
    const problems = all.flatMap((s, i) => complaints(s, verdicts[i]!).map((c) => `frame ${i + 1}: ${c} (${s.packet.toString('hex')})`));
    expect(problems).toEqual([]);
    // Guard against a silently empty check: tshark did verify the quoted packets it could.
    const meaningful = all.filter((s) => s.quoted?.meaningful === true).length;
    expect(meaningful).toBeGreaterThan(20);
  });

  it('are reported bad once corrupted (the control: tshark does check)', () => {
    const corrupted = samples().filter((s) => s.l4Status === GOOD).slice(0, 60).map((s) => {
      const packet = Buffer.from(s.packet);
      const view = new PacketView();
      if (decodePacket(packet, view) !== undefined) throw new Error('test packet does not decode');
      packet[view.l4ChecksumOffset]! ^= 0x10;
      return packet;
    });
    const pcap = join(dir, 'corrupted.pcap');
    writePcap(pcap, corrupted);
    const verdicts = runTshark(pcap);
    expect(verdicts).toHaveLength(corrupted.length);
    const unnoticed = verdicts.map((st, i) => (FIELDS.some((f) => st[f].includes(BAD)) ? -1 : i + 1)).filter((i) => i > 0);
    expect(unnoticed).toEqual([]);
  });
});
