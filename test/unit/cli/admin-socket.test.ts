import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../../../host/admin/admin-client';
import { adminKeyFileFor } from '../../../host/admin/admin-protocol';
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

/** Reads `file` as user nobody and prints `read` or the error code. */
function readAsNobody(file: string): Promise<string> {
  const script = `try{require('node:fs').readFileSync(${JSON.stringify(file)});console.log('read')}catch(e){console.log(e.code)}`;
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('close', () => resolve(out.trim()));
  });
}

describe('the admin key file', () => {
  it('lives next to the socket on Linux, under %ProgramData%\\algd on Windows', () => {
    expect(adminKeyFileFor('/run/algd/algd.sock', 'linux')).toBe('/run/algd/algd.sock.key');
    expect(adminKeyFileFor('\\\\.\\pipe\\algd', 'win32', { ProgramData: 'D:\\Data' })).toBe('D:\\Data\\algd\\algd.key');
    expect(adminKeyFileFor('\\\\.\\pipe\\algd', 'win32', {})).toBe('C:\\ProgramData\\algd\\algd.key');
  });
});

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

  it('answers only requests carrying the admin key, kept in a 0600 file next to the socket and removed on close', async () => {
    const keyFile = `${path}.key`;
    expect(server.keyFile).toBe(keyFile);
    const st = statSync(keyFile);
    expect([st.mode & 0o777, st.uid]).toEqual([0o600, process.getuid!()]);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const raw = (line: string): Promise<string> => new Promise((resolve, reject) => {
      const c = createConnection(path);
      let got = '';
      c.setEncoding('utf8');
      c.on('connect', () => c.write(`${line}\n`));
      c.on('data', (d: string) => { got += d; if (got.includes('\n')) { c.destroy(); resolve(got.trim()); } });
      c.on('error', reject);
    });
    const refusal = `not authorised: the request lacks the admin key in ${keyFile} (readable by administrators only)`;
    expect(JSON.parse(await raw(JSON.stringify({ command: 'status' })))).toEqual({ ok: false, error: refusal });
    expect(JSON.parse(await raw(JSON.stringify({ command: 'status', key: '00'.repeat(32) })))).toEqual({ ok: false, error: refusal });
    expect(JSON.parse(await raw(JSON.stringify({ command: 'status', key: 'zz' })))).toEqual({ ok: false, error: refusal });
    expect(server.refused).toBe(3);
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(JSON.parse(await raw(JSON.stringify({ command: 'status', key })))).toEqual({ ok: true, result: { up: true } });
    await server.close();
    expect(existsSync(keyFile)).toBe(false);
    await expect(adminRequest(path, { command: 'status' })).rejects.toThrow(/algd is not running/);
  });

  describeIfTool('setpriv', 'another user', () => {
    it('is refused (EACCES) when it connects as nobody; the same connection succeeds once the socket is opened up (control)', async () => {
      if (process.getuid!() !== 0) throw new Error('this test drops privileges to nobody with setpriv and must run as root (CI does)');
      expect(statSync(path).uid).toBe(0);
      expect(await connectAsNobody(path)).toBe('EACCES');
      // Nor can it read the key that every request must carry.
      expect(await readAsNobody(`${path}.key`)).toBe('EACCES');
      chmodSync(path, 0o666);
      expect(await connectAsNobody(path)).toBe('connected');
    });
  });
});
