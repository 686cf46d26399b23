// The pool's service channel in one thread: BroadcastChannel delivers to every other
// channel object of the same name, in this thread too, so a ServiceRouter and
// ServiceClients here talk as the host and its workers do.
import { endpoint, type DataChannel, type DataChannelRequest } from '@algd/sdk';
import type { HostServices } from '@algd/sdk/runtime';
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { ServiceClient, ServiceRouter, type ServiceReply } from '../../../host/plugin-api/worker-pool/service-rpc';

const request: DataChannelRequest = { protocol: 'tcp', private: endpoint('198.51.100.2', 5000), direction: 'inbound' };

function services(publicPort: number, calls: string[] = []): HostServices {
  const refuse = (name: string) => () => {
    calls.push(name);
    return Promise.reject(new Error(`${name} refused on purpose`));
  };
  return {
    async createDataChannel(req: DataChannelRequest): Promise<DataChannel> {
      calls.push(`createDataChannel ${req.private.port}`);
      return { id: publicPort, protocol: req.protocol, private: req.private, public: endpoint('203.0.113.1', publicPort), direction: req.direction, persistent: false };
    },
    removeDataChannel: refuse('removeDataChannel'),
    renewDataChannel: refuse('renewDataChannel'),
    reservePorts: refuse('reservePorts'),
    releasePorts: refuse('releasePorts'),
    bestSourceAddress: refuse('bestSourceAddress'),
  };
}

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

function channel(): { name: string; inFlight: Map<number, HostServices>; refused: number[]; router: ServiceRouter; client(): ServiceClient } {
  const name = `test-services:${randomUUID()}`;
  const inFlight = new Map<number, HostServices>();
  const refused: number[] = [];
  const router = new ServiceRouter(name, (task) => inFlight.get(task), (task) => refused.push(task));
  opened.push(router);
  return {
    name,
    inFlight,
    refused,
    router,
    client() {
      const c = new ServiceClient(name);
      opened.push(c);
      return c;
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the call succeeded');
}

describe('service RPC over the pool channel', () => {
  it('serves a call with the services of the task it names', async () => {
    const ch = channel();
    const calls: string[] = [];
    ch.inFlight.set(1, services(40_001, calls));
    ch.inFlight.set(2, services(40_002));
    const channelOut = await ch.client().forTask(1).createDataChannel(request);
    expect(channelOut.public).toEqual(endpoint('203.0.113.1', 40_001));
    expect(calls).toEqual(['createDataChannel 5000']);
  });

  it('carries renewDataChannel with both arguments, and its refusal back', async () => {
    const ch = channel();
    const seen: unknown[][] = [];
    ch.inFlight.set(1, { ...services(40_001), renewDataChannel: async (...args: unknown[]) => { seen.push(args); } } as HostServices);
    ch.inFlight.set(2, services(40_002));
    await expect(ch.client().forTask(1).renewDataChannel(7, 90_000)).resolves.toBeUndefined();
    expect(seen).toEqual([[7, 90_000]]);
    expect(await rejection(ch.client().forTask(2).renewDataChannel(7, 90_000))).toBe('renewDataChannel refused on purpose');
  });

  it('rejects with the message of a service that throws', async () => {
    const ch = channel();
    ch.inFlight.set(1, services(40_001));
    expect(await rejection(ch.client().forTask(1).reservePorts({ protocol: 'udp', count: 2 } as never))).toBe('reservePorts refused on purpose');
  });

  it('a call naming a task not in flight (ended, timed out) reaches no services and is refused', async () => {
    const ch = channel();
    const calls: string[] = [];
    ch.inFlight.set(2, services(40_002, calls));
    expect(await rejection(ch.client().forTask(1).createDataChannel(request))).toBe('host service createDataChannel: the task is not running (it ended or timed out)');
    expect(calls).toEqual([]);
    expect(ch.refused).toEqual([1]);
  });

  it('two workers whose calls have the same call id each get their own answer', async () => {
    const ch = channel();
    ch.inFlight.set(1, services(40_001));
    ch.inFlight.set(2, services(40_002));
    const [a, b] = await Promise.all([ch.client().forTask(1).createDataChannel(request), ch.client().forTask(2).createDataChannel(request)]);
    expect(a.public.port).toBe(40_001);
    expect(b.public.port).toBe(40_002);
  });

  it('a task that ended: its waiting calls reject, later calls reject at once, a late answer is dropped', async () => {
    const ch = channel();
    let answer!: (c: DataChannel) => void;
    const slow: HostServices = { ...services(40_001), createDataChannel: () => new Promise((r) => (answer = r)) };
    ch.inFlight.set(1, slow);
    const client = ch.client();
    const task = client.forTask(1);
    const waiting = rejection(task.createDataChannel(request));
    // The host got the call; the task ends before the service answers.
    for (let i = 0; i < 100 && answer === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    expect(answer).toBeDefined();
    task.close();
    ch.inFlight.delete(1);
    expect(await waiting).toBe('the task ended');
    expect(await rejection(task.removeDataChannel(1 as never))).toBe('host service removeDataChannel called after the task ended');

    const seen: ServiceReply[] = [];
    const listener = new BroadcastChannel(ch.name);
    opened.push(listener);
    listener.onmessage = (e) => seen.push((e as MessageEvent).data as ServiceReply);
    answer({ id: 9, protocol: 'tcp', private: request.private, public: endpoint('203.0.113.1', 40_009), direction: 'inbound', persistent: false });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
  });

  it('refuses unknown methods, and arguments that cannot be sent', async () => {
    const ch = channel();
    const calls: string[] = [];
    ch.inFlight.set(1, services(40_001, calls));
    const client = ch.client();
    expect(await rejection(client.call(1, 'constructor' as never, []))).toBe('no host service named "constructor"');
    expect(await rejection(client.forTask(1).createDataChannel({ ...request, hook: () => 1 } as never))).toMatch(/^host service createDataChannel: arguments cannot be sent to the host: .*could not be cloned/);
    expect(calls).toEqual([]);
  });

  it('ignores what is not a call, and answers nothing after it is closed', async () => {
    const ch = channel();
    const calls: string[] = [];
    ch.inFlight.set(1, services(40_001, calls));
    const raw = new BroadcastChannel(ch.name);
    opened.push(raw);
    const seen: unknown[] = [];
    raw.onmessage = (e) => seen.push((e as MessageEvent).data);
    raw.postMessage('hello');
    raw.postMessage({ task: 1, call: 1, ok: true, value: 1 });
    raw.postMessage({ task: '1', call: 1, method: 'createDataChannel', args: [request] });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
    ch.router.close();
    raw.postMessage({ task: 1, call: 2, method: 'createDataChannel', args: [request] });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
    expect(calls).toEqual([]);
  });
});
