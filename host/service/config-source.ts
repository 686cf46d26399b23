import type { AlgdConfig } from '../config/config-schema';
import { loadConfig } from '../config/load-config';

/** Where the service reads its configuration again on reload. */
export interface ConfigSource {
  /** Shown in logs and in the reload report. */
  readonly name: string;
  /** Reads and validates the configuration; throws ConfigError naming every problem. */
  load(): AlgdConfig;
}

/** The configuration file the service was started with. */
export function fileConfigSource(file: string): ConfigSource {
  return { name: file, load: () => loadConfig(file) };
}

/** A configuration without a file (tests, embedding): a reload re-applies it unchanged. */
export function fixedConfigSource(config: AlgdConfig): ConfigSource {
  return { name: '<in memory>', load: () => config };
}
