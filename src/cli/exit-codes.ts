/**
 * The exit codes of every `openomics` command, in one table (the commands' --help says which apply).
 * An interrupted transfer exits with `error`; running the same command again resumes it.
 */
export const EXIT = {
  ok: 0,
  /** Bad arguments, an API error, an interrupted transfer. */
  error: 1,
  /** The read set (or a sample sheet's row) ended UPLOAD_FAILED / FAILED. */
  readSetFailed: 2,
  /** `admin connection check` and `admin check-*`: the check ran and found a problem. */
  checkFailed: 3,
  /** The process guard: an error nothing handled (decision 55); the supervisor restarts the process. */
  internalError: 70,
} as const;
