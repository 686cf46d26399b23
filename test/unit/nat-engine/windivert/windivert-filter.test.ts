import type { CaptureSpec } from '../../../../host/nat-engine/drivers/capture-spec';
import { buildWindivertFilter, WindivertFilterError } from '../../../../host/nat-engine/drivers/windivert/windivert-filter';
import { port } from '@algd/sdk';
import { labCaptureSpec } from '../../../../host/lab/lab-capture-spec';

const INDEXES = new Map([
  ['priv0', 2],
  ['pub0', 3],
  ['priv1', 7],
  ['wan2', 11],
]);

const BASE: CaptureSpec = labCaptureSpec();

describe('buildWindivertFilter', () => {
  it('captures FTP control, listener replies and inbound data channels for one private and one public adapter', () => {
    expect(buildWindivertFilter(BASE, INDEXES)).toBe(
      '(inbound and ifIdx == 2 and tcp.DstPort == 21)' +
        ' or (outbound and not loopback and ifIdx == 3 and tcp.DstPort == 21 and (tcp.SrcPort < 3000 or tcp.SrcPort > 5000))' +
        ' or (outbound and (loopback or ifIdx == 2) and (tcp.SrcPort >= 3000 and tcp.SrcPort <= 5000))' +
        ' or (inbound and (ifIdx == 2 or ifIdx == 3) and ((tcp.DstPort >= 61000 and tcp.DstPort <= 64999) or (udp.DstPort >= 61000 and udp.DstPort <= 64999)))',
    );
  });

  it('merges consecutive ports into ranges, keeps protocols apart, lists every adapter, and guards a single family', () => {
    const spec: CaptureSpec = {
      ...BASE,
      families: [4],
      adapters: [...BASE.adapters, { name: 'priv1', side: 'private' }, { name: 'wan2', side: 'public' }],
      controlPorts: [
        { protocol: 'tcp', port: port(554) },
        { protocol: 'udp', port: port(5060) },
        { protocol: 'tcp', port: port(21) },
        { protocol: 'tcp', port: port(555) },
        { protocol: 'tcp', port: port(21) },
      ],
    };
    expect(buildWindivertFilter(spec, INDEXES)).toBe(
      'ip and (' +
        '(inbound and (ifIdx == 2 or ifIdx == 7) and (tcp.DstPort == 21 or (tcp.DstPort >= 554 and tcp.DstPort <= 555) or udp.DstPort == 5060))' +
        ' or (outbound and not loopback and (ifIdx == 3 or ifIdx == 11) and (((tcp.DstPort == 21 or (tcp.DstPort >= 554 and tcp.DstPort <= 555)) and (tcp.SrcPort < 3000 or tcp.SrcPort > 5000)) or (udp.DstPort == 5060 and (udp.SrcPort < 3000 or udp.SrcPort > 5000))))' +
        ' or (outbound and (loopback or ifIdx == 2 or ifIdx == 7) and ((tcp.SrcPort >= 3000 and tcp.SrcPort <= 5000) or (udp.SrcPort >= 3000 and udp.SrcPort <= 5000)))' +
        ' or (inbound and (ifIdx == 2 or ifIdx == 3 or ifIdx == 7 or ifIdx == 11) and ((tcp.DstPort >= 61000 and tcp.DstPort <= 64999) or (udp.DstPort >= 61000 and udp.DstPort <= 64999)))' +
        // A UDP control port: the relays' upstream sockets, in listenerPorts, on public adapters.
        ' or (inbound and (ifIdx == 3 or ifIdx == 11) and (udp.DstPort >= 3000 and udp.DstPort <= 5000))' +
        ')',
    );
  });

  it('guards IPv6-only captures with ipv6, and writes single-port ranges as equality', () => {
    const spec: CaptureSpec = { ...BASE, families: [6], controlPorts: [], mappingPorts: { from: 62000, to: 62000 } };
    expect(buildWindivertFilter(spec, INDEXES)).toBe('ipv6 and inbound and (ifIdx == 2 or ifIdx == 3) and (tcp.DstPort == 62000 or udp.DstPort == 62000)');
  });

  it('excludes the host\'s upstream ports at the edges of the port space correctly', () => {
    const low = buildWindivertFilter({ ...BASE, listenerPorts: { from: 1, to: 5000 } }, INDEXES);
    expect(low).toContain('tcp.DstPort == 21 and tcp.SrcPort > 5000)');
    const all = buildWindivertFilter({ ...BASE, listenerPorts: { from: 1, to: 65535 }, mappingPorts: { from: 1, to: 1 } }, INDEXES);
    expect(all).toContain('tcp.DstPort == 21 and tcp.SrcPort == 0)');
  });

  it('without private adapters, listener replies are captured on loopback only; without any adapter, nothing', () => {
    const spec: CaptureSpec = { ...BASE, adapters: [{ name: 'pub0', side: 'public' }] };
    expect(buildWindivertFilter(spec, INDEXES)).toBe(
      '(outbound and not loopback and ifIdx == 3 and tcp.DstPort == 21 and (tcp.SrcPort < 3000 or tcp.SrcPort > 5000))' +
        ' or (outbound and loopback and (tcp.SrcPort >= 3000 and tcp.SrcPort <= 5000))' +
        ' or (inbound and ifIdx == 3 and ((tcp.DstPort >= 61000 and tcp.DstPort <= 64999) or (udp.DstPort >= 61000 and udp.DstPort <= 64999)))',
    );
    expect(buildWindivertFilter({ ...BASE, adapters: [] }, INDEXES)).toBe('outbound and loopback and (tcp.SrcPort >= 3000 and tcp.SrcPort <= 5000)');
  });

  it.each<[string, Partial<CaptureSpec>, ReadonlyMap<string, number>, RegExp]>([
    ['an adapter without index', { adapters: [{ name: 'eth9', side: 'private' }] }, INDEXES, /adapter "eth9" has no interface index/],
    ['index 0', BASE, new Map([['priv0', 0], ['pub0', 3]]), /adapter "priv0": interface index must be 1\.\.4294967295, got 0/],
    ['a fractional index', BASE, new Map([['priv0', 2.5], ['pub0', 3]]), /got 2\.5/],
    ['port 0', { controlPorts: [{ protocol: 'tcp', port: 0 as never }] }, INDEXES, /control port \(tcp\) must be a port 1-65535, got 0/],
    ['port 65536', { controlPorts: [{ protocol: 'udp', port: 65536 as never }] }, INDEXES, /got 65536/],
    ['an unknown protocol', { controlPorts: [{ protocol: 'sctp' as never, port: port(9) }] }, INDEXES, /protocol must be tcp or udp, got sctp/],
    ['an empty range', { listenerPorts: { from: 5000, to: 3000 } }, INDEXES, /listenerPorts is empty \(5000 > 3000\)/],
    ['a range past 65535', { mappingPorts: { from: 61000, to: 70000 } }, INDEXES, /mappingPorts\.to must be a port/],
    ['no family', { families: [] }, INDEXES, /families must be a non-empty subset of \[4, 6\]/],
    ['family 5', { families: [5 as never] }, INDEXES, /got \[5\]/],
  ])('refuses %s', (_what, patch, indexes, message) => {
    expect(() => buildWindivertFilter({ ...BASE, ...patch }, indexes)).toThrow(WindivertFilterError);
    expect(() => buildWindivertFilter({ ...BASE, ...patch }, indexes)).toThrow(message);
  });

  it('refuses a capture WinDivert could not compile (too many tests)', () => {
    const controlPorts = Array.from({ length: 100 }, (_, i) => ({ protocol: 'tcp' as const, port: port(100 + 2 * i) }));
    expect(() => buildWindivertFilter({ ...BASE, controlPorts }, INDEXES)).toThrow(/needs \d+ filter tests, more than WinDivert's limit allows \(200\)/);
  });
});
