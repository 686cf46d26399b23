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
    throw new ConfigError(file, [`(file): cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfig(text, file);
}

/** Parses and validates configuration text; `file` is only used in messages. */
export function parseConfig(text: string, file = '<config>'): AlgdConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`(root): not valid JSON${jsonErrorPlace(text, (err as Error).message)}: ${(err as Error).message}`]);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, result.error.issues.flatMap((issue) => formatIssue(issue, raw)));
  return result.data;
}

/** `adapters[1].type: ...`: the JSON path of the offending value, then what is wrong with it. */
function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  const path = issue.path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key`);
  }
  if (issue.code === 'invalid_key') message = issue.issues.map((i) => i.message).join('; ');
  if (issue.code === 'invalid_value') message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  // A missing key reads "required" whatever its type would have been.
  if (issue.code !== 'custom' && issue.path.length > 0 && valueAt(raw, issue.path) === undefined) message = 'required';
  return [`${path || '(root)'}: ${message}`];
}

/** ` at line L, column C` for JSON.parse's `at position N`, so an editor can jump there. */
function jsonErrorPlace(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

/** The value at `path` in the parsed JSON, undefined where it is absent. */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
