/**
 * What the host does with a message after a handler saw it. A handler may
 * return:
 *
 * - nothing (`undefined`): forward the message unchanged;
 * - bytes or a string: forward these instead (a rewritten message);
 * - a {@link MessageVerdict} for anything else.
 */
export type HandlerResult = void | undefined | Uint8Array | string | MessageVerdict;

/** The full form of a handler's answer. */
export interface MessageVerdict {
  /** Sent on instead of the message; `null` drops it. Omitted: the message unchanged. */
  readonly forward?: Uint8Array | string | null;
  /** Sent back to the message's sender, after anything forwarded: the gateway's own reply (an FTP `502` for a refused command). */
  readonly respond?: Uint8Array | string;
  /** Close both legs of the session once the output is written. */
  readonly close?: boolean;
  /**
   * Stop inspecting the session: after this message every byte of both
   * directions passes unchanged, without the plugin (the control connection
   * turned into something the plugin cannot read, such as TLS after FTP's
   * `AUTH TLS`). The session and its data channels live on.
   */
  readonly release?: boolean;
}
