/**
 * Removing a mapping with its flows (`closeFlows`): a call's media after
 * its BYE. Only that mapping's flows go, at once, and its public port is
 * released then; without `closeFlows` an answered UDP flow keeps it until
 * the flow idles out.
 */

import { endpoint, ipAddress } from '@algd/sdk';
import { NatEngine } from '../../../host/nat-engine/nat-engine';
import type { PacketMeta } from '../../../host/nat-engine/packet-meta';
import type { MappingSpec } from '../../../host/nat-engine/translation/mapping';
import { buildPacket, toHex, type IpSpec } from '../../support/packets';

const PHONE = '198.51.100.2';
const GW_PUBLIC = '203.0.113.1';
const FAR = '203.0.113.2';

const fromPrivate: PacketMeta = { origin: 'private', stage: 'single' };
const fromPublic: PacketMeta = { origin: 'public', stage: 'single' };

const v4 = (src: string, dst: string): IpSpec => ({ family: 4, src, dst, ttl: 64, id: 0x1234, dontFragment: true });
const rtp = (src: string, srcPort: number, dst: string, dstPort: number): Buffer => buildPacket(v4(src, dst), { kind: 'udp', srcPort, dstPort, payload: Buffer.from('rtp') });

/** An RTP channel of a call: the phone's port both ways through a public port, restricted to the far side. */
const media = (phonePort: number, publicPort: number): MappingSpec => ({
  protocol: 'udp',
  private: endpoint(PHONE, phonePort),
  public: endpoint(GW_PUBLIC, publicPort),
  remote: { address: ipAddress(FAR) },
  direction: 'both',
  persistent: true,
  owner: 'sip-1',
});

function run(engine: NatEngine, packet: Buffer, meta: PacketMeta): [string, string] {
  const copy = Buffer.from(packet);
  return [engine.process(copy, meta), toHex(copy)];
}

/** Two calls' RTP, each answered by the far side: two mappings with one flow each. */
function twoCalls(now: () => number): { engine: NatEngine; events: string[]; first: ReturnType<NatEngine['createMapping']>; second: ReturnType<NatEngine['createMapping']> } {
  const events: string[] = [];
  const engine = new NatEngine({
    now,
    events: { mappingEnded: (m, reason) => events.push(`ended ${m.id} ${reason}`), mappingReleased: (m) => events.push(`released ${m.id}`) },
  });
  const first = engine.createMapping(media(10000, 61000));
  const second = engine.createMapping(media(10004, 61004));
  for (const [phonePort, publicPort] of [[10000, 61000], [10004, 61004]] as const) {
    expect(run(engine, rtp(PHONE, phonePort, FAR, 20000), fromPrivate)).toEqual(['translated', toHex(rtp(GW_PUBLIC, publicPort, FAR, 20000))]);
    expect(run(engine, rtp(FAR, 20000, GW_PUBLIC, publicPort), fromPublic)).toEqual(['translated', toHex(rtp(FAR, 20000, PHONE, phonePort))]);
  }
  expect(engine.flowCount).toBe(2);
  return { engine, events, first, second };
}

describe('NatEngine: removing a mapping with its flows', () => {
  it('closes only that mapping\'s flow, releases it at once, and its later datagrams are no longer translated', () => {
    let t = 1_000_000;
    const { engine, events, first, second } = twoCalls(() => t);
    engine.removeMapping(first, { closeFlows: true });
    expect(events).toEqual([`ended ${first.id} removed`, `released ${first.id}`]);
    expect(first.liveFlows).toBe(0);
    expect(engine.flowCount).toBe(1);
    expect(engine.listMappings()).toEqual([second]);
    // A straggler of the ended call: no flow, no mapping.
    const late = rtp(FAR, 20000, GW_PUBLIC, 61000);
    expect(run(engine, late, fromPublic)).toEqual(['pass', toHex(late)]);
    // The other call goes on.
    expect(run(engine, rtp(FAR, 20000, GW_PUBLIC, 61004), fromPublic)).toEqual(['translated', toHex(rtp(FAR, 20000, PHONE, 10004))]);
    expect(second.liveFlows).toBe(1);
    // Closing again, or closing a mapping without flows, does nothing more.
    engine.removeMapping(first, { closeFlows: true });
    t += 1;
    engine.tick();
    expect(events).toEqual([`ended ${first.id} removed`, `released ${first.id}`]);
  });

  it('without closeFlows the answered flow keeps the mapping (and its port) until it idles out: 180 s', () => {
    let t = 1_000_000;
    const { engine, events, first } = twoCalls(() => t);
    engine.removeMapping(first);
    expect(events).toEqual([`ended ${first.id} removed`]);
    expect(first.liveFlows).toBe(1);
    t += 179_999;
    engine.tick();
    expect(events).toEqual([`ended ${first.id} removed`]);
    t += 1;
    engine.tick();
    expect(events).toEqual([`ended ${first.id} removed`, `released ${first.id}`]);
  });

  it('a mapping whose flow already ended closes nothing else', () => {
    let t = 1_000_000;
    const { engine, events, first, second } = twoCalls(() => t);
    engine.removeMapping(first);
    t += 180_000;
    engine.tick();
    // Both flows idled out; the second mapping is still active, without a flow.
    expect(engine.flowCount).toBe(0);
    expect(events).toEqual([`ended ${first.id} removed`, `released ${first.id}`]);
    engine.removeMapping(second, { closeFlows: true });
    expect(events).toEqual([`ended ${first.id} removed`, `released ${first.id}`, `ended ${second.id} removed`, `released ${second.id}`]);
    expect(engine.listMappings()).toEqual([]);
  });
});
