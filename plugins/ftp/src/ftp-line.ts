/** One FTP command line: its verb (upper case) and argument, terminator stripped. */
export interface FtpCommand {
  readonly verb: string;
  readonly argument: string;
  /** The line without its terminator, as sent. */
  readonly text: string;
}

/** Splits a command line (RFC 959 §5.3: `VERB SP argument CRLF`). */
export function parseCommand(line: Buffer): FtpCommand {
  const text = line.toString('latin1').replace(/\r?\n$/, '');
  const space = text.indexOf(' ');
  return {
    verb: (space < 0 ? text : text.slice(0, space)).toUpperCase(),
    argument: space < 0 ? '' : text.slice(space + 1),
    text,
  };
}

/**
 * Where a reply line stands (RFC 959 §4.2): a single-line reply `227 text`,
 * the first line of a multi-line one `227-text` (ended by a later line
 * `227 text`), or a line inside a multi-line reply, which may start with
 * anything, digits included, and is never a reply of its own.
 */
export type ReplyLine =
  | { readonly kind: 'reply'; readonly code: number; readonly text: string }
  | { readonly kind: 'first'; readonly code: number }
  | { readonly kind: 'inside' }
  | { readonly kind: 'last' };

/** Classifies a server line given the code of the multi-line reply in progress, if any. */
export function classifyReply(line: Buffer, open: number | undefined): ReplyLine {
  const text = line.toString('latin1').replace(/\r?\n$/, '');
  const m = /^([1-5]\d\d)([ -])/.exec(text);
  if (open !== undefined) return m && Number(m[1]) === open && m[2] === ' ' ? { kind: 'last' } : { kind: 'inside' };
  if (!m) return { kind: 'inside' };
  return m[2] === '-' ? { kind: 'first', code: Number(m[1]) } : { kind: 'reply', code: Number(m[1]), text };
}
