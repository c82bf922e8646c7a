/**
 * Pure rules around proofs of identity, for the workflows: what a proof must name (the expectation), what is
 * kept of an accepted one, replay windows, and how a deploy report a release received compares with what its
 * environment says it sent. Verification itself is I/O (keys, secrets, an issuer) and runs in an activity.
 */
import { detailsDigest } from '../identity/statement.js';
import type { Expectation, Proof, ProofAction, Verified } from '../identity/types.js';
import { isChannel, type RecordedChannel } from '../protocol/channels.js';
import type { ProofRecord, ProofRef } from '../protocol/proof-record.js';

/** What a refusal names when no proof held: nobody was proven. */
export const UNVERIFIED = '(unverified)';

/** How long an environment remembers the proofs it accepted: longer than any proof stays fresh. */
export const PROOF_MEMORY_MS = 10 * 60_000;

/** The details each action's signature covers, so a proof cannot be moved to another reason or target. */
export const detailsOf = {
  release: (r: { commit: string; branch: string }) => detailsDigest({ commit: r.commit, branch: r.branch }),
  approve: (i: { comment?: string }) => detailsDigest({ comment: i.comment }),
  /** reject, cancel and override; no reason (a Slack button carries none) signs as none. */
  decide: (i: { reason?: string }) => detailsDigest({ reason: i.reason || undefined }),
  rollback: (i: { reason: string; to?: string }) => detailsDigest({ reason: i.reason, to: i.to }),
  freeze: (i: { reason: string; until: string }) => detailsDigest({ reason: i.reason, until: i.until }),
  unfreeze: () => detailsDigest({}),
  adopt: (i: { reason: string }) => detailsDigest({ reason: i.reason }),
  teardown: (i: { reason: string }) => detailsDigest({ reason: i.reason }),
};

/**
 * What a proof for a release-scoped action must name: the release's first run, the environment it stands at
 * (null when none: building, or between environments) and its version.
 */
export function releaseExpectation(
  action: ProofAction,
  r: { app: string; version: string; run: string; env: string | null },
  details: string,
  now: string,
): Expectation {
  return { action, app: r.app, env: r.env, version: r.version, run: r.run, details, now };
}

/** What a proof for an environment action must name: no run; a rollback's target as its version. */
export function environmentExpectation(
  action: 'rollback' | 'freeze' | 'unfreeze' | 'adopt' | 'teardown',
  e: { app: string; env: string; version: string | null },
  details: string,
  now: string,
): Expectation {
  return { action, app: e.app, env: e.env, version: e.version, run: null, details, now };
}

/** What is kept of an accepted proof (see ProofRecord). */
export function proofRecord(proof: Proof, v: Extract<Verified, { ok: true }>): ProofRecord {
  const record: ProofRecord = { login: v.login, via: v.via, digest: v.digest, at: v.at };
  // The statement and its signature, never a token: a web-oidc record names its ID token by digest (claims).
  if (proof.kind === 'ssh' || proof.kind === 'web-oidc') {
    record.statement = proof.statement;
    record.signature = proof.signature;
  }
  if (v.claims) record.claims = { ...v.claims };
  return record;
}

export const proofRef = (r: ProofRecord): ProofRef => ({ login: r.login, via: r.via, digest: r.digest });

/** The channel a refused proof claimed, if it names one (nothing about it was proven). */
export function claimedChannel(proof: unknown): RecordedChannel | null {
  const kind = (proof as { kind?: unknown } | null)?.kind;
  return isChannel(kind) ? kind : null;
}

/** Accepted proofs younger than PROOF_MEMORY_MS at `nowMs` (digest → when accepted, epoch ms). */
export function recentProofs(seen: Iterable<readonly [string, number]>, nowMs: number): [string, number][] {
  return [...seen].filter(([, at]) => nowMs - at < PROOF_MEMORY_MS).map(([d, at]) => [d, at]);
}

/** The reason recorded for a decision that came without one (a Slack button). */
export const reasonOf = (i: { reason?: string }): string => i.reason || 'no reason given';

export const replayRefusal = 'this proof was used before (a replay); sign the request again';

/** The parts of a deploy report that decide what a release does. */
export interface ReportLike {
  opId: string;
  env: string;
  phase: string;
  outcome?: string;
}

/**
 * The environment's own report that matches the one received (same op, phase and outcome), which the release
 * then acts on instead of what it received; null when the environment sent no such report.
 */
export function confirmedReport<R extends ReportLike>(
  received: ReportLike,
  sent: readonly R[] | null,
): R | null {
  return (
    sent?.find(
      (s) =>
        s.opId === received.opId &&
        s.env === received.env &&
        s.phase === received.phase &&
        (s.outcome ?? null) === (received.outcome ?? null),
    ) ?? null
  );
}

/**
 * A deploy's operation id names the release, its first run, the environment and the attempt:
 * `<releaseId>@<run>#<env>#<attempt>`. Null when `opId` is not of that form.
 */
export function parseOpId(
  opId: string,
): { releaseId: string; run: string; env: string; attempt: number } | null {
  const m = /^(release\/[^@#]+)@([0-9A-Za-z-]{1,64})#([a-z0-9][a-z0-9-]{0,62})#([1-9][0-9]{0,5})$/.exec(opId);
  return m ? { releaseId: m[1]!, run: m[2]!, env: m[3]!, attempt: Number(m[4]) } : null;
}
