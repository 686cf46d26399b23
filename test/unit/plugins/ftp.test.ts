/**
 * The FTP plugin through the SDK test kit: exact bytes each side receives,
 * the data channels requested, and every refusal counted.
 */

import fc from 'fast-check';
import { endpoint } from '@algd/sdk';
import { PluginTestSession } from '@algd/sdk/testing';
import ftp, { ftpOptions } from '@algd/plugin-ftp';

const CLIENT = endpoint('198.51.100.2', 40000);
const SERVER = endpoint('203.0.113.2', 21);
const BOUNDARY = endpoint('203.0.113.1', 45000);
const session = (extra: ConstructorParameters<typeof PluginTestSession>[1] = {}) =>
  new PluginTestSession(ftp, { client: CLIENT, server: SERVER, boundary: BOUNDARY, ...extra });

/** 61000 = 238 * 256 + 72: the kit's first free public port. */
const FIRST_PUBLIC = '203,0,113,1,238,72';

describe('FTP plugin: active mode', () => {
  it('maps PORT to a public port and sends it on in canonical form', async () => {
    const t = session();
    await t.clientSends('PORT 198,51,100,2,19,137\r\n');
    expect(t.server.text).toBe(`PORT ${FIRST_PUBLIC}\r\n`);
    expect(t.client.text).toBe('');
    expect(t.dataChannels).toHaveLength(1);
    expect(t.dataChannels[0]).toMatchObject({
      protocol: 'tcp', direction: 'inbound', open: true,
      private: { address: '198.51.100.2', port: 5001 },
      public: { address: '203.0.113.1', port: 61000 },
      request: { remote: { address: '203.0.113.2' }, lifetimeMs: 30_000 },
    });
    expect(t.counters).toEqual({ 'active-mapped': 1 });
  });

  it('accepts leading zeros and spaces around the argument, announcing the canonical form', async () => {
    const t = session();
    await t.clientSends('port  198,051,100,002,019,137 \r\n');
    expect(t.server.text).toBe(`PORT ${FIRST_PUBLIC}\r\n`);
  });

  it('maps EPRT |1| and writes EPRT back', async () => {
    const t = session();
    await t.clientSends('EPRT |1|198.51.100.2|6275|\r\n');
    expect(t.server.text).toBe('EPRT |1|203.0.113.1|61000|\r\n');
    expect(t.dataChannels[0]).toMatchObject({ private: { address: '198.51.100.2', port: 6275 } });
  });

  it('maps EPRT |2| over an IPv6 control connection', async () => {
    const t = session({ client: endpoint('2001:db8:1::2', 40000), server: endpoint('2001:db8:2::2', 21), boundary: endpoint('2001:db8:2::1', 45000) });
    await t.clientSends('EPRT |2|2001:db8:1::2|6275|\r\n');
    expect(t.server.text).toBe('EPRT |2|2001:db8:2::1|61000|\r\n');
  });

  it('handles a command split across three segments and several commands in one segment', async () => {
    const t = session();
    await t.clientSends('USER anonymous\r\nPO');
    await t.clientSends('RT 198,51,100,2,');
    await t.clientSends('19,137\r\nLIST\r\nPORT 198,51,100,2,19,138\r\nRETR a\r\n');
    expect(t.server.text).toBe(`USER anonymous\r\nPORT ${FIRST_PUBLIC}\r\nLIST\r\nPORT ${FIRST_PUBLIC}\r\nRETR a\r\n`);
  });

  it('keeps one pending data channel: a new PORT replaces the unused one', async () => {
    const t = session();
    await t.clientSends('PORT 198,51,100,2,19,137\r\nPORT 198,51,100,2,19,138\r\n');
    expect(t.dataChannels.map((c) => [c.private.port, c.open, c.endReason])).toEqual([[5001, false, 'removed'], [5002, true, undefined]]);
  });

  it('serves 40 data channels in one control session', async () => {
    const t = session();
    for (let i = 0; i < 40; i++) {
      await t.clientSends(`PORT 198,51,100,2,${20 + Math.floor(i / 256)},${i % 256}\r\nRETR f${i}\r\n`);
      const ch = t.dataChannels[t.dataChannels.length - 1]!;
      await t.dataChannelUsed(ch.id, endpoint('203.0.113.2', 20));
    }
    expect(t.dataChannels).toHaveLength(40);
    expect(t.dataChannels.every((c) => c.endReason === 'used')).toBe(true);
    expect(t.counters['active-mapped']).toBe(40);
  });
});

describe('FTP plugin: refusals', () => {
  it.each([
    ['a bounce to a third party', 'PORT 192,0,2,9,19,137\r\n', '500 PORT refused by the gateway: the address is not the client\'s own.\r\n', 'bounce-refused'],
    ['an EPRT bounce', 'EPRT |1|192.0.2.9|6275|\r\n', '500 EPRT refused by the gateway: the address is not the client\'s own.\r\n', 'bounce-refused'],
    ['an octet above 255', 'PORT 198,51,100,256,19,137\r\n', '501 PORT refused by the gateway: malformed or out-of-range address or port.\r\n', 'bad-argument'],
    ['a port byte above 255', 'PORT 198,51,100,2,300,1\r\n', '501 PORT refused by the gateway: malformed or out-of-range address or port.\r\n', 'bad-argument'],
    ['an EPRT port above 65535', 'EPRT |1|198.51.100.2|65536|\r\n', '501 EPRT refused by the gateway: malformed or out-of-range address or port.\r\n', 'bad-argument'],
    ['too few numbers', 'PORT 198,51,100,2,19\r\n', '501 PORT refused by the gateway: malformed or out-of-range address or port.\r\n', 'bad-argument'],
    ['a data port below 1024', 'PORT 198,51,100,2,0,21\r\n', '500 PORT refused by the gateway: data port below the allowed range.\r\n', 'low-port-refused'],
    ['an IPv6 EPRT on an IPv4 connection', 'EPRT |2|2001:db8::2|6275|\r\n', '522 EPRT refused by the gateway: wrong network protocol for this connection.\r\n', 'family-mismatch'],
    ['a denied command', 'SITE EXEC /bin/sh\r\n', '502 Command not allowed by the gateway.\r\n', 'denied-command'],
    ['a denied command in lower case', 'site cpfr /etc/passwd\r\n', '502 Command not allowed by the gateway.\r\n', 'denied-command'],
  ])('refuses %s: answered by the gateway, never forwarded, nothing opened', async (_name, line, reply, counter) => {
    const t = session();
    await t.clientSends(line);
    expect(t.client.text).toBe(reply);
    expect(t.server.text).toBe('');
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ [counter]: 1 });
  });

  it('lets SITE commands that are not denied through', async () => {
    const t = session();
    await t.clientSends('SITE CHMOD 644 a\r\n');
    expect(t.server.text).toBe('SITE CHMOD 644 a\r\n');
  });

  it('ends the session on a line longer than 512 bytes', async () => {
    const t = session();
    await t.clientSends(`NOOP\r\nSTOR ${'a'.repeat(600)}`);
    expect(t.server.text).toBe('NOOP\r\n');
    expect(t.closed).toBe(true);
    expect(t.counters).toEqual({ 'framing-line-too-long': 1 });
  });

  it('can be told to allow bounces (checks off) and other denied commands', async () => {
    const t = session({ options: { checkPortAddress: false, deniedCommands: ['STOU'] } });
    await t.clientSends('PORT 192,0,2,9,19,137\r\nSITE EXEC x\r\nSTOU\r\n');
    // A third party's port (server-to-server transfer) goes on unchanged and unmapped.
    expect(t.server.text).toBe('PORT 192,0,2,9,19,137\r\nSITE EXEC x\r\n');
    expect(t.dataChannels).toEqual([]);
    expect(t.client.text).toBe('502 Command not allowed by the gateway.\r\n');
  });
});

describe('FTP plugin: passive mode', () => {
  it('leaves a 227 naming the server untouched, with or without parentheses, and sends the data connection out from the boundary address', async () => {
    const t = session();
    await t.serverSends('227 Entering Passive Mode (203,0,113,2,195,80).\r\n227 Entering Passive Mode 203,0,113,2,195,81\r\n');
    expect(t.client.text).toBe('227 Entering Passive Mode (203,0,113,2,195,80).\r\n227 Entering Passive Mode 203,0,113,2,195,81\r\n');
    // One outbound channel per reply, the newer replacing the older: any port of the client to the announced port.
    expect(t.dataChannels.map((c) => [c.direction, c.private, c.request.remote, c.public.address, c.open])).toEqual([
      ['outbound', { address: '198.51.100.2', port: 0 }, { address: '203.0.113.2', port: 50000 }, '203.0.113.1', false],
      ['outbound', { address: '198.51.100.2', port: 0 }, { address: '203.0.113.2', port: 50001 }, '203.0.113.1', true],
    ]);
    expect(t.counters).toEqual({ 'passive-mapped': 2 });
  });

  it('refuses a 227 naming another address', async () => {
    const t = session();
    await t.serverSends('227 Entering Passive Mode (192,0,2,7,195,80).\r\n');
    expect(t.client.text).toBe("425 Can't open data connection: the server announced an address that is not its own (refused by the gateway).\r\n");
    expect(t.counters).toEqual({ 'passive-address-refused': 1 });
  });

  it('leaves 229 untouched towards an outside server, with an outbound channel to the announced port', async () => {
    const t = session();
    await t.serverSends('229 Entering Extended Passive Mode (|||50000|)\r\n');
    expect(t.client.text).toBe('229 Entering Extended Passive Mode (|||50000|)\r\n');
    expect(t.dataChannels.map((c) => [c.direction, c.private.port, c.request.remote])).toEqual([['outbound', 0, { address: '203.0.113.2', port: 50000 }]]);
  });

  it('never takes a line inside a multi-line reply for a reply of its own', async () => {
    const t = session();
    const banner = '220-Welcome\r\n227 Entering Passive Mode (192,0,2,7,1,1)\r\n220 ready\r\n';
    await t.serverSends(banner);
    expect(t.client.text).toBe(banner);
    expect(t.counters).toEqual({});
  });

  it('maps and rewrites 227 and 229 from a server behind the gateway', async () => {
    const t = session({ client: endpoint('192.0.2.50', 40000), server: endpoint('198.51.100.5', 21), boundary: endpoint('198.51.100.1', 45000), clientSide: 'public' });
    await t.serverSends('227 Entering Passive Mode (198,51,100,5,195,80).\r\n');
    expect(t.client.text).toBe('227 Entering Passive Mode (198,51,100,1,238,72).\r\n');
    // The server sees the data connection come from the gateway, where its control connection comes from.
    expect(t.dataChannels[0]).toMatchObject({ private: { address: '198.51.100.5', port: 50000 }, request: { remote: { address: '192.0.2.50' }, fromBoundary: true } });
    await t.serverSends('229 Entering Extended Passive Mode (|||50001|)\r\n');
    expect(t.client.text).toContain('229 Entering Extended Passive Mode (|||61000|).\r\n');
    expect(t.dataChannels.map((c) => [c.private.port, c.open])).toEqual([[50000, false], [50001, true]]);
  });
});

describe('FTP plugin: a server behind the gateway', () => {
  it('refuses active mode, asking for passive mode', async () => {
    const t = session({ client: endpoint('192.0.2.50', 40000), server: endpoint('198.51.100.5', 21), boundary: endpoint('198.51.100.1', 45000), clientSide: 'public' });
    await t.clientSends('PORT 192,0,2,50,19,137\r\n');
    expect(t.client.text).toBe('502 PORT refused by the gateway: use passive mode with this server.\r\n');
    expect(t.server.text).toBe('');
    expect(t.counters).toEqual({ 'published-active-refused': 1 });
  });
});

describe('FTP plugin: TLS', () => {
  it('releases the session once AUTH TLS is accepted, so encrypted bytes pass untouched', async () => {
    const t = session();
    await t.clientSends('AUTH TLS\r\n');
    await t.serverSends('234 AUTH TLS OK.\r\n');
    const record = Buffer.alloc(2000, 0x41);
    record[0] = 0x16;
    await t.clientSends(record);
    expect(t.released).toBe(true);
    expect(t.server.received.subarray(10)).toEqual(record);
    expect(t.closed).toBe(false);
  });

  it('does not release on a 234 nobody asked for', async () => {
    const t = session();
    await t.serverSends('234 surprise\r\n');
    expect(t.released).toBe(false);
  });
});

describe('FTP plugin: options and robustness', () => {
  it('refuses unknown and ill-typed options with the key', () => {
    expect(() => ftpOptions.parse({ minDataPort: 0 })).toThrow('minDataPort must be a port number 1-65535');
    expect(() => ftpOptions.parse({ checkBounce: true })).toThrow('unknown option "checkBounce"');
    expect(() => ftpOptions.parse({ deniedCommands: ['rm -rf'] })).toThrow('deniedCommands');
  });

  it('never throws on arbitrary lines and never maps anything but the client\'s own address', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 80 }), { maxLength: 6 }), fc.boolean(), async (lines, fromServer) => {
        const t = session();
        for (const l of lines) {
          const text = `${l.replace(/[\r\n]/g, '')}\r\n`;
          if (fromServer) await t.serverSends(text);
          else await t.clientSends(`PORT ${text}`);
        }
        expect(t.dataChannels.every((c) => c.private.address === CLIENT.address)).toBe(true);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
