import type { AlgdConfig } from '../../config/config-schema';
import type { StatusDocument } from '../../service/algd-service';
import type { ExitCode } from '../exit-codes';
import { callService } from '../service-call';
import { mappingPlugin } from './status';
import { textTable } from './text-table';

/** `algd mappings [--plugin NAME]`: the NAT engine's data-channel mappings and the session owning each. */
export function mappingsCommand(config: AlgdConfig, opts: { json: boolean; plugin?: string }): Promise<ExitCode> {
  return callService<StatusDocument>(config, { command: 'status' }, (status) => {
    const mappings = status.engine.mappings.filter((m) => opts.plugin === undefined || mappingPlugin(m.owner, status) === opts.plugin);
    return opts.json ? `${JSON.stringify(mappings, null, 2)}\n` : formatMappings(mappings);
  });
}

export function formatMappings(mappings: StatusDocument['engine']['mappings']): string {
  if (mappings.length === 0) return 'no mappings\n';
  const rows = mappings.map((m) => [String(m.id), m.owner, m.active ? 'yes' : 'no', String(m.liveFlows), String(m.uses), m.mapping]);
  return `${textTable(['ID', 'SESSION', 'ACTIVE', 'FLOWS', 'USES', 'MAPPING'], rows).join('\n')}\n`;
}
