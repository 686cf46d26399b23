import fc from 'fast-check';
import { endpoint, formatHost, formatHostPort, ipAddress, parseHostPort, port, type Endpoint } from '@algd/sdk';

describe('parseHostPort', () => {
  it('reads IPv4 and bracketed IPv6 literals with a port', () => {
    expect(parseHostPort('198.51.100.2:5060')).toEqual(endpoint('198.51.100.2', 5060));
    expect(parseHostPort('[2001:db8::1]:5060')).toEqual(endpoint('2001:db8::1', 5060));
    expect(parseHostPort('[2001:DB8:0::1]:0')).toEqual(endpoint('2001:db8::1', 0));
    expect(parseHostPort('203.0.113.2:65535')).toEqual(endpoint('203.0.113.2', 65535));
  });

  it('reads a literal without a port, with the port absent or defaulted', () => {
    expect(parseHostPort('198.51.100.2')).toEqual({ address: '198.51.100.2' });
    expect(parseHostPort('198.51.100.2')).not.toHaveProperty('port');
    expect(parseHostPort('[2001:db8::1]')).toEqual({ address: '2001:db8::1' });
    expect(parseHostPort('198.51.100.2', { defaultPort: port(5060) })).toEqual(endpoint('198.51.100.2', 5060));
    expect(parseHostPort('[2001:db8::1]', { defaultPort: port(554) })).toEqual(endpoint('2001:db8::1', 554));
    expect(parseHostPort('198.51.100.2:5061', { defaultPort: port(5060) })).toEqual(endpoint('198.51.100.2', 5061));
  });

  it.each([
    '',
    ':5060',
    'example.net',
    'example.net:5060',
    'localhost',
    '2001:db8::1',
    '2001:db8::1:5060',
    '[2001:db8::1',
    '[2001:db8::1]5060',
    '[2001:db8::1]:',
    '[2001:db8::1]:x',
    '[fe80::1%eth0]:5060',
    '[198.51.100.2]:5060',
    '[]:5060',
    '198.51.100.2:',
    '198.51.100.2:65536',
    '198.51.100.2:123456',
    '198.51.100.2:+5060',
    '198.51.100.2:-1',
    '198.51.100.2: 5060',
    '198.51.100.2:5060 ',
    ' 198.51.100.2',
    '198.51.100.2:5060:1',
    '256.1.1.1',
    '01.2.3.4:5060',
    '198.51.100:5060',
    '198.51.100.2.7',
  ])('refuses %j', (text) => {
    expect(parseHostPort(text)).toBeUndefined();
    expect(parseHostPort(text, { defaultPort: port(5060) })).toBeUndefined();
  });
});

describe('formatHostPort and formatHost', () => {
  it('brackets IPv6 only', () => {
    expect(formatHostPort(endpoint('198.51.100.2', 5060))).toBe('198.51.100.2:5060');
    expect(formatHostPort(endpoint('2001:db8::1', 5060))).toBe('[2001:db8::1]:5060');
    expect(formatHost(ipAddress('203.0.113.2'))).toBe('203.0.113.2');
    expect(formatHost(ipAddress('2001:db8::2'))).toBe('[2001:db8::2]');
  });
});

describe('host-port properties', () => {
  const anyEndpoint: fc.Arbitrary<Endpoint> = fc
    .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }))
    .map(([a, p]) => ({ address: ipAddress(a), port: port(p) }));

  it('parse(format(x)) is x, with and without the port', () => {
    fc.assert(
      fc.property(anyEndpoint, (ep) => {
        expect(parseHostPort(formatHostPort(ep))).toEqual(ep);
        expect(parseHostPort(formatHost(ep.address))).toEqual({ address: ep.address });
        expect(parseHostPort(formatHost(ep.address), { defaultPort: ep.port })).toEqual(ep);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('arbitrary strings never make the parser throw; what parses formats back to the same value', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('1', '2', '9', '0', '.', ':', '[', ']', 'a', 'f', '%', ' '), maxLength: 30 }));
    fc.assert(
      fc.property(text, (s) => {
        const r = parseHostPort(s);
        if (r?.port !== undefined) expect(parseHostPort(formatHostPort({ address: r.address, port: r.port }))).toEqual(r);
        else if (r) expect(parseHostPort(formatHost(r.address))).toEqual(r);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
