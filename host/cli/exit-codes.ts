/** Exit codes of the `algd` command, documented in the README. */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** The service failed while starting or running. */
  failure: 1,
  /** Bad command line or bad configuration; nothing was installed. */
  usage: 2,
  /** The service is not running (or its admin socket is not reachable). */
  notRunning: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
