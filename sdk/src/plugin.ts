import { isApiVersionRange } from './api-version';
import type { SessionContext } from './context';
import type { ControlChannelSpec } from './control-channel';
import type { DataChannelEvent } from './data-channel';
import { isPort } from './net';
import type { SessionInfo } from './session';
import type { HandlerResult } from './verdict';

/**
 * Validates a plugin's options. A zod schema fits as is; so does any object
 * with a `parse` that returns the options or throws with a message that
 * names what is wrong.
 */
export interface OptionsParser<Options> {
  parse(input: unknown): Options;
}

/** A message handler: sees one whole message and says what to send on (see {@link HandlerResult}). */
export type MessageHandler<Options, State> = (message: Buffer, ctx: SessionContext<Options, State>) => HandlerResult | Promise<HandlerResult>;

/**
 * An algd plugin (the ALG API's IApplicationGateway). Handlers run in a
 * worker thread of the plugin's own pool; they may be called for different
 * sessions on different workers, so everything a session needs is in
 * `ctx.state`, never in module variables.
 */
export interface PluginDefinition<Options = unknown, State = unknown> {
  /** Lower-case name, unique on the host: `ftp`, `tftp`, `acme-h323`. Configuration refers to it. */
  readonly name: string;
  /** The plugin's own version (semver). */
  readonly version: string;
  /** The plugin API versions the plugin works with, a semver range such as `^0.1.0`. */
  readonly apiVersion: string;
  /** One line for `algd plugins list`. */
  readonly description?: string;
  /** What the plugin captures. */
  readonly controlChannels: readonly ControlChannelSpec[];
  /** Validates the plugin's options from the configuration file (`plugins.<name>.options`). */
  readonly options?: OptionsParser<Options>;
  /** The state of a new session; default `{}`. */
  initialState?(session: SessionInfo, options: Options): State;
  /** A whole message from the client to the server. Default: forwarded unchanged. */
  onClientMessage?: MessageHandler<Options, State>;
  /** A whole message from the server to the client. Default: forwarded unchanged. */
  onServerMessage?: MessageHandler<Options, State>;
  /** A data channel requested with `notify` was used or ended. */
  onDataChannelEvent?(event: DataChannelEvent, ctx: SessionContext<Options, State>): void | Promise<void>;
}

/** Thrown by {@link definePlugin} when a definition is not valid; the message names the field. */
export class PluginDefinitionError extends Error {
  override readonly name = 'PluginDefinitionError';
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

/**
 * Declares a plugin. Checks the definition (so a mistake shows when the
 * module loads, not on the first packet) and returns it frozen. A plugin
 * package exports the result as its default export.
 *
 * ```ts
 * export default definePlugin({
 *   name: 'tftp', version: '1.0.0', apiVersion: '^0.1.0',
 *   controlChannels: [{ protocol: 'udp', ports: [port(69)] }],
 *   async onClientMessage(msg, ctx) { ... },
 * });
 * ```
 */
export function definePlugin<Options = undefined, State = Record<string, never>>(definition: PluginDefinition<Options, State>): PluginDefinition<Options, State> {
  const d = definition;
  if (typeof d !== 'object' || d === null) throw new PluginDefinitionError('a plugin definition must be an object');
  if (typeof d.name !== 'string' || !NAME.test(d.name)) throw new PluginDefinitionError(`name: ${JSON.stringify(d.name)} is not a lower-case plugin name`);
  if (typeof d.version !== 'string' || !VERSION.test(d.version)) throw new PluginDefinitionError(`version: ${JSON.stringify(d.version)} is not a semver version`);
  if (typeof d.apiVersion !== 'string' || !isApiVersionRange(d.apiVersion)) throw new PluginDefinitionError(`apiVersion: ${JSON.stringify(d.apiVersion)} is not a semver range`);
  if (!Array.isArray(d.controlChannels) || d.controlChannels.length === 0) throw new PluginDefinitionError('controlChannels: at least one control channel is required');
  d.controlChannels.forEach((c, i) => {
    if (c.protocol !== 'tcp' && c.protocol !== 'udp') throw new PluginDefinitionError(`controlChannels[${i}].protocol: must be "tcp" or "udp"`);
    if (!Array.isArray(c.ports) || c.ports.length === 0 || !c.ports.every((p: unknown) => isPort(p) && p !== 0)) {
      throw new PluginDefinitionError(`controlChannels[${i}].ports: must be a non-empty list of ports 1-65535`);
    }
    if (c.framing !== undefined && !['lines', 'sip', 'raw'].includes(c.framing.kind)) {
      throw new PluginDefinitionError(`controlChannels[${i}].framing.kind: must be "lines", "sip" or "raw"`);
    }
  });
  for (const hook of ['initialState', 'onClientMessage', 'onServerMessage', 'onDataChannelEvent'] as const) {
    if (d[hook] !== undefined && typeof d[hook] !== 'function') throw new PluginDefinitionError(`${hook}: must be a function`);
  }
  if (d.options !== undefined && typeof d.options?.parse !== 'function') throw new PluginDefinitionError('options: must have a parse(input) function');
  return Object.freeze({ ...d, controlChannels: Object.freeze(d.controlChannels.map((c) => Object.freeze({ ...c, ports: Object.freeze([...c.ports]) }))) });
}
