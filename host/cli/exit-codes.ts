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

/** The exit codes as `algd --help` lists them (the README has the same table). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure: the service failed to start or run, or refused the request (e.g. an unknown plugin)
  2  bad command line or configuration; nothing was installed or changed
  3  the service is not running, or its admin socket is not reachable (no permission: root only)
`;
