/**
 * The SDK's address helpers: every endpoint survives format then parse, a
 * parse result formats back to text that parses to the same endpoint
 * (canonical form), and arbitrary text never throws.
 */

import fc from 'fast-check';
import {
  findFtpHostPort, formatEprtArgument, formatEpsvPort, formatFtpHostPort, formatHostPort, ipAddress,
  parseEprtArgument, parseEpsvReply, parseFtpHostPort, parseHostPort, port, type Endpoint,
} from '@algd/sdk';
import { FUZZ_TEST_TIMEOUT_MS, fuzzParams } from './fuzz-settings';

jest.setTimeout(FUZZ_TEST_TIMEOUT_MS);

const v4 = fc.ipV4().map((a) => ipAddress(a));
const v6 = fc.ipV6().filter((a) => !a.includes('%')).map((a) => ipAddress(a));
const anyPort = fc.integer({ min: 0, max: 65535 }).map((p) => p as ReturnType<typeof port>);
const endpoint4 = fc.record({ address: v4, port: anyPort }) as fc.Arbitrary<Endpoint>;
const endpointAny = fc.record({ address: fc.oneof(v4, v6), port: anyPort }) as fc.Arbitrary<Endpoint>;

/** Text with the characters these forms are made of, plus anything. */
const addressish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789,.:|[]()%-+ abcdef'.split('')), maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

describe('FTP host-port form (PORT, 227)', () => {
  it('format then parse gives the endpoint back; find locates it inside any text without other digit runs next to it', () => {
    fc.assert(fc.property(endpoint4, fc.string({ unit: fc.constantFrom(...'abc ()=.'.split('')) }), fc.string({ unit: fc.constantFrom(...'xyz )(.'.split('')) }), (e, before, after) => {
      const text = formatFtpHostPort(e);
      expect(parseFtpHostPort(text)).toEqual(e);
      const found = findFtpHostPort(`${before}${text}${after}`);
      expect(found).toEqual({ endpoint: e, start: before.length, end: before.length + text.length });
    }), fuzzParams(500));
  });

  it('arbitrary text: never throws; what parses is canonical once formatted', () => {
    fc.assert(fc.property(addressish, (text) => {
      const e = parseFtpHostPort(text);
      if (e !== undefined) expect(parseFtpHostPort(formatFtpHostPort(e))).toEqual(e);
      const found = findFtpHostPort(text);
      if (found !== undefined) expect(parseFtpHostPort(text.slice(found.start, found.end))).toEqual(found.endpoint);
    }), fuzzParams(1000));
  });
});

describe('EPRT and EPSV (RFC 2428)', () => {
  it('format then parse gives the endpoint back, IPv4 and IPv6', () => {
    fc.assert(fc.property(endpointAny, (e) => {
      expect(parseEprtArgument(formatEprtArgument(e))).toEqual(e);
    }), fuzzParams(500));
  });

  it('any allowed delimiter works when it is not inside the fields', () => {
    fc.assert(fc.property(endpointAny, fc.integer({ min: 33, max: 126 }), (e, code) => {
      const d = String.fromCharCode(code);
      const canonical = formatEprtArgument(e);
      const fields = canonical.slice(1, -1).split('|');
      const text = `${d}${fields.join(d)}${d}`;
      const clash = fields.some((f) => f.includes(d));
      expect(parseEprtArgument(text)).toEqual(clash ? undefined : e);
    }), fuzzParams(500));
  });

  it('the 229 port is found wherever it stands, with its offsets', () => {
    fc.assert(fc.property(anyPort.filter((p) => p > 0), fc.string({ unit: fc.constantFrom(...'229 Entering Extended Passive Mode.|'.split('')) }), (p, before) => {
      const group = formatEpsvPort(p);
      const m = parseEpsvReply(`${before}${group}.`);
      expect(m).toEqual({ port: p, start: before.length, end: before.length + group.length });
    }), fuzzParams(500));
  });

  it('arbitrary text: never throws; a parsed EPRT argument is canonical once formatted, a 229 match slices back', () => {
    fc.assert(fc.property(addressish, (text) => {
      const e = parseEprtArgument(text);
      if (e !== undefined) expect(parseEprtArgument(formatEprtArgument(e))).toEqual(e);
      const m = parseEpsvReply(text);
      if (m !== undefined) expect(parseEpsvReply(text.slice(m.start, m.end))).toEqual({ port: m.port, start: 0, end: m.end - m.start });
    }), fuzzParams(1000));
  });
});

describe('host:port (SIP, RTSP, settings)', () => {
  it('format then parse gives the endpoint back, IPv4 and IPv6 in brackets', () => {
    fc.assert(fc.property(endpointAny, (e) => {
      expect(parseHostPort(formatHostPort(e))).toEqual(e);
    }), fuzzParams(500));
  });

  it('arbitrary text: never throws; what parses is canonical once formatted; a default port only fills a missing one', () => {
    fc.assert(fc.property(addressish, (text) => {
      const hp = parseHostPort(text);
      const withDefault = parseHostPort(text, { defaultPort: port(5060) });
      expect(withDefault === undefined).toBe(hp === undefined);
      if (hp !== undefined) {
        expect(withDefault).toEqual({ address: hp.address, port: hp.port ?? 5060 });
        expect(parseHostPort(formatHostPort(withDefault!))).toEqual(withDefault);
      }
    }), fuzzParams(1000));
  });
});
