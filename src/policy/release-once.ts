/**
 * A version released successfully is never released again (a rollback redeploys it). The answer comes from the
 * last environment's own durable record, carried across continue-as-new: a release workflow that succeeded is
 * deleted once the namespace's retention passes, and the workflow id's reuse policy then forgets it.
 */
import type { LedgerEntry } from './ledger.js';

/** A version a release deployed successfully to an environment. */
export interface Released {
  version: string;
  releaseId: string | null;
  at: string;
}

/** How many released versions an environment remembers beyond its ledger (a few dozen bytes each). */
export const KEPT_RELEASED = 5000;

/**
 * Whether `version` was deployed by a release and passed verification here: from the list the environment
 * keeps, or (for deploys from before it kept one) from its ledger.
 */
export function releasedHere(
  released: readonly Released[],
  ledger: readonly LedgerEntry[],
  version: string,
): Released | null {
  const kept = released.find((r) => r.version === version);
  if (kept) return kept;
  const entry = ledger.find((e) => e.action === 'deploy' && e.version === version && e.verifiedAt !== null);
  return entry ? { version, releaseId: entry.releaseId, at: entry.verifiedAt! } : null;
}

/** Adds a released version (once), keeping the newest KEPT_RELEASED. */
export function rememberReleased(released: readonly Released[], r: Released): Released[] {
  if (released.some((x) => x.version === r.version)) return [...released];
  return [...released, r].slice(-KEPT_RELEASED);
}

/** The refusal of a release whose version already succeeded on the last environment. */
export function alreadyReleasedRefusal(app: string, version: string, env: string, prior: Released): string {
  const by = prior.releaseId ? ` by ${prior.releaseId}` : '';
  return (
    `${app} ${version} was already released successfully (deployed to ${env}${by} at ${prior.at}); ` +
    `to deploy it again use: shipgate rollback ${app} <env> --to ${version}`
  );
}

/** What the refusal carries for clients (the failure's details), so they can tell it from other refusals. */
export interface AlreadyReleased {
  alreadyReleased: { env: string } & Released;
}

export function isAlreadyReleased(details: unknown): details is AlreadyReleased {
  return (
    !!details &&
    typeof details === 'object' &&
    typeof (details as { alreadyReleased?: { version?: unknown } }).alreadyReleased?.version === 'string'
  );
}
