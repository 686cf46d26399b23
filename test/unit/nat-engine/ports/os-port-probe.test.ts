import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOsPortProbe, LinuxProcPortProbe, NO_PORT_IN_USE_PROBE } from '../../../../host/nat-engine/ports';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const line = (sl: number, local: string, state = '0A') => `   ${sl}: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n`;

const onLinux = process.platform === 'linux' ? it : it.skip;

describe('LinuxProcPortProbe over table files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'algd-proc-net-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads local ports of v4 and v6 sockets per protocol, in any state', () => {
    writeFileSync(join(dir, 'tcp'), HEADER + line(0, '0100007F:0BB8') + line(1, 'C6336402:9C40', '01'));
    writeFileSync(join(dir, 'tcp6'), HEADER + line(0, '00000000000000000000000001000000:F000'));
    writeFileSync(join(dir, 'udp'), HEADER + line(0, '00000000:13C4', '07'));
    // no udp6: IPv6 disabled
    const probe = new LinuxProcPortProbe({ procNetDir: dir });
    expect(probe.isInUse('tcp', 3000)).toBe(true);
    expect(probe.isInUse('tcp', 40000)).toBe(true);
    expect(probe.isInUse('tcp', 0xf000)).toBe(true);
    expect(probe.isInUse('tcp', 5060)).toBe(false);
    expect(probe.isInUse('udp', 5060)).toBe(true);
    expect(probe.isInUse('udp', 3000)).toBe(false);
  });

  it('reads the tables once per cache period: a stale reading in the background while it answers from the last one, a reading twice as old at once', async () => {
    let now = 0;
    writeFileSync(join(dir, 'udp'), HEADER + line(0, '00000000:13C4'));
    const probe = new LinuxProcPortProbe({ procNetDir: dir, cacheMs: 1000, now: () => now });
    expect(probe.isInUse('udp', 5060)).toBe(true);
    writeFileSync(join(dir, 'udp'), HEADER + line(0, '00000000:13C6'));
    now = 999;
    expect(probe.isInUse('udp', 5060)).toBe(true);
    expect(probe.isInUse('udp', 5062)).toBe(false);
    await probe.settled();
    expect(probe.isInUse('udp', 5062)).toBe(false);
    // Stale: still the last reading's answer, the new reading arrives without blocking the question.
    now = 1000;
    expect(probe.isInUse('udp', 5060)).toBe(true);
    expect(probe.isInUse('udp', 5062)).toBe(false);
    await probe.settled();
    expect(probe.isInUse('udp', 5060)).toBe(false);
    expect(probe.isInUse('udp', 5062)).toBe(true);
    // The new reading is fresh from when it was started (1000) for cacheMs.
    writeFileSync(join(dir, 'udp'), HEADER + line(0, '00000000:13C8'));
    now = 1999;
    expect(probe.isInUse('udp', 5064)).toBe(false);
    await probe.settled();
    expect(probe.isInUse('udp', 5064)).toBe(false);
    // Twice as old (a quiet spell): read at once.
    now = 3000;
    expect(probe.isInUse('udp', 5064)).toBe(true);
    writeFileSync(join(dir, 'udp'), HEADER);
    probe.invalidate();
    expect(probe.isInUse('udp', 5062)).toBe(false);
  });

  it('drops a background reading that an invalidation overtook, and keeps the last reading when a background one fails', async () => {
    let now = 0;
    writeFileSync(join(dir, 'tcp'), HEADER + line(0, '0100007F:0BB8'));
    const probe = new LinuxProcPortProbe({ procNetDir: dir, cacheMs: 10, now: () => now });
    expect(probe.isInUse('tcp', 3000)).toBe(true);
    writeFileSync(join(dir, 'tcp'), HEADER + line(0, '0100007F:0BB9'));
    now = 10;
    expect(probe.isInUse('tcp', 3000)).toBe(true); // starts a background reading (3001)
    writeFileSync(join(dir, 'tcp'), HEADER + line(0, '0100007F:0BBA'));
    probe.invalidate();
    expect(probe.isInUse('tcp', 3002)).toBe(true); // read at once
    await probe.settled();
    expect(probe.isInUse('tcp', 3001)).toBe(false);
    expect(probe.isInUse('tcp', 3002)).toBe(true);
    // A table that cannot be read in the background: the last reading stays, the next stale question tries again.
    rmSync(join(dir, 'tcp'));
    mkdirSync(join(dir, 'tcp'));
    now = 20;
    expect(probe.isInUse('tcp', 3002)).toBe(true);
    await probe.settled();
    rmSync(join(dir, 'tcp'), { recursive: true });
    writeFileSync(join(dir, 'tcp'), HEADER);
    // Still the reading of time 10 (stale): answered from it, and read again.
    expect(probe.isInUse('tcp', 3002)).toBe(true);
    await probe.settled();
    expect(probe.isInUse('tcp', 3002)).toBe(false);
  });

  it('skips the header and malformed lines', () => {
    writeFileSync(join(dir, 'tcp'), `${HEADER}   0: 0100007F:0BB 00000000:0000 0A\n   1: 0100007F:0BBG 00000000:0000 0A\ngarbage\n   2: 0100007F:ffff 00000000:0000 0A`);
    const probe = new LinuxProcPortProbe({ procNetDir: dir });
    expect(probe.isInUse('tcp', 0xbb)).toBe(false);
    expect(probe.isInUse('tcp', 0xbbb)).toBe(false);
    expect(probe.isInUse('tcp', 0xffff)).toBe(true);
    expect([...Array(65536).keys()].filter((p) => probe.isInUse('tcp', p))).toEqual([0xffff]);
  });

  it('treats missing tables as empty but reports other read errors', () => {
    expect(new LinuxProcPortProbe({ procNetDir: join(dir, 'absent') }).isInUse('tcp', 22)).toBe(false);
    const fileNotDir = join(dir, 'file');
    writeFileSync(fileNotDir, '');
    expect(() => new LinuxProcPortProbe({ procNetDir: fileNotDir }).isInUse('tcp', 22)).toThrow(/ENOTDIR/);
  });
});

describe('the OS port probe', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  });

  onLinux('sees a TCP port a real server listens on', async () => {
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const probe = new LinuxProcPortProbe();
    expect(probe.isInUse('tcp', port)).toBe(true);
    expect(createOsPortProbe().isInUse('tcp', port)).toBe(true);
  });

  onLinux('sees a UDP port a real socket is bound to', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      expect(new LinuxProcPortProbe().isInUse('udp', socket.address().port)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => socket.close(resolve));
    }
  });

  it('is a no-op on platforms without a probe yet', () => {
    expect(createOsPortProbe('win32')).toBe(NO_PORT_IN_USE_PROBE);
    expect(createOsPortProbe('linux')).toBeInstanceOf(LinuxProcPortProbe);
    expect(NO_PORT_IN_USE_PROBE.isInUse('tcp', 22)).toBe(false);
  });
});
