/**
 * Every built-in plugin through the SDK test kit, under random
 * conversations of protocol-like bytes: no handler ever throws (a throw is
 * a plugin crash in the host), the result does not depend on how TCP cut
 * the stream, every counter is a positive integer, every data channel names
 * a session peer as its private end and ends with the session.
 *
 * The SIP and RTSP plugins run through the same properties as FTP, with
 * SIP- and RTSP-shaped streams (SIP over TCP and over UDP).
 */

import fc from 'fast-check';
import { endpoint, type PluginDefinition } from '@algd/sdk';
import type { PluginTestSessionOptions } from '@algd/sdk/testing';
import ftp from '@algd/plugin-ftp';
import rtsp from '@algd/plugin-rtsp';
import sip from '@algd/plugin-sip';
import { converse, expectPluginInvariants, type Step } from './plugin-harness';
import { cuts, ftpStream, sipStream } from './streams';
import { FUZZ_TEST_TIMEOUT_MS, fuzzParams } from './fuzz-settings';

jest.setTimeout(FUZZ_TEST_TIMEOUT_MS);

const CLIENT = endpoint('198.51.100.2', 40000);
const BOUNDARY = endpoint('203.0.113.1', 45000);
const PEERS = ['198.51.100.2', '203.0.113.2'];

interface Target {
  readonly title: string;
  readonly plugin: PluginDefinition<any, any>;
  readonly setup: PluginTestSessionOptions;
  readonly stream: () => fc.Arbitrary<Uint8Array>;
}

const TARGETS: readonly Target[] = [
  { title: 'FTP plugin (plugins/ftp), TCP 21', plugin: ftp, setup: { client: CLIENT, server: endpoint('203.0.113.2', 21), boundary: BOUNDARY }, stream: ftpStream },
  { title: 'SIP plugin (plugins/sip), TCP 5060', plugin: sip, setup: { protocol: 'tcp', client: CLIENT, server: endpoint('203.0.113.2', 5060), boundary: BOUNDARY }, stream: sipStream },
  { title: 'SIP plugin (plugins/sip), UDP 5060', plugin: sip, setup: { protocol: 'udp', client: endpoint('198.51.100.2', 5060), server: endpoint('203.0.113.2', 5060), boundary: endpoint('203.0.113.1', 5060) }, stream: sipStream },
  { title: 'RTSP plugin (plugins/rtsp), TCP 554', plugin: rtsp, setup: { client: CLIENT, server: endpoint('203.0.113.2', 554), boundary: BOUNDARY }, stream: sipStream },
];

const conversation = (stream: () => fc.Arbitrary<Uint8Array>): fc.Arbitrary<Step[]> =>
  fc.array(fc.record({ from: fc.constantFrom('client' as const, 'server' as const), bytes: stream(), cuts: cuts() }), { minLength: 1, maxLength: 8 });

for (const target of TARGETS) {
  describe(target.title, () => {
    it('never throws; counters, data channels and their end as every plugin must', async () => {
      await fc.assert(fc.asyncProperty(conversation(target.stream), async (steps) => {
        expectPluginInvariants(await converse(target.plugin, target.setup, steps, true), PEERS);
      }), fuzzParams(300));
    });

    if (target.setup.protocol !== 'udp') {
      it('split anywhere: the same bytes each way, counters and data channels as with whole sends', async () => {
        await fc.assert(fc.asyncProperty(conversation(target.stream), async (steps) => {
          const whole = await converse(target.plugin, target.setup, steps, false);
          const split = await converse(target.plugin, target.setup, steps, true);
          expect({ ...split, delivered: 0 }).toEqual({ ...whole, delivered: 0 });
        }), fuzzParams(300));
      });
    }
  });
}

describe('FTP plugin: what reaches the server', () => {
  it('every PORT/EPRT the server receives names the gateway\'s boundary address and a port the plugin mapped', async () => {
    let announced = 0;
    await fc.assert(fc.asyncProperty(conversation(ftpStream), async (steps) => {
      const o = await converse(ftp, TARGETS[0]!.setup, steps, true);
      const mapped = new Set(o.channels.map((c) => c.public));
      for (const line of o.toServer.split('\n')) {
        const port = /^PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\r?$/i.exec(line);
        const eprt = /^EPRT \|1\|([0-9.]+)\|(\d+)\|\r?$/i.exec(line);
        if (port) {
          announced++;
          const e = `${port.slice(1, 5).join('.')}:${Number(port[5]) * 256 + Number(port[6])}`;
          expect(e).toMatch(/^203\.0\.113\.1:/);
          expect([...mapped]).toContain(e);
        } else if (eprt) {
          announced++;
          const e = `${eprt[1]}:${eprt[2]}`;
          expect(e).toMatch(/^203\.0\.113\.1:/);
          expect([...mapped]).toContain(e);
        } else {
          // Nothing else that starts like a data-port command goes through unrewritten.
          expect(line).not.toMatch(/^(PORT|EPRT) .*198[.,]51[.,]100/i);
        }
      }
    }), fuzzParams(300));
    expect(announced).toBeGreaterThan(0);
  });
});
