import { endpoint, port } from '@algd/sdk';
import type { CommandRunner } from '../../../../host/nat-engine/drivers/nfqueue/command-runner';
import { KernelRedirectError, KernelRedirects } from '../../../../host/nat-engine/drivers/nfqueue/kernel-redirects';

describe('the kernel redirect (elements of the nat table\'s redirect maps)', () => {
  function rig(fail: (input: string) => boolean = () => false) {
    const inputs: string[] = [];
    const logged: string[] = [];
    const run: CommandRunner = async (argv, input) => {
      expect(argv).toEqual(['nft', '-f', '-']);
      inputs.push(input ?? '');
      return fail(input ?? '') ? { code: 1, stdout: '', stderr: 'Error: No such file or directory' } : { code: 0, stdout: '', stderr: '' };
    };
    return { inputs, logged, redirects: new KernelRedirects({ run, log: (_level, m) => logged.push(m) }) };
  }

  it('adds an element per family and port, replaces one already there, and deletes only what it installed', async () => {
    const { inputs, redirects } = rig();
    await redirects.set({ family: 4, port: port(21), listener: endpoint('127.0.0.1', 3021) });
    await redirects.set({ family: 6, port: port(21), listener: endpoint('2001:db8:1::1', 3021) });
    await redirects.set({ family: 4, port: port(21), listener: endpoint('127.0.0.1', 3022) });
    await redirects.delete(4, port(554));
    await redirects.delete(4, port(21));
    expect(inputs).toEqual([
      'add element inet algd redirect4 { tcp . 21 : 127.0.0.1 . 3021 }\n',
      'add element inet algd redirect6 { tcp . 21 : 2001:db8:1::1 . 3021 }\n',
      'delete element inet algd redirect4 { tcp . 21 }\nadd element inet algd redirect4 { tcp . 21 : 127.0.0.1 . 3022 }\n',
      'delete element inet algd redirect4 { tcp . 21 }\n',
    ]);
  });

  it('rejects and logs what the kernel refused, and installs nothing then', async () => {
    const { inputs, logged, redirects } = rig((input) => input.includes('3021'));
    await expect(redirects.set({ family: 4, port: port(21), listener: endpoint('127.0.0.1', 3021) })).rejects.toThrow(KernelRedirectError);
    expect(logged).toEqual([expect.stringMatching(/^nfqueue: the kernel refused the redirect of tcp port 21 \(IPv4\); its connections pass uncaptured: .*No such file/)]);
    await redirects.delete(4, port(21));
    expect(inputs).toHaveLength(1);
  });
});
