import fc from 'fast-check';
import {
  adjustChecksumField, checksumAdjust16, checksumApplyDelta, computeL4Checksum, decodePacket, fillChecksums,
  internetChecksum, ipv4HeaderChecksum, onesComplementSum, PacketView, replaceBytesAdjustingChecksum,
  replacementDelta, verifyChecksums,
} from '../../../../host/nat-engine/packet';
import { SIMD_SUM_AVAILABLE, simdOnesComplementSum, summableBuffer } from '../../../../host/nat-engine/packet/simd-sum';
import { buildPacket, fromHex, getU16, referenceChecksum } from '../../../support/packets';
import { anyErrorCaseArb, anyPlainCaseArb, buildCase, buildErrorCase, SEED } from './packet-arbitraries';

const RUNS = { seed: SEED, numRuns: 2000 };

function words(...ws: number[]): Uint8Array {
  const out = new Uint8Array(ws.length * 2);
  ws.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

function viewOf(buf: Buffer): PacketView {
  const view = new PacketView();
  expect(decodePacket(buf, view)).toBeUndefined();
  return view;
}

describe('onesComplementSum / internetChecksum', () => {
  it('reproduces the RFC 1071 §3 example', () => {
    const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(onesComplementSum(bytes, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(bytes, 0, 8)).toBe(0x220d);
  });

  it('pads an odd final byte with zero and honours start/end', () => {
    const bytes = Uint8Array.of(0xaa, 0x12, 0x34, 0x56, 0xaa);
    expect(onesComplementSum(bytes, 1, 4)).toBe(0x1234 + 0x5600);
    expect(onesComplementSum(bytes, 1, 1)).toBe(0);
  });

  it('folds the carry around, twice when needed, and never to +0 for non-zero data', () => {
    // 0xffff + 0xffff + 0x0001 = 0x1ffff -> 0xffff + 0x1 = 0x10000 -> 0x0001.
    expect(onesComplementSum(words(0xffff, 0xffff, 0x0001), 0, 6)).toBe(0x0001);
    expect(onesComplementSum(words(0x8000), 0, 2, 0x8000)).toBe(0x0001);
    expect(onesComplementSum(words(0xffff), 0, 2)).toBe(0xffff);
    expect(onesComplementSum(words(0x0001, 0xfffe), 0, 4)).toBe(0xffff);
    expect(onesComplementSum(words(0x0000), 0, 2)).toBe(0);
  });

  it('matches the reference on random data, chained at any even split, longer than one fold chunk too', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, splitSeed) => {
      const split = bytes.length === 0 ? 0 : (splitSeed % (bytes.length + 1)) & ~1;
      const chained = onesComplementSum(bytes, split, bytes.length, onesComplementSum(bytes, 0, split));
      expect(~chained & 0xffff).toBe(referenceChecksum(bytes));
      expect(internetChecksum(bytes, 0, bytes.length)).toBe(referenceChecksum(bytes));
    }), RUNS);
    for (const length of [65536, 65537, 131_073, 200_000]) {
      const big = new Uint8Array(length).map((_, i) => (i * 7919 + 13) & 0xff);
      expect(internetChecksum(big, 0, length)).toBe(referenceChecksum(big));
      expect(internetChecksum(new Uint8Array(length).fill(0xff), 0, length)).toBe(referenceChecksum(new Uint8Array(length).fill(0xff)));
    }
  });

  it('the SIMD path for long ranges matches the reference at any alignment, start parity, initial and odd length', () => {
    // Without it the scalar loop would pass this test too: the fast path must really be the one tested.
    expect(SIMD_SUM_AVAILABLE).toBe(true);
    const arena = new Uint8Array(12_000);
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 512, maxLength: 3000 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 0xffff }),
      (bytes, viewOffset, start, initial) => {
        // A view at an arbitrary byteOffset of a shared buffer, as packets in a receive arena are.
        const view = new Uint8Array(arena.buffer, viewOffset, bytes.length + start + 3);
        view.fill(0xa5);
        view.set(bytes, start);
        const withInitial = Uint8Array.of(initial >> 8, initial & 0xff, ...bytes);
        expect(~onesComplementSum(view, start, start + bytes.length, initial) & 0xffff).toBe(referenceChecksum(withInitial));
      },
    ), { seed: SEED, numRuns: 3000 });
    expect(onesComplementSum(new Uint8Array(1000), 1, 999)).toBe(0);
    expect(onesComplementSum(new Uint8Array(1000).fill(0xff), 1, 999)).toBe(0xffff);
    expect(onesComplementSum(new Uint8Array(1000), 1, 999, 0xffff)).toBe(0xffff);
  });

  it('the SIMD sum folds every lane: all-0xff chunks, one byte set at each position of a 64-byte turn, and a length just past a chunk', () => {
    // 0xffff words sum to 0xffff (never +0); a single byte weighs 2^8 at an even distance from the start, 1 at an odd one.
    expect(simdOnesComplementSum(new Uint8Array(0x10000 + 64).fill(0xff), 0, 0x10000 + 64)).toBe(0xffff);
    for (let pos = 0; pos < 64; pos++) {
      const bytes = new Uint8Array(128);
      bytes[pos] = 0x01;
      expect(simdOnesComplementSum(bytes, 0, 128)).toBe(pos % 2 === 0 ? 0x0100 : 0x0001);
    }
    const big = new Uint8Array(0x10000 + 130).map((_, i) => (i * 31 + 7) & 0xff);
    expect(~simdOnesComplementSum(big, 1, big.length)! & 0xffff).toBe(referenceChecksum(big.subarray(1)));
  });

  it('sums ranges of a summableBuffer in place (a view at any offset of it too) exactly as copied ranges of a plain buffer', () => {
    const arena = summableBuffer(200_000);
    expect(arena.length).toBe(200_000);
    expect(arena.every((b) => b === 0)).toBe(true);
    fc.assert(fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 50_000 }), fc.integer({ min: 0, max: 0xffffffff }), (start, length, seed) => {
      const view = arena.subarray(start % 7, start % 7 + 151_000);
      let x = seed;
      for (let i = start; i < start + length; i++) view[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      const copy = Uint8Array.from(view.subarray(start, start + length));
      expect(simdOnesComplementSum(view, start, start + length)).toBe(simdOnesComplementSum(copy, 0, length));
      expect(~onesComplementSum(view, start, start + length) & 0xffff).toBe(referenceChecksum(copy));
    }), { seed: SEED, numRuns: 300 });
  });
});

describe('RFC 1624 incremental update', () => {
  it('gives +0 where eqn. 2 would give -0 (RFC 1624 §4 example)', () => {
    // Sum of the other octets 0xCD7A; m = 0x5555 -> m' = 0x3285. From scratch: ~(0xCD7A + 0x3285) = 0x0000.
    expect(checksumAdjust16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
    expect(referenceChecksum(words(0xcd7a, 0x3285))).toBe(0x0000);
  });

  it('leaves a checksum of 0 alone when nothing changes (the RFC 1624 erratum 4782 case, with a real end-around carry)', () => {
    expect(checksumAdjust16(0x0000, 0x5555, 0x5555)).toBe(0x0000);
    expect(checksumAdjust16(0x1234, 0xabcd, 0xabcd)).toBe(0x1234);
  });

  it('equals a full recomputation for any one-word change (data never all zero)', () => {
    // A non-zero guard word stands for what real packets always have: a version nibble, a pseudo-header protocol, an ICMP type.
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 0xffff }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (data, guard, at, next) => {
      const i = at % data.length;
      const before = referenceChecksum(words(guard, ...data));
      const after = [...data];
      after[i] = next;
      expect(checksumAdjust16(before, data[i]!, next)).toBe(referenceChecksum(words(guard, ...after)));
    }), RUNS);
  });

  it('equals a full recomputation for edge words (0x0000, 0xffff) and sums (checksum 0x0000 and 0xffff)', () => {
    const edge = fc.constantFrom(0x0000, 0xffff, 0x0001, 0xfffe, 0x8000, 0x7fff);
    fc.assert(fc.property(edge, edge, edge, fc.integer({ min: 1, max: 0xffff }), (a, b, next, guard) => {
      // Pick the filler so that the old sum is 0xffff (checksum 0) about half the time.
      for (const filler of [0, (0xffff - ((guard + a + b) % 0xffff)) % 0xffff]) {
        const before = referenceChecksum(words(guard, filler, a, b));
        expect(checksumAdjust16(before, a, next)).toBe(referenceChecksum(words(guard, filler, next, b)));
      }
    }), RUNS);
  });

  it('documents the one divergence: new data all zeros gives 0x0000, not 0xffff (no packet we rewrite is all zeros)', () => {
    expect(referenceChecksum(words(0x0000))).toBe(0xffff);
    expect(checksumAdjust16(referenceChecksum(words(0xffff)), 0xffff, 0x0000)).toBe(0x0000);
  });

  it('adjusts for runs of 2, 4, 16 (and odd) bytes exactly as a recomputation', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 40, maxLength: 120 }),
      fc.constantFrom(1, 2, 3, 4, 16),
      fc.nat(),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (data, length, atSeed, replacement) => {
        const region = Uint8Array.from(data);
        region[0] = 0x45; // never all zeros
        const csAt = 2;
        region[csAt] = 0; region[csAt + 1] = 0;
        const cs = referenceChecksum(region);
        region[csAt] = cs >> 8; region[csAt + 1] = cs & 0xff;
        // An even offset past the checksum field.
        const at = 4 + ((atSeed % (region.length - 4 - length)) & ~1);
        replaceBytesAdjustingChecksum(region, csAt, at, replacement, 'complemented', 0, length);
        expect(Array.from(region.subarray(at, at + length))).toEqual(Array.from(replacement.subarray(0, length)));
        const expected = Uint8Array.from(region);
        expected[csAt] = 0; expected[csAt + 1] = 0;
        expect(getU16(region, csAt)).toBe(referenceChecksum(expected));
      },
    ), RUNS);
  });

  it('combines deltas: one replacementDelta equals word-by-word eqn. 3', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 0xffff }), (old, next, cs) => {
      let stepwise = cs;
      for (let i = 0; i < 16; i += 2) stepwise = checksumAdjust16(stepwise, getU16(old, i), getU16(next, i));
      expect(checksumApplyDelta(cs, replacementDelta(old, 0, next))).toBe(stepwise);
    }), RUNS);
  });

  it('keeps UDP semantics: 0 means no checksum and stays 0; a result of 0 is written 0xffff', () => {
    const none = Uint8Array.of(0, 0);
    expect(adjustChecksumField(none, 0, 0x1234, 'udp')).toBe(0);
    expect(Array.from(none)).toEqual([0, 0]);

    // ~(~0x1234 + delta) = 0 when ~0x1234 + delta = 0xffff: delta = 0x1234.
    const toZero = Uint8Array.of(0x12, 0x34);
    adjustChecksumField(toZero, 0, 0x1234, 'udp');
    expect(Array.from(toZero)).toEqual([0xff, 0xff]);
    const tcp = Uint8Array.of(0x12, 0x34);
    adjustChecksumField(tcp, 0, 0x1234, 'complemented');
    expect(Array.from(tcp)).toEqual([0x00, 0x00]);
  });
});

describe('packet checksums', () => {
  it('computes what the reference builder wrote, and verifies it, for random packets and ICMP errors', () => {
    fc.assert(fc.property(fc.oneof(anyPlainCaseArb.map(buildCase), anyErrorCaseArb.map(buildErrorCase)), (buf) => {
      const view = viewOf(buf);
      if (view.family === 4) expect(ipv4HeaderChecksum(view)).toBe(getU16(buf, view.offset + 10));
      else expect(ipv4HeaderChecksum(view)).toBe(-1);
      expect(computeL4Checksum(view)).toBe(getU16(buf, view.l4ChecksumOffset));
      expect(verifyChecksums(view)).toBe(true);
    }), RUNS);
  });

  it('notices any single corrupted byte the checksums cover', () => {
    fc.assert(fc.property(anyPlainCaseArb.map(buildCase), fc.nat(), fc.integer({ min: 1, max: 255 }), (built, atSeed, xor) => {
      const buf = Buffer.from(built); // generated values may be replayed while shrinking: never mutate them
      const view = viewOf(buf);
      // IPv4: every byte is covered. IPv6: the addresses (pseudo-header) and L4, not the rest of the headers.
      const covered = view.family === 4 ? [...buf.keys()] : [...buf.keys()].filter((i) => (i >= 8 && i < 40) || i >= view.l4Offset);
      const at = covered[atSeed % covered.length]!;
      buf[at]! ^= xor;
      // The only undetectable corruption: a UDP/IPv4 checksum field hit so that it reads 0 ("none").
      const udpNone = view.family === 4 && view.isUdp() && getU16(buf, view.l4ChecksumOffset) === 0;
      if (!udpNone) expect(verifyChecksums(view)).toBe(false);
    }), RUNS);
  });

  it('fills zeroed checksum fields back to the reference values', () => {
    fc.assert(fc.property(anyPlainCaseArb.map(buildCase), (built) => {
      const buf = Buffer.from(built);
      const expected = Buffer.from(built);
      const view = viewOf(buf);
      if (view.family === 4) buf.writeUInt16BE(0, 10);
      buf.writeUInt16BE(0, view.l4ChecksumOffset);
      fillChecksums(view);
      expect(buf.toString('hex')).toBe(expected.toString('hex'));
    }), RUNS);
  });

  it('sends a computed UDP checksum of 0 as 0xffff (tshark-checked bytes)', () => {
    const buf = fromHex('4500001e123400004011f093cb007101cb0071050bb90007000affff7c12');
    const view = viewOf(buf);
    expect(computeL4Checksum(view)).toBe(0xffff);
    expect(verifyChecksums(view)).toBe(true);
    buf.writeUInt16BE(0, 26);
    expect(verifyChecksums(view)).toBe(true); // now "no checksum", also valid over IPv4
    fillChecksums(view);
    expect(buf.readUInt16BE(26)).toBe(0xffff);
  });

  it('has no L4 checksum for protocols it does not decode', () => {
    const view = viewOf(buildPacket({ family: 6, src: '2001:db8::1', dst: '2001:db8::2' }, { kind: 'raw', protocol: 47, bytes: new Uint8Array(8) }));
    expect(computeL4Checksum(view)).toBe(-1);
    expect(verifyChecksums(view)).toBe(true);
  });

  it('counts a wrong IPv4 header checksum as wrong', () => {
    const view = viewOf(buildPacket({ family: 4, src: '198.51.100.1', dst: '203.0.113.1', headerChecksum: 0xbeef }, { kind: 'udp', srcPort: 1, dstPort: 2 }));
    expect(verifyChecksums(view)).toBe(false);
    fillChecksums(view);
    expect(verifyChecksums(view)).toBe(true);
  });
});
