/**
 * Checking a release's proofs again, later and offline: who started it, every approval that counted and a
 * break-glass override. An SSH proof is re-verified with nothing but the public keys in the config (the
 * signature over the statement as signed, the key listed for the login, and the statement naming exactly this
 * release, run, environment and details, made at most 5 minutes before the worker took it). A Slack proof is an
 * HMAC: re-verifying it needs the app's signing secret and the signed request, which the release's history
 * holds; without the secret it is reported as verified by the worker. A GitHub Actions token cannot be checked
 * again once expired; its claims are reported.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { ShipgateConfig } from '../config/schema.js';
import { createProofVerifier, statementMismatch } from '../identity/verify.js';
import { keyThumbprint, verifyWebStatementSignature } from '../identity/web-oidc.js';
import { detailsDigest } from '../identity/statement.js';
import { sha256Hex } from '../identity/sha256.js';
import type { Expectation, Proof, ProofAction } from '../identity/types.js';
import { releaseWorkflowId } from '../protocol/ids.js';
import type { ProofRecord } from '../protocol/proof-record.js';
import type { ShipgateClient } from '../client.js';
import type { ReleaseStatus } from '../workflows/types.js';

export type ProofOutcome =
  /** Checked again here, and it holds. */
  | 'verified'
  /** Only the worker could check it (a Slack request without the signing secret, an expired token). */
  | 'worker-verified'
  /** Checked again here, and it does not hold. */
  | 'failed'
  /** The record holds no proof (given before proofs existed, or unsigned under `identity: asserted`). */
  | 'missing';

export interface ProofCheck {
  action: ProofAction;
  env: string | null;
  /** Who the release's record says did it. */
  by: string;
  via: string;
  /** When the worker accepted it. */
  at: string;
  outcome: ProofOutcome;
  /** What was checked, or what failed. */
  detail: string;
}

export interface ApprovalsVerdict {
  app: string;
  version: string;
  run: string;
  checks: ProofCheck[];
  /** Every proof verified here or by the worker; none failed or missing. */
  ok: boolean;
}

/** One thing the record says happened, with the proof it kept and what that proof must name. */
interface Claim {
  action: ProofAction;
  env: string | null;
  by: string;
  via: string;
  at: string;
  proof: ProofRecord | undefined;
  expect: Omit<Expectation, 'now'>;
}

export async function verifyReleaseProofs(
  sg: ShipgateClient,
  config: ShipgateConfig,
  app: string,
  version: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApprovalsVerdict> {
  const status = await sg.statusNow(app, version);
  const run = status.proofScope?.run ?? (await sg.firstRunOf(app, version));
  const claims = claimsOf(status, run);
  const verifier = createProofVerifier({ config: () => config, env });
  const slackSecret = config.slack ? env[config.slack.signingSecretEnv] : undefined;
  // The raw Slack requests are in the release's history (the Update inputs), by digest.
  const slackRequests =
    slackSecret && claims.some((c) => c.proof?.via === 'slack')
      ? await slackRequestsOf(sg, app, version, run)
      : new Map<string, Proof>();

  const checks: ProofCheck[] = [];
  for (const c of claims) {
    const base = { action: c.action, env: c.env, by: c.by, via: c.via, at: c.at };
    const p = c.proof;
    if (!p) {
      checks.push({
        ...base,
        outcome: 'missing',
        detail:
          c.via === 'asserted'
            ? 'unsigned (identity: asserted): nothing to verify'
            : 'no proof recorded (given before proofs)',
      });
      continue;
    }
    if (p.login.toLowerCase() !== c.by.toLowerCase()) {
      checks.push({
        ...base,
        outcome: 'failed',
        detail: `the proof is ${p.login}'s, the record says ${c.by}`,
      });
      continue;
    }
    if (p.via === 'ssh') {
      if (!p.statement || !p.signature) {
        checks.push({ ...base, outcome: 'failed', detail: 'the SSH proof kept no statement or signature' });
        continue;
      }
      const proof: Proof = { kind: 'ssh', statement: p.statement, signature: p.signature };
      const v = await verifier.verify(proof, { ...c.expect, now: c.at });
      checks.push(
        v.ok && v.login.toLowerCase() === c.by.toLowerCase()
          ? {
              ...base,
              outcome: 'verified',
              detail: `signature by ${v.claims?.key ?? 'a listed key'}, listed for ${v.login}; signed ${p.statement.at}`,
            }
          : { ...base, outcome: 'failed', detail: v.ok ? `the key is listed for ${v.login}` : v.reason },
      );
      continue;
    }
    if (p.via === 'slack') {
      const request = slackRequests.get(p.digest);
      if (!slackSecret || !request) {
        checks.push({
          ...base,
          outcome: 'worker-verified',
          detail: `verified by the worker at ${c.at} (HMAC; re-verify needs the signing secret${slackSecret ? ' and the request in the release history' : ''})`,
        });
        continue;
      }
      const v = await verifier.verify(request, { ...c.expect, now: p.at });
      checks.push(
        v.ok && v.login.toLowerCase() === c.by.toLowerCase()
          ? {
              ...base,
              outcome: 'verified',
              detail: `Slack request signed with the signing secret, user ${v.claims?.user}`,
            }
          : { ...base, outcome: 'failed', detail: v.ok ? `the Slack user is ${v.login}'s` : v.reason },
      );
      continue;
    }
    if (p.via === 'github-oidc') {
      const cl = p.claims ?? {};
      checks.push({
        ...base,
        outcome: 'worker-verified',
        detail: `GitHub Actions ID token verified by the worker at ${c.at} (repository ${cl.repository}, ref ${cl.ref}, sha ${cl.sha}, actor ${cl.actor}); a token cannot be checked again once expired`,
      });
      continue;
    }
    if (p.via === 'web-oidc') {
      checks.push({ ...base, ...webOidcCheck(p, c.expect) });
      continue;
    }
    checks.push({
      ...base,
      outcome: 'missing',
      detail: `a ${p.via} proof: nothing to verify`,
    });
  }
  const ok = checks.every((c) => c.outcome === 'verified' || c.outcome === 'worker-verified');
  return { app, version, run, checks, ok };
}

/** The proofs the release's record holds, each with what it must have named. */
function claimsOf(s: ReleaseStatus, run: string): Claim[] {
  const { app, version } = s;
  const claims: Claim[] = [];
  if (s.startProof)
    claims.push({
      action: 'release',
      env: null,
      by: s.startProof.login,
      via: s.startProof.via,
      at: s.startedAt,
      proof: s.startProof,
      expect: {
        action: 'release',
        app,
        env: null,
        version,
        run: null,
        details: detailsDigest({ commit: s.commit, branch: s.branch }),
      },
    });
  const env = s.approvals.environment;
  for (const a of s.approvals.given)
    claims.push({
      action: 'approve',
      env,
      by: a.by,
      via: a.via,
      at: a.at,
      proof: a.proof,
      expect: { action: 'approve', app, env, version, run, details: detailsDigest({ comment: a.comment }) },
    });
  if (s.override) {
    // The record does not say where the override was given; the statement names one of the release's
    // environments, and everything else is checked against the record.
    const named = s.override.proof?.statement?.env ?? null;
    const overrideEnv = named !== null && named in s.environments ? named : null;
    claims.push({
      action: 'override',
      env: overrideEnv,
      by: s.override.by,
      via: s.override.proof?.via ?? 'unknown',
      at: s.override.at,
      proof: s.override.proof,
      expect: {
        action: 'override',
        app,
        env: overrideEnv,
        version,
        run,
        details: detailsDigest({ reason: s.override.reason }),
      },
    });
  }
  return claims;
}

/** The Slack proofs sent to this run as Update inputs, by their digest. */
async function slackRequestsOf(
  sg: ShipgateClient,
  app: string,
  version: string,
  run: string,
): Promise<Map<string, Proof>> {
  const found = new Map<string, Proof>();
  const history = await sg.client.workflow
    .getHandle(releaseWorkflowId(app, version), run)
    .fetchHistory()
    .catch(() => null);
  for (const event of history?.events ?? []) {
    const payloads = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args
      ?.payloads as Payload[] | undefined;
    for (const payload of payloads ?? []) {
      let input: unknown;
      try {
        input = defaultPayloadConverter.fromPayload(payload);
      } catch {
        continue;
      }
      const proof = (input as { proof?: Partial<Extract<Proof, { kind: 'slack' }>> } | null)?.proof;
      if (
        proof?.kind === 'slack' &&
        typeof proof.body === 'string' &&
        typeof proof.timestamp === 'string' &&
        typeof proof.signature === 'string'
      )
        found.set(sha256Hex(`v0:${proof.timestamp}:${proof.body}`), proof as Proof);
    }
  }
  return found;
}

/**
 * A dashboard proof, offline: the statement must be for this action and signed by the session key the record
 * names, whose thumbprint the ID token carried. The token itself is not kept (only its digest), so that the
 * issuer signed it for this person is what the worker verified at the time.
 */
function webOidcCheck(
  p: ProofRecord,
  expect: Omit<Expectation, 'now'>,
): { outcome: 'worker-verified' | 'failed'; detail: string } {
  const cl = p.claims ?? {};
  if (!p.statement || !p.signature || !cl.publicKey || !cl.key)
    return { outcome: 'failed', detail: 'the dashboard proof kept no statement, signature or session key' };
  const jwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: cl.publicKey };
  const different = statementMismatch(p.statement, { ...expect, now: p.at });
  if (different) return { outcome: 'failed', detail: different };
  if (keyThumbprint(jwk) !== cl.key || !verifyWebStatementSignature(jwk, p.statement, p.signature))
    return {
      outcome: 'failed',
      detail: "the statement's signature does not verify with the recorded session key",
    };
  return {
    outcome: 'worker-verified',
    detail: `statement signed by the dashboard session key ${cl.key}; its ID token from ${cl.iss} (${cl.matched} ${cl.matched === 'email' ? cl.email : cl.sub}) verified by the worker at ${p.at}`,
  };
}
