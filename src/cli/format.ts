import type { ReleaseStatus } from '../workflows/types.js';

export function formatStatus(s: ReleaseStatus): string {
  const lines = [
    `${s.app} ${s.version}  ${s.state.toUpperCase()}  stage: ${s.stage}`,
    `  commit ${s.commit} on ${s.branch}, started by ${s.actor} at ${s.startedAt}${s.endedAt ? `, ended ${s.endedAt}` : ''}`,
  ];
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  if (s.blockedBy) lines.push(`  held by: ${s.blockedBy}${s.blockedUntil ? ` until ${s.blockedUntil}` : ''}`);
  if (s.approvals.required.length) {
    const need = s.approvals.required.map((r) => `${r.count} of ${r.group}`).join(' and ');
    lines.push(`  approvals for ${s.approvals.environment}: need ${need}`);
    for (const a of s.approvals.given)
      lines.push(`    ✔ ${a.by} via ${a.via} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`);
  }
  for (const r of s.approvals.refused)
    lines.push(`    ✘ ${r.by} (${r.action} via ${r.via}) refused: ${r.reason}`);
  lines.push('  environments:');
  for (const [env, p] of Object.entries(s.environments))
    lines.push(`    ${env.padEnd(14)} ${p.state}${p.at ? `  ${p.at}` : ''}`);
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
