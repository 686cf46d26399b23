import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { configSchema, type AlgdConfig } from './config-schema';

/** A configuration file that cannot be used; `problems` name the offending paths. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads, parses and validates a configuration file. Throws {@link ConfigError}. */
export function loadConfig(file: string): AlgdConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfig(text, file);
}

/** Parses and validates configuration text; `file` is only used in messages. */
export function parseConfig(text: string, file = '<config>'): AlgdConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, result.error.issues.flatMap(formatIssue));
  return result.data;
}

/** `adapters[1].type: ...`: the JSON path of the offending value, then what is wrong with it. */
function formatIssue(issue: z.core.$ZodIssue): string[] {
  const path = issue.path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key`);
  }
  if (issue.code === 'invalid_value') message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return [`${path || '(root)'}: ${message}`];
}
