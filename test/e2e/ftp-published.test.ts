/**
 * An FTP server behind the gateway, published on its public address: vsftpd
 * runs on the private host (198.51.100.2), curl on the public side
 * (203.0.113.2) downloads from ftp://203.0.113.1/. algd forwards the control
 * connection to the server through the FTP plugin; passive mode gets its
 * mapping (the 227/229 port rewritten to one on the gateway's public
 * address) and arrives whole. Active mode to a published server is refused
 * by the gateway with a reply asking for passive mode.
 *
 * Without algd nothing at all reaches the server (no port forward), which
 * the first test shows.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CLIENT_V4, GATEWAY_PUBLIC_V4 } from '../../host/lab/addresses';
import { startVsftpd, type Vsftpd } from '../../host/lab/vsftpd';
import { describeLab, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';

jest.setTimeout(90_000);

describeLab('an FTP server behind the gateway, published on its public address', () => {
  const lab = useLab({ name: 'ftppub' });
  let vsftpd: Vsftpd;
  let file: Buffer;
  let base: string;

  beforeAll(async () => {
    base = join(lab().workDir, 'published');
    const root = join(base, 'root');
    mkdirSync(join(root, 'pub'), { recursive: true });
    file = randomBytes(400 * 1024);
    writeFileSync(join(root, 'pub', 'file.bin'), file);
    vsftpd = await startVsftpd(lab(), { base, root, host: 'client' });
  });

  afterAll(async () => {
    await vsftpd?.process.kill('SIGTERM');
  });

  const curl = async (tag: string, flags: string[]): Promise<{ got: Buffer; stderr: string }> => {
    const out = join(base, `${tag}.bin`);
    const r = await lab().exec('server', ['curl', '-sS', '-v', '--max-time', '8', ...flags, '-o', out, `ftp://${GATEWAY_PUBLIC_V4}/pub/file.bin`], { timeoutMs: 20_000 });
    return { got: existsSync(out) ? readFileSync(out) : Buffer.alloc(0), stderr: r.stderr };
  };

  it('without algd the gateway forwards nothing to it', async () => {
    const r = await curl('no-algd', ['--disable-epsv']);
    expect(r.got.length).toBe(0);
  });

  describe('with algd publishing tcp/21 of 198.51.100.2', () => {
    const algd = useLabAlgd(lab, 'published', () => ({
      publish: [{ protocol: 'tcp', port: 21, server: CLIENT_V4 }],
      plugins: { sip: { enabled: false }, rtsp: { enabled: false } },
    }));

    it.each([
      ['PASV (227 rewritten to the gateway)', ['--disable-epsv'], /227 Entering Passive Mode \(203,0,113,1,\d+,\d+\)/],
      ['EPSV (229 port mapped)', [], /229 Entering Extended Passive Mode \(\|\|\|6\d{4}\|\)/],
    ])('passive mode %s arrives whole', async (_name, flags, reply) => {
      const r = await curl(`pasv-${flags.length}`, flags);
      expect(r.stderr).toMatch(reply);
      if (!r.got.equals(file)) throw new Error(`${r.got.length} of ${file.length} bytes arrived\n${r.stderr.slice(-1500)}`);
    });

    it('active mode is refused by the gateway, asking for passive mode; the server never sees the PORT', async () => {
      const r = await curl('active', ['--disable-eprt', '-P', '-']);
      expect(r.got.length).toBe(0);
      expect(r.stderr).toContain('502 PORT refused by the gateway: use passive mode with this server.');
      expect(vsftpd.log()).not.toMatch(/"PORT /);
    });

    it('status: the sessions came from the public side, their channels were mapped on the gateway\'s public address', async () => {
      const s = await algd.status<{ plugins: { name: string; counters: Record<string, number> }[]; engine: { mappings: { mapping: string }[] } }>();
      const ftp = s.plugins.find((p) => p.name === 'ftp')!;
      expect(ftp.counters).toMatchObject({ 'passive-mapped': 2, 'published-active-refused': 1 });
      // The server saw its data connections come from the gateway's private address, as its control connection does.
      for (const m of s.engine.mappings) expect(m.mapping).toMatch(/^tcp 198\.51\.100\.2:\d+ <-> 203\.0\.113\.1:\d+ inbound remote 203\.0\.113\.2 via 198\.51\.100\.1:\d+$/);
    });
  });
});
