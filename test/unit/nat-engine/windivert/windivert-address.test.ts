import { ADDRESS_FLAG, WindivertAddress } from '../../../../host/nat-engine/drivers/windivert/windivert-address';
import { fromHex, toHex } from '../../../support/packets';

/** An inbound IPv4 TCP packet's address as WinDivert 2.x writes it (80 bytes, little-endian). */
const INBOUND_HEX =
  '8877665544332211' + // Timestamp 0x1122334455667788
  '00' + '00' + // Layer NETWORK, Event NETWORK_PACKET
  'e0' + // IPChecksum | TCPChecksum | UDPChecksum
  '00' + '00000000' + // Reserved1, Reserved2
  '07000000' + '01000000' + // IfIdx 7, SubIfIdx 1
  '00'.repeat(56);

describe('WindivertAddress', () => {
  it('reads every field at its offset', () => {
    const a = new WindivertAddress(fromHex(INBOUND_HEX));
    expect(a.timestamp).toBe(0x1122334455667788n);
    expect(a.layer).toBe(0);
    expect(a.event).toBe(0);
    expect([a.sniffed, a.outbound, a.loopback, a.impostor, a.ipv6]).toEqual([false, false, false, false, false]);
    expect([a.ipChecksum, a.tcpChecksum, a.udpChecksum]).toEqual([true, true, true]);
    expect(a.ifIdx).toBe(7);
    expect(a.subIfIdx).toBe(1);
  });

  it('writes exactly the bytes WinDivert expects', () => {
    const a = new WindivertAddress();
    a.timestamp = -2n;
    a.layer = 1;
    a.event = 0;
    a.outbound = true;
    a.loopback = true;
    a.ipv6 = true;
    a.tcpChecksum = true;
    a.ifIdx = 0x01020304;
    a.subIfIdx = 0xfffffffe;
    expect(toHex(a.buf)).toBe('feffffffffffffff' + '01' + '00' + '56' + '00' + '00000000' + '04030201' + 'feffffff' + '00'.repeat(56));
  });

  it('has one bit per flag, in the order of the C bitfield', () => {
    const names = ['sniffed', 'outbound', 'loopback', 'impostor', 'ipv6', 'ipChecksum', 'tcpChecksum', 'udpChecksum'] as const;
    const bits = [ADDRESS_FLAG.SNIFFED, ADDRESS_FLAG.OUTBOUND, ADDRESS_FLAG.LOOPBACK, ADDRESS_FLAG.IMPOSTOR, ADDRESS_FLAG.IPV6, ADDRESS_FLAG.IP_CHECKSUM, ADDRESS_FLAG.TCP_CHECKSUM, ADDRESS_FLAG.UDP_CHECKSUM];
    expect(bits).toEqual([0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]);
    names.forEach((name, i) => {
      const a = new WindivertAddress();
      a[name] = true;
      expect(a.buf[10]).toBe(bits[i]);
      expect(a.flags).toBe(bits[i]);
      a.flags = 0xff;
      a[name] = false;
      expect(a.buf[10]).toBe(0xff & ~bits[i]!);
    });
  });

  it('moves over an address array without copying, and copies one address verbatim', () => {
    const array = Buffer.alloc(3 * 80);
    const a = new WindivertAddress(array, 2);
    expect(a.offset).toBe(160);
    a.ifIdx = 9;
    a.outbound = true;
    array[160 + 30] = 0xab; // a byte a library may use for its own bookkeeping
    expect(array.readUInt32LE(176)).toBe(9);
    expect(array[170]).toBe(0x02);
    expect(a.at(0).ifIdx).toBe(0);
    expect(a.buf).toBe(array);

    const target = Buffer.alloc(2 * 80);
    a.at(2).copyTo(target, 1);
    expect(toHex(target.subarray(80))).toBe(toHex(array.subarray(160)));
    expect(toHex(target.subarray(0, 80))).toBe('00'.repeat(80));

    a.wrap(target, 1).clear();
    expect(toHex(target)).toBe('00'.repeat(160));
  });

  it('refuses indexes outside its buffer', () => {
    const a = new WindivertAddress(Buffer.alloc(160));
    expect(() => a.at(2)).toThrow(RangeError);
    expect(() => a.at(-1)).toThrow(RangeError);
    expect(() => a.at(0.5)).toThrow(RangeError);
    expect(a.at(1).offset).toBe(80);
  });
});
