/**
 * Configuration removed under live state, pure: a release whose app or environment is missing from a config
 * that loads fine waits a bounded grace for it to come back, then ends with a reason; an environment that still
 * serves but is no longer configured may be rolled back or torn down by people its last known config and the
 * current config's groups both name. An unreadable config is never "removed": it holds (fails closed).
 */
import { formatDuration } from '../config/duration.js';
import type { DeploySpec, GateVerdict } from '../workflows/types.js';
import type { Ending } from './release-decisions.js';
import { gateSleepMs } from './release-decisions.js';

/** How long a release waits for its removed app or environment to come back, unless configRemovedGrace says. */
export const DEFAULT_CONFIG_REMOVED_GRACE_MS = 60 * 60_000;

/** The gate's verdict when the config loads but lacks the app (`appMissing`) or the environment. */
export function removedVerdict(app: string, env: string, appMissing: boolean, graceMs: number): GateVerdict {
  const what = appMissing ? `app ${app}` : `${app}/${env}`;
  return {
    allowed: false,
    blockedBy: 'config',
    until: null,
    reason: `${what} is no longer in the config; a waiting release ends unless it comes back within ${formatDuration(graceMs)}`,
    kind: 'removed',
    removedGraceMs: graceMs,
  };
}

/**
 * A release held because its app or environment was removed: since when (`since`, first seen missing; reset by
 * any other verdict), whether the grace has run out (the ending), and how long to sleep before looking again
 * (never past the end of the grace).
 */
export function removedHold(
  verdict: GateVerdict,
  since: number | null,
  nowMs: number,
  where: { app: string; env: string },
): { since: number | null; giveUp: Ending | null; sleepMs: number | null } {
  if (verdict.kind !== 'removed') return { since: null, giveUp: null, sleepMs: null };
  const start = since ?? nowMs;
  const grace = verdict.removedGraceMs ?? DEFAULT_CONFIG_REMOVED_GRACE_MS;
  const left = start + grace - nowMs;
  if (left <= 0) {
    const at = new Date(start).toISOString();
    return {
      since: start,
      giveUp: {
        state: 'cancelled',
        reason: `${where.app}/${where.env} was removed from the config (first seen missing at ${at}) and did not come back within ${formatDuration(grace)}`,
      },
      sleepMs: null,
    };
  }
  return {
    since: start,
    giveUp: null,
    sleepMs: Math.max(Math.min(gateSleepMs(verdict.until, nowMs), left), 1),
  };
}

/** What an environment remembers of its config, to act on it once the config no longer names it. */
export interface KnownConfig {
  /** The groups whose members could roll it back (its approval groups plus rollbackGroup, or every group). */
  rollbackGroups: string[];
  /** How it last deployed (the target block among it): what a rollback of an unconfigured environment uses. */
  spec: DeploySpec | null;
  /** When it was last read from a config that named the environment. */
  at: string;
}

/** The policy read of an environment: configured, removed from a config that loads, or unreadable. */
export type ConfigPresence =
  | { state: 'configured' }
  | { state: 'removed'; groups: Record<string, string[]>; message: string }
  | { state: 'unreadable'; message: string };

export type UnconfiguredAction = 'rollback' | 'teardown';

const VERB: Record<UnconfiguredAction, string> = { rollback: 'roll back', teardown: 'tear down' };

/**
 * Who may act on an environment the config no longer names: a member of one of the groups that could roll it
 * back when it was last configured (`known`), who is still a member of that group in the current config.
 * Neither half alone suffices: the recorded membership may be stale (someone left the group), and the current
 * config's groups alone would let anyone added to any group act on an environment they were never trusted with.
 */
export function authoriseUnconfigured(
  known: KnownConfig | null,
  groups: Record<string, string[]>,
  action: UnconfiguredAction,
  by: string,
  app: string,
  env: string,
): { ok: true; group: string } | { ok: false; reason: string } {
  const where = `${app}/${env}`;
  if (!known)
    return {
      ok: false,
      reason: `cannot ${VERB[action]} ${where}: it is no longer in the config and it recorded no config of its own (nobody can be authorised from it)`,
    };
  const login = by.toLowerCase();
  const group = known.rollbackGroups.find((g) => (groups[g] ?? []).some((m) => m.toLowerCase() === login));
  if (group) return { ok: true, group };
  const names = known.rollbackGroups.join(', ') || 'no group';
  return {
    ok: false,
    reason: `${by} may not ${VERB[action]} ${where}: it is no longer in the config, so only members of the groups that could roll it back when it was last configured (${names}) who are still in that group may`,
  };
}

/** The refusal for a teardown of an environment the config still names. */
export const stillConfiguredRefusal = (app: string, env: string): string =>
  `cannot tear down ${app}/${env}: it is still configured; remove it from the config first`;

/** The refusal for a rollback of an unconfigured environment that never recorded how it deploys. */
export const noKnownSpecRefusal = (app: string, env: string): string =>
  `cannot roll back ${app}/${env}: it is no longer in the config and it recorded no deploy settings to roll back with`;
