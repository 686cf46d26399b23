/**
 * FTP on another port than 21: with `plugins.ftp.ports` set to 21 and 2121,
 * algd captures both, and an active-mode download from vsftpd listening on
 * 2121 arrives whole. Without the second port in the configuration the
 * same download fails (the masquerade alone cannot carry active mode),
 * proving that the capture is what makes it work. A live reload adds the
 * port to a running algd and takes it away again, with the same outcomes,
 * through the nfqueue driver and the windivert driver.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SERVER_V4 } from '../../host/lab/addresses';
import { startVsftpd, type Vsftpd } from '../../host/lab/vsftpd';
import { describeLab, useLab } from '../lab/require-lab';
import { buildCompatLibrary } from '../../host/nat-engine/drivers/windivert/compat-library';
import { ALGD_BIN } from '../support/algd-process';
import { useLabAlgd } from '../support/lab-algd';

jest.setTimeout(90_000);

describeLab('FTP on a configured capture port (2121)', () => {
  const lab = useLab({ name: 'ftpport' });
  let vsftpd: Vsftpd;
  let file: Buffer;
  let base: string;

  beforeAll(async () => {
    base = join(lab().workDir, 'ftp2121');
    const root = join(base, 'root');
    mkdirSync(join(root, 'pub'), { recursive: true });
    file = randomBytes(300 * 1024);
    writeFileSync(join(root, 'pub', 'file.bin'), file);
    vsftpd = await startVsftpd(lab(), { base, root, port: 2121 });
  });

  afterAll(async () => {
    await vsftpd?.process.kill('SIGTERM');
  });

  const activeDownload = async (tag: string): Promise<Buffer> => {
    const out = join(base, `${tag}.bin`);
    await lab().exec('client', ['curl', '-sS', '--max-time', '6', '--disable-eprt', '-P', '-', '-o', out, `ftp://${SERVER_V4}:2121/pub/file.bin`], { timeoutMs: 20_000 });
    return existsSync(out) ? readFileSync(out) : Buffer.alloc(0);
  };

  describe.each([
    ['21 only', [21], false],
    ['21 and 2121', [21, 2121], true],
  ] as const)('with plugins.ftp.ports %s', (tag, ports, works) => {
    const algd = useLabAlgd(lab, `ports-${ports.length}`, () => ({
      plugins: { ftp: { ports: { tcp: ports } }, sip: { enabled: false }, rtsp: { enabled: false } },
    }));

    it(works ? 'an active download from port 2121 arrives whole' : 'an active download from port 2121 fails: nothing captures that port', async () => {
      const got = await activeDownload(`active-${tag.replace(/\W+/g, '-')}`);
      expect(got.equals(file)).toBe(works);
      const status = await algd.status<{ plugins: { name: string; captures: { protocol: string; port: number }[] }[] }>();
      expect(status.plugins.find((p) => p.name === 'ftp')!.captures.map((c) => c.port)).toEqual([...ports]);
    });
  });

  describe.each([
    ['nfqueue', 'iptables rules'],
    ['windivert', 'WinDivert filter (over the compat library)'],
  ] as const)('a live reload re-porting the FTP plugin (%s driver)', (driver, what) => {
    const algd = useLabAlgd(lab, `reload-${driver}`, () => ({
      ...(driver === 'windivert' ? { driver, windivert: { path: buildCompatLibrary() } } : {}),
      plugins: { ftp: { ports: { tcp: [21] } }, sip: { enabled: false }, rtsp: { enabled: false } },
    }));
    /** Rewrites the running algd's configuration file with these FTP ports and runs `algd reload --json` in the gateway. */
    const reloadWith = async (ports: readonly number[]): Promise<{ code: number; report: { needsRestart: string[]; errors: string[] } }> => {
      const config = JSON.parse(readFileSync(algd.configFile(), 'utf8')) as { plugins: { ftp: { ports: { tcp: readonly number[] } } } };
      config.plugins.ftp.ports.tcp = ports;
      writeFileSync(algd.configFile(), JSON.stringify(config));
      const r = await lab().exec('gateway', [process.execPath, ALGD_BIN, 'reload', '--json', '--config', algd.configFile()], { timeoutMs: 60_000 });
      if (r.stdout.trim() === '') throw new Error(`algd reload exited ${r.code} with no report: ${r.stderr}`);
      return { code: r.code ?? -1, report: JSON.parse(r.stdout) as { needsRestart: string[]; errors: string[] } };
    };
    /** What the driver captures now: algd's raw PREROUTING chain, or the filter of the last WinDivert handle it opened. */
    const captured = async (): Promise<string> => {
      if (driver === 'nfqueue') return (await lab().execOk('gateway', ['iptables', '-t', 'raw', '-S', 'ALGD_PREROUTING'])).stdout;
      const p = algd.process();
      return (p.stderr + p.stdout).split('\n').filter((l) => l.includes('windivert: capturing with')).at(-1) ?? '';
    };
    const port2121 = driver === 'nfqueue' ? /--dport 2121\b/ : /tcp\.DstPort == 2121\b/;
    const port21 = driver === 'nfqueue' ? /--dport 21\b/ : /tcp\.DstPort == 21\b/;

    it(`adds port 2121 to the running capture (${what}): the active download that failed before arrives whole; taking it away makes it fail again`, async () => {
      expect((await activeDownload(`reload-${driver}-before`)).equals(file)).toBe(false);
      expect(await captured()).not.toMatch(port2121);

      const added = await reloadWith([21, 2121]);
      expect(added.code).toBe(0);
      expect(added.report.errors).toEqual([]);
      expect(added.report.needsRestart).toEqual([]);
      expect(await captured()).toMatch(port2121);
      expect((await activeDownload(`reload-${driver}-added`)).equals(file)).toBe(true);

      const removed = await reloadWith([21]);
      expect(removed.code).toBe(0);
      expect(await captured()).not.toMatch(port2121);
      expect(await captured()).toMatch(port21);
      expect((await activeDownload(`reload-${driver}-removed`)).equals(file)).toBe(false);
    });
  });
});
