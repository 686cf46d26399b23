import type { InjectionToken } from 'tsyringe';
import type { AdminServer } from '../admin/admin-server';
import type { AlgdConfig } from '../config/config-schema';
import type { Logger } from '../logging/logger';
import type { NatEngine } from '../nat-engine/nat-engine';
import type { PacketDriver } from '../nat-engine/drivers/packet-driver';
import type { PluginHost } from '../plugin-api/plugin-host';
import type { DataChannelHub } from '../plugin-api/resources/data-channel-hub';
import type { Adapter } from './adapters';
import type { ConfigSource } from './config-source';
import type { PluginFlagSource } from './plugin-flags';

/**
 * The injection tokens of the service's parts: the composition root
 * (composition-root.ts) registers one provider per token in a container made
 * for each start; the parts name their dependencies by these tokens, so a
 * test can register a fake for any of them.
 */

/** A part the service starts after the driver and stops before it (the metrics endpoint). */
export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const token = <T>(name: string): InjectionToken<T> => Symbol(`algd.${name}`);

export const TOKENS = {
  /** The configuration the service starts with (validated, defaults filled in). */
  config: token<AlgdConfig>('config'),
  /** Where a reload reads the configuration again. */
  configSource: token<ConfigSource>('configSource'),
  /** Per-plugin enable flags kept outside the file (the Windows registry); they override `plugins.<name>.enabled`. */
  pluginFlags: token<PluginFlagSource>('pluginFlags'),
  logger: token<Logger>('logger'),
  driver: token<PacketDriver>('driver'),
  engine: token<NatEngine>('engine'),
  hub: token<DataChannelHub>('hub'),
  adapters: token<readonly Adapter[]>('adapters'),
  pluginHost: token<PluginHost>('pluginHost'),
  admin: token<AdminServer>('admin'),
  /** The metrics endpoint, or null when `metrics` is not configured. */
  metrics: token<Startable | null>('metrics'),
} as const;
