import { endpoint } from '@algd/sdk';
import { PluginTestSession } from '@algd/sdk/testing';
import tftp, { tftpOptions } from '../../../sdk/examples/tftp/src/index';

/** A request: opcode, then each field NUL-terminated. */
function request(opcode: number, ...fields: string[]): Buffer {
  return Buffer.concat([Buffer.from([0, opcode]), ...fields.map((f) => Buffer.from(`${f}\0`, 'latin1'))]);
}

const RRQ = 1;
const WRQ = 2;

describe('tftp example plugin', () => {
  it('is a UDP port 69 plugin', () => {
    expect(tftp.name).toBe('tftp');
    expect(tftp.controlChannels).toEqual([{ protocol: 'udp', ports: [69] }]);
  });

  it('forwards a read request unchanged and opens a one-shot channel for the answer from the server transfer port', async () => {
    const t = new PluginTestSession(tftp);
    const rrq = request(RRQ, 'pxelinux.0', 'octet');
    expect(rrq).toEqual(Buffer.from('\x00\x01pxelinux.0\x00octet\x00', 'latin1'));
    await t.clientSends(rrq);
    expect(t.server.messages).toEqual([rrq]);
    expect(t.client.messages).toEqual([]);
    expect(t.dataChannels).toEqual([
      {
        id: 1,
        protocol: 'udp',
        private: endpoint('198.51.100.2', 40000),
        public: endpoint('203.0.113.1', 61234),
        direction: 'inbound',
        persistent: false,
        request: {
          protocol: 'udp',
          private: endpoint('198.51.100.2', 40000),
          public: endpoint('203.0.113.1', 61234),
          remote: { address: '203.0.113.2' },
          direction: 'inbound',
          lifetimeMs: 30000,
        },
        open: true,
      },
    ]);
    expect(t.counters).toEqual({ rrq: 1 });
    // The server's first DATA comes from its transfer port, any port of its address.
    await t.dataChannelUsed(1, endpoint('203.0.113.2', 51234));
    expect(t.dataChannels[0]).toMatchObject({ open: false, endReason: 'used' });
  });

  it('forwards a write request with options, mode case-insensitive, with the configured lifetime', async () => {
    const t = new PluginTestSession(tftp, { options: { lifetimeMs: 5000 } });
    const wrq = request(WRQ, 'upload.bin', 'OcTeT', 'blksize', '1428', 'tsize', '0');
    await t.clientSends(wrq);
    expect(t.server.messages).toEqual([wrq]);
    expect(t.dataChannels[0]?.request.lifetimeMs).toBe(5000);
    expect(t.counters).toEqual({ wrq: 1 });
  });

  it('replaces the channel of a retransmitted request instead of failing on the busy boundary endpoint', async () => {
    const t = new PluginTestSession(tftp);
    const rrq = request(RRQ, 'a', 'netascii');
    await t.clientSends(rrq);
    await t.clientSends(rrq);
    expect(t.server.messages).toEqual([rrq, rrq]);
    expect(t.dataChannels.map((c) => [c.id, c.open, c.endReason])).toEqual([[1, false, 'removed'], [2, true, undefined]]);
    expect(t.state).toEqual({ channel: 2 });
  });

  it.each([
    ['no NUL after the filename', Buffer.from('\0\x01file', 'latin1'), 'bad-filename'],
    ['an empty filename', request(RRQ, '', 'octet'), 'bad-filename'],
    ['no NUL after the mode', Buffer.from('\0\x01file\0octet', 'latin1'), 'bad-mode'],
    ['no mode', request(RRQ, 'file'), 'bad-mode'],
    ['an unknown mode', request(RRQ, 'file', 'binary'), 'bad-mode'],
    ['more than 512 bytes', request(RRQ, 'f'.repeat(505), 'octet'), 'oversized-request'],
    ['a DATA packet on port 69', Buffer.from('\0\x03\0\x01hello', 'latin1'), 'bad-opcode'],
    ['an ERROR packet from the client', Buffer.from('\0\x05\0\x00x\0', 'latin1'), 'bad-opcode'],
    ['opcode 0', request(0, 'file', 'octet'), 'bad-opcode'],
    ['a single byte', Buffer.from([1]), 'bad-opcode'],
    ['an empty datagram', Buffer.alloc(0), 'bad-opcode'],
    ['an option without its value', request(RRQ, 'file', 'octet', 'blksize'), 'bad-options'],
    ['an option value without its NUL', Buffer.concat([request(RRQ, 'file', 'octet', 'blksize'), Buffer.from('1428')]), 'bad-options'],
    ['an empty option name', request(RRQ, 'file', 'octet', '', '1'), 'bad-options'],
    ['an empty option value', request(RRQ, 'file', 'octet', 'tsize', ''), 'bad-options'],
    ['an option given twice', request(RRQ, 'file', 'octet', 'blksize', '512', 'BLKSIZE', '1428'), 'bad-options'],
  ])('drops a request with %s, counts it and opens nothing', async (_what, bytes, counter) => {
    const t = new PluginTestSession(tftp);
    await t.clientSends(bytes);
    expect(t.server.messages).toEqual([]);
    expect(t.client.messages).toEqual([]);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ [counter]: 1 });
    expect(t.closed).toBe(false);
  });

  it('accepts a request of exactly 512 bytes', async () => {
    const rrq = request(RRQ, 'f'.repeat(503), 'octet');
    expect(rrq.length).toBe(512);
    const t = new PluginTestSession(tftp);
    await t.clientSends(rrq);
    expect(t.server.messages).toEqual([rrq]);
    expect(t.dataChannels).toHaveLength(1);
  });

  it('answers a write request itself with ERROR 2 "Access violation" when writes are not allowed', async () => {
    const t = new PluginTestSession(tftp, { options: { allowWrite: false } });
    await t.clientSends(request(WRQ, 'etc/passwd', 'octet'));
    expect(t.client.messages).toEqual([Buffer.from('\x00\x05\x00\x02Access violation\x00', 'latin1')]);
    expect(t.server.messages).toEqual([]);
    expect(t.dataChannels).toEqual([]);
    expect(t.counters).toEqual({ 'write-refused': 1 });
    await t.clientSends(request(RRQ, 'etc/motd', 'octet')); // reads still pass
    expect(t.server.messages).toHaveLength(1);
  });

  it('forwards messages from the server on port 69 unchanged', async () => {
    const t = new PluginTestSession(tftp);
    const error = Buffer.from('\x00\x05\x00\x01File not found\x00', 'latin1');
    await t.serverSends(error);
    expect(t.client.messages).toEqual([error]);
    expect(t.dataChannels).toEqual([]);
  });

  it('uses the session endpoints, IPv6 included', async () => {
    const t = new PluginTestSession(tftp, {
      client: endpoint('2001:db8:1::2', 3333),
      server: endpoint('2001:db8:2::2', 69),
      boundary: endpoint('2001:db8:2::1', 62000),
    });
    await t.clientSends(request(RRQ, 'x', 'octet'));
    expect(t.dataChannels[0]).toMatchObject({
      private: endpoint('2001:db8:1::2', 3333),
      public: endpoint('2001:db8:2::1', 62000),
      request: { remote: { address: '2001:db8:2::2' } },
    });
  });

  describe('options', () => {
    it('defaults and accepts bounds', () => {
      expect(tftpOptions.parse(undefined)).toEqual({ lifetimeMs: 30000, allowWrite: true });
      expect(tftpOptions.parse({})).toEqual({ lifetimeMs: 30000, allowWrite: true });
      expect(tftpOptions.parse({ lifetimeMs: 1000, allowWrite: false })).toEqual({ lifetimeMs: 1000, allowWrite: false });
      expect(tftpOptions.parse({ lifetimeMs: 300000 })).toEqual({ lifetimeMs: 300000, allowWrite: true });
    });

    it.each([
      [[], 'tftp options: must be an object'],
      ['fast', 'tftp options: must be an object'],
      [{ lifetimeMs: 999 }, 'lifetimeMs must be an integer from 1000 to 300000, got 999'],
      [{ lifetimeMs: 300001 }, 'lifetimeMs must be an integer from 1000 to 300000, got 300001'],
      [{ lifetimeMs: 1500.5 }, 'lifetimeMs must be an integer'],
      [{ lifetimeMs: '30000' }, 'lifetimeMs must be an integer from 1000 to 300000, got "30000"'],
      [{ allowWrite: 'no' }, 'allowWrite must be true or false, got "no"'],
      [{ allowwrite: false }, 'tftp options: unknown option "allowwrite"'],
    ])('refuses %j', (input, message) => {
      expect(() => tftpOptions.parse(input)).toThrow(message);
      expect(() => new PluginTestSession(tftp, { options: input })).toThrow(message);
    });
  });
});
