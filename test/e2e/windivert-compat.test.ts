/**
 * The WinDivert compat library (WinDivert's API over NFQUEUE) against the
 * real kernel, through algd's TypeScript binding: a Node harness inside the
 * lab gateway opens the library with a filter generated from a capture
 * spec, receives with the driver's receive thread, and re-sends, modifies,
 * drops or injects. The server says what actually arrived.
 *
 * The harness uses the compiled modules (dist/, so `npm run build` first)
 * and runs as a separate process because a netlink queue and the iptables
 * rules belong to the network namespace of the process that makes them.
 * The library is built here (gcc, libnetfilter-queue-dev).
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { port } from '@algd/sdk';

import { CLIENT_V4, CLIENT_V6, GATEWAY_PRIVATE_V4, GATEWAY_PRIVATE_V6, GATEWAY_PUBLIC_V4, SERVER_V4, SERVER_V6 } from '../../host/lab/addresses';
import type { LabProcess } from '../../host/lab/lab-process';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import type { CaptureSpec } from '../../host/nat-engine/drivers/capture-spec';
import { buildCompatLibrary } from '../../host/nat-engine/drivers/windivert/compat-library';
import { describeLab, useLab } from '../lab/require-lab';
import { runHarness, stopHarness } from '../support/lab-harness';
import { buildPacket, toHex } from '../support/packets';
import { findTool } from '../support/require-tool';
import { labCaptureSpec } from '../../host/lab/lab-capture-spec';
import { until } from '../support/wait';
import { setTimeout as sleep } from 'node:timers/promises';

jest.setTimeout(90_000);

const PORT = 7000;
const OTHER_PORT = 7001;
const DIST_MODULE = resolve(__dirname, '../../dist/host/nat-engine/drivers/windivert/index.js');
const DIST_ENGINE = resolve(__dirname, '../../dist/host/nat-engine/nat-engine.js');
const SDK_MODULE = resolve(__dirname, '../../node_modules/@algd/sdk');
const WAIT_MS = 10_000;
/** How long "nothing arrived" is watched for. */
const SETTLE_MS = 700;

const SPEC: CaptureSpec = labCaptureSpec({ controlPorts: [{ protocol: 'udp', port: port(PORT) }] });

/** Server: prints every datagram on ports 7000 and 7001 as "RX <port> <hex>". */
const RECEIVER = `
import selectors, socket, sys
sel = selectors.DefaultSelector()
for p in (${PORT}, ${OTHER_PORT}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE
    s.bind(('0.0.0.0', p))
    sel.register(s, selectors.EVENT_READ, p)
print('LISTENING', flush=True)
while True:
    for key, _ in sel.select():
        data, _ = key.fileobj.recvfrom(65535)
        sys.stdout.write('RX %d %s\\n' % (key.data, data.hex()))
        sys.stdout.flush()
`;

/** Client: sends "<tag>-<i>" to the server's `port` for i < count. */
const SENDER = `
import socket, sys, time
tag, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    s.sendto(('%s-%d' % (tag, i)).encode(), ('${SERVER_V4}', port))
    time.sleep(0.01)
`;

/**
 * Gateway harness. argv[1] is JSON { module, library, spec, indexes, mode }.
 * Opens the library with the generated filter, prints "READY <filter>",
 * one "RX <json>" line per received packet, and on stdin "stop" shuts down,
 * drains, closes and prints "RESULT <json>". "inject <hex>" sends the packet
 * as a new one (no token: an impostor) and prints "INJECTED <ok> <error>".
 * Modes: accept; drop; modify-flag (uppercase the first payload byte of
 * packets seen inbound, clear the UDP checksum flag so the library computes
 * it); modify-calc (same, with WinDivertHelperCalcChecksums).
 */
const HARNESS = `
'use strict';
const cfg = JSON.parse(process.argv[1]);
const wd = require(cfg.module);
const lib = wd.loadWindivertLib(cfg.library);
const filter = wd.buildWindivertFilter(cfg.spec, new Map(Object.entries(cfg.indexes)));
const handle = lib.WinDivertOpen(filter, wd.WINDIVERT_LAYER.NETWORK, 0, 0);
if (wd.isInvalidHandle(handle)) {
  require('node:fs').writeSync(1, 'OPEN-FAILED ' + lib.lastError() + '\\n');
  process.exit(2);
}
if (!lib.WinDivertSetParam(handle, wd.WINDIVERT_PARAM.QUEUE_TIME, 500)) throw new Error('SetParam ' + lib.lastError());
const rx = new wd.WindivertReceiver({ handle, library: lib.library, lastError: lib.lastErrorSource, bufferSize: 1 << 20 });
const a = new wd.WindivertAddress(rx.addresses);
const stats = { batches: 0, received: 0, sent: 0, sendErrors: [], recvErrors: [] };
let ended;
rx.start({
  onBatch(count, length) {
    stats.batches++;
    let off = 0, out = 0, kept = 0;
    for (let i = 0; i < count; i++) {
      const len = wd.ipPacketLength(rx.packets, off, length);
      if (len === 0) throw new Error('malformed batch');
      a.at(i);
      const pkt = rx.packets.subarray(off, off + len);
      const ihl = (pkt[0] & 15) * 4;
      stats.received++;
      process.stdout.write('RX ' + JSON.stringify({ outbound: a.outbound, loopback: a.loopback, impostor: a.impostor, ipv6: a.ipv6, ifIdx: a.ifIdx, flags: a.flags, layer: a.layer, event: a.event, data: pkt.subarray(ihl + 8).toString('latin1') }) + '\\n');
      let keep = cfg.mode !== 'drop';
      if (cfg.mode.startsWith('modify') && !a.outbound) {
        pkt[ihl + 8] = String.fromCharCode(pkt[ihl + 8]).toUpperCase().charCodeAt(0);
        if (cfg.mode === 'modify-flag') a.udpChecksum = false;
        else if (!lib.WinDivertHelperCalcChecksums(pkt, len, rx.addresses.subarray(i * 80, i * 80 + 80), 0)) throw new Error('CalcChecksums ' + lib.lastError());
      }
      if (keep) {
        if (out !== off) rx.packets.copyWithin(out, off, off + len);
        if (kept !== i) rx.addresses.copyWithin(kept * 80, i * 80, i * 80 + 80);
        out += len;
        kept++;
      }
      off += len;
    }
    if (kept > 0) {
      if (lib.WinDivertSendEx(handle, rx.packets, out, null, 0, rx.addresses, kept * 80, null)) stats.sent += kept;
      else stats.sendErrors.push(lib.lastError());
    }
    rx.next();
  },
  onError(code) { stats.recvErrors.push(code); },
  onEnd(code, err) { ended = { code, err: err ? String(err) : undefined }; },
});
process.stdout.write('READY ' + filter + '\\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'inject') {
    const pkt = Buffer.from(arg, 'hex');
    const addr = new wd.WindivertAddress();
    addr.outbound = true;
    const ok = lib.WinDivertSendEx(handle, pkt, pkt.length, null, 0, addr.buf, 80, null);
    process.stdout.write('INJECTED ' + ok + ' ' + (ok ? 0 : lib.lastError()) + '\\n');
    return;
  }
  if (cmd !== 'stop') return;
  const shut = lib.WinDivertShutdown(handle, wd.WINDIVERT_SHUTDOWN.RECV);
  for (let i = 0; i < 200 && ended === undefined; i++) await new Promise((r) => setTimeout(r, 25));
  const closed = lib.WinDivertClose(handle);
  const again = lib.WinDivertClose(handle);
  const againError = lib.lastError();
  await rx.stop();
  process.stdout.write('RESULT ' + JSON.stringify({ shut, closed, again, againError, ended, stats }) + '\\n', () => process.exit(0));
});
`;

/**
 * Gateway harness running algd's engine behind the WindivertDriver over the
 * compat library. argv[1] is JSON { windivert, engine, sdk, library, spec,
 * listeners: [{ address, port }] }. The engine redirects TCP port 21 of
 * private clients to a listener on the gateway's private address (of the
 * client's family: the module comment of windivert-driver.ts explains why
 * a Windows listener binds an adapter address, not 127.0.0.1). Each listener
 * greets with what the engine knows: the client and its original
 * destination. Prints READY; on stdin "stop" closes the driver and prints
 * "RESULT <json>"; driver log lines as "LOG <level> <message>".
 */
const ENGINE_HARNESS = `
'use strict';
const cfg = JSON.parse(process.argv[1]);
const { WindivertDriver } = require(cfg.windivert);
const { NatEngine } = require(cfg.engine);
const sdk = require(cfg.sdk);
const net = require('node:net');
const engine = new NatEngine();
const servers = [];
for (const l of cfg.listeners) {
  engine.addRedirect({ protocol: 'tcp', port: sdk.port(21), listener: sdk.endpoint(l.address, l.port) });
  const server = net.createServer((sock) => {
    const peer = sdk.endpoint(sock.remoteAddress, sock.remotePort);
    const orig = engine.originalDestination('tcp', peer, sdk.endpoint(sock.localAddress, sock.localPort));
    sock.end('220 algd listener; client ' + sdk.formatEndpoint(peer) + ' asked for ' + (orig ? sdk.formatEndpoint(orig) : 'unknown') + '\\r\\n');
  });
  servers.push(new Promise((resolve) => server.listen(l.port, l.address, () => resolve(server))));
}
const driver = new WindivertDriver({ path: cfg.library, closeTimeoutMs: 3000, log: (level, message) => process.stdout.write('LOG ' + level + ' ' + message + '\\n') });
Promise.all(servers).then(async (listening) => {
  await driver.open(cfg.spec, engine);
  process.stdout.write('READY\\n');
  require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
    if (line.trim() !== 'stop') return;
    await driver.close();
    await driver.close();
    for (const s of listening) s.close();
    process.stdout.write('RESULT ' + JSON.stringify({ stats: driver.stats, engine: engine.counters.snapshot(), redirects: engine.listRedirects().map((r) => r.hits) }) + '\\n', () => process.exit(0));
  });
}).catch((err) => {
  process.stdout.write('FAILED ' + err.message + '\\n', () => process.exit(3));
});
`;

/** Server: TCP on ports 21 and 2121; prints "ACCEPT <port> <peer>" and greets with "server <port>". */
const TCP_SERVER = `
import socket, threading, sys
def serve(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(16)
    while True:
        c, peer = s.accept()
        print('ACCEPT %d %s' % (port, peer[0]), flush=True)
        c.sendall(b'server %d\\r\\n' % port)
        c.close()
for fam, addr in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    for p in (21, 2121):
        threading.Thread(target=serve, args=(fam, addr, p), daemon=True).start()
print('LISTENING', flush=True)
threading.Event().wait()
`;

/** Client: connects to argv[1]:argv[2] and prints what it reads, on one line. */
const TCP_CLIENT = `
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=5)
data = b''
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print('GOT ' + data.decode().strip())
`;

type Mode = 'accept' | 'drop' | 'modify-flag' | 'modify-calc';

interface Sighting {
  outbound: boolean;
  loopback: boolean;
  impostor: boolean;
  ipv6: boolean;
  ifIdx: number;
  flags: number;
  layer: number;
  event: number;
  data: string;
}

interface HarnessResult {
  shut: number;
  closed: number;
  again: number;
  againError: number;
  ended: { code?: number; err?: string };
  stats: { batches: number; received: number; sent: number; sendErrors: number[]; recvErrors: number[] };
}


const REQUIRE_ALL = process.env['ALGD_REQUIRE_ALL'] === '1';
const describeCompat = findTool('gcc') !== undefined || REQUIRE_ALL ? describeLab : describe.skip;

describeCompat('the WinDivert compat library over NFQUEUE, through the binding', () => {
  const lab = useLab({ name: 'wdc' });
  let library: string;
  let server: LabProcess;
  let indexes: Record<string, number>;

  const arrived = (tag: string, onPort = PORT): string[] =>
    server.stdout
      .split('\n')
      .filter((l) => l.startsWith(`RX ${onPort} `))
      .map((l) => Buffer.from(l.split(' ')[2]!, 'hex').toString('latin1'))
      .filter((s) => s.toLowerCase().startsWith(`${tag}-`));

  const send = (tag: string, count: number, toPort = PORT): Promise<unknown> => lab().execOk('client', ['python3', '-c', SENDER, tag, String(toPort), String(count)]);

  const sightings = (harness: LabProcess, tag?: string): Sighting[] =>
    harness.stdout
      .split('\n')
      .filter((l) => l.startsWith('RX '))
      .map((l) => JSON.parse(l.slice(3)) as Sighting)
      .filter((s) => tag === undefined || s.data.toLowerCase().startsWith(`${tag}-`));

  function startHarness(mode: Mode): LabProcess {
    return lab().spawn('gateway', [process.execPath, '-e', HARNESS, JSON.stringify({ module: DIST_MODULE, library, spec: SPEC, indexes, mode })]);
  }

  /** Runs `body` with a harness. */
  const withHarness = <T>(mode: Mode, body: (h: LabProcess) => Promise<T>): Promise<T> => runHarness(startHarness(mode), /^READY /m, WAIT_MS, body);

  const stopCompatHarness = (harness: LabProcess): Promise<HarnessResult> => stopHarness<HarnessResult>(harness, WAIT_MS);

  async function compatRules(): Promise<string[]> {
    const lines: string[] = [];
    for (const program of ['iptables', 'ip6tables']) {
      for (const table of ['raw', 'mangle']) {
        const out = await lab().execOk('gateway', [program, '-t', table, '-S']);
        lines.push(...out.stdout.split('\n').filter((l) => l.includes('WDCOMPAT_')).map((l) => `${program} ${table} ${l}`));
      }
    }
    return lines;
  }

  const ifindex = async (iface: string): Promise<number> => {
    const link = await lab().execOk('gateway', ['ip', '-j', 'link', 'show', iface]);
    return (JSON.parse(link.stdout) as { ifindex: number }[])[0]!.ifindex;
  };

  beforeAll(async () => {
    if (!existsSync(DIST_MODULE)) throw new Error(`${DIST_MODULE} is missing: run \`npm run build\` first`);
    library = buildCompatLibrary();
    server = lab().spawn('server', ['python3', '-u', '-c', RECEIVER]);
    await server.waitForOutput(/LISTENING/);
    indexes = { [GATEWAY_PRIVATE_IFACE]: await ifindex(GATEWAY_PRIVATE_IFACE), [GATEWAY_PUBLIC_IFACE]: await ifindex(GATEWAY_PUBLIC_IFACE) };
  });

  afterEach(async () => {
    // Every test ends with the library's rules gone.
    expect(await compatRules()).toEqual([]);
  });

  it('accept: matching datagrams are seen inbound on priv0 and outbound on pub0, re-sent unchanged, and arrive; other traffic flows untouched', async () => {
    const { result, seen } = await withHarness('accept', async (h) => {
      expect((await compatRules()).length).toBeGreaterThan(0);
      await send('acc', 5);
      await send('oth', 3, OTHER_PORT);
      await until('5 datagrams at the server', () => arrived('acc').length === 5 && arrived('oth', OTHER_PORT).length === 3);
      return { result: await stopCompatHarness(h), seen: sightings(h) };
    });

    expect(arrived('acc').sort()).toEqual(['acc-0', 'acc-1', 'acc-2', 'acc-3', 'acc-4']);
    expect(seen.filter((s) => s.data.startsWith('oth'))).toEqual([]);
    const valid = 0x20 | 0x80; // IPChecksum | UDPChecksum
    for (let i = 0; i < 5; i++) {
      const mine = seen.filter((s) => s.data === `acc-${i}`);
      expect(mine).toEqual([
        { outbound: false, loopback: false, impostor: false, ipv6: false, ifIdx: indexes[GATEWAY_PRIVATE_IFACE], flags: valid, layer: 0, event: 0, data: `acc-${i}` },
        { outbound: true, loopback: false, impostor: false, ipv6: false, ifIdx: indexes[GATEWAY_PUBLIC_IFACE], flags: valid | 0x02, layer: 0, event: 0, data: `acc-${i}` },
      ]);
    }
    expect(result).toMatchObject({ shut: 1, closed: 1, again: 0, againError: 6, ended: { code: 232 } });
    expect(result.stats).toMatchObject({ received: 10, sent: 10, sendErrors: [], recvErrors: [] });
  });

  it.each<[Mode, string]>([
    ['modify-flag', 'flg'],
    ['modify-calc', 'cal'],
  ])('%s: a modified datagram arrives modified, with a checksum the server accepts', async (mode, tag) => {
    const result = await withHarness(mode, async (h) => {
      await send(tag, 3);
      await until('3 modified datagrams at the server', () => arrived(tag).length === 3);
      return stopCompatHarness(h);
    });
    // The server's kernel verified the UDP checksum: a wrong one would have been dropped.
    expect(arrived(tag).sort()).toEqual([0, 1, 2].map((i) => `${tag[0]!.toUpperCase()}${tag.slice(1)}-${i}`));
    expect(result.stats).toMatchObject({ received: 6, sent: 6, sendErrors: [] });
  });

  it('drop: a packet never sent back is dropped, while non-matching traffic flows', async () => {
    const { result, seen } = await withHarness('drop', async (h) => {
      await send('drp', 3);
      await send('oth2', 2, OTHER_PORT);
      await until('the harness to see 3 datagrams', () => sightings(h, 'drp').length === 3);
      await until('other traffic at the server', () => arrived('oth2', OTHER_PORT).length === 2);
      await sleep(SETTLE_MS); // past the 500 ms queue time: the kernel got NF_DROP
      return { result: await stopCompatHarness(h), seen: sightings(h, 'drp') };
    });
    expect(arrived('drp')).toEqual([]);
    expect(seen.every((s) => !s.outbound)).toBe(true);
    expect(result.stats).toMatchObject({ received: 3, sent: 0 });
  });

  it('impostor: a packet the handle did not receive is injected (checksums computed), and not captured again', async () => {
    const datagram = buildPacket({ family: 4, src: GATEWAY_PUBLIC_V4, dst: SERVER_V4, ttl: 64 }, { kind: 'udp', srcPort: 4444, dstPort: PORT, payload: Buffer.from('imp-0') });
    datagram.writeUInt16BE(0xdead, 26); // a wrong UDP checksum, flag clear: the library must compute it
    const seen = await withHarness('accept', async (h) => {
      h.write(`inject ${toHex(datagram)}\n`);
      await h.waitForOutput(/^INJECTED 1 0$/m, WAIT_MS, 'stdout');
      await until('the injected datagram at the server', () => arrived('imp').length === 1);
      await sleep(SETTLE_MS);
      const s = sightings(h, 'imp');
      await stopCompatHarness(h);
      return s;
    });
    expect(arrived('imp')).toEqual(['imp-0']);
    expect(seen).toEqual([]);
  });

  it('a run that died without closing leaves its chains; the next open sweeps them', async () => {
    const crashed = startHarness('accept');
    await crashed.waitForOutput(/^READY /m, WAIT_MS, 'stdout');
    await crashed.kill('SIGKILL');
    const stale = await compatRules();
    expect(stale.length).toBeGreaterThan(0);

    await withHarness('accept', async (h) => {
      const now = await compatRules();
      expect(now.filter((l) => stale.includes(l))).toEqual([]);
      await send('aft', 2);
      await until('traffic through the new handle', () => arrived('aft').length === 2);
      await stopCompatHarness(h);
    });
  });

  it('refuses a filter outside its language with ERROR_INVALID_PARAMETER and installs nothing', async () => {
    const out = await lab().exec('gateway', [
      process.execPath,
      '-e',
      `const wd = require(${JSON.stringify(DIST_MODULE)}); const lib = wd.loadWindivertLib(${JSON.stringify(library)});
       const h = lib.WinDivertOpen('not (udp.DstPort == ${PORT})', 0, 0, 0);
       console.log(wd.isInvalidHandle(h), lib.lastError(), new wd.WindivertError(lib.lastError(), { operation: 'WinDivertOpen' }).message);`,
    ]);
    expect(out.stdout.trim()).toMatch(/^true 87 WinDivertOpen failed: WinDivert rejected the filter/);
  });
  describe('the WindivertDriver with the engine', () => {
    const ENGINE_SPEC: CaptureSpec = { ...SPEC, controlPorts: [{ protocol: 'tcp', port: port(21) }] };
    let tcpServer: LabProcess;

    beforeAll(async () => {
      tcpServer = lab().spawn('server', ['python3', '-u', '-c', TCP_SERVER]);
      await tcpServer.waitForOutput(/LISTENING/);
    });

    const connect = async (host: string, toPort: number): Promise<string> => {
      const out = await lab().execOk('client', ['python3', '-c', TCP_CLIENT, host, String(toPort)]);
      return out.stdout.trim();
    };

    it('redirects a client\'s FTP control connection (IPv4 and IPv6) to the listener, which learns the original destination; other connections are untouched', async () => {
      const harness = lab().spawn('gateway', [
        process.execPath,
        '-e',
        ENGINE_HARNESS,
        JSON.stringify({
          windivert: DIST_MODULE,
          engine: DIST_ENGINE,
          sdk: SDK_MODULE,
          library,
          spec: ENGINE_SPEC,
          listeners: [
            { address: GATEWAY_PRIVATE_V4, port: 3001 },
            { address: GATEWAY_PRIVATE_V6, port: 3001 },
          ],
        }),
      ]);
      let result: { stats: Record<string, number>; engine: { translated: number; drops: Record<string, number> }; redirects: number[] };
      try {
        await harness.waitForOutput(/^READY$/m, WAIT_MS, 'stdout');
        expect(harness.stdout).toMatch(/^LOG info windivert: capturing with .*libwindivert-compat\.so at priority 0: \(inbound and ifIdx == \d+ and tcp\.DstPort == 21\)/m);

        const v4 = await connect(SERVER_V4, 21);
        expect(v4).toMatch(new RegExp(`^GOT 220 algd listener; client ${CLIENT_V4.replace(/\./g, '\\.')}:\\d+ asked for ${SERVER_V4.replace(/\./g, '\\.')}:21$`));
        const v6 = await connect(SERVER_V6, 21);
        expect(v6).toMatch(/^GOT 220 algd listener; client \[2001:db8:1::2\]:\d+ asked for \[2001:db8:2::2\]:21$/);
        expect(CLIENT_V6).toBe('2001:db8:1::2');
        // A port algd does not capture reaches the real server.
        expect(await connect(SERVER_V4, 2121)).toBe('GOT server 2121');
        expect(await connect(SERVER_V6, 2121)).toBe('GOT server 2121');

        harness.write('stop\n');
        const m = await harness.waitForOutput(/^RESULT (.*)$/m, WAIT_MS, 'stdout');
        expect((await harness.waitForExit(WAIT_MS)).code).toBe(0);
        result = JSON.parse(m[1]!) as typeof result;
      } finally {
        if (harness.running) await harness.kill();
      }
      // Every translated packet reached the client with valid checksums.
      const snmp = (await lab().execOk('client', ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
      expect(Number(snmp[1]!.split(/\s+/)[snmp[0]!.split(/\s+/).indexOf('InCsumErrors')])).toBe(0);
      expect(tcpServer.stdout).not.toMatch(/^ACCEPT 21 /m);
      expect(tcpServer.stdout).toMatch(/^ACCEPT 2121 /m);
      expect(result.redirects).toEqual([1, 1]);
      expect(result.stats).toMatchObject({ errors: 0, dropped: 0 });
      expect(result.stats['received']).toBe(result.stats['accepted']);
      expect(result.stats['modified']).toBeGreaterThanOrEqual(2 * 6); // every packet of both connections, both ways
      expect(result.engine.drops).toEqual({});
      expect(harness.stdout).not.toMatch(/^LOG (warn|error)/m);
    });
  });
});
