import type { AlgdConfig, PluginSettings } from '../config/config-schema';

/**
 * Per-plugin enable flags kept outside the configuration file. On Windows
 * they are the registry's `HKLM\SOFTWARE\algd\Plugins\<name>\Enable`
 * values, as the Windows ALG service keeps its plugins' switches; read at
 * start and on every reload.
 */
export interface PluginFlagSource {
  read(): Promise<Readonly<Record<string, boolean>>>;
}

/** No flags outside the file (every platform but Windows). */
export const noPluginFlags: PluginFlagSource = { read: async () => ({}) };

/** The configuration with each flagged plugin's `enabled` replaced by its flag. */
export function applyPluginFlags(config: AlgdConfig, flags: Readonly<Record<string, boolean>>, defaults: PluginSettings): AlgdConfig {
  const entries = Object.entries(flags);
  if (entries.length === 0) return config;
  const plugins = { ...config.plugins };
  for (const [name, enabled] of entries) plugins[name] = { ...(plugins[name] ?? defaults), enabled };
  return { ...config, plugins };
}
