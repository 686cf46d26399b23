import { definePlugin, endpoint, port, type PluginDefinition } from '@algd/sdk';
import { PluginTestSession, TEST_SESSION_DEFAULTS } from '@algd/sdk/testing';

/** A line-framed TCP plugin: upper-cases client lines, answers QUIT itself and closes, counts lines. */
const shout = definePlugin<{ greeting: string }, { lines: number }>({
  name: 'shout',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  controlChannels: [{ protocol: 'tcp', ports: [port(2121)], framing: { kind: 'lines', maxLineLength: 32 } }],
  options: {
    parse(input) {
      const o = (input ?? {}) as { greeting?: unknown };
      if (o.greeting !== undefined && typeof o.greeting !== 'string') throw new Error('greeting: must be a string');
      return { greeting: o.greeting ?? 'hi' };
    },
  },
  initialState: () => ({ lines: 0 }),
  onClientMessage(msg, ctx) {
    ctx.state.lines++;
    ctx.count('lines');
    if (msg.toString('latin1') === 'QUIT\r\n') return { forward: null, respond: `221 ${ctx.options.greeting}\r\n`, close: true };
    if (msg.toString('latin1') === 'BOOM\r\n') throw new Error('boom');
    ctx.log.info('line', { length: msg.length });
    return msg.toString('latin1').toUpperCase();
  },
});

describe('PluginTestSession', () => {
  it('sets the session up from the plugin and the defaults', () => {
    const t = new PluginTestSession(shout);
    expect(t.session).toEqual({
      id: 'shout-1',
      plugin: 'shout',
      protocol: 'tcp',
      client: endpoint('198.51.100.2', 40000),
      server: endpoint('203.0.113.2', 2121),
      boundary: endpoint('203.0.113.1', 61234),
      clientSide: 'private',
      adapters: TEST_SESSION_DEFAULTS.adapters,
    });
    expect(t.options).toEqual({ greeting: 'hi' });
    expect(t.state).toBeUndefined();
    expect(t.closed).toBe(false);
  });

  it('parses options with the plugin parser and throws its error', () => {
    expect(new PluginTestSession(shout, { options: { greeting: 'hello' } }).options).toEqual({ greeting: 'hello' });
    expect(() => new PluginTestSession(shout, { options: { greeting: 7 } })).toThrow('greeting: must be a string');
  });

  it('refuses a protocol the plugin does not capture', () => {
    expect(() => new PluginTestSession(shout, { protocol: 'udp' })).toThrow('plugin shout has no udp control channel');
  });

  it('frames a TCP stream: partial lines wait, each line is one task, exact bytes reach the server', async () => {
    const t = new PluginTestSession(shout);
    await t.clientSends('user a');
    expect(t.server.messages).toEqual([]);
    await t.clientSends('nna\r\npass x\r\nli');
    expect(t.server.messages).toEqual([Buffer.from('USER ANNA\r\n'), Buffer.from('PASS X\r\n')]);
    expect(t.server.received).toEqual(Buffer.from('USER ANNA\r\nPASS X\r\n'));
    expect(t.state).toEqual({ lines: 2 });
    expect(t.counters).toEqual({ lines: 2 });
    expect(t.logs).toEqual([
      { level: 'info', message: 'line', fields: { length: 11 } },
      { level: 'info', message: 'line', fields: { length: 8 } },
    ]);
  });

  it('forwards server messages unchanged when the plugin has no server handler', async () => {
    const t = new PluginTestSession(shout);
    await t.serverSends(Buffer.from('220 ready\r\n'));
    expect(t.client.text).toBe('220 ready\r\n');
    expect(t.server.messages).toEqual([]);
  });

  it('delivers a respond to the sender and closes the session on close', async () => {
    const t = new PluginTestSession(shout, { options: { greeting: 'bye' } });
    await t.clientSends('QUIT\r\nNOOP\r\n');
    expect(t.client.text).toBe('221 bye\r\n');
    expect(t.server.messages).toEqual([]);
    expect(t.closed).toBe(true);
    expect(t.state).toEqual({ lines: 1 }); // NOOP after the closing verdict is never read
    await expect(t.clientSends('NOOP\r\n')).rejects.toThrow('session shout-1 is closed');
  });

  it('rejects the send with the handler error and keeps the state from before it', async () => {
    const t = new PluginTestSession(shout);
    await t.clientSends('a\r\n');
    await expect(t.clientSends('BOOM\r\n')).rejects.toThrow('boom');
    expect(t.state).toEqual({ lines: 1 });
    await t.clientSends('b\r\n'); // later sends still run
    expect(t.server.text).toBe('A\r\nB\r\n');
  });

  it('ends the session on a framing violation and counts it', async () => {
    const t = new PluginTestSession(shout);
    await t.clientSends('x'.repeat(40));
    expect(t.closed).toBe(true);
    expect(t.counters).toEqual({ 'framing-line-too-long': 1 });
    expect(t.server.messages).toEqual([]);
  });

  it('passes the state through structuredClone between tasks', async () => {
    class Box {
      n = 0;
      bump(): void { this.n++; }
    }
    const boxed = definePlugin<undefined, { box: Box }>({
      name: 'boxed',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      controlChannels: [{ protocol: 'udp', ports: [port(9)] }],
      initialState: () => ({ box: new Box() }),
      onClientMessage(_msg, ctx) {
        ctx.state.box.bump(); // works on the first task only: the clone is a plain object
      },
    });
    const t = new PluginTestSession(boxed);
    await t.clientSends('1');
    expect(t.state).toEqual({ box: { n: 1 } });
    await expect(t.clientSends('2')).rejects.toThrow(TypeError);

    const withFunction = definePlugin<undefined, { f?: () => void }>({
      name: 'fn',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      controlChannels: [{ protocol: 'udp', ports: [port(9)] }],
      onClientMessage(_msg, ctx) {
        ctx.state.f = () => undefined;
      },
    });
    await expect(new PluginTestSession(withFunction).clientSends('x')).rejects.toThrow(/could not be cloned/);
  });

  it('treats each UDP send as one datagram and checks it against the framing', async () => {
    const sipUdp = definePlugin({
      name: 'sipudp',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      controlChannels: [{ protocol: 'udp', ports: [port(5060)], framing: { kind: 'sip' } }],
    });
    const t = new PluginTestSession(sipUdp);
    expect(t.session.client).toEqual(endpoint('198.51.100.2', 40000));
    const options = 'OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nContent-Length: 0\r\n\r\n';
    await t.clientSends(options);
    await t.clientSends(options);
    expect(t.server.messages).toEqual([Buffer.from(options), Buffer.from(options)]);
    await t.clientSends('OPTIONS sip:a@203.0.113.2 SIP/2.0\r\nContent-Length: 5\r\n\r\n');
    expect(t.closed).toBe(true);
    expect(Object.keys(t.counters)).toEqual([expect.stringMatching(/^framing-/)]);
  });

  it('runs tasks one at a time in call order even when the test does not await', async () => {
    const slow = definePlugin<undefined, { seen: string[] }>({
      name: 'slow',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      controlChannels: [{ protocol: 'udp', ports: [port(9)] }],
      initialState: () => ({ seen: [] }),
      async onClientMessage(msg, ctx) {
        await new Promise((r) => setTimeout(r, msg.length));
        ctx.state.seen.push(msg.toString());
      },
    });
    const t = new PluginTestSession(slow);
    await Promise.all([t.clientSends('aaaaaaaaaaaaaaaaaaaa'), t.clientSends('b'), t.serverSends('c')]);
    expect(t.state).toEqual({ seen: ['aaaaaaaaaaaaaaaaaaaa', 'b'] });
    expect(t.client.text).toBe('c');
  });

  it('chooses the control channel that captures the given server port', async () => {
    const two: PluginDefinition = definePlugin({
      name: 'two',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      controlChannels: [
        { protocol: 'tcp', ports: [port(1)], framing: { kind: 'raw' } },
        { protocol: 'tcp', ports: [port(2)], framing: { kind: 'lines', maxLineLength: 4 } },
      ],
    });
    const t = new PluginTestSession(two, { server: endpoint('203.0.113.9', 2) });
    await t.clientSends('toolong');
    expect(t.counters).toEqual({ 'framing-line-too-long': 1 });
    const raw = new PluginTestSession(two);
    await raw.clientSends('toolong');
    expect(raw.server.text).toBe('toolong');
  });
});

/** A UDP plugin that sets its session's idle timeout from each datagram: a number, `default` (none), `keep` (leaves it), or anything else as given. */
const idler = definePlugin({
  name: 'idler',
  version: '1.0.0',
  apiVersion: '^0.4.0',
  controlChannels: [{ protocol: 'udp', ports: [port(5060)] }],
  onClientMessage(msg, ctx) {
    const ask = msg.toString('latin1');
    if (ask === 'default') ctx.setIdleTimeout();
    else if (ask !== 'keep') ctx.setIdleTimeout(Number(ask));
    return { forward: null };
  },
});

describe('PluginTestSession: the idle timeout a plugin sets (API 0.4.0)', () => {
  it('keeps what the last task set, until another task changes it', async () => {
    const t = new PluginTestSession(idler);
    expect(t.idleTimeoutMs).toBeUndefined();
    await t.clientSends('5000');
    expect(t.idleTimeoutMs).toBe(5000);
    await t.clientSends('keep');
    expect(t.idleTimeoutMs).toBe(5000);
    await t.clientSends('86400000');
    expect(t.idleTimeoutMs).toBe(86_400_000);
    await t.clientSends('default');
    expect(t.idleTimeoutMs).toBeUndefined();
    await t.clientSends('1000');
    expect(t.idleTimeoutMs).toBe(1000);
  });

  it('refuses a timeout that is not a whole number of ms from 1 s to 24 h: the handler throws, nothing changes', async () => {
    const t = new PluginTestSession(idler);
    await t.clientSends('5000');
    for (const bad of ['999', '86400001', '1500.5', 'NaN', '-1', '0']) {
      await expect(t.clientSends(bad)).rejects.toThrow(`setIdleTimeout: ${String(Number(bad))} is not a whole number of milliseconds from 1000 to 86400000`);
    }
    expect(t.idleTimeoutMs).toBe(5000);
  });
});
