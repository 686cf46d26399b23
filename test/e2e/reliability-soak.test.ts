/**
 * Soak: FTP downloads through algd in the lab for a few minutes, active
 * (PORT) and passive (PASV) in turn, every one checked whole, while algd's
 * resident memory is sampled from /proc/<pid>/status. At the end: memory
 * flat (the last third of the samples within a bound of the first third,
 * after a warm-up), no session and no mapping left, no file descriptor
 * leaked (/proc/<pid>/fd counted after the warm-up and at the end).
 *
 * ALGD_SOAK_SECONDS sets the traffic time (default 120, as in CI).
 * SIP (sipp) and RTSP (GStreamer) traffic join this loop once their
 * plugins relay and rewrite them in the lab.
 */

import { join } from 'node:path';

import { SERVER_V4 } from '../../host/lab/addresses';
import type { LabProcess } from '../../host/lab/lab-process';
import { useLab } from '../lab/require-lab';
import { BIG_FILE, sha256File, startVsftpd, type FtpServer } from '../support/ftp-peers';
import { algdStatus, describeLabWith, fdCount, ftpConfig, pidOf, rssKib, startAlgd, untilQuiet } from '../reliability/lab-gateway';

const SOAK_SECONDS = Number(process.env['ALGD_SOAK_SECONDS'] ?? 120);
if (!Number.isFinite(SOAK_SECONDS) || SOAK_SECONDS < 10) throw new Error(`ALGD_SOAK_SECONDS must be at least 10, not ${process.env['ALGD_SOAK_SECONDS']}`);
const WARMUP_DOWNLOADS = 6;
const SAMPLE_MS = 1_000;
/** The last third's mean RSS may exceed the first third's by this factor plus this many KiB (GC noise), no more. */
const RSS_GROWTH_FACTOR = 1.15;
const RSS_SLACK_KIB = 12 * 1024;

jest.setTimeout((SOAK_SECONDS + 120) * 1000);

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describeLabWith(['vsftpd', 'curl'], 'reliability: soak, FTP through algd for ALGD_SOAK_SECONDS', () => {
  const lab = useLab({ name: 'relsoak' });
  let server: FtpServer;
  let algd: LabProcess;
  let config: string;
  beforeAll(async () => {
    server = await startVsftpd(lab());
    // Closed connections' flows go after seconds, not conntrack's two minutes, so their mappings are released within the test.
    config = ftpConfig(lab(), 'soak', {}, { flowTimeouts: { tcpFinWait: 5, tcpCloseWait: 5, tcpLastAck: 5, tcpTimeWait: 5, tcpClose: 2 } });
    algd = await startAlgd(lab(), config);
  });
  afterAll(async () => {
    if (algd?.running) expect((await algd.kill('SIGTERM')).code).toBe(0);
  });

  let n = 0;
  /** One download, active or passive; resolves with whether it arrived whole. */
  async function download(active: boolean): Promise<{ ok: boolean; detail: string }> {
    const tag = `soak-${n++}`;
    const out = join(server.clientDir, `${tag}.bin`);
    const r = await lab().exec('client', ['timeout', '30', 'curl', '-sS', '--disable-eprt', '--disable-epsv', ...(active ? ['-P', '-'] : []), '-o', out, `ftp://${SERVER_V4}/${BIG_FILE}`], { timeoutMs: 40_000 });
    const ok = r.code === 0 && sha256File(out) === server.hashes.get(BIG_FILE);
    await lab().exec('client', ['rm', '-f', out]);
    return { ok, detail: `${tag} ${active ? 'active' : 'passive'}: exit ${r.code} ${r.stderr.trim().slice(0, 200)}` };
  }

  it('memory flat, every download whole, nothing left, no descriptor leaked', async () => {
    const pid = pidOf(algd);
    for (let i = 0; i < WARMUP_DOWNLOADS; i++) expect((await download(i % 2 === 0)).ok).toBe(true);
    await untilQuiet(lab(), config, 15_000);
    const fdsBefore = fdCount(pid);

    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssKib(pid)), SAMPLE_MS);
    const failures: string[] = [];
    let downloads = 0;
    const deadline = Date.now() + SOAK_SECONDS * 1000;
    try {
      while (Date.now() < deadline) {
        const r = await download(downloads % 2 === 0);
        downloads++;
        if (!r.ok) failures.push(r.detail);
      }
    } finally {
      clearInterval(sampler);
    }

    const s = await untilQuiet(lab(), config, 20_000);
    // Mappings whose last connection is still closing go with it: wait for the list to empty.
    let mappings = s.engine.mappings.length;
    for (let i = 0; i < 40 && mappings > 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      mappings = (await algdStatus(lab(), config)).engine.mappings.length;
    }
    const fdsAfter = fdCount(pid);
    const third = Math.floor(samples.length / 3);
    const first = mean(samples.slice(0, third));
    const last = mean(samples.slice(-third));
    process.stderr.write(`[soak] ${downloads} downloads in ${SOAK_SECONDS} s, RSS first third ${Math.round(first / 1024)} MiB, last third ${Math.round(last / 1024)} MiB, peak ${Math.round(Math.max(...samples) / 1024)} MiB; fds ${fdsBefore} -> ${fdsAfter}\n`);

    expect(failures).toEqual([]);
    expect(downloads).toBeGreaterThan(SOAK_SECONDS / 5);
    expect(samples.length).toBeGreaterThanOrEqual(third * 3);
    expect(third).toBeGreaterThan(2);
    expect(last).toBeLessThanOrEqual(first * RSS_GROWTH_FACTOR + RSS_SLACK_KIB);
    expect(s.sessions).toEqual([]);
    expect(mappings).toBe(0);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
    const ftp = s.plugins.find((p) => p.name === 'ftp')!;
    expect(ftp.counters['active-mapped']).toBe(Math.ceil((downloads + WARMUP_DOWNLOADS) / 2));
    expect(ftp.counters['passive-mapped']).toBe(Math.floor((downloads + WARMUP_DOWNLOADS) / 2));
    expect(Object.values(ftp.failures).every((x) => x === 0)).toBe(true);
  });
});
