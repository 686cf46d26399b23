import type { NetworkInterfaceInfo } from 'node:os';

import { linuxInterfaceIndex, UnknownAdapterError } from '../../../../host/nat-engine/drivers/windivert/interface-index';
import { addressKey, OsLocalAddresses, REFRESH_INTERVAL_MS } from '../../../../host/nat-engine/drivers/windivert/local-addresses';
import { addr } from '../../../support/packets';

const info = (address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo =>
  ({ address, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null }) as NetworkInterfaceInfo;

describe('local addresses', () => {
  it('keys addresses by their bytes', () => {
    expect(addressKey('198.51.100.1')).toBe('c6336401');
    expect(addressKey('2001:db8:1::1')).toBe('20010db8000100000000000000000001');
    expect(addressKey('fe80::1%eth0')).toBe('fe800000000000000000000000000001');
    expect(addressKey('::')).toBe('0'.repeat(32));
    expect(addressKey('not an address')).toBeUndefined();
  });

  it('maps each address to the index of its adapter, and re-reads the table on a miss only when it is stale', () => {
    let now = 1_000;
    let table: Record<string, NetworkInterfaceInfo[]> = {
      'Ethernet 2': [info('198.51.100.1', 'IPv4'), info('2001:db8:1::1', 'IPv6')],
      Loopback: [info('127.0.0.1', 'IPv4')],
      Ghost: [info('192.0.2.9', 'IPv4')], // its index cannot be resolved: left out
    };
    let reads = 0;
    const book = new OsLocalAddresses(
      (name) => {
        if (name === 'Ghost') throw new Error('gone');
        return name === 'Loopback' ? 1 : 12;
      },
      () => {
        reads++;
        return table;
      },
      () => now,
    );
    const at = (text: string): number | undefined => {
      const bytes = addr(text);
      const buf = Buffer.concat([Buffer.alloc(3), bytes]);
      return book.ifIdxOf(buf, 3, bytes.length as 4 | 16);
    };
    expect(at('198.51.100.1')).toBe(12);
    expect(at('2001:db8:1::1')).toBe(12);
    expect(at('127.0.0.1')).toBe(1);
    expect(at('192.0.2.9')).toBeUndefined();
    expect(at('203.0.113.2')).toBeUndefined();
    expect(reads).toBe(1);

    table = { ...table, 'Ethernet 3': [info('203.0.113.1', 'IPv4')] };
    expect(at('203.0.113.1')).toBeUndefined(); // not stale yet
    now += REFRESH_INTERVAL_MS;
    expect(at('203.0.113.1')).toBe(12);
    expect(reads).toBe(2);
  });

  if (process.platform === 'linux') {
    it('resolves Linux interface names from sysfs and refuses unknown or path-like names', () => {
      expect(linuxInterfaceIndex('lo')).toBe(1);
      expect(() => linuxInterfaceIndex('nope0')).toThrow(UnknownAdapterError);
      expect(() => linuxInterfaceIndex('nope0')).toThrow(/no network interface "nope0"/);
      for (const bad of ['', '.', '..', '../lo', 'a/b']) expect(() => linuxInterfaceIndex(bad)).toThrow(/not a valid interface name/);
    });
  }
});
