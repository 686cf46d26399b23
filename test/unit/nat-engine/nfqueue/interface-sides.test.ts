import { InterfaceSides } from '../../../../host/nat-engine/drivers/nfqueue/interface-sides';

describe('InterfaceSides', () => {
  it('maps ifindexes to adapter sides, re-reading at most once a second when an unknown index appears', () => {
    const indexes = new Map<string, number>([['eth1', 3]]);
    let reads = 0;
    let t = 0;
    const sides = new InterfaceSides(
      [
        { name: 'eth1', side: 'private' },
        { name: 'eth0', side: 'public' },
      ],
      (name) => {
        reads++;
        return indexes.get(name);
      },
      () => t,
    );
    expect(sides.missing()).toEqual(['eth0']);
    expect(sides.sideOf(3)).toBe('private');
    expect(sides.sideOf(0)).toBeUndefined();
    const afterOpen = reads;
    indexes.set('eth0', 7);
    expect(sides.sideOf(7)).toBeUndefined(); // within the second: no new read
    expect(reads).toBe(afterOpen);
    t = 1000;
    expect(sides.sideOf(7)).toBe('public');
    expect(sides.missing()).toEqual([]);
    expect(sides.sideOf(9)).toBeUndefined();
  });
});
