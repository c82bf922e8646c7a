import type { ReleaseStatus } from '../workflows/types.js';
import { esc } from '../client/text.js';

/** The release's status for a terminal; every text that came from someone else is escaped. */
export function formatStatus(s: ReleaseStatus): string {
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
  for (const [env, p] of Object.entries(s.environments))
    lines.push(`    ${esc(env).padEnd(14)} ${esc(p.state)}${p.at ? `  ${esc(p.at)}` : ''}`);
  return lines.join('\n');
}

/** The Contract's `status --json` document. */
export function statusJson(s: ReleaseStatus) {
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
    environments: s.environments,
    blockedBy: s.blockedBy,
    blockedUntil: s.blockedUntil,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
  };
}
