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

  it('with the kernel redirect: a map per family and a dnat of SYNs carrying the redirect bit to their port\'s listener', () => {
    const text = natGuardRuleset([4, 6], ['eth0'], { kernelRedirect: true });
    expect(text).toContain('  map redirect4 {\n    type inet_proto . inet_service : ipv4_addr . inet_service\n  }');
    expect(text).toContain('  map redirect6 {\n    type inet_proto . inet_service : ipv6_addr . inet_service\n  }');
    const prerouting = text.slice(text.indexOf('chain nat_prerouting'), text.indexOf('chain nat_input'));
    expect(prerouting).toContain('meta mark & 0x40000000 == 0x40000000 meta nfproto ipv4 dnat ip to meta l4proto . th dport map @redirect4\n');
    expect(prerouting).toContain('meta mark & 0x40000000 == 0x40000000 meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @redirect6\n');
    expect(natGuardRuleset([4, 6], ['eth0'])).not.toContain('redirect');
  });

  it('falls back to the table without the redirect maps when the kernel refuses them, and says why', async () => {
    const inputs: string[] = [];
    const run: CommandRunner = async (_argv, input) => {
      inputs.push(input ?? '');
      return (input ?? '').includes('redirect4') ? { code: 1, stdout: '', stderr: 'Error: Could not process rule' } : { code: 0, stdout: '', stderr: '' };
    };
    const result = await new NatGuard({ families: [4], publicAdapters: ['eth0'], kernelRedirect: true, run }).install();
    expect(result.kernelRedirect).toBe(false);
    expect(result.refused).toMatch(/Could not process rule/);
    expect(inputs).toEqual([natGuardRuleset([4], ['eth0'], { kernelRedirect: true }), natGuardRuleset([4], ['eth0'])]);
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
