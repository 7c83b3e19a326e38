/** Exit codes of `batchbridge` (the README lists them). */
export const EXIT = {
  /** Every line accepted (and, with a wait, every request completed). */
  ok: 0,
  /** Some line was refused, or some request failed or was cancelled (or `get` found no such request). */
  failed: 1,
  /** Bad arguments or configuration: unknown option, missing file, no base URL or key, state file of another input. */
  usage: 2,
  /** The service refused the API key (401), or could not be reached / kept failing (5xx) after the retries. */
  service: 3,
  /** The wait ran out (`--wait-timeout`) before every request was final; run `watch` or `export` later. */
  pending: 4,
  /** An unexpected error (a bug): the message and stack are on stderr. */
  internal: 70,
  /** Interrupted (Ctrl-C / SIGTERM); the state file is written, run the same command again to resume. */
  interrupted: 130,
} as const;

export class UsageError extends Error {}
