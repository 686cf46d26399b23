/**
 * A plugin's worker thread terminated from outside (Worker.terminate, the
 * in-process equivalent of SIGKILL: no exception in the plugin, no exit
 * call of its own), while a session's task runs on it and while it is idle.
 * The session whose task was in flight gets its failure policy (closed),
 * counted as `worker-exited`; every other session keeps working, with its
 * data channel; nothing leaks once they end.
 */

import { once } from 'node:events';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { freeClientPort, PluginHostRig } from '../support/plugin-host-rig';
import { until } from '../support/wait';

jest.setTimeout(30_000);

const FIXTURES = join(__dirname, 'fixtures');
const LISTENERS = { from: 4700, to: 4720 };

/**
 * The plugin's worker threads. The pool keeps its Worker objects private,
 * and they are the only handle on a thread from outside it: reached here
 * through the host's internals on purpose, as an outside killer would.
 */
function workersOf(rig: PluginHostRig, plugin: string): Worker[] {
  const instances = (rig.host as unknown as { instances: Map<string, { pool?: { piscina: { threads: Worker[] } } }> }).instances;
  const threads = instances.get(plugin)?.pool?.piscina.threads;
  if (threads === undefined) throw new Error(`no worker pool for ${plugin} (host internals changed?)`);
  return threads;
}

describe('a plugin worker terminated from outside', () => {
  let rig: PluginHostRig;
  afterEach(async () => {
    await rig?.stop();
  });

  async function started(): Promise<number> {
    rig = new PluginHostRig({
      listenerPorts: LISTENERS,
      pluginsDir: FIXTURES,
      plugins: { sleepy: { ports: { tcp: [2202] }, taskTimeoutMs: 10_000, maxThreads: 2, breaker: { threshold: 100, windowMs: 60_000, cooldownMs: 1_000 } } },
    });
    await rig.start();
    await rig.tcpServer(2202, (sock, d) => sock.write(d));
    return rig.listenerPort('sleepy', 'tcp', 2202);
  }

  it('mid-task: that session is closed and counted, the other sessions keep working, nothing leaks', async () => {
    const listener = await started();
    const healthy = await rig.connectThrough(2202, listener, await freeClientPort());
    healthy.sock.write('MAP 6000\r\n');
    await until('healthy mapped', () => healthy.received().includes('mapped'), 10_000);

    const victim = await rig.connectThrough(2202, listener, await freeClientPort());
    victim.sock.write('SLEEP 5000\r\n');
    await until('the victim\'s task is in flight', () => rig.host.status().plugins.find((p) => p.name === 'sleepy')!.tasks >= 2 && workersOf(rig, 'sleepy').length > 0, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const killed = workersOf(rig, 'sleepy');
    expect(killed.length).toBeGreaterThan(0);
    await Promise.all(killed.map((w) => w.terminate()));

    await once(victim.sock, 'close');
    expect(victim.received()).not.toContain('slept');
    healthy.sock.write('still there\r\n');
    await until('healthy answered', () => healthy.received().includes('ok still there'), 10_000);

    const status = rig.host.status();
    const sleepy = status.plugins.find((p) => p.name === 'sleepy')!;
    expect(sleepy.failures['worker-exited']).toBe(1);
    expect(Object.entries(sleepy.failures).filter(([k, n]) => k !== 'worker-exited' && n > 0)).toEqual([]);
    expect(status.sessionsEnded).toMatchObject({ 'plugin-failed': 1 });
    expect(rig.logs.lines.some((l) => l.level === 'error' && l.message.startsWith('plugin task failed'))).toBe(true);
    // The healthy session's data channel is untouched.
    expect(rig.engine.listMappings()).toHaveLength(1);

    healthy.sock.end();
    await until('no session left', () => rig.host.status().sessions.length === 0, 10_000);
    expect(rig.engine.listMappings()).toEqual([]);
    expect(rig.host.status().publicPortsHeld).toBe(0);
  });

  it('between tasks: no session notices, nothing is counted as a failure', async () => {
    const listener = await started();
    const a = await rig.connectThrough(2202, listener, await freeClientPort());
    const b = await rig.connectThrough(2202, listener, await freeClientPort());
    a.sock.write('one\r\n');
    b.sock.write('MAP 6001\r\n');
    await until('both answered', () => a.received().includes('ok one') && b.received().includes('mapped'), 10_000);

    await Promise.all(workersOf(rig, 'sleepy').map((w) => w.terminate()));
    a.sock.write('two\r\n');
    b.sock.write('three\r\n');
    await until('both answered again', () => a.received().includes('ok two') && b.received().includes('ok three'), 10_000);
    const sleepy = rig.host.status().plugins.find((p) => p.name === 'sleepy')!;
    expect(Object.values(sleepy.failures).every((n) => n === 0)).toBe(true);
    expect(rig.host.status().sessions).toHaveLength(2);
    expect(rig.engine.listMappings()).toHaveLength(1);
  });
});
