import { endpoint, port } from '@algd/sdk';
import { MemoryDriver, type DeliveredPacket } from '../../../host/nat-engine/drivers/memory-driver';
import type { CaptureSpec } from '../../../host/nat-engine/drivers/capture-spec';
import { NatEngine } from '../../../host/nat-engine/nat-engine';
import { buildPacket, TCP_FLAGS, toHex } from '../../support/packets';
import { labCaptureSpec } from '../../../host/lab/lab-capture-spec';

const spec: CaptureSpec = labCaptureSpec();

describe('memory driver', () => {
  const syn = buildPacket({ family: 4, src: '198.51.100.2', dst: '203.0.113.2', ttl: 64 }, { kind: 'tcp', srcPort: 40000, dstPort: 21, flags: TCP_FLAGS.SYN });

  it('passes injected packets through the engine and delivers what leaves, leaving the caller\'s bytes alone', async () => {
    const engine = new NatEngine();
    engine.addRedirect({ protocol: 'tcp', port: port(21), listener: endpoint('127.0.0.1', 3001) });
    const driver = new MemoryDriver();
    const delivered: DeliveredPacket[] = [];
    driver.on('packet', (p) => delivered.push(p));
    await driver.open(spec, engine);

    const original = toHex(syn);
    const out = driver.inject(syn, { origin: 'private', stage: 'single' });
    expect(toHex(syn)).toBe(original);
    const expected = toHex(buildPacket({ family: 4, src: '198.51.100.2', dst: '127.0.0.1', ttl: 64 }, { kind: 'tcp', srcPort: 40000, dstPort: 3001, flags: TCP_FLAGS.SYN }));
    expect(toHex(out!)).toBe(expected);
    expect(delivered.map((d) => [d.outcome, toHex(d.packet)])).toEqual([['translated', expected]]);
    expect(driver.stats).toEqual({ received: 1, accepted: 1, dropped: 0, modified: 1, errors: 0 });
  });

  it('reports drops instead of delivering them, and refuses packets once closed', async () => {
    const driver = new MemoryDriver();
    const drops: string[] = [];
    driver.on('drop', (p) => drops.push(p.outcome));
    await driver.open(spec, new NatEngine());
    expect(driver.inject(Buffer.from([0x45, 0x00]), { origin: 'public', stage: 'single' })).toBeUndefined();
    expect(drops).toEqual(['truncated-ip-header']);
    expect(driver.stats).toMatchObject({ received: 1, dropped: 1 });
    await driver.close();
    expect(driver.isOpen).toBe(false);
    expect(() => driver.inject(syn, { origin: 'private', stage: 'single' })).toThrow(/not open/);
  });
});
