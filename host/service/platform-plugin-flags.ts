import type { Logger } from '../logging/logger';
import { noPluginFlags, type PluginFlagSource } from './plugin-flags';
import { readPluginEnableFlags } from './windows/plugin-registry';

/** The plugin enable flags of this platform: the registry on Windows (as the Windows ALG service's), none elsewhere. */
export function platformPluginFlags(log: Logger): PluginFlagSource {
  if (process.platform !== 'win32') return noPluginFlags;
  return { read: () => readPluginEnableFlags(undefined, (message) => log.warn(message)) };
}
