import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RouteLocalnet } from '../../../../host/nat-engine/drivers/nfqueue/route-localnet';

describe('route_localnet on private adapters', () => {
  let dir: string;
  let conf: string;
  let state: string;
  const value = (iface: string): string => readFileSync(join(conf, iface, 'route_localnet'), 'utf8').trim();
  const make = (): RouteLocalnet => new RouteLocalnet({ stateDir: state, confDir: conf, namespaceId: 'net1' });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'algd-localnet-'));
    conf = join(dir, 'conf');
    state = join(dir, 'run');
    for (const [iface, v] of [['eth1', '0'], ['eth2', '1']] as const) {
      mkdirSync(join(conf, iface), { recursive: true });
      writeFileSync(join(conf, iface, 'route_localnet'), `${v}\n`);
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records the values found, sets 1, and puts them back on restore (once)', () => {
    const r = make();
    r.enable(['eth1', 'eth2', 'absent0']);
    expect([value('eth1'), value('eth2')]).toEqual(['1', '1']);
    expect(JSON.parse(readFileSync(r.stateFile, 'utf8')).routeLocalnet).toEqual({ eth1: '0', eth2: '1' });
    expect(r.restore()).toEqual(['eth1', 'eth2']);
    expect([value('eth1'), value('eth2')]).toEqual(['0', '1']);
    expect(readdirSync(state)).toEqual([]);
    expect(r.restore()).toEqual([]);
  });

  it('a run after a crash restores what the crashed run recorded, even after several crashes', () => {
    make().enable(['eth1']); // killed: never restored
    const second = make();
    expect(second.recover()).toEqual(['eth1']);
    expect(value('eth1')).toBe('0');
    second.enable(['eth1']); // killed again
    const third = make();
    third.recover();
    third.enable(['eth1']);
    third.restore();
    expect(value('eth1')).toBe('0');
    expect(readdirSync(state)).toEqual([]);
  });

  it('enabled again (a reload), adds new interfaces and keeps the first values found for the others', () => {
    const r = make();
    r.enable(['eth1']);
    r.enable(['eth1', 'eth2']);
    expect(JSON.parse(readFileSync(r.stateFile, 'utf8')).routeLocalnet).toEqual({ eth1: '0', eth2: '1' });
    writeFileSync(join(conf, 'eth2', 'route_localnet'), '0\n');
    r.enable(['eth2']);
    expect(value('eth2')).toBe('0');
    expect(r.restore()).toEqual(['eth1', 'eth2']);
    expect([value('eth1'), value('eth2')]).toEqual(['0', '1']);
  });

  it('keeps namespaces apart and refuses names that are not interface names', () => {
    make().enable(['eth1']);
    expect(new RouteLocalnet({ stateDir: state, confDir: conf, namespaceId: 'net2' }).recover()).toEqual([]);
    expect(value('eth1')).toBe('1');
    expect(() => make().enable(['../eth1'])).toThrow(RangeError);
  });
});
