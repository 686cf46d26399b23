import { Writable } from 'node:stream';
import winston from 'winston';
import { EventLogTransport, type RunProgram } from '../../../host/logging/event-log-transport';
import { textLine } from '../../../host/logging/log-format';
import { closeLogger, createLogger, sessionLogger } from '../../../host/logging/logger';
import { RotatingFileTransport } from '../../../host/logging/rotating-file-transport';

describe('text lines', () => {
  it('puts a session line\'s id in brackets before the message and leaves its plugin out', () => {
    expect(textLine({ timestamp: '12:00:01.002', level: 'warn', message: 'session closed: the client broke the framing', session: 'ftp-3', plugin: 'ftp', violation: 'line-too-long' })).toBe(
      '12:00:01.002 warn  [ftp-3] session closed: the client broke the framing {"violation":"line-too-long"}',
    );
  });

  it('shows other lines\' fields, plugin included, as JSON after the message', () => {
    expect(textLine({ timestamp: '12:00:01.002', level: 'info', message: 'plugin ftp: tcp port 21 -> listener 127.0.0.1:3000', plugin: 'ftp' })).toBe(
      '12:00:01.002 info  plugin ftp: tcp port 21 -> listener 127.0.0.1:3000 {"plugin":"ftp"}',
    );
    expect(textLine({ timestamp: 't', level: 'debug', message: 'm' })).toBe('t debug m');
  });
});

describe('session loggers', () => {
  it('give every line of the session its id and plugin as fields', () => {
    const seen: Record<string, unknown>[] = [];
    const sink = new winston.transports.Stream({ stream: new Writable({ objectMode: true, write: (info: Record<string, unknown>, _e, cb) => (seen.push(info), cb()) }) });
    const log = winston.createLogger({ level: 'debug', transports: [sink] });
    const s = sessionLogger(log, 'sip-12', 'sip');
    s.warn('datagram dropped: no SIP start line');
    s.log('info', 'from the plugin', { port: 5060 });
    expect(seen.map(({ level, message, session, plugin, port }) => ({ level, message, session, plugin, port }))).toEqual([
      { level: 'warn', message: 'datagram dropped: no SIP start line', session: 'sip-12', plugin: 'sip', port: undefined },
      { level: 'info', message: 'from the plugin', session: 'sip-12', plugin: 'sip', port: 5060 },
    ]);
  });
});

describe('Windows Event Log transport (eventcreate)', () => {
  it('builds eventcreate arguments: type and id by level, session prefix, fields as JSON', () => {
    expect(EventLogTransport.argv('algd', { level: 'error', message: 'plugin ftp not loaded', plugin: 'ftp' })).toEqual(['/L', 'APPLICATION', '/T', 'ERROR', '/SO', 'algd', '/ID', '1', '/D', 'plugin ftp not loaded {"plugin":"ftp"}']);
    expect(EventLogTransport.argv('algd', { level: 'warn', message: 'x', session: 'ftp-3', plugin: 'ftp', timestamp: 'ignored' })).toEqual(['/L', 'APPLICATION', '/T', 'WARNING', '/SO', 'algd', '/ID', '2', '/D', '[ftp-3] x {"session":"ftp-3","plugin":"ftp"}']);
    expect(EventLogTransport.argv('algd', { level: 'info', message: 'y'.repeat(5000) })[9]).toHaveLength(4000);
  });

  it('refuses a source name eventcreate could read as a switch', () => {
    expect(() => new EventLogTransport({ source: '/D evil', run: async () => ({ code: 0, stderr: '' }) })).toThrow('logging.eventLog.source');
  });

  it('runs one eventcreate at a time, in order, bounded, and closeLogger waits for the last one', async () => {
    const calls: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const run: RunProgram = async (file, argv) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
      calls.push(`${file} ${argv[9]}`);
      running--;
      return { code: 0, stderr: '' };
    };
    const t = new EventLogTransport({ source: 'algd', run, maxQueue: 3 });
    const log = winston.createLogger({ level: 'info', transports: [t] });
    for (const m of ['a', 'b', 'c', 'd', 'e']) log.info(m);
    await closeLogger(log);
    // 'a' started at once; b, c, d queued; e found the queue full.
    expect(calls).toEqual(['eventcreate.exe a', 'eventcreate.exe b', 'eventcreate.exe c', 'eventcreate.exe d']);
    expect(t.dropped).toBe(1);
    expect(maxRunning).toBe(1);
  });
});

describe('createLogger', () => {
  it('ignores eventLog with one warning outside Windows', () => {
    const logger = createLogger({ level: 'info', console: { format: 'json' }, eventLog: { source: 'algd' } }, { platform: 'linux', stderrIsTTY: false });
    expect(logger.transports.map((t) => t.constructor.name)).toEqual(['Console']);
    void closeLogger(logger);
  });

  it('adds the Event Log transport on Windows', () => {
    const logger = createLogger({ level: 'info', eventLog: { source: 'algd' } }, { platform: 'win32', stderrIsTTY: true });
    expect(logger.transports.map((t) => t.constructor.name)).toEqual(['Console', 'EventLogTransport']);
    logger.transports[1]!.silent = true;
    void closeLogger(logger);
  });

  it('names rotated files name1.ext, name2.ext', () => {
    expect(RotatingFileTransport.rotatedName('/var/log/algd/algd.log', 2)).toBe('/var/log/algd/algd2.log');
    expect(RotatingFileTransport.rotatedName('/var/log/algd/algd', 1)).toBe('/var/log/algd/algd1');
  });
});
