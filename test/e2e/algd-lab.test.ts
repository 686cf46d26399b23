/**
 * `algd lab`, the README's first command, run as a newcomer would: the
 * built CLI as a child process, as root, from a fresh start.
 */

import { listNetns } from '../../host/lab/netns';
import { describeLab } from '../lab/require-lab';
import { runAlgd } from '../support/algd-process';

jest.setTimeout(180_000);

describeLab('algd lab', () => {
  it('builds the lab, passes every step it runs, names what it cannot run yet, and leaves nothing behind', async () => {
    const r = runAlgd(['lab', '--json'], 150_000);
    expect(r.stderr).toContain('✓ build client, gateway and server namespaces');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; labId: string; steps: { name: string; status: string; detail: string }[] };
    expect(report.ok).toBe(true);
    const byStatus = (s: string) => report.steps.filter((x) => x.status === s).map((x) => x.name);
    expect(byStatus('failed')).toEqual([]);
    expect(byStatus('passed')).toEqual([
      'build client, gateway and server namespaces',
      "IPv4: TCP, UDP and an ICMP error through the gateway, checked against algd's NAT engine",
      "IPv6: TCP, UDP and an ICMP error through the gateway, checked against algd's NAT engine",
      'FTP through algd: vsftpd to curl in active (PORT, EPRT over IPv6) and passive (EPSV) mode',
      'plugin host: the TFTP example plugin, a third-party package loaded from sdk/examples, carries a tftp-hpa download through the gateway',
      'tear down',
    ]);
    expect(report.steps.find((s) => s.name.startsWith('IPv4'))!.detail).toBe("7/7 packets rewritten by algd identical to the kernel's NAT, byte for byte");
    expect(byStatus('not run')).toHaveLength(2);
    expect(report.labId).toMatch(/^algd-\d+-[0-9a-f]{4}-lab$/);
    expect((await listNetns()).filter((n) => n.startsWith(report.labId))).toEqual([]);
  });
});
