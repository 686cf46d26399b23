/**
 * The TFTP example plugin (sdk/examples/tftp, written only against
 * @algd/sdk) loaded by `algd start` from a plugins folder, in the lab:
 * Debian's tftp-hpa client behind the gateway, tftpd-hpa on the server.
 *
 * TFTP's server answers from a new port of its own, so behind a NAT
 * without an ALG the answer is unsolicited and never reaches the client;
 * the first test proves the lab's masquerade indeed breaks it. With algd,
 * the plugin maps the session's boundary endpoint for the server's answer,
 * and downloads and uploads arrive whole (SHA-256 compared).
 */

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { SERVER_V4 } from '../../host/lab/addresses';
import type { LabProcess } from '../../host/lab/lab-process';
import { describeLab, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';
import { until } from '../support/wait';

jest.setTimeout(90_000);

const EXAMPLES = resolve(__dirname, '../../sdk/examples');
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Status {
  plugins: { name: string; state: string; builtin: boolean; counters: Record<string, number>; tasks: number; captures: { protocol: string; port: number }[] }[];
  sessions: unknown[];
  engine: { mappings: { owner: string; active: boolean }[] };
}

describeLab('the TFTP example plugin through the lab gateway (tftp-hpa, tftpd-hpa)', () => {
  const lab = useLab({ name: 'tftp' });
  let root: string;
  let clientDir: string;
  let tftpd: LabProcess;

  beforeAll(async () => {
    root = join(lab().workDir, 'tftp-root');
    clientDir = join(lab().workDir, 'tftp-client');
    mkdirSync(root, { recursive: true });
    mkdirSync(clientDir, { recursive: true });
    chmodSync(root, 0o777);
    writeFileSync(join(root, 'get.bin'), randomBytes(300 * 1024));
    writeFileSync(join(clientDir, 'put.bin'), randomBytes(200 * 1024));
    tftpd = lab().spawn('server', ['in.tftpd', '--foreground', '--verbose', '--address', `${SERVER_V4}:69`, '--secure', '--create', '--permissive', '--user', 'root', root]);
    await lab().waitForPort('server', 'udp', 69);
  });

  afterAll(async () => {
    if (tftpd?.running) await tftpd.kill('SIGTERM');
  });

  const tftp = (command: string) =>
    lab().exec('client', ['timeout', '20', 'tftp', '-m', 'binary', SERVER_V4, '-c', ...command.split(' ')], { timeoutMs: 30_000 });

  it('without algd the masquerade alone loses the server\'s answer (the test can fail)', async () => {
    const out = join(clientDir, 'no-alg.bin');
    // tftp-hpa retries for ~25 s by default; the wrapper stops it sooner.
    await lab().exec('client', ['timeout', '6', 'tftp', '-m', 'binary', SERVER_V4, '-c', 'get', 'get.bin', out], { timeoutMs: 15_000 });
    expect(existsSync(out) ? sha256(out) : 'missing').not.toBe(sha256(join(root, 'get.bin')));
  });

  describe('with algd and the plugin loaded from the plugins folder', () => {
    const algd = useLabAlgd(lab, 'tftp', () => ({
      pluginsDir: EXAMPLES,
      plugins: { ftp: { enabled: false }, sip: { enabled: false }, rtsp: { enabled: false }, tftp: { options: { lifetimeMs: 10_000 } } },
      sessions: { udpIdleTimeoutMs: 2_000 },
      // Short UDP flow timeouts so the transfers' flows, and with them the sessions, end within the test.
      flowTimeouts: { udpUnreplied: 3, udpReplied: 3 },
    }));
    const status = (): Promise<Status> => algd.status<Status>();

    it('loads the example as a third-party plugin capturing UDP 69', async () => {
      const tftpPlugin = (await status()).plugins.find((p) => p.name === 'tftp');
      expect(tftpPlugin).toMatchObject({ state: 'enabled', builtin: false, captures: [{ protocol: 'udp', port: 69 }] });
    });

    it('a download arrives whole', async () => {
      const out = join(clientDir, 'got.bin');
      const r = await tftp(`get get.bin ${out}`);
      expect(r.stderr).toBe('');
      expect(sha256(out)).toBe(sha256(join(root, 'get.bin')));
    });

    it('an upload arrives whole', async () => {
      const r = await tftp(`put ${join(clientDir, 'put.bin')} put.bin`);
      expect(r.stderr).toBe('');
      await until('the upload on the server', () => existsSync(join(root, 'put.bin')) && sha256(join(root, 'put.bin')) === sha256(join(clientDir, 'put.bin')), 5_000);
    });

    it('counted both requests, and its sessions and channels end by themselves', async () => {
      const s = await status();
      expect(s.plugins.find((p) => p.name === 'tftp')!.counters).toMatchObject({ rrq: 1, wrq: 1 });
      // A used one-shot channel takes no new connection; its transfer's flow
      // expires after 3 s idle, then the session, idle for 2 s, ends.
      let last = s;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (last.sessions.length > 0 || last.engine.mappings.some((m) => m.active))) {
        await new Promise((r) => setTimeout(r, 500));
        last = await status();
      }
      if (last.sessions.length || last.engine.mappings.some((m) => m.active)) process.stderr.write(JSON.stringify(last, null, 1));
      expect(last.sessions).toEqual([]);
      expect(last.engine.mappings.filter((m) => m.active)).toEqual([]);
    });
  });
});
