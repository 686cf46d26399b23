import type { CommandRunner } from '../../../../host/nat-engine/drivers/nfqueue/command-runner';
import { NatGuard, NatGuardError, natGuardRuleset } from '../../../../host/nat-engine/drivers/nfqueue/nat-guard';

describe('the nat guard (nftables table inet algd)', () => {
  it('saves the mark and binds marked connections to their own addresses, before any other nat chain', () => {
    const text = natGuardRuleset([4, 6], ['eth0', 'wan1']);
    expect(text.startsWith('table inet algd\ndelete table inet algd\ntable inet algd {\n')).toBe(true);
    expect(text).toContain('type nat hook prerouting priority -150;');
    expect(text).toContain('type nat hook postrouting priority 50;');
    expect(text).toContain('meta mark & 0x20000000 == 0x20000000 ct mark set ct mark | 0x20000000');
    expect(text).toContain('meta mark & 0x20000000 == 0x20000000 meta nfproto ipv4 dnat ip to ct original ip daddr');
    expect(text).toContain('meta mark & 0x20000000 == 0x20000000 meta nfproto ipv6 snat ip6 to ct original ip6 saddr');
    expect(natGuardRuleset([4], ['eth0'])).not.toContain('ip6');
  });

  it('drops what an algd connection sends out of a public adapter untranslated (no mark bit), after the queue and NAT', () => {
    const text = natGuardRuleset([4, 6], ['eth0', 'wan1']);
    expect(text).toContain('type filter hook postrouting priority 200;');
    expect(text).toContain('ct mark & 0x20000000 == 0x20000000 oifname { "eth0", "wan1" } meta mark & 0x20000000 == 0 counter drop');
    expect(natGuardRuleset([4], [])).not.toContain('filter');
  });

  it('installs and removes with one nft -f each, in the given namespace, and reports nft errors', async () => {
    const calls: { argv: readonly string[]; input?: string }[] = [];
    let code = 0;
    const run: CommandRunner = async (argv, input) => {
      calls.push({ argv, input });
      return { code, stdout: '', stderr: code ? 'Error: boom' : '' };
    };
    const guard = new NatGuard({ families: [4], publicAdapters: ['eth0'], netns: 'gw', run });
    await guard.install();
    await guard.remove();
    expect(calls.map((c) => c.argv.join(' '))).toEqual(['ip netns exec gw nft -f -', 'ip netns exec gw nft -f -']);
    expect(calls[0]!.input).toBe(natGuardRuleset([4], ['eth0']));
    expect(calls[1]!.input).toBe('table inet algd\ndelete table inet algd\n');
    code = 1;
    await expect(guard.install()).rejects.toThrow(NatGuardError);
    await expect(guard.install()).rejects.toThrow(/boom/);
  });
});
