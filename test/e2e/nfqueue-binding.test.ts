/**
 * The nfqueue binding against the real kernel: the gateway's raw
 * PREROUTING queues the client's UDP datagrams to port 7000, and a small
 * Node helper running inside the gateway namespace serves the queue with
 * the compiled binding (dist/, so `npm run build` first) and answers accept,
 * drop or a rewritten payload. The server says what actually arrived.
 *
 * The helper is a separate process because a netlink queue belongs to the
 * network namespace of the process that binds it.
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { SERVER_V4 } from '../../host/lab/addresses';
import type { LabProcess } from '../../host/lab/lab-process';
import { describeLab, useLab } from '../lab/require-lab';
import { runHarness, stopHarness } from '../support/lab-harness';
import { GATEWAY_PRIVATE_IFACE } from '../../host/lab/topology';
import { IptablesRules, nfqueueTarget, type AlgdRule } from '../../host/nat-engine/drivers/nfqueue/iptables-rules';
import { loadNfqueueLib, NfqueueUnavailableError } from '../../host/nat-engine/drivers/nfqueue/nfqueue-lib';
import { until } from '../support/wait';
import { setTimeout as sleep } from 'node:timers/promises';

jest.setTimeout(60_000);

const QUEUE = 7;
const PORT = 7000;
const DIST_MODULE = resolve(__dirname, '../../dist/host/nat-engine/drivers/nfqueue/index.js');
const WAIT_MS = 10_000;
/** How long "nothing arrived" is watched for. */
const SETTLE_MS = 500;

/** Server: prints every datagram on port 7000 as hex. A large buffer, so a burst is not lost here. */
const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
s.bind(('0.0.0.0', ${PORT}))
print('LISTENING', flush=True)
while True:
    data, _ = s.recvfrom(65535)
    sys.stdout.write('RX ' + data.hex() + '\\n')
    sys.stdout.flush()
`;

/** Client: sends "<tag>-<i>" for i < count, pausing `gap` seconds after every `burst` datagrams. */
const SENDER = `
import socket, sys, time
tag, count, burst, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    s.sendto(('%s-%d' % (tag, i)).encode(), ('${SERVER_V4}', ${PORT}))
    if (i + 1) % burst == 0:
        time.sleep(gap)
`;

/**
 * Gateway helper: serves the queue with the compiled binding. argv[1] is
 * JSON { module, queueNum, mode }. Prints READY, one "BATCH <size> <total>"
 * line per batch, and on "stop" (stdin) closes the queue and prints
 * "RESULT <json>". Mode `modify` flips the case of the first UDP payload
 * byte and recomputes the UDP checksum, so the server's kernel accepts it.
 */
const HELPER = `
'use strict';
const cfg = JSON.parse(process.argv[1]);
const { NfqueueSocket } = require(cfg.module);
const ACCEPT = Object.freeze({ verdict: 'accept' });
const DROP = Object.freeze({ verdict: 'drop' });
const seen = [];
const batchSizes = [];
let total = 0;

function udpChecksum(b, ihl) {
  const len = b.readUInt16BE(ihl + 4);
  let sum = 17 + len;
  for (let i = 12; i < 20; i += 2) sum += b.readUInt16BE(i);
  for (let i = ihl; i + 1 < ihl + len; i += 2) sum += b.readUInt16BE(i);
  if (len & 1) sum += b[ihl + len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return (~sum & 0xffff) || 0xffff;
}

function decide(p) {
  const b = p.payload;
  const ihl = (b[0] & 15) * 4;
  if (seen.length < 50) {
    seen.push({ id: p.id, hook: p.hook, hwProtocol: p.hwProtocol, inIfIndex: p.inIfIndex, outIfIndex: p.outIfIndex, data: b.subarray(ihl + 8).toString('latin1') });
  }
  if (cfg.mode === 'drop') return DROP;
  if (cfg.mode !== 'modify') return ACCEPT;
  b[ihl + 8] ^= 0x20;
  b.writeUInt16BE(0, ihl + 6);
  b.writeUInt16BE(udpChecksum(b, ihl), ihl + 6);
  return { verdict: 'accept', modified: b };
}

const socket = NfqueueSocket.open(
  { queueNum: cfg.queueNum, log: (level, message) => process.stderr.write('[' + level + '] ' + message + '\\n') },
  (packets) => {
    total += packets.length;
    batchSizes.push(packets.length);
    process.stdout.write('BATCH ' + packets.length + ' ' + total + '\\n');
    return packets.map(decide);
  },
);
process.stdout.write('READY\\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line.trim() !== 'stop') return;
  await socket.close();
  await socket.close(); // idempotent
  process.stdout.write('RESULT ' + JSON.stringify({ stats: socket.stats, seen, batchSizes }) + '\\n', () => process.exit(0));
});
`;

type Mode = 'accept' | 'drop' | 'modify';

interface HelperResult {
  stats: { received: number; accepted: number; dropped: number; modified: number; errors: number; overruns: number; batches: number; largestBatch: number };
  seen: { id: number; hook: number; hwProtocol: number; inIfIndex: number; outIfIndex: number; data: string }[];
  batchSizes: number[];
}


describeLab('the nfqueue binding (libnetfilter_queue through koffi)', () => {
  const lab = useLab({ name: 'nfq' });
  let server: LabProcess;
  let rules: IptablesRules;
  let priv0Index: number;

  const queueRule = (bypass: boolean): AlgdRule => ({
    hook: 'PREROUTING',
    argv: ['-i', GATEWAY_PRIVATE_IFACE, '-p', 'udp', '--dport', String(PORT), ...nfqueueTarget(QUEUE, { bypass })],
  });

  /** The payloads the server received whose text starts with `tag-`. */
  const arrived = (tag: string): string[] =>
    server.stdout
      .split('\n')
      .filter((l) => l.startsWith('RX '))
      .map((l) => Buffer.from(l.slice(3), 'hex').toString('latin1'))
      .filter((s) => s.toLowerCase().startsWith(`${tag}-`));

  const send = (tag: string, count: number, burst = count, gapSeconds = 0): Promise<unknown> =>
    lab().execOk('client', ['python3', '-c', SENDER, tag, String(count), String(burst), String(gapSeconds)]);

  const helperTotal = (helper: LabProcess): number => {
    const m = [...helper.stdout.matchAll(/^BATCH \d+ (\d+)$/gm)].pop();
    return m ? Number(m[1]) : 0;
  };

  /** Runs `body` with a helper serving the queue. */
  const withHelper = <T>(mode: Mode, body: (helper: LabProcess) => Promise<T>): Promise<T> =>
    runHarness(lab().spawn('gateway', [process.execPath, '-e', HELPER, JSON.stringify({ module: DIST_MODULE, queueNum: QUEUE, mode })]), /^READY$/m, WAIT_MS, body);

  const stopHelper = (helper: LabProcess): Promise<HelperResult> => stopHarness<HelperResult>(helper, WAIT_MS);

  async function algdRulesLeft(): Promise<string[]> {
    const lines: string[] = [];
    for (const program of ['iptables', 'ip6tables']) {
      const out = await lab().execOk('gateway', [program, '-t', 'raw', '-S']);
      lines.push(...out.stdout.split('\n').filter((l) => l.includes('ALGD_')));
    }
    return lines;
  }

  beforeAll(async () => {
    if (!existsSync(DIST_MODULE)) throw new Error(`${DIST_MODULE} is missing: run \`npm run build\` first`);
    server = lab().spawn('server', ['python3', '-u', '-c', RECEIVER]);
    await server.waitForOutput(/LISTENING/);
    rules = new IptablesRules({ netns: lab().netns('gateway') });
    const link = await lab().execOk('gateway', ['ip', '-j', 'link', 'show', GATEWAY_PRIVATE_IFACE]);
    priv0Index = (JSON.parse(link.stdout) as { ifindex: number }[])[0]!.ifindex;
  });

  afterAll(async () => {
    await rules?.removeAll();
  });

  it('names the missing library in NfqueueUnavailableError', () => {
    expect(() => loadNfqueueLib('libnetfilter_queue_absent.so.1')).toThrow(NfqueueUnavailableError);
    expect(() => loadNfqueueLib('libnetfilter_queue_absent.so.1')).toThrow(/libnetfilter_queue_absent\.so\.1/);
  });

  it('installs its chains idempotently: a stale chain is flushed and reused, the jump is never duplicated', async () => {
    const stale = new IptablesRules({ netns: lab().netns('gateway') });
    await stale.install([{ hook: 'PREROUTING', argv: ['-p', 'tcp', '--dport', '9', '-j', 'ACCEPT'] }, { hook: 'OUTPUT', argv: ['-p', 'tcp', '--dport', '9', '-j', 'ACCEPT'] }]);
    // A new instance, as after a crash: it must replace, not add.
    await rules.install([queueRule(true)]);
    await rules.install([queueRule(true)]);
    const v4 = await rules.listAlgdRules(4);
    expect(v4).toEqual(['-N ALGD_PREROUTING', '-A PREROUTING -j ALGD_PREROUTING', `-A ALGD_PREROUTING -i ${GATEWAY_PRIVATE_IFACE} -p udp -m udp --dport ${PORT} -j NFQUEUE --queue-num ${QUEUE} --queue-bypass`]);
    expect((await rules.listAlgdRules(6)).filter((l) => l.startsWith('-A PREROUTING'))).toHaveLength(1);
  });

  it('accept: the datagrams arrive unchanged, and the helper saw them at PREROUTING on priv0', async () => {
    const result = await withHelper('accept', async (helper) => {
      await send('acc', 5);
      await until('5 accepted datagrams at the server', () => arrived('acc').length === 5);
      return stopHelper(helper);
    });

    expect(arrived('acc').sort()).toEqual(['acc-0', 'acc-1', 'acc-2', 'acc-3', 'acc-4']);
    expect(result.stats).toMatchObject({ received: 5, accepted: 5, dropped: 0, modified: 0, errors: 0, overruns: 0 });
    expect(result.seen.map((p) => p.data).sort()).toEqual(arrived('acc').sort());
    for (const p of result.seen) {
      expect(p).toMatchObject({ hook: 0 /* NF_INET_PRE_ROUTING */, hwProtocol: 0x0800, inIfIndex: priv0Index, outIfIndex: 0 });
    }
  });

  it('drop: nothing reaches the server', async () => {
    const result = await withHelper('drop', async (helper) => {
      await send('drp', 5);
      await until('the helper to see 5 datagrams', () => helperTotal(helper) >= 5);
      await sleep(SETTLE_MS);
      return stopHelper(helper);
    });

    expect(arrived('drp')).toEqual([]);
    expect(result.stats).toMatchObject({ received: 5, accepted: 0, dropped: 5, errors: 0 });
  });

  it('modified payload: the server receives the rewritten bytes, with a valid UDP checksum', async () => {
    const result = await withHelper('modify', async (helper) => {
      await send('mod', 3);
      await until('3 modified datagrams at the server', () => arrived('mod').length === 3);
      return stopHelper(helper);
    });

    // The server's kernel verified the recomputed checksum: a bad one would have been dropped.
    expect(arrived('mod').sort()).toEqual(['Mod-0', 'Mod-1', 'Mod-2']);
    expect(result.stats).toMatchObject({ received: 3, accepted: 3, modified: 3, dropped: 0, errors: 0 });
  });

  it('a burst of 2000 datagrams: every one gets a verdict and arrives, in batches larger than one', async () => {
    const count = 2000;
    const result = await withHelper('accept', async (helper) => {
      await send('bst', count, 100, 0.002);
      await until(`${count} datagrams at the server`, () => arrived('bst').length === count, 20_000);
      return stopHelper(helper);
    });

    expect(new Set(arrived('bst')).size).toBe(count);
    expect(result.stats).toMatchObject({ received: count, accepted: count, dropped: 0, errors: 0, overruns: 0 });
    expect(result.batchSizes.reduce((a, b) => a + b, 0)).toBe(count);
    expect(result.stats.largestBatch).toBeGreaterThan(1);
    expect(result.stats.batches).toBeLessThan(count);
  });

  it('fails open with --queue-bypass and no listener (and drops without it); removeAll leaves no algd rule', async () => {
    await rules.install([queueRule(false)]);
    await send('nob', 3);
    await sleep(SETTLE_MS);
    expect(arrived('nob')).toEqual([]);

    await rules.install([queueRule(true)]);
    await send('byp', 3);
    await until('3 bypassed datagrams at the server', () => arrived('byp').length === 3);

    await rules.removeAll();
    await rules.removeAll(); // idempotent
    expect(await algdRulesLeft()).toEqual([]);
    await send('clr', 2);
    await until('traffic without rules', () => arrived('clr').length === 2);
  });
});
