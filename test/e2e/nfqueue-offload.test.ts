/**
 * The nfqueue driver's kernel fast path, end to end: active FTP through
 * algd with `nfqueue.offload.minBytes` at 64 KiB, so every data connection
 * of the big file leaves userland after its first 64 KiB and the kernel
 * rewrites the rest (the `inet algd_offload` table).
 *
 * What must hold: every transfer arrives whole (downloads over IPv4 and
 * IPv6 by curl and lftp, where the kernel rewrites the data before routing,
 * and an upload, where it rewrites the data after routing); the kernel
 * carried most of a 48 MiB download and upload while the queue saw a small
 * part of their packets; every flow's rules are gone once its connection
 * closed (its FIN reached the engine), and the table with a clean stop;
 * with the fast path off the same download takes the queue.
 */

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';

import { SERVER_V4 } from '../../host/lab/addresses';
import type { Lab } from '../../host/lab/lab';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { useLabAlgd, type LabAlgd } from '../support/lab-algd';
import { arrivedWhole, describeResult, FTP_CLIENT_CASES, sha256, sha256File, startVsftpd, type FtpServer } from '../support/ftp-peers';

jest.setTimeout(120_000);

const MIN_BYTES = 65_536;
const HUGE_FILE = 'pub/huge.bin';
const HUGE_BYTES = 48 * 1024 * 1024;
const ACTIVE_CASES = ['curl, PORT', 'curl, EPRT', 'curl over IPv6, EPRT |2|', 'lftp, active'];

interface Status {
  offload: { flows: number; offloaded: number; reclaimed: number; refused: number; packets: number; bytes: number } | null;
  driverStats: { received: number };
  engine: { flows: number };
}

/** The offload table's per-flow chains (f<id>_<k>) and map elements now in the gateway. */
async function kernelFlows(lab: Lab): Promise<{ chains: string[]; elements: number }> {
  const r = await lab.execOk('gateway', ['nft', '-j', 'list', 'table', 'inet', 'algd_offload']);
  const items = (JSON.parse(r.stdout) as { nftables: Record<string, { name?: string; elem?: unknown[] }>[] }).nftables;
  const chains = items.flatMap((i) => (i['chain']?.name !== undefined && /^f\d+_\d+$/.test(i['chain'].name) ? [i['chain'].name] : []));
  const elements = items.reduce((n, i) => n + (i['map']?.elem?.length ?? 0), 0);
  return { chains, elements };
}

/** Waits until no flow is offloaded (the last FIN was seen and the rules removed), then returns the status. */
async function untilReclaimed(algd: LabAlgd): Promise<Status> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await algd.status<Status>();
    if (s.offload?.flows === 0 || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** curl in active mode (PORT): downloads the huge file to `<tag>.bin`, or with `upload` sends it to the server's pub/<tag>.bin. */
function curlHuge(lab: Lab, server: FtpServer, tag: string, upload = false) {
  const local = upload ? join(server.root, HUGE_FILE) : join(server.clientDir, `${tag}.bin`);
  const transfer = upload ? ['-T', local, `ftp://${SERVER_V4}/pub/${tag}.bin`] : ['-o', local, `ftp://${SERVER_V4}/${HUGE_FILE}`];
  const out = upload ? join(server.root, 'pub', `${tag}.bin`) : local;
  return lab.exec('client', ['timeout', '60', 'curl', '-sS', '--disable-eprt', '-P', '-', ...transfer], { timeoutMs: 70_000 }).then((r) => ({ ...r, out }));
}

describeLabNeeding(['vsftpd', 'curl', 'lftp', 'nft'], 'the nfqueue kernel fast path (offload)', () => {
  const lab = useLab({ name: 'offload' });
  let server: FtpServer;
  let hugeHash: string;
  beforeAll(async () => {
    server = await startVsftpd(lab());
    const data = randomBytes(HUGE_BYTES);
    writeFileSync(join(server.root, HUGE_FILE), data);
    hugeHash = sha256(data);
  });

  describe('on (minBytes 64 KiB)', () => {
    const algd = useLabAlgd(lab, 'offload-on', () => ({ nfqueue: { offload: { enabled: true, minBytes: MIN_BYTES } }, plugins: { sip: { enabled: false }, rtsp: { enabled: false } } }));

    it('starts with the table in place and no flow in it', async () => {
      const s = await algd.status<Status>();
      expect(s.offload).toEqual({ flows: 0, offloaded: 0, reclaimed: 0, refused: 0, packets: 0, bytes: 0 });
      expect(await kernelFlows(lab())).toEqual({ chains: [], elements: 0 });
    });

    it.each(ACTIVE_CASES)('%s arrives whole, offloaded, and its rules go with its connection', async (name) => {
      const c = FTP_CLIENT_CASES.find((x) => x.name === name)!;
      const before = (await algd.status<Status>()).offload!;
      const r = await c.run({ lab: lab(), server, timeoutS: 20, tag: `on-${name.replace(/\W+/g, '-')}` });
      expect(r.commands.length).toBeGreaterThan(0);
      expect(r.commands.every((cmd) => c.command.test(cmd))).toBe(true);
      if (!arrivedWhole(r)) throw new Error(describeResult(r));
      const after = (await untilReclaimed(algd)).offload!;
      expect(after.offloaded).toBeGreaterThan(before.offloaded);
      expect(after.reclaimed - before.reclaimed).toBe(after.offloaded - before.offloaded);
      expect(after.refused).toBe(0);
      expect(after.bytes).toBeGreaterThan(before.bytes);
      expect(await kernelFlows(lab())).toEqual({ chains: [], elements: 0 });
    });

    it.each([
      ['download', false],
      ['upload', true],
    ] as const)('a 48 MiB %s: the kernel carries nearly all of it, the queue a small part', async (what, upload) => {
      const before = await algd.status<Status>();
      const r = await curlHuge(lab(), server, `huge-on-${what}`, upload);
      expect({ code: r.code, stderr: r.stderr.slice(-500) }).toEqual({ code: 0, stderr: '' });
      expect(sha256File(r.out)).toBe(hugeHash);
      const after = await untilReclaimed(algd);
      const kernelBytes = after.offload!.bytes - before.offload!.bytes;
      const kernelPackets = after.offload!.packets - before.offload!.packets;
      const queued = after.driverStats.received - before.driverStats.received;
      expect(kernelBytes).toBeGreaterThan(0.9 * HUGE_BYTES);
      // The queue still sees the opening and closing packets, the first 64 KiB, and what arrived while the rules went in.
      expect(queued).toBeLessThan(kernelPackets / 4);
      expect(await kernelFlows(lab())).toEqual({ chains: [], elements: 0 });
    });

    it('a clean stop removes the offload table', async () => {
      expect((await algd.process().kill('SIGTERM')).code).toBe(0);
      const r = await lab().exec('gateway', ['nft', 'list', 'table', 'inet', 'algd_offload']);
      expect(r.code).not.toBe(0);
    });
  });

  describe('off', () => {
    const algd = useLabAlgd(lab, 'offload-off', () => ({ nfqueue: { offload: { enabled: false } }, plugins: { sip: { enabled: false }, rtsp: { enabled: false } } }));

    it('the same download takes the queue and arrives whole; there is no fast path in status', async () => {
      const before = await algd.status<Status>();
      expect(before.offload).toBeNull();
      const r = await curlHuge(lab(), server, 'huge-off');
      expect({ code: r.code, stderr: r.stderr.slice(-500) }).toEqual({ code: 0, stderr: '' });
      expect(sha256File(r.out)).toBe(hugeHash);
      const after = await algd.status<Status>();
      // Without the fast path every data packet crosses: at least one per 64 KiB GSO packet.
      expect(after.driverStats.received - before.driverStats.received).toBeGreaterThan(HUGE_BYTES / 65_536);
    });
  });
});
