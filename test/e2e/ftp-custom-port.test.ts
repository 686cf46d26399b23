/**
 * FTP on another port than 21: with `plugins.ftp.ports` set to 21 and 2121,
 * algd captures both, and an active-mode download from vsftpd listening on
 * 2121 arrives whole. Without the second port in the configuration the
 * same download fails (the masquerade alone cannot carry active mode),
 * proving that the capture is what makes it work.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SERVER_V4 } from '../../host/lab/addresses';
import { startVsftpd, type Vsftpd } from '../../host/lab/vsftpd';
import { describeLab, useLab } from '../lab/require-lab';
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
});
