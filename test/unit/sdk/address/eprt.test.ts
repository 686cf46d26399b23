import fc from 'fast-check';
import { endpoint, formatEprtArgument, formatEpsvPort, ipAddress, parseEprtArgument, parseEpsvReply, port, type Endpoint } from '@algd/sdk';

describe('parseEprtArgument', () => {
  it.each([
    ['|1|198.51.100.2|6275|', '198.51.100.2', 6275],
    ['|2|2001:db8::2|6275|', '2001:db8::2', 6275],
    ['!1!198.51.100.2!21!', '198.51.100.2', 21],
    ['~2~2001:DB8:0:0:0:0:0:2~65535~', '2001:db8::2', 65535],
    ['#1#0.0.0.0#0#', '0.0.0.0', 0],
    ['|2|::ffff:192.0.2.1|1025|', '::ffff:c000:201', 1025],
  ])('reads %s', (text, address, p) => {
    expect(parseEprtArgument(text)).toEqual(endpoint(address, p));
  });

  it.each([
    '',
    '|',
    '|1|198.51.100.2|6275',
    '1|198.51.100.2|6275|',
    '|1|198.51.100.2!6275|',
    '|1|198.51.100.2|6275|x',
    ' |1|198.51.100.2|6275|',
    '|1|198.51.100.2|6275||',
    '|2|198.51.100.2|6275|',
    '|1|2001:db8::2|6275|',
    '|3|198.51.100.2|6275|',
    '||198.51.100.2|6275|',
    '|01|198.51.100.2|6275|',
    '|1|198.51.100.2|65536|',
    '|1|198.51.100.2||',
    '|1|198.51.100.2|+21|',
    '|1|198.51.100.2|-1|',
    '|1|198.51.100.2|000021|',
    '|1|198.51.100.2| 21|',
    '|1|198.051.100.2|21|',
    '|1|256.0.0.1|21|',
    '|1|example.net|21|',
    '|2|[2001:db8::2]|21|',
    '|2|fe80::1%eth0|21|',
    ' 1 198.51.100.2 21 ',
    '\x7f1\x7f198.51.100.2\x7f21\x7f',
    '\u00a71\u00a7198.51.100.2\u00a721\u00a7',
    ':2:2001:db8::2:21:',
    '.1.198.51.100.2.21.',
  ])('refuses %j', (text) => {
    expect(parseEprtArgument(text)).toBeUndefined();
  });
});

describe('formatEprtArgument', () => {
  it('writes the canonical form with | delimiters', () => {
    expect(formatEprtArgument(endpoint('198.51.100.2', 6275))).toBe('|1|198.51.100.2|6275|');
    expect(formatEprtArgument(endpoint('2001:0db8::0002', 6275))).toBe('|2|2001:db8::2|6275|');
  });
});

describe('parseEpsvReply', () => {
  it('finds the port of a 229 reply with its offsets', () => {
    const reply = '229 Entering Extended Passive Mode (|||6446|)\r\n';
    const m = parseEpsvReply(reply);
    expect(m).toEqual({ port: 6446, start: 35, end: 45 });
    expect(reply.slice(0, m!.start) + formatEpsvPort(port(50001)) + reply.slice(m!.end)).toBe('229 Entering Extended Passive Mode (|||50001|)\r\n');
  });

  it.each([
    ['229 ok (!!!21!)', 21, 7, 15],
    ['229 (x) (|||65535|)', 65535, 8, 19],
    ['229 (|||0|)', 0, 4, 11],
    ['229 ((|||80|))', 80, 5, 13],
  ])('reads %j', (text, p, start, end) => {
    expect(parseEpsvReply(text)).toEqual({ port: p, start, end });
  });

  it.each([
    '229 Entering Extended Passive Mode',
    '229 (|||65536|)',
    '229 (||6446|)',
    '229 (|||6446!)',
    '229 (|||6446|',
    '229 (||||)',
    '229 (|||+1|)',
    '229 (|||000006446|)',
    '229 (11161)',
    '229 (   80 )',
    '229 (|||64 46|)',
  ])('finds nothing in %j', (text) => {
    expect(parseEpsvReply(text)).toBeUndefined();
  });

  it('formats the port group', () => {
    expect(formatEpsvPort(port(6446))).toBe('(|||6446|)');
  });
});

describe('EPRT and EPSV properties', () => {
  const anyEndpoint: fc.Arbitrary<Endpoint> = fc
    .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }))
    .map(([a, p]) => ({ address: ipAddress(a), port: port(p) }));
  // Printable ASCII that cannot occur in an address, a family or a port.
  const delimiter = fc.constantFrom(...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).filter((c) => !/[0-9a-fA-F.:]/.test(c)));

  it('parse(format(x)) is x, with any delimiter', () => {
    fc.assert(
      fc.property(anyEndpoint, delimiter, (ep, d) => {
        expect(parseEprtArgument(formatEprtArgument(ep))).toEqual(ep);
        expect(parseEprtArgument(formatEprtArgument(ep).split('|').join(d))).toEqual(ep);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('parseEpsvReply finds formatEpsvPort(p) in a reply', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.string({ unit: fc.constantFrom(...'229 Entering Extended Passive Mode.'), maxLength: 40 }), (p, prefix) => {
        const group = formatEpsvPort(port(p));
        const reply = `${prefix}${group}\r\n`;
        expect(parseEpsvReply(reply)).toEqual({ port: p, start: prefix.length, end: prefix.length + group.length });
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('arbitrary strings never make the parsers throw; what parses is consistent', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('|', '!', '1', '2', '6', '.', ':', 'a', '(', ')', ' '), maxLength: 30 }));
    fc.assert(
      fc.property(text, (s) => {
        const ep = parseEprtArgument(s);
        if (ep) expect(parseEprtArgument(formatEprtArgument(ep))).toEqual(ep);
        const m = parseEpsvReply(s);
        if (m) {
          expect(m.port).toBeLessThanOrEqual(65535);
          expect(s[m.start]).toBe('(');
          expect(s[m.end - 1]).toBe(')');
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
