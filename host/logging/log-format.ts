import winston from 'winston';

/** Fields that make up the line itself rather than extra detail. */
const LINE_FIELDS = new Set(['timestamp', 'level', 'message', 'session']);

/**
 * One human-readable line: time, level, the session in brackets when the
 * line belongs to one, the message, then the other fields as JSON. A
 * session line leaves out `plugin`: the session id already starts with it.
 */
export function textLine(info: Readonly<Record<string, unknown>>): string {
  const session = typeof info['session'] === 'string' ? `[${info['session']}] ` : '';
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) {
    if (LINE_FIELDS.has(k) || (k === 'plugin' && session !== '')) continue;
    extra[k] = v;
  }
  const tail = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
  return `${String(info['timestamp'])} ${String(info['level']).padEnd(5)} ${session}${String(info['message'])}${tail}`;
}

/** Text lines for a terminal. */
export function textFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.printf((info) => textLine(info)),
  );
}

/** JSON lines (files, journald, pipes): the session id is a field like any other. */
export function jsonFormat(): winston.Logform.Format {
  return winston.format.combine(winston.format.timestamp(), winston.format.json());
}
