/**
 * `algd lab`, the README's first command, run as a newcomer would: the
 * built CLI as a child process, as root, from a fresh start.
 */

import { listNetns } from '../../host/lab/netns';
import { describeLab } from '../lab/require-lab';
import { runAlgd } from '../support/algd-process';

jest.setTimeout(300_000);

describeLab('algd lab', () => {
  it('builds the lab, passes every step (FTP, TFTP, SIP, RTSP through algd), reports mappings opened and closed and bytes rewritten, and leaves nothing behind', async () => {
    const r = runAlgd(['lab', '--json'], 270_000);
    expect(r.stderr).toContain('✓ build client, gateway and server namespaces');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; labId: string; steps: { name: string; status: string; detail: string; mappings?: { opened: number; closed: number }; bytesRewritten?: number }[] };
    expect(report.ok).toBe(true);
    const byStatus = (s: string) => report.steps.filter((x) => x.status === s).map((x) => x.name);
    expect(byStatus('failed')).toEqual([]);
    expect(byStatus('passed')).toEqual([
      'build client, gateway and server namespaces',
      "IPv4: TCP, UDP and an ICMP error through the gateway, checked against algd's NAT engine",
      "IPv6: TCP, UDP and an ICMP error through the gateway, checked against algd's NAT engine",
      'FTP through algd: vsftpd to curl in active (PORT, EPRT over IPv6) and passive (EPSV) mode',
      'plugin host: the TFTP example plugin, a third-party package loaded from sdk/examples, carries a tftp-hpa download through the gateway',
      'SIP through algd: a sipp phone behind the gateway calls a sipp UA on the server over UDP, RTP both ways, the far side hangs up',
      'RTSP through algd: a GStreamer RTSP server on the server, rtspsrc behind the gateway receiving H.264 video and audio over UDP without punching holes',
      'tear down',
    ]);
    expect(report.steps.find((s) => s.name.startsWith('IPv4'))!.detail).toBe("7/7 packets rewritten by algd identical to the kernel's NAT, byte for byte");
    expect(byStatus('not run')).toEqual([]);
    // Every step that ran algd reports its figures; every mapping it opened was closed by the end of the step.
    for (const name of ['FTP', 'SIP', 'RTSP']) {
      const s = report.steps.find((x) => x.name.startsWith(`${name} through algd`))!;
      expect({ name, opened: s.mappings!.opened > 0, closed: s.mappings!.closed }).toEqual({ name, opened: true, closed: s.mappings!.opened });
      expect({ name, rewritten: s.bytesRewritten! > 0 }).toEqual({ name, rewritten: true });
    }
    expect(report.labId).toMatch(/^algd-\d+-[0-9a-f]{4}-lab$/);
    expect((await listNetns()).filter((n) => n.startsWith(report.labId))).toEqual([]);
  });
});
