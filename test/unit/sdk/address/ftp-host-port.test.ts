import fc from 'fast-check';
import { endpoint, findFtpHostPort, formatFtpHostPort, ipAddress, NetValueError, parseFtpHostPort, port, type Endpoint } from '@algd/sdk';

describe('parseFtpHostPort', () => {
  it.each([
    ['192,0,2,1,4,1', '192.0.2.1', 1025],
    ['198,51,100,2,24,131', '198.51.100.2', 6275],
    ['0,0,0,0,0,0', '0.0.0.0', 0],
    ['255,255,255,255,255,255', '255.255.255.255', 65535],
    ['203,000,113,002,004,001', '203.0.113.2', 1025],
  ])('reads %s as %s port %d', (text, address, p) => {
    expect(parseFtpHostPort(text)).toEqual(endpoint(address, p));
  });

  it.each([
    '',
    '256,0,2,1,4,1',
    '192,0,2,1,256,1',
    '192,0,2,1,4,256',
    '192,0,2,1,4',
    '192,0,2,1,4,1,7',
    '+192,0,2,1,4,1',
    '192,-0,2,1,4,1',
    ' 192,0,2,1,4,1',
    '192,0,2,1,4,1 ',
    '192, 0,2,1,4,1',
    '192,,2,1,4,1',
    '192,0,2,1,4,',
    '1192,0,2,1,4,1',
    '192,0,2,1,4,0001',
    '192.0,2,1,4,1',
    '(192,0,2,1,4,1)',
    '192,0,2,1,4,1\r\n',
    '0x1,0,2,1,4,1',
    '１92,0,2,1,4,1',
  ])('refuses %j', (text) => {
    expect(parseFtpHostPort(text)).toBeUndefined();
  });
});

describe('formatFtpHostPort', () => {
  it('writes an IPv4 endpoint as six decimal fields', () => {
    expect(formatFtpHostPort(endpoint('192.0.2.1', 1025))).toBe('192,0,2,1,4,1');
    expect(formatFtpHostPort(endpoint('203.0.113.1', 65535))).toBe('203,0,113,1,255,255');
    expect(formatFtpHostPort(endpoint('10.0.0.1', 0))).toBe('10,0,0,1,0,0');
    expect(formatFtpHostPort(endpoint('198.51.100.2', 255))).toBe('198,51,100,2,0,255');
    expect(formatFtpHostPort(endpoint('198.51.100.2', 256))).toBe('198,51,100,2,1,0');
  });

  it('refuses IPv6', () => {
    expect(() => formatFtpHostPort(endpoint('2001:db8::2', 21))).toThrow(NetValueError);
  });
});

describe('findFtpHostPort', () => {
  it('finds the host-port of a 227 reply with parentheses, with offsets to splice a replacement', () => {
    const reply = '227 Entering Passive Mode (192,168,1,2,4,1).\r\n';
    const m = findFtpHostPort(reply);
    expect(m).toEqual({ endpoint: endpoint('192.168.1.2', 1025), start: 27, end: 42 });
    const replaced = reply.slice(0, m!.start) + formatFtpHostPort(endpoint('203.0.113.1', 50000)) + reply.slice(m!.end);
    expect(replaced).toBe('227 Entering Passive Mode (203,0,113,1,195,80).\r\n');
  });

  it('finds it without parentheses', () => {
    expect(findFtpHostPort('227 Entering Passive Mode 192,0,2,1,4,1\r\n')).toEqual({ endpoint: endpoint('192.0.2.1', 1025), start: 26, end: 39 });
    expect(findFtpHostPort('227 =192,0,2,1,4,1')).toEqual({ endpoint: endpoint('192.0.2.1', 1025), start: 5, end: 18 });
  });

  it('skips runs that are not host-ports and returns the first valid one', () => {
    const text = '227 see 1,2,3 and (300,0,2,1,4,1) then (198,51,100,2,0,21)';
    expect(findFtpHostPort(text)).toEqual({ endpoint: endpoint('198.51.100.2', 21), start: 40, end: 57 });
  });

  it.each([
    '227 Entering Passive Mode',
    '227 Entering Passive Mode (1192,0,2,1,4,1)',
    '227 Entering Passive Mode (192,0,2,1,4,1,0)',
    '227 Entering Passive Mode (192,0,2,1,4)',
    '227 Entering Passive Mode (192, 0, 2, 1, 4, 1)',
    '',
  ])('finds nothing in %j (never borrows digits from a longer run)', (text) => {
    expect(findFtpHostPort(text)).toBeUndefined();
  });
});

describe('FTP host-port properties', () => {
  const ipv4Endpoint: fc.Arbitrary<Endpoint> = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([a, p]) => ({ address: ipAddress(a), port: port(p) }));

  it('parse(format(x)) is x, and find locates it in a 227 reply', () => {
    fc.assert(
      fc.property(ipv4Endpoint, fc.constantFrom('(', '', ' ', '='), (ep, open) => {
        const text = formatFtpHostPort(ep);
        expect(parseFtpHostPort(text)).toEqual(ep);
        const reply = `227 Entering Passive Mode ${open}${text}${open === '(' ? ')' : ''}.\r\n`;
        const m = findFtpHostPort(reply);
        expect(m?.endpoint).toEqual(ep);
        expect(reply.slice(m!.start, m!.end)).toBe(text);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('arbitrary strings never make the parsers throw; whatever parses formats back to an equivalent text', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', ',', ' ', '(', ')', '-', '+'), maxLength: 30 }));
    fc.assert(
      fc.property(text, (s) => {
        const ep = parseFtpHostPort(s);
        if (ep) {
          expect(s.split(',').map(Number)).toEqual(formatFtpHostPort(ep).split(',').map(Number));
        }
        const m = findFtpHostPort(s);
        if (m) expect(parseFtpHostPort(s.slice(m.start, m.end))).toEqual(m.endpoint);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
