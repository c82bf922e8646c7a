/**
 * ApplicationFailure types that cross the workflow/client boundary, and the exit code each maps to.
 * Clients read `failure.type`, never the message.
 */
export const FAILURE = {
  /** A policy refused the request: not a member, self-approval, not waiting, branch not allowed... */
  policy: 'PolicyRefusal',
  /** The request was malformed or named something unknown. */
  badInput: 'BadInput',
  /** A deploy that cannot heal by retrying (never ready, canary failed its checks). */
  deployFailed: 'DeployFailed',
} as const;
export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];

/** The CLI's exit codes. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, refused: 3, unreachable: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_FOR_FAILURE: Record<FailureType, ExitCode> = {
  PolicyRefusal: EXIT.refused,
  BadInput: EXIT.badInput,
  DeployFailed: EXIT.failed,
};

/** Failure type of a release that ended other than succeeded, e.g. `ReleaseRolledBack`. */
export const releaseEndFailureType = (state: string) =>
  `Release${state.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}`;
