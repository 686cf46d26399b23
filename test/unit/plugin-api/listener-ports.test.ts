import { ListenerPorts } from '../../../host/plugin-api/listener/listener-ports';

const errno = (code: string, message = `${code} (fake)`): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

/** A bind function over fake sockets: ports in `busy` are held by another program. */
function binder(busy: Set<number> = new Set(), fail: Map<number, Error> = new Map()) {
  const tried: number[] = [];
  const bind = async (port: number): Promise<string> => {
    tried.push(port);
    const err = fail.get(port);
    if (err !== undefined) throw err;
    if (busy.has(port)) throw errno('EADDRINUSE');
    return `socket@${port}`;
  };
  return { bind, tried, busy, fail };
}

describe('ListenerPorts', () => {
  it('hands out the ports of the range in order, never one that is in use by this host', async () => {
    const ports = new ListenerPorts({ from: 3000, to: 3002 });
    const b = binder();
    expect(await ports.allocate(b.bind)).toEqual({ port: 3000, bound: 'socket@3000' });
    expect(await ports.allocate(b.bind)).toEqual({ port: 3001, bound: 'socket@3001' });
    expect(await ports.allocate(b.bind)).toEqual({ port: 3002, bound: 'socket@3002' });
    expect(b.tried).toEqual([3000, 3001, 3002]);
  });

  it('skips ports another program holds (EADDRINUSE), and tries them again next time', async () => {
    const ports = new ListenerPorts({ from: 3000, to: 3003 });
    const b = binder(new Set([3000, 3001]));
    expect(await ports.allocate(b.bind)).toEqual({ port: 3002, bound: 'socket@3002' });
    expect(b.tried).toEqual([3000, 3001, 3002]);
    b.busy.delete(3001);
    expect(await ports.allocate(b.bind)).toEqual({ port: 3001, bound: 'socket@3001' });
    expect(b.tried).toEqual([3000, 3001, 3002, 3000, 3001]);
  });

  it('passes any other bind error on at once, without trying further or keeping the port', async () => {
    const ports = new ListenerPorts({ from: 3000, to: 3003 });
    const denied = errno('EACCES', 'bind EACCES 127.0.0.1:3001');
    const b = binder(new Set([3000]), new Map([[3001, denied]]));
    await expect(ports.allocate(b.bind)).rejects.toBe(denied);
    expect(b.tried).toEqual([3000, 3001]);
    const plain = new Error('no code at all');
    b.fail.set(3001, plain);
    await expect(ports.allocate(b.bind)).rejects.toBe(plain);
    b.fail.clear();
    expect(await ports.allocate(b.bind)).toEqual({ port: 3001, bound: 'socket@3001' });
  });

  it('says the range is exhausted when every port is used or held', async () => {
    const ports = new ListenerPorts({ from: 3000, to: 3002 });
    const b = binder(new Set([3001]));
    await ports.allocate(b.bind);
    await ports.allocate(b.bind);
    b.tried.length = 0;
    await expect(ports.allocate(b.bind)).rejects.toThrow(new Error('no free listener port in 3000-3002'));
    // Ports this host uses are not even tried; held ones are.
    expect(b.tried).toEqual([3001]);
  });

  it('makes a released port available again, first in order', async () => {
    const ports = new ListenerPorts({ from: 3000, to: 3002 });
    const b = binder();
    for (let i = 0; i < 3; i++) await ports.allocate(b.bind);
    await expect(ports.allocate(b.bind)).rejects.toThrow(new Error('no free listener port in 3000-3002'));
    ports.release(3001);
    ports.release(3001);
    ports.release(4000);
    expect(await ports.allocate(b.bind)).toEqual({ port: 3001, bound: 'socket@3001' });
    await expect(ports.allocate(b.bind)).rejects.toThrow(new Error('no free listener port in 3000-3002'));
  });

  it('hands out the single port of a one-port range once', async () => {
    const ports = new ListenerPorts({ from: 4999, to: 4999 });
    const b = binder();
    expect(await ports.allocate(b.bind)).toEqual({ port: 4999, bound: 'socket@4999' });
    await expect(ports.allocate(b.bind)).rejects.toThrow(new Error('no free listener port in 4999-4999'));
    expect(b.tried).toEqual([4999]);
  });
});
