/**
 * Exact-byte rewrite vectors. Every BEFORE and AFTER packet below was
 * checked with tshark (ip/tcp/udp/icmp/icmpv6 checksum status "Good"; the
 * UDP with checksum 0 "Not present"): the rewrite must produce AFTER byte
 * for byte, checksums included.
 */
import { decodePacket, PacketView, rewriteDestination, rewriteInnerSource, rewriteSource, verifyChecksums } from '../../../../host/nat-engine/packet';
import { addr, fromHex, toHex } from '../../../support/packets';

interface Vector {
  readonly name: string;
  readonly before: string;
  readonly rewrite: (view: PacketView) => void;
  readonly after: string;
}

const VECTORS: readonly Vector[] = [
  {
    name: 'IPv4 TCP SYN with MSS, source NAT 198.51.100.10:40000 -> 203.0.113.1:61000',
    before: '4500 0030 1c46 4000 4006 b83e c633640a cb007105 | 9c40 0015 11223344 00000000 7002 faf0 412f 0000 020405b4 01010402',
    rewrite: (v) => rewriteSource(v, addr('203.0.113.1'), 61000),
    after: '4500 0030 1c46 4000 4006 a67a cb007101 cb007105 | ee48 0015 11223344 00000000 7002 faf0 dd62 0000 020405b4 01010402',
  },
  {
    name: 'IPv4 UDP, destination NAT 203.0.113.1:5060 -> 198.51.100.20:5062',
    before: '4500 0033 0001 0000 4011 02b0 cb007107 cb007101 | 13c4 13c4 001f ae9d 4f5054494f4e53207369703a78205349502f322e300d0a',
    rewrite: (v) => rewriteDestination(v, addr('198.51.100.20'), 5062),
    after: '4500 0033 0001 0000 4011 146a cb007107 c6336414 | 13c4 13c6 001f c055 4f5054494f4e53207369703a78205349502f322e300d0a',
  },
  {
    name: 'IPv6 TCP, source NAT [2001:db8:1::10]:50123 -> [2001:db8:ffff::1]:1024',
    before: '6001 2345 0028 0640 20010db8000100000000000000000010 20010db8000200000000000000000005 | c3cb 022a 00000001 00000002 5018 ffff 0dfe 0000 4f5054494f4e53202a20525453502f312e300d0a',
    rewrite: (v) => rewriteSource(v, addr('2001:db8:ffff::1'), 1024),
    after: '6001 2345 0028 0640 20010db8ffff00000000000000000001 20010db8000200000000000000000005 | 0400 022a 00000001 00000002 5018 ffff cdd9 0000 4f5054494f4e53202a20525453502f312e300d0a',
  },
  {
    name: 'IPv6 UDP, destination NAT [2001:db8:ffff::1]:53 -> [2001:db8:1::20]:5353',
    before: '6000 0000 000d 1140 20010db8000200000000000000000007 20010db8ffff00000000000000000001 | 80e8 0035 000d f973 6162636465',
    rewrite: (v) => rewriteDestination(v, addr('2001:db8:1::20'), 5353),
    after: '6000 0000 000d 1140 20010db8000200000000000000000007 20010db8000100000000000000000020 | 80e8 14e9 000d e49f 6162636465',
  },
  {
    name: 'ICMP port unreachable quoting UDP 203.0.113.1:61000 -> 203.0.113.9:5060: back to 198.51.100.10:40000',
    before: '4500 0040 0007 0000 4001 02ab cb007109 cb007101 | 03 03 5c7f 00000000 | 4500 0034 4242 0000 4011 c06b cb007101 cb007109 | ee48 13c4 0020 8a00 494e564954452073',
    rewrite: (v) => {
      rewriteDestination(v, addr('198.51.100.10'), undefined);
      rewriteInnerSource(v, addr('198.51.100.10'), 40000);
    },
    after: '4500 0040 0007 0000 4001 146f cb007109 c633640a | 03 03 4abb 00000000 | 4500 0034 4242 0000 4011 d22f c633640a cb007109 | 9c40 13c4 0020 edcc 494e564954452073',
  },
  {
    name: 'ICMPv6 port unreachable quoting UDP [2001:db8:ffff::1]:1024: back to [2001:db8:1::10]:40000',
    before: '6000 0000 0040 3a40 20010db8000200000000000000000009 20010db8ffff00000000000000000001 | 01 04 31d4 00000000 | '
      + '6000 0000 0010 1140 20010db8ffff00000000000000000001 20010db8000200000000000000000009 | 0400 13c4 0010 5a57 5245474953544552',
    rewrite: (v) => {
      rewriteDestination(v, addr('2001:db8:1::10'), undefined);
      rewriteInnerSource(v, addr('2001:db8:1::10'), 40000);
    },
    after: '6000 0000 0040 3a40 20010db8000200000000000000000009 20010db8000100000000000000000010 | 01 04 31c4 00000000 | '
      + '6000 0000 0010 1140 20010db8000100000000000000000010 20010db8000200000000000000000009 | 9c40 13c4 0010 c206 5245474953544552',
  },
  {
    name: 'IPv4 UDP without checksum (0) stays without: source NAT 198.51.100.30:69 -> 203.0.113.1:3000',
    before: '4500 0020 1234 0000 4011 0242 c633641e cb007105 | 0045 07d0 000c 0000 74667470',
    rewrite: (v) => rewriteSource(v, addr('203.0.113.1'), 3000),
    after: '4500 0020 1234 0000 4011 f091 cb007101 cb007105 | 0bb8 07d0 000c 0000 74667470',
  },
  {
    name: 'IPv4 UDP whose new checksum computes to 0 is sent as 0xffff',
    before: '4500 001e 1234 0000 4011 0258 c633640a cb007105 | 9c41 0007 000a 813b 7c12',
    rewrite: (v) => rewriteSource(v, addr('203.0.113.1'), 3001),
    after: '4500 001e 1234 0000 4011 f093 cb007101 cb007105 | 0bb9 0007 000a ffff 7c12',
  },
];

describe('rewrite: exact-byte vectors', () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    const buf = fromHex(vector.before);
    const view = new PacketView();
    expect(decodePacket(buf, view, 0, buf.length, { verifyIpChecksum: true })).toBeUndefined();
    expect(verifyChecksums(view)).toBe(true);
    vector.rewrite(view);
    expect(toHex(buf)).toBe(toHex(fromHex(vector.after)));
    expect(verifyChecksums(view)).toBe(true);
  });

  it('rewrites a packet the same way at an odd offset inside a larger buffer', () => {
    for (const vector of VECTORS) {
      const packet = fromHex(vector.before);
      const buf = Buffer.concat([Buffer.from([0xa5, 0xa5, 0xa5]), packet, Buffer.alloc(13, 0x5a)]);
      const view = new PacketView();
      expect(decodePacket(buf, view, 3)).toBeUndefined();
      vector.rewrite(view);
      expect(toHex(buf)).toBe('a5a5a5' + toHex(fromHex(vector.after)) + '5a'.repeat(13));
    }
  });
});
