import { endpoint, formatEndpoint, ipAddress, ipFamily, ipFromBytes, ipToBytes, NetValueError, port } from '@algd/sdk';

describe('net value types', () => {
  it.each([
    ['198.51.100.2', '198.51.100.2'],
    ['2001:0db8:0000:0000:0000:0000:0000:0002', '2001:db8::2'],
    ['[2001:db8::2]', '2001:db8::2'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['FE80::AB', 'fe80::ab'],
  ])('canonicalises %s as %s', (input, canonical) => {
    expect(ipAddress(input)).toBe(canonical);
  });

  it.each(['', '256.1.1.1', '1.2.3', '01.2.3.4', 'fe80::1%eth0', 'example.net', '1:2:3:4:5:6:7:8:9'])('rejects %j', (bad) => {
    expect(() => ipAddress(bad)).toThrow(NetValueError);
  });

  it('converts addresses to and from network-order bytes', () => {
    expect(Array.from(ipToBytes(ipAddress('203.0.113.1')))).toEqual([203, 0, 113, 1]);
    const v6 = ipToBytes(ipAddress('2001:db8::1:2'));
    expect(Buffer.from(v6).toString('hex')).toBe('20010db8000000000000000000010002');
    expect(ipFromBytes(v6)).toBe('2001:db8::1:2');
    expect(ipFromBytes(Buffer.from([0, 0, 198, 51, 100, 7]), 2, 4)).toBe('198.51.100.7');
    expect(ipFamily(ipAddress('2001:db8::1'))).toBe(6);
  });

  it('validates ports and formats endpoints', () => {
    expect(port(65535)).toBe(65535);
    expect(() => port(65536)).toThrow(NetValueError);
    expect(() => port(-1)).toThrow(NetValueError);
    expect(() => port(1.5)).toThrow(NetValueError);
    expect(formatEndpoint(endpoint('2001:db8::2', 21))).toBe('[2001:db8::2]:21');
    expect(formatEndpoint(endpoint('198.51.100.2', 21))).toBe('198.51.100.2:21');
  });
});
