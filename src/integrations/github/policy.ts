/**
 * What the GitHub Deployments sync decides without I/O: which failures pass and which need a person, and the one
 * notice a person gets. Imported by workflow code too (constants and types only): no Node imports here.
 */

/** The states shipgate posts: a deploy or rollback running, its end, and the deployment it replaced. */
export type GithubStatusState = 'in_progress' | 'success' | 'failure' | 'inactive';

/** Tries per transition (the activity's retry policy); the last one that fails tells a person. */
export const GITHUB_SYNC_ATTEMPTS = 3;

/** GitHub truncates nothing: a status description over 140 characters is refused (422). */
export const DESCRIPTION_MAX = 140;

export class GithubApiError extends Error {
  constructor(
    /** The HTTP status, or null when no answer came (network, timeout) or the worker's setup is at fault. */
    readonly status: number | null,
    message: string,
    /** GitHub's rate limit was spent (403 or 429 with x-ratelimit-remaining: 0): it passes. */
    readonly rateLimited: boolean,
    /** The worker's own setup is wrong (a variable not set, a key file unreadable): retrying cannot help. */
    readonly setup = false,
  ) {
    super(message);
    this.name = 'GithubApiError';
  }
}

/**
 * Whether retrying can help: a refused token, a repository it cannot see, or a request GitHub will refuse again
 * (401, 403, 404, 422) needs a person; a GitHub that is down, slow or rate-limited comes back.
 */
export function needsPerson(err: GithubApiError): boolean {
  if (err.setup) return true;
  if (err.rateLimited || err.status === null) return false;
  return [400, 401, 403, 404, 410, 422].includes(err.status);
}

/** What went wrong, in words a person acts on; never the token. */
export function problemText(err: GithubApiError): string {
  const detail = err.message.replace(/^(GET|POST) \S+: /, '');
  if (err.setup) return detail;
  switch (err.status) {
    case 401:
      return `GitHub refused the token (${detail})`;
    case 403:
      return `the token may not create deployments (${detail}); it needs deployments: write`;
    case 404:
      return `the repository is not found, or the token cannot see it (${detail})`;
    case 422:
      return /installations/.test(err.message)
        ? `the GitHub App installation may not write deployments of this repository (${detail})`
        : `GitHub refused the request (${detail})`;
    default:
      return `GitHub did not answer (${detail}) after ${GITHUB_SYNC_ATTEMPTS} tries`;
  }
}

/** The one notice a problem gets (per repository and kind of problem, until a call succeeds again). */
export function noticeText(repository: string, err: GithubApiError): string {
  return `GitHub deployments for ${repository}: ${problemText(err)}; releases go on`;
}

/** Which notices are the same problem: one per kind, so a flapping GitHub does not post one per call. */
export function problemKey(repository: string, err: GithubApiError): string {
  return `${repository} ${needsPerson(err) ? (err.setup ? 'setup' : String(err.status)) : 'unreachable'}`;
}

/** A status description within GitHub's limit. */
export function describe(text: string): string {
  return text.length <= DESCRIPTION_MAX ? text : `${text.slice(0, DESCRIPTION_MAX - 1)}…`;
}
