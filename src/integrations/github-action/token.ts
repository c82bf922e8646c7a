/**
 * The job's proof of where it runs: a GitHub Actions ID token (OIDC), requested from the runner for the workers'
 * audience. The workers verify it against GitHub's published keys and take the repository, branch, commit and
 * actor from its claims; nothing the job says about them otherwise (inputs, GITHUB_* variables) is believed.
 *
 * The claims are read here without verification only to show them and to fill the request's commit and branch
 * with the same values the worker will read from the token.
 */
import * as core from '@actions/core';
import { decodeJwt } from 'jose';
import { BadInputError, OperationFailedError } from '../../client/errors.js';
import { branchOfRef } from '../../identity/oidc.js';

export interface JobToken {
  token: string;
  /** Claims as the token states them (unverified here): repository, ref, sha, actor. */
  repository: string;
  ref: string;
  sha: string;
  actor: string;
  /** The branch `ref` names, or the ref itself when it is not a branch (the workers refuse that). */
  branch: string;
}

/**
 * Requests the ID token the way every action does (`core.getIDToken`, which masks it in the log before
 * returning it); fails naming what the job lacks.
 */
export async function requestJobToken(
  audience: string,
  env: NodeJS.ProcessEnv,
  getIdToken: (audience: string) => Promise<string> = (a) => core.getIDToken(a),
): Promise<JobToken> {
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
    throw new BadInputError(
      'this job cannot request a GitHub Actions ID token (ACTIONS_ID_TOKEN_REQUEST_URL is not set): ' +
        'give the job `permissions: id-token: write`; shipgate starts a release only with the token as proof',
    );
  let token: string;
  try {
    token = await getIdToken(audience);
  } catch (err) {
    throw new OperationFailedError(
      `could not get a GitHub Actions ID token for audience ${audience}: ${oneLine((err as Error)?.message ?? String(err))}`,
      { cause: err },
    );
  }
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new OperationFailedError('the GitHub Actions ID token is not a JWT');
  }
  const claim = (name: string): string => {
    const v = claims[name];
    if (typeof v !== 'string' || v === '')
      throw new OperationFailedError(`the GitHub Actions ID token has no ${name} claim`);
    return v;
  };
  const ref = claim('ref');
  return {
    token,
    repository: claim('repository'),
    ref,
    sha: claim('sha'),
    actor: claim('actor'),
    branch: branchOfRef(ref) ?? ref,
  };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
