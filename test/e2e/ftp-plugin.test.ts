/**
 * The FTP plugin end to end, with real peers: vsftpd on the server
 * (203.0.113.2, 2001:db8:2::2), and curl, lftp and Python's ftplib on the
 * client behind the gateway, in active mode (PORT, EPRT |1|, EPRT |2|) and
 * passive mode (PASV, EPSV), downloads, an active upload and 40 data
 * channels in one control session. Every transfer is checked by the SHA-256
 * of what arrived against the original's.
 *
 * The same client cases run through four gateways, each in its own lab
 * (masquerade for IPv4 and IPv6):
 *
 * 1. algd (`algd start`, nfqueue driver, FTP plugin): everything arrives;
 *    the plugin's counters and the end of its data channels are checked in
 *    `algd status`, and hostile control input is refused as documented.
 * 2. the kernel's own FTP ALG (nf_conntrack_ftp / nf_nat_ftp through a
 *    `ct helper "ftp"`), no algd: everything arrives. This proves the tests.
 * 3. no ALG at all: active mode fails (the server cannot connect back to
 *    the private client), passive mode works. This proves the active cases
 *    can fail.
 * 4. algd with the windivert driver over the WinDivert-compatible test
 *    library: see that block for what it carries and what not yet.
 *
 * vsftpd keeps port_promiscuous off (its default), so PORT/EPRT must name
 * the control connection's peer, the gateway's public address, which only a
 * rewrite makes true. Only the block without an ALG turns it on, so that
 * there the server really tries to connect back to the private address.
 */

import type { Lab } from '../../host/lab/lab';
import type { LabProcess } from '../../host/lab/lab-process';
import { buildCompatLibrary } from '../../host/nat-engine/drivers/windivert/compat-library';
import { describeLabNeeding, useLab } from '../lab/require-lab';
import { useLabAlgd } from '../support/lab-algd';
import {
  arrivedWhole, describeResult, FTP_CLIENT_CASES, rawControlSession, startVsftpd,
  type CaseResult, type FtpClientCase, type FtpServer,
} from '../support/ftp-peers';
import { installKernelAlg, kernelAlgTable, removeKernelAlg } from '../../host/lab/kernel-alg';

jest.setTimeout(60_000);

/** Seconds a client may run where it is expected to succeed (transfers take about a second). */
const CLIENT_TIMEOUT_S = 20;

interface Status {
  driver: string;
  driverStats: { received: number; errors: number };
  plugins: { name: string; state: string; counters: Record<string, number>; failures: Record<string, number>; sessions: number }[];
  sessions: { id: string }[];
  sessionsEnded: Record<string, number>;
  engine: { redirects: string[]; mappings: { id: number; owner: string; mapping: string; active: boolean; uses: number }[]; counters: { drops: Record<string, number>; redirected: number; redirectsMissed: number } };
}

/** `algd start` in the lab's gateway with `driver` settings; the FTP plugin on, SIP and RTSP off. */
function useAlgd(lab: () => Lab, name: string, driver: () => Record<string, unknown>): { status: () => Promise<Status>; process: () => LabProcess } {
  const algd = useLabAlgd(lab, name, () => ({ ...driver(), plugins: { ftp: { enabled: true }, sip: { enabled: false }, rtsp: { enabled: false } } }));
  return { status: () => algd.status<Status>(), process: algd.process };
}

/** What a gateway should do with a case. */
type Expectation =
  /** Every transfer arrives whole. */
  | 'whole'
  /** The client reaches the data-channel command, and nothing arrives. */
  | 'fails';

interface ClientCaseRun {
  readonly lab: () => Lab;
  readonly server: () => FtpServer;
  readonly expect: (c: FtpClientCase) => Expectation;
  readonly timeoutS?: number;
  /** Every case's result, by name, for checks after the table. */
  readonly results: Map<string, CaseResult>;
}

/** Whether the case used the data-channel command it claims to test, and the data channel was really asked for. */
function expectCommands(c: FtpClientCase, r: CaseResult): void {
  expect(r.commands.length).toBeGreaterThanOrEqual(r.transfers.length);
  expect(r.commands.filter((cmd) => !c.command.test(cmd))).toEqual([]);
}

/** The shared client table, as one test per case. */
function clientCaseTests(run: ClientCaseRun): void {
  for (const c of FTP_CLIENT_CASES) {
    const expectation = run.expect(c);
    const tag = c.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    const exec = (): Promise<CaseResult> => c.run({ lab: run.lab(), server: run.server(), timeoutS: run.timeoutS ?? CLIENT_TIMEOUT_S, tag });
    if (expectation === 'whole') {
      it(`${c.name}: arrives whole`, async () => {
        const r = await exec();
        run.results.set(c.name, r);
        if (!arrivedWhole(r)) throw new Error(`${c.name}: ${describeResult(r)}`);
        expectCommands(c, r);
        expect(r.exitCode).toBe(0);
      });
    } else {
      it(`${c.name}: fails, the server cannot connect back`, async () => {
        const logBefore = run.server().log().length;
        const r = await exec();
        run.results.set(c.name, r);
        expectCommands(c, r);
        expect(r.transfers.filter((t) => t.got === t.expected).map((t) => t.name)).toEqual([]);
        // The server tried, and its connection to the private address failed.
        expect(run.server().log().slice(logBefore)).toMatch(/"425 Failed to establish connection\."/);
      });
    }
  }
}

/** PORT/EPRT commands the given results sent: what the plugin should have mapped. */
const commandsMatching = (results: Map<string, CaseResult>, pattern: RegExp): number =>
  [...results.values()].reduce((n, r) => n + r.commands.filter((c) => pattern.test(c)).length, 0);
const activeCommands = (results: Map<string, CaseResult>): number => commandsMatching(results, /^(PORT|EPRT) /);
const passiveCommands = (results: Map<string, CaseResult>): number => commandsMatching(results, /^(PASV|EPSV)$/);

/** Polls algd's status until no session and no active mapping is left, at most `timeoutMs`. */
async function untilQuiet(status: () => Promise<Status>, timeoutMs: number): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  let s = await status();
  while ((s.sessions.length > 0 || s.engine.mappings.some((m) => m.active)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    s = await status();
  }
  return s;
}

const ftpPlugin = (s: Status): Status['plugins'][number] => s.plugins.find((p) => p.name === 'ftp')!;

/** Mappings in `after` that `before` did not have (earlier, used ones may have expired in between). */
const newMappings = (before: Status, after: Status): string[] => {
  const known = new Set(before.engine.mappings.map((m) => m.id));
  return after.engine.mappings.filter((m) => !known.has(m.id)).map((m) => m.mapping);
};

/** The peers every block runs (Debian packages vsftpd, curl, lftp; scripts/setup installs them). */
const FTP_TOOLS = ['vsftpd', 'curl', 'lftp'] as const;

/** describeLab when the FTP peers (and `extraTools`) are installed. */
function describeFtpLab(title: string, fn: () => void, extraTools: readonly string[] = []): void {
  describeLabNeeding([...FTP_TOOLS, ...extraTools], title, fn);
}

describeFtpLab('FTP through algd (nfqueue driver, FTP plugin): real clients and vsftpd', () => {
  const lab = useLab({ name: 'ftpalgd', ipv6Nat: true });
  describe('algd start on the gateway', () => {
    let server: FtpServer;
    beforeAll(async () => {
      server = await startVsftpd(lab());
    });
    const algd = useAlgd(lab, 'nfq', () => ({ driver: 'nfqueue' }));
    const results = new Map<string, CaseResult>();

    clientCaseTests({ lab, server: () => server, expect: () => 'whole', results });

    it('status: the plugin mapped every PORT/EPRT, and once the sessions end no data channel is left active', async () => {
      expect(results.size).toBe(FTP_CLIENT_CASES.length);
      const s = await untilQuiet(algd.status, 20_000);
      const ftp = ftpPlugin(s);
      expect(ftp.state).toBe('enabled');
      expect(ftp.counters['active-mapped']).toBeGreaterThan(0);
      expect(ftp.counters['active-mapped']).toBe(activeCommands(results));
      // Servers outside the gateway: each 227/229 is checked and gets an outbound channel (the data connection leaves from the boundary address).
      expect(ftp.counters['passive-mapped']).toBe(passiveCommands(results));
      expect(ftp.counters['passive-address-refused']).toBeUndefined();
      expect(Object.values(ftp.failures).every((n) => n === 0)).toBe(true);
      expect(s.sessions).toEqual([]);
      expect(s.engine.mappings.filter((m) => m.active)).toEqual([]);
      expect(s.engine.counters.drops).toEqual({});
      // Every mapping still listed carries a connection: active ones open to the server only, passive ones to the server's announced port only.
      for (const m of s.engine.mappings) {
        expect(m.owner).toMatch(/^ftp-\d+$/);
        expect(m.mapping).toMatch(/ (inbound remote (203\.0\.113\.2|2001:db8:2::2)|outbound remote (203\.0\.113\.2|\[2001:db8:2::2\]):40\d\d\d)$/);
      }
      expect(s.sessionsEnded['closed']).toBeGreaterThanOrEqual(FTP_CLIENT_CASES.length);
    });

    it('the kernel redirect carries the control connections: the queue sees a session\'s SYNs only, conntrack holds the redirect to the listener', async () => {
      const before = await algd.status();
      expect(before.engine.redirects.filter((r) => r.startsWith('tcp port 21 '))).toEqual([
        expect.stringMatching(/^tcp port 21 \(IPv4\) -> 127\.0\.0\.1:(\d+), kernel redirect installed$/),
        expect.stringMatching(/^tcp port 21 \(IPv6\) -> \[2001:db8:1::1\]:\d+, kernel redirect installed$/),
      ]);
      const listenerPort = /127\.0\.0\.1:(\d+)/.exec(before.engine.redirects.find((r) => r.includes('127.0.0.1'))!)![1];
      const r = await rawControlSession(lab(), ['NOOP', 'NOOP', 'NOOP']);
      expect(r.replies).toEqual([['200 NOOP ok.'], ['200 NOOP ok.'], ['200 NOOP ok.']]);
      const after = await untilQuiet(algd.status, 10_000);
      // The client's SYN (before routing) and algd's own upstream SYN (a new connection leaving the public adapter), a retransmission at most;
      // translated in userland the session's two legs would cross about 25 times (greeting, login, three NOOPs, replies, ACKs, FINs).
      expect(after.engine.counters.redirected - before.engine.counters.redirected).toBe(1);
      expect(after.engine.counters.redirectsMissed).toBe(0);
      const queued = after.driverStats.received - before.driverStats.received;
      expect(queued).toBeGreaterThanOrEqual(2);
      expect(queued).toBeLessThanOrEqual(4);
      const ct = await lab().execOk('gateway', ['conntrack', '-L', '-p', 'tcp', '--orig-port-dst', '21', '--orig-src', '198.51.100.2'], { timeoutMs: 10_000 });
      expect(ct.stdout).toMatch(new RegExp(`src=198\\.51\\.100\\.2 dst=203\\.0\\.113\\.2 sport=\\d+ dport=21 .*src=127\\.0\\.0\\.1 dst=198\\.51\\.100\\.2 sport=${listenerPort} `));
    });

    describe('hostile control input (a raw client; the gateway answers, nothing reaches the server, no data channel)', () => {
      interface Hostile {
        readonly what: string;
        readonly line: string;
        readonly reply: string;
        readonly counter: string;
      }
      const HOSTILE: readonly Hostile[] = [
        { what: 'PORT bounce to a third party', line: 'PORT 203,0,113,99,195,80', reply: "500 PORT refused by the gateway: the address is not the client's own.", counter: 'bounce-refused' },
        { what: 'EPRT bounce to another lab host (the server itself)', line: 'EPRT |1|203.0.113.2|50000|', reply: "500 EPRT refused by the gateway: the address is not the client's own.", counter: 'bounce-refused' },
        { what: 'PORT with an octet over 255', line: 'PORT 198,51,100,256,195,80', reply: '501 PORT refused by the gateway: malformed or out-of-range address or port.', counter: 'bad-argument' },
        { what: 'PORT with a port over 65535 (256,0)', line: 'PORT 198,51,100,2,256,0', reply: '501 PORT refused by the gateway: malformed or out-of-range address or port.', counter: 'bad-argument' },
        { what: 'EPRT with a port over 65535', line: 'EPRT |1|198.51.100.2|65536|', reply: '501 EPRT refused by the gateway: malformed or out-of-range address or port.', counter: 'bad-argument' },
        { what: 'PORT with a data port below 1024', line: 'PORT 198,51,100,2,0,80', reply: '500 PORT refused by the gateway: data port below the allowed range.', counter: 'low-port-refused' },
        { what: 'a denied command (SITE EXEC)', line: 'SITE EXEC /bin/sh -c id', reply: '502 Command not allowed by the gateway.', counter: 'denied-command' },
      ];

      it.each(HOSTILE.map((h) => [h.what, h] as const))('%s', async (_what, h) => {
        const before = await algd.status();
        const r = await rawControlSession(lab(), [h.line, 'NOOP']);
        expect(r.greeting).toEqual([expect.stringMatching(/^220 /)]);
        expect(r.login).toEqual(['230 Login successful.']);
        // The gateway's answer, then the session goes on: the server answers NOOP.
        expect(r.replies).toEqual([[h.reply], ['200 NOOP ok.']]);
        const after = await untilQuiet(algd.status, 10_000);
        const delta = (name: string): number => (ftpPlugin(after).counters[name] ?? 0) - (ftpPlugin(before).counters[name] ?? 0);
        expect(delta(h.counter)).toBe(1);
        expect(delta('active-mapped')).toBe(0);
        // No data channel: no mapping was created.
        expect(newMappings(before, after)).toEqual([]);
        // Never forwarded: vsftpd logged the NOOP of the session, not the refused line.
        const log = server.log();
        expect(log).toMatch(/FTP command: Client "[^"]+", "NOOP"/);
        expect(log).not.toContain(h.line);
      });

      it('a line over 512 bytes closes the session, and is counted', async () => {
        const before = await algd.status();
        const long = `NOOP ${'A'.repeat(600)}`;
        const r = await rawControlSession(lab(), [long, 'NOOP']);
        expect(r.login).toEqual(['230 Login successful.']);
        expect(r.replies[0]).toEqual([expect.stringMatching(/^<(EOF|ConnectionResetError)>$/)]);
        const after = await untilQuiet(algd.status, 10_000);
        expect((ftpPlugin(after).counters['framing-line-too-long'] ?? 0) - (ftpPlugin(before).counters['framing-line-too-long'] ?? 0)).toBe(1);
        expect((after.sessionsEnded['framing'] ?? 0) - (before.sessionsEnded['framing'] ?? 0)).toBe(1);
        expect(newMappings(before, after)).toEqual([]);
        expect(server.log()).not.toContain('AAAAAAAAAA');
      });
    });
  });
});

describeFtpLab('FTP through the kernel\'s own FTP ALG (ct helper "ftp", no algd): the same clients, the reference', () => {
  const lab = useLab({ name: 'ftpkern', ipv6Nat: true });
  describe('the helper installed on the gateway', () => {
    let server: FtpServer;
    beforeAll(async () => {
      await installKernelAlg(lab(), 'ftp');
      server = await startVsftpd(lab());
    });
    afterAll(async () => {
      await removeKernelAlg(lab(), 'ftp');
      expect((await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout).not.toContain('ct helper');
    });
    const results = new Map<string, CaseResult>();

    it('the gateway runs the helper and no algd', async () => {
      const rules = (await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout;
      expect(rules).toContain(`table ${kernelAlgTable('ftp').family} ${kernelAlgTable('ftp').name}`);
      expect(rules).toMatch(/tcp dport 21 ct helper set "ftp"/);
      expect(rules).not.toMatch(/algd(?!_lab)/);
    });

    clientCaseTests({ lab, server: () => server, expect: () => 'whole', results });
  });
});

describeFtpLab('FTP through the masquerade alone (no ALG): active mode must fail, passive mode works', () => {
  const lab = useLab({ name: 'ftpnone', ipv6Nat: true });
  let server: FtpServer;
  beforeAll(async () => {
    // Promiscuous: the server connects wherever PORT says, so the failure is the NAT's, not vsftpd's check.
    server = await startVsftpd(lab(), { portPromiscuous: true });
  });
  const results = new Map<string, CaseResult>();

  it('the gateway has no FTP helper and no algd', async () => {
    const rules = (await lab().execOk('gateway', ['nft', 'list', 'ruleset'])).stdout;
    expect(rules).not.toContain('ct helper');
    expect(rules).not.toMatch(/algd(?!_lab)/);
  });

  clientCaseTests({ lab, server: () => server, expect: (c) => (c.mode === 'active' ? 'fails' : 'whole'), results });
});

describeFtpLab('FTP through algd with the windivert driver (WinDivert-compatible library over NFQUEUE)', () => {
  const lab = useLab({ name: 'ftpwd', ipv6Nat: true });
  describe('algd start on the gateway, driver windivert', () => {
    let library: string;
    let server: FtpServer;
    beforeAll(async () => {
      library = buildCompatLibrary();
      server = await startVsftpd(lab());
    });
    const algd = useAlgd(lab, 'wd', () => ({ driver: 'windivert', windivert: { path: library } }));
    const results = new Map<string, CaseResult>();

    it('algd runs with the windivert driver: listeners on the private adapter, upstream connections from listenerPorts', async () => {
      const s = await algd.status();
      expect(s.driver).toBe('windivert');
      expect(ftpPlugin(s).state).toBe('enabled');
      expect(algd.process().stderr + algd.process().stdout).toMatch(/windivert: capturing with .*libwindivert-compat\.so/);
      // WinDivert cannot deliver a redirected packet to 127.0.0.1: the redirects name the private adapter's addresses.
      expect(s.engine.redirects.filter((r) => r.startsWith('tcp port 21 '))).toEqual([
        expect.stringMatching(/^tcp port 21 \(IPv4\) -> 198\.51\.100\.1:\d+$/),
        expect.stringMatching(/^tcp port 21 \(IPv6\) -> \[2001:db8:1::1\]:\d+$/),
      ]);
    });

    clientCaseTests({
      lab,
      server: () => server,
      expect: () => 'whole',
      timeoutS: 6,
      results,
    });

    it('status: the plugin mapped the active cases\' ports, the server\'s connections reached the mappings, the driver saw no error', async () => {
      const s = await algd.status();
      expect(ftpPlugin(s).counters['active-mapped']).toBeGreaterThan(0);
      expect(s.engine.mappings.some((m) => m.uses > 0)).toBe(true);
      expect(s.driverStats.errors).toBe(0);
    });
  });
}, ['gcc']);
