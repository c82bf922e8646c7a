import type { ReleaseStatus } from '../workflows/types.js';
import type { EnvironmentHealth } from '../policy/self-healing.js';
import { esc } from '../client/text.js';

/** While the version that serves is down: when it went down and why, as a worker reported it. */
export type DownNow = Pick<EnvironmentHealth, 'since' | 'detail'>;

/** "DOWN since … (proxy 4242 is gone; restarting)", or null while it serves. */
export function downText(h: EnvironmentHealth | null | undefined): string | null {
  if (h?.state !== 'down') return null;
  return `DOWN since ${esc(h.since)}${h.detail ? ` (${esc(h.detail)})` : ''}`;
}

/** "last outage: … → … (…)", or null when none ended for the version that serves. */
export function lastOutageText(h: EnvironmentHealth | null | undefined): string | null {
  const o = h?.lastOutage;
  if (!o) return null;
  return `last outage: ${esc(o.since)} → ${esc(o.until)}${o.detail ? ` (${esc(o.detail)})` : ''}`;
}

/** The release's status for a terminal; every text that came from someone else is escaped. */
export function formatStatus(s: ReleaseStatus, down: Record<string, DownNow> = {}): string {
  const lines = [
    `${esc(s.app)} ${esc(s.version)}  ${s.state.toUpperCase()}  stage: ${esc(s.stage)}`,
    `  commit ${esc(s.commit)} on ${esc(s.branch)}, started by ${esc(s.actor)} at ${esc(s.startedAt)}${s.endedAt ? `, ended ${esc(s.endedAt)}` : ''}`,
  ];
  if (s.reason) lines.push(`  reason: ${esc(s.reason)}`);
  if (s.blockedBy)
    lines.push(`  held by: ${esc(s.blockedBy)}${s.blockedUntil ? ` until ${esc(s.blockedUntil)}` : ''}`);
  if (s.approvals.required.length) {
    const need = s.approvals.required.map((r) => `${r.count} of ${esc(r.group)}`).join(' and ');
    lines.push(`  approvals for ${esc(s.approvals.environment)}: need ${need}`);
    for (const a of s.approvals.given)
      lines.push(
        `    ✔ ${esc(a.by)} via ${esc(a.via)} at ${esc(a.at)}${a.comment ? `: ${esc(a.comment)}` : ''}`,
      );
  }
  for (const r of s.approvals.refused)
    lines.push(
      `    ✘ ${esc(r.by)} (${esc(r.action)}${r.via ? ` via ${esc(r.via)}` : ''}) refused: ${esc(r.reason)}`,
    );
  lines.push('  environments:');
  for (const [env, p] of Object.entries(s.environments)) {
    const d = down[env];
    const shown = d ? `  — ${downText({ ...d, state: 'down', version: s.version, lastOutage: null })}` : '';
    lines.push(`    ${esc(env).padEnd(14)} ${esc(p.state)}${p.at ? `  ${esc(p.at)}` : ''}${shown}`);
  }
  return lines.join('\n');
}

/** The Contract's `status --json` document. */
export function statusJson(s: ReleaseStatus, down: Record<string, DownNow> = {}) {
  return {
    app: s.app,
    version: s.version,
    commit: s.commit,
    actor: s.actor,
    branch: s.branch,
    state: s.state,
    stage: s.stage,
    reason: s.reason,
    approvals: {
      required: s.approvals.required.map(({ group, count }) => ({ group, count })),
      given: s.approvals.given.map((a) => ({ by: a.by, at: a.at, via: a.via, comment: a.comment ?? null })),
      refused: s.approvals.refused.map((r) => ({
        by: r.by,
        at: r.at,
        via: r.via,
        reason: r.reason,
        action: r.action,
      })),
    },
    // `down` is added to an environment (and only while) the worker reports this version down there.
    environments: Object.fromEntries(
      Object.entries(s.environments).map(([env, p]) => [env, down[env] ? { ...p, down: down[env] } : p]),
    ),
    blockedBy: s.blockedBy,
    blockedUntil: s.blockedUntil,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
  };
}
