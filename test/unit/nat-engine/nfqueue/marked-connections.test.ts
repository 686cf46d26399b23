import type { CommandRunner } from '../../../../host/nat-engine/drivers/nfqueue/command-runner';
import { deleteMarkedConnections } from '../../../../host/nat-engine/drivers/nfqueue/marked-connections';

describe('deleteMarkedConnections', () => {
  it('deletes entries with the algd connection mark per family and counts them (exit 1 means none)', async () => {
    const argvs: string[] = [];
    const run: CommandRunner = async (argv) => {
      argvs.push(argv.join(' '));
      return argv.includes('ipv4')
        ? { code: 0, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.\n' }
        : { code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' };
    };
    expect(await deleteMarkedConnections([4, 6], run)).toBe(2);
    expect(argvs).toEqual(['conntrack -D -f ipv4 --mark 0x20000000/0x20000000', 'conntrack -D -f ipv6 --mark 0x20000000/0x20000000']);
  });

  it('is undefined without the conntrack tool, and an error for anything else', async () => {
    const missing: CommandRunner = async () => {
      throw Object.assign(new Error('spawn conntrack ENOENT'), { code: 'ENOENT' });
    };
    expect(await deleteMarkedConnections([4], missing)).toBeUndefined();
    const broken: CommandRunner = async () => ({ code: 2, stdout: '', stderr: 'conntrack: Operation not permitted' });
    await expect(deleteMarkedConnections([4], broken)).rejects.toThrow(/not permitted/);
  });
});
