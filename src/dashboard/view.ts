/**
 * What the page shows, built from what Temporal answered and the config: one cell per app × environment, and
 * one card per release waiting at a gate. Pure (the instant is a parameter), so the API, the SSE diffs and the
 * tests share one shape. Free text stays text here: the page renders it with textContent.
 */
import type { ShipgateConfig } from '../config/schema.js';
import type { EnvironmentSnapshot, ReleaseStatus } from '../workflows/types.js';
import { historyRows, type HistoryRow } from '../client.js';
import { evaluateWindows, type Freeze, type WindowVerdict } from '../policy/windows.js';
import { tally, type ApprovalRule } from '../policy/approvals.js';
import { releaseUiLink, temporalUiLink } from '../client/ui-link.js';

export type Health = 'serving' | 'deploying' | 'down' | 'none';

export interface Cell {
  app: string;
  env: string;
  current: { version: string; since: string; by: string; approvers: string[]; commit: string | null } | null;
  health: Health;
  /** Why DOWN, or what deploys, in a few words. */
  healthDetail: string | null;
  /** The operation running now (its version) and how many wait behind it. */
  running: string | null;
  queued: number;
  freezes: Freeze[];
  windows: WindowVerdict | null;
  /** Releases standing at this environment's gates (release ids). */
  waiting: string[];
  drift: string | null;
  auditDegraded: boolean;
  tornDown: boolean;
  /** The command that rolls this environment back (read-only mode shows it instead of a button). */
  rollbackCommand: string;
}

export interface ReleaseView {
  id: string;
  app: string;
  version: string;
  actor: string;
  commit: string;
  stage: string;
  state: string;
  /** The environment whose gates it stands at, or null (building, deploying, between environments). */
  env: string | null;
  startedAt: string;
  /** Since when it stands at this gate. */
  since: string | null;
  rules: { group: string; count: number; have: number }[];
  approved: { by: string; via: string; at: string; comment: string | null }[];
  refused: { by: string; via: string | null; at: string; action: string; reason: string }[];
  /** Members of the groups whose rules are not met yet who have not approved (nor started it, unless allowed). */
  eligible: string[];
  allowSelfApproval: boolean;
  /** The window, freeze or gate that holds it, and until when. */
  blockedBy: string | null;
  blockedUntil: string | null;
  /** When the approval gate expires (its approvalTimeout from `since`). */
  expiresAt: string | null;
  auditDegraded: boolean;
  link: string | null;
  commands: { approve: string; reject: string };
}

export interface DashboardState {
  /** Increases with each change the collector saw. */
  seq: number;
  at: string;
  apps: { name: string; environments: string[] }[];
  cells: Record<string, Cell>;
  releases: Record<string, ReleaseView>;
}

export interface LinkContext {
  uiUrl: string | null;
  namespace: string;
}

export const cellKey = (app: string, env: string) => `${app}/${env}`;

/** Shell-quotes a word for a command line shown on the page (versions and names need none; reasons do). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const GATE_STAGES = new Set(['awaiting-approval', 'wait-timer', 'awaiting-window', 'awaiting-gate']);

export function cellView(
  config: ShipgateConfig,
  app: string,
  env: string,
  snap: EnvironmentSnapshot | null,
  waiting: string[],
  now: Date,
): Cell {
  const envConfig = config.apps[app]?.environments[env];
  const freezes = (snap?.freezes ?? []).filter((f) => Date.parse(f.until) > now.getTime());
  const windows =
    envConfig && (envConfig.windows.length > 0 || freezes.length > 0)
      ? evaluateWindows(envConfig.windows, freezes, now)
      : null;
  const ledger = snap?.ledger ?? [];
  const current = snap?.current ?? null;
  // Who put the serving version there: the newest settled entry for it that served.
  const made = current
    ? [...ledger]
        .reverse()
        .find((e) => e.version === current.version && e.outcome !== 'running' && e.outcome !== 'failed')
    : undefined;
  const down = snap?.health?.state === 'down' && current && snap.health.version === current.version;
  const health: Health = down ? 'down' : snap?.running ? 'deploying' : current ? 'serving' : 'none';
  const runningEntry = snap?.running ? ledger.find((e) => e.opId === snap.running) : undefined;
  return {
    app,
    env,
    current: current
      ? {
          version: current.version,
          since: current.since,
          by: made?.actor ?? 'unknown',
          approvers: made?.approvers ?? [],
          commit: made?.commit ?? null,
        }
      : null,
    health,
    healthDetail: down
      ? (snap!.health!.detail ?? `down since ${snap!.health!.since}`)
      : runningEntry
        ? `${runningEntry.action} ${runningEntry.version}`
        : null,
    running: runningEntry?.version ?? null,
    queued: snap?.queue.length ?? 0,
    freezes,
    windows,
    waiting,
    drift: snap?.drift ? `drift since ${snap.drift.at}` : null,
    auditDegraded: !!snap?.auditDegraded,
    tornDown: !!snap?.tornDown,
    rollbackCommand: `shipgate rollback ${shellWord(app)} ${shellWord(env)} --as <you> --reason '<why>'`,
  };
}

/** Case-insensitive set difference, keeping the config's spelling. */
function without(names: string[], gone: readonly string[]): string[] {
  const out = new Set(gone.map((n) => n.toLowerCase()));
  return names.filter((n) => !out.has(n.toLowerCase()));
}

export function releaseView(
  config: ShipgateConfig,
  s: ReleaseStatus,
  id: string,
  links: LinkContext,
): ReleaseView {
  const env = s.proofScope?.env ?? (GATE_STAGES.has(s.stage) ? s.approvals.environment : null);
  const envConfig = env ? config.apps[s.app]?.environments[env] : undefined;
  const allowSelfApproval = envConfig?.allowSelfApproval ?? false;
  const required: ApprovalRule[] = s.approvals.required;
  const t = tally(
    { rules: required, groups: config.groups, allowSelfApproval, channels: [] },
    s.approvals.given,
  );
  const unmet = t.rules.filter((r) => r.by.length < r.count).map((r) => r.group);
  const members = [...new Set(unmet.flatMap((g) => config.groups[g] ?? []))];
  const approvedBy = s.approvals.given.map((a) => a.by);
  const eligible = without(members, [...approvedBy, ...(allowSelfApproval ? [] : [s.actor])]);
  const since = env ? (s.environments[env]?.at ?? null) : null;
  const expiresAt =
    s.stage === 'awaiting-approval' && since && envConfig
      ? new Date(Date.parse(since) + envConfig.approvalTimeout).toISOString()
      : null;
  const v = shellWord(s.version);
  const a = shellWord(s.app);
  return {
    id,
    app: s.app,
    version: s.version,
    actor: s.actor,
    commit: s.commit,
    stage: s.stage,
    state: s.state,
    env,
    startedAt: s.startedAt,
    since,
    rules: t.rules.map((r) => ({ group: r.group, count: r.count, have: r.have })),
    approved: s.approvals.given.map((g) => ({
      by: g.by,
      via: g.via,
      at: g.at,
      comment: g.comment ?? null,
    })),
    refused: s.approvals.refused.map((r) => ({
      by: r.by,
      via: r.via,
      at: r.at,
      action: r.action,
      reason: r.reason,
    })),
    eligible,
    allowSelfApproval,
    blockedBy: s.blockedBy,
    blockedUntil: s.blockedUntil,
    expiresAt,
    auditDegraded: !!s.auditDegraded,
    link: links.uiUrl ? releaseUiLink(links.uiUrl, links.namespace, s.app, s.version) : null,
    commands: {
      approve: `shipgate approve ${a} ${v} --as <you> --comment '<comment>'`,
      reject: `shipgate reject ${a} ${v} --as <you> --reason '<why>'`,
    },
  };
}

/** A timeline row: a history row, whether it was automatic, and a link to its release in the Temporal UI. */
export type TimelineRow = HistoryRow & { automatic: boolean; releaseId: string | null; link: string | null };

/** The environment's timeline, newest first: what `shipgate history` shows, with links. */
export function timeline(snap: EnvironmentSnapshot | null, links: LinkContext): TimelineRow[] {
  const ledger = snap?.ledger ?? [];
  const byKey = new Map(
    ledger.map((e) => [`${e.action}|${e.version}|${e.endedAt ?? e.startedAt ?? e.requestedAt}`, e]),
  );
  return historyRows(ledger, snap?.drifts ?? []).map((row) => {
    const e = row.action === 'drift' ? undefined : byKey.get(`${row.action}|${row.version}|${row.at}`);
    const releaseId = e?.releaseId ?? null;
    return {
      ...row,
      automatic: e?.automatic ?? false,
      releaseId,
      link: releaseId && links.uiUrl ? temporalUiLink(links.uiUrl, links.namespace, releaseId) : null,
    };
  });
}

/** The apps and environments of the config, in its order. */
export function gridOf(config: ShipgateConfig): { name: string; environments: string[] }[] {
  return Object.entries(config.apps).map(([name, a]) => ({
    name,
    environments: Object.keys(a.environments),
  }));
}
