import type { AlgdConfig } from '../../config/config-schema';
import type { StatusDocument } from '../../service/algd-service';
import type { ExitCode } from '../exit-codes';
import { callService } from '../service-call';
import { textTable } from './text-table';

/** `algd sessions [--plugin NAME]`: the running service's control sessions with their data channels. */
export function sessionsCommand(config: AlgdConfig, opts: { json: boolean; plugin?: string }): Promise<ExitCode> {
  return callService<StatusDocument>(config, { command: 'status' }, (status) => {
    const sessions = status.sessions.filter((x) => opts.plugin === undefined || x.plugin === opts.plugin);
    return opts.json ? `${JSON.stringify(sessions, null, 2)}\n` : formatSessions(sessions);
  });
}

/** One row per session, its data channels indented below it. */
export function formatSessions(sessions: StatusDocument['sessions']): string {
  if (sessions.length === 0) return 'no sessions\n';
  const rows = sessions.map((x) => [x.id, x.protocol, x.client, x.server, x.boundary, `${x.ageSeconds}s`, `${x.idleSeconds}s`, String(x.bytes.clientToServer), String(x.bytes.serverToClient), String(x.dataChannels.length), x.passthrough ? 'passthrough' : '']);
  const [head, ...lines] = textTable(['SESSION', 'PROTO', 'CLIENT', 'SERVER', 'BOUNDARY', 'AGE', 'IDLE', 'C>S BYTES', 'S>C BYTES', 'CHANNELS', 'MODE'], rows);
  const out = [head!];
  sessions.forEach((x, i) => out.push(lines[i]!, ...x.dataChannels.map((c) => `  ${c}`)));
  return `${out.join('\n')}\n`;
}
