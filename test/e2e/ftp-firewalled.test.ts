/**
 * IPv6 FTP through a firewalled adapter: the lab routes IPv6 without NAT,
 * and the gateway's forward policy denies every inbound connection that is
 * not part of one a private host opened (ip6tables FORWARD policy DROP,
 * established traffic and private-to-public connections accepted).
 *
 * Active mode needs the server's connection back to the client to pass that
 * policy. Without algd it is dropped; with algd but the adapter declared a
 * plain boundary, the connection is translated but still dropped; with the
 * adapter declared `firewalled`, algd opens the pinhole for the data
 * connection, and once the connection is over nothing passes any more.
 * Passive mode works in every case (the client connects out).
 */

import type { Lab } from '../../host/lab/lab';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import { describeLab, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';
import { arrivedWhole, describeResult, FTP_CLIENT_CASES, startVsftpd, type CaseResult, type FtpServer } from '../support/ftp-peers';

jest.setTimeout(90_000);

const ACTIVE = FTP_CLIENT_CASES.find((c) => c.name === 'curl over IPv6, EPRT |2|')!;
const PASSIVE = FTP_CLIENT_CASES.find((c) => c.name === 'curl over IPv6, EPSV')!;

/** Default-deny forwarding for IPv6 on the gateway. */
const FIREWALL = [
  ['ip6tables', '-P', 'FORWARD', 'DROP'],
  ['ip6tables', '-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
  ['ip6tables', '-A', 'FORWARD', '-i', GATEWAY_PRIVATE_IFACE, '-o', GATEWAY_PUBLIC_IFACE, '-j', 'ACCEPT'],
];

/** Server: connects to [argv[1]]:argv[2] and prints CONNECTED or REFUSED/TIMEOUT. */
const CONNECT_PROBE = `
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print('CONNECTED')
except socket.timeout:
    print('TIMEOUT')
except OSError as e:
    print('REFUSED %s' % e)
`;

describeLab('IPv6 FTP through a firewalled adapter (default-deny forwarding)', () => {
  const lab = useLab({ name: 'ftpfw' });
  let server: FtpServer;

  beforeAll(async () => {
    for (const argv of FIREWALL) await lab().execOk('gateway', argv);
    server = await startVsftpd(lab());
  });

  const run = (tag: string, c = ACTIVE): Promise<CaseResult> => c.run({ lab: lab(), server, timeoutS: 5, tag });

  it('without algd, the policy drops the server\'s connection back (active fails) and passive works', async () => {
    const active = await run('no-algd');
    expect(active.commands.every((cmd) => ACTIVE.command.test(cmd))).toBe(true);
    expect(arrivedWhole(active)).toBe(false);
    const passive = await run('no-algd-pasv', PASSIVE);
    if (!arrivedWhole(passive)) throw new Error(describeResult(passive));
  });

  describe.each([
    ['boundary', false],
    ['firewalled', true],
  ] as const)('with algd, the public adapter declared %s', (type, pinhole) => {
    const algd = useLabAlgd(lab, `fw-${type}`, () => ({
      adapters: [{ name: GATEWAY_PRIVATE_IFACE, type: 'private' }, { name: GATEWAY_PUBLIC_IFACE, type }],
      plugins: { sip: { enabled: false }, rtsp: { enabled: false } },
    }));

    it(pinhole ? 'active mode arrives whole through the pinhole' : 'active mode still fails: no pinhole on a boundary adapter', async () => {
      const r = await run(`algd-${type}`);
      expect(r.commands.every((cmd) => ACTIVE.command.test(cmd))).toBe(true);
      if (pinhole && !arrivedWhole(r)) throw new Error(describeResult(r));
      if (!pinhole) expect(arrivedWhole(r)).toBe(false);
    });

    it('passive mode arrives whole', async () => {
      const r = await run(`algd-${type}-pasv`, PASSIVE);
      if (!arrivedWhole(r)) throw new Error(describeResult(r));
    });

    if (pinhole) {
      it('the pinhole was for that connection only: the used channel\'s public port takes no new connection, the client stays unreachable', async () => {
        const status = await algd.status<{ engine: { mappings: { mapping: string; active: boolean; uses: number }[] } }>();
        // The channel of the active transfer was used and is no longer active.
        const used = status.engine.mappings.filter((m) => m.uses > 0);
        expect(status.engine.mappings.filter((m) => m.active)).toEqual([]);
        const publicPort = used[0] ? /<-> \[[0-9a-f:]+\]:(\d+)/.exec(used[0].mapping)![1]! : await lastEprtPort(server);
        const probe = await lab().execOk('server', ['python3', '-c', CONNECT_PROBE, '2001:db8:2::1', String(publicPort)]);
        expect(probe.stdout.trim()).not.toBe('CONNECTED');
        const direct = await lab().execOk('server', ['python3', '-c', CONNECT_PROBE, '2001:db8:1::2', '22']);
        expect(direct.stdout.trim()).toBe('TIMEOUT');
        expect(await forwardRules(lab())).toContain('ALGD_FORWARD');
      });
    }
  });

  it('after algd stops, no rule of it is left in the forward path', async () => {
    expect(await forwardRules(lab())).not.toContain('ALGD_');
  });
});

/**
 * Through algd the server knows the control connection by the gateway's
 * address; the FTP plugin's outbound channel makes the passive data
 * connection come from it too (vsftpd refuses one from another address),
 * which without NAT (routed IPv6) nothing else would do.
 */

/** The public port of the last EPRT the server saw. */
async function lastEprtPort(server: FtpServer): Promise<string> {
  const all = [...server.log().matchAll(/EPRT \|2\|[0-9a-f:]+\|(\d+)\|/g)];
  return all[all.length - 1]?.[1] ?? '0';
}

async function forwardRules(l: Lab): Promise<string> {
  return (await l.execOk('gateway', ['ip6tables', '-S', 'FORWARD'])).stdout;
}

