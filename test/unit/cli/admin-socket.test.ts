import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../../../host/admin/admin-client';
import { AdminServer } from '../../../host/admin/admin-server';
import { describeIfTool } from '../../support/require-tool';

/** Connects to `path` as user nobody (uid/gid 65534, no groups) and prints `connected` or the error code. */
function connectAsNobody(path: string): Promise<string> {
  const script = `const s=require('node:net').createConnection(${JSON.stringify(path)});s.on('connect',()=>{console.log('connected');s.destroy()});s.on('error',e=>console.log(e.code))`;
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`setpriv exited ${code}: ${err}`))));
  });
}

describe('admin socket (Linux): root only', () => {
  let dir: string;
  let server: AdminServer;
  let path: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'algd-admin-'));
    // The folder lets anyone in, so only the socket's own mode can keep others out.
    chmodSync(dir, 0o755);
    path = join(dir, 'algd.sock');
    server = new AdminServer(path);
    server.handle('status', () => ({ up: true }));
    await server.listen();
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a socket of mode 0600 owned by the service user, and answers it', async () => {
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid!());
    expect(await adminRequest(path, { command: 'status' })).toEqual({ ok: true, result: { up: true } });
  });

  describeIfTool('setpriv', 'another user', () => {
    it('is refused (EACCES) when it connects as nobody; the same connection succeeds once the socket is opened up (control)', async () => {
      if (process.getuid!() !== 0) throw new Error('this test drops privileges to nobody with setpriv and must run as root (CI does)');
      expect(statSync(path).uid).toBe(0);
      expect(await connectAsNobody(path)).toBe('EACCES');
      chmodSync(path, 0o666);
      expect(await connectAsNobody(path)).toBe('connected');
    });
  });
});
