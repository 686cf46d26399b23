/**
 * Faults from outside, end to end in the lab, with real peers (vsftpd on the
 * server, curl and Python on the client):
 *
 * 1. algd killed with SIGKILL in the middle of an FTP download, then started
 *    again: the interrupted download fails on the client within a bound
 *    (curl exits non-zero, the file is short), never reported as a success;
 *    the rules the dead algd left are found and replaced (not duplicated) on
 *    start; new downloads, active and passive, arrive whole; no session or
 *    mapping is left once they end.
 * 2. The netfilter queue overflowing while algd is stalled (SIGSTOP) with a
 *    16-packet queue: a bounded burst of new flows fills it, then an
 *    unrelated TCP connection through the gateway passes with fail-open and
 *    is dropped, counted by the kernel, with fail-closed. After SIGCONT algd
 *    works again.
 */

import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SERVER_V4 } from '../../host/lab/addresses';
import { echoRequest, startTcpEchoServer } from '../../host/lab/echo-peers';
import type { Lab } from '../../host/lab/lab';
import type { LabProcess } from '../../host/lab/lab-process';
import { useLab } from '../lab/require-lab';
import { BIG_FILE, BIG_FILE_BYTES, sha256, sha256File, startVsftpd, type FtpServer } from '../support/ftp-peers';
import {
  algdRules, algdStatus, describeLabWith, ftpConfig, pidOf, queueCounters, startAlgd, untilQuiet,
} from '../reliability/lab-gateway';

jest.setTimeout(90_000);

/** The interrupted download must end within this many seconds of the kill (curl's own stall bound is 6 s). */
const FAIL_BOUND_S = 20;

/** curl downloading big.bin; `active` with PORT, else PASV. Slowed so a kill lands mid-transfer; a stall of 6 s aborts it. */
function curlDownload(lab: Lab, server: FtpServer, tag: string, active: boolean, rate?: string, file = BIG_FILE): { out: string; proc: LabProcess } {
  const out = join(server.clientDir, `${tag}.bin`);
  const argv = ['timeout', '60', 'curl', '-sS', '--disable-eprt', '--disable-epsv', ...(active ? ['-P', '-'] : []),
    '--speed-limit', '1', '--speed-time', '6', '--connect-timeout', '10', ...(rate ? ['--limit-rate', rate] : []),
    '-o', out, `ftp://${SERVER_V4}/${file}`];
  return { out, proc: lab.spawn('client', argv) };
}

/**
 * 4 KiB, written next to startVsftpd's files: its whole data connection is a
 * handful of packets, far below the 16-packet queue of the overflow tests
 * (32 KiB arrives as a burst of up to about 20 segments, which a 16-packet
 * queue may or may not hold, depending on how the veth batches them).
 */
const SMALL_FILE = 'pub/small.bin';
const SMALL_FILE_BYTES = 4096;

const sizeOf = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

describeLabWith(['vsftpd', 'curl'], 'reliability: algd killed and restarted, the queue overflowing', () => {
  const lab = useLab({ name: 'relflt' });
  let server: FtpServer;
  let smallHash: string;
  let algd: LabProcess | undefined;
  beforeAll(async () => {
    server = await startVsftpd(lab());
    const small = randomBytes(SMALL_FILE_BYTES);
    writeFileSync(join(server.root, SMALL_FILE), small);
    smallHash = sha256(small);
  });
  afterAll(async () => {
    if (algd?.running) {
      process.kill(pidOf(algd), 'SIGCONT');
      expect((await algd.kill('SIGTERM')).code).toBe(0);
    }
  });

  describe('SIGKILL in the middle of a download', () => {
    let config: string;
    let rulesRunning: string[];
    let rulesLeft: string[];

    it('the interrupted download fails on the client within the bound, its file short', async () => {
      config = ftpConfig(lab(), 'kill');
      algd = await startAlgd(lab(), config);
      rulesRunning = await algdRules(lab());
      expect(rulesRunning.length).toBeGreaterThan(0);

      const dl = curlDownload(lab(), server, 'killed', true, '200k');
      // Mid-transfer: some of the file arrived, most has not.
      const deadline = Date.now() + 20_000;
      while (sizeOf(dl.out) < 200_000 && dl.proc.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(dl.proc.running).toBe(true);
      expect(sizeOf(dl.out)).toBeLessThan(BIG_FILE_BYTES / 2);

      process.kill(pidOf(algd), 'SIGKILL');
      const killedAt = Date.now();
      expect((await algd.exited).signal).toBe('SIGKILL');
      const exit = await dl.proc.waitForExit(FAIL_BOUND_S * 1000);
      const took = (Date.now() - killedAt) / 1000;
      // Not silent: curl says it failed (exit code and message), the file is short, and it did not hang.
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBe(124);
      expect(dl.proc.stderr).toMatch(/curl: \(\d+\)/);
      expect(sizeOf(dl.out)).toBeLessThan(BIG_FILE_BYTES);
      expect(sha256File(dl.out)).not.toBe(server.hashes.get(BIG_FILE));
      expect(took).toBeLessThan(FAIL_BOUND_S);
    });

    it('the dead algd\'s rules are still there (nobody cleaned up)', async () => {
      rulesLeft = await algdRules(lab());
      expect(rulesLeft).toEqual(rulesRunning);
    });

    it('started again, algd replaces the stale rules with one set of its own', async () => {
      algd = await startAlgd(lab(), config);
      expect(await algdRules(lab())).toEqual(rulesRunning);
      const s = await algdStatus(lab(), config);
      expect(s.sessions).toEqual([]);
      expect(s.engine.mappings).toEqual([]);
    });

    it('new downloads, active and passive, arrive whole; nothing is left once they end', async () => {
      for (const [tag, active] of [['after-active', true], ['after-passive', false]] as const) {
        const dl = curlDownload(lab(), server, tag, active);
        const exit = await dl.proc.waitForExit(30_000);
        expect({ tag, code: exit.code, stderr: dl.proc.stderr.slice(-500) }).toEqual({ tag, code: 0, stderr: '' });
        expect(sha256File(dl.out)).toBe(server.hashes.get(BIG_FILE));
      }
      const s = await untilQuiet(lab(), config, 15_000);
      expect(s.sessions).toEqual([]);
      expect(s.engine.mappings.filter((m) => m.active)).toEqual([]);
      const ftp = s.plugins.find((p) => p.name === 'ftp')!;
      expect(ftp.counters['active-mapped']).toBe(1);
      expect(ftp.counters['passive-mapped']).toBe(1);
      expect(await algd!.kill('SIGTERM')).toMatchObject({ code: 0 });
      expect(await algdRules(lab())).toEqual([]);
    });
  });

  describe.each([
    { failOpen: true, unrelated: 'passes' },
    { failOpen: false, unrelated: 'is dropped and counted' },
  ])('queue overflow, failOpen $failOpen: unrelated traffic $unrelated', ({ failOpen }) => {
    const QUEUE = 4321;
    const ECHO_PORT = 7007;
    const BURST = 200;
    let config: string;

    it('a full queue while algd is stalled; then algd carries on', async () => {
      const echo = await startTcpEchoServer(lab(), 'server', ECHO_PORT);
      config = ftpConfig(lab(), `q${failOpen ? 'open' : 'closed'}`, { queueNum: QUEUE, maxLen: 16, failOpen });
      algd = await startAlgd(lab(), config);
      try {
        const before = (await queueCounters(lab(), QUEUE))!;
        expect(before).toBeDefined();
        // Unrelated traffic passes through a reading algd either way.
        expect(await echoRequest(lab(), 'client', 'tcp', SERVER_V4, ECHO_PORT, 'warm')).toMatchObject({ ok: true, reply: 'warm' });

        process.kill(pidOf(algd), 'SIGSTOP');
        try {
          // A bounded burst of new UDP flows leaving through the boundary adapter: each one's first packet is queued.
          await lab().execOk('client', ['timeout', '10', 'python3', '-c',
            `import socket\nfor i in range(${BURST}):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n  s.sendto(b'x', ('${SERVER_V4}', 20000 + i))\n  s.close()\n`]);
          const full = (await queueCounters(lab(), QUEUE))!;
          expect(full.waiting).toBe(16);
          const r = await echoRequest(lab(), 'client', 'tcp', SERVER_V4, ECHO_PORT, 'stalled', 3_000);
          const after = (await queueCounters(lab(), QUEUE))!;
          if (failOpen) {
            expect(r).toMatchObject({ ok: true, reply: 'stalled' });
            expect(after.queueDropped).toBe(before.queueDropped);
          } else {
            expect(r.ok).toBe(false);
            // The burst beyond the queue's 16, and the connection's SYNs, each counted by the kernel.
            expect(after.queueDropped - before.queueDropped).toBeGreaterThanOrEqual(BURST - 16 + 1);
          }
        } finally {
          process.kill(pidOf(algd), 'SIGCONT');
        }
        // algd works through what waited and carries on: the queue drains, unrelated and FTP traffic flow.
        const deadline = Date.now() + 10_000;
        while (((await queueCounters(lab(), QUEUE))?.waiting ?? 0) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        expect((await queueCounters(lab(), QUEUE))!.waiting).toBe(0);
        expect(await echoRequest(lab(), 'client', 'tcp', SERVER_V4, ECHO_PORT, 'resumed')).toMatchObject({ ok: true, reply: 'resumed' });
        // A small, slow download: with a 16-packet queue a bulk transfer overflows it by itself (fail-open then lets the
        // overflow through untranslated, and the gateway's stack resets the data connection; fail-closed drops and TCP resends).
        const dl = curlDownload(lab(), server, `after-overflow-${failOpen}`, true, '100k', SMALL_FILE);
        const exit = await dl.proc.waitForExit(30_000);
        expect({ code: exit.code, stderr: dl.proc.stderr.slice(-500) }).toEqual({ code: 0, stderr: '' });
        expect(sha256File(dl.out)).toBe(smallHash);
        expect((await untilQuiet(lab(), config, 15_000)).sessions).toEqual([]);
      } finally {
        if (algd.running) process.kill(pidOf(algd), 'SIGCONT');
        expect(await algd.kill('SIGTERM')).toMatchObject({ code: 0 });
        await echo.stop();
      }
    });
  });
});
