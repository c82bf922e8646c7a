/**
 * The job summary: what happened to the release, as Markdown for GitHub's step summary. Pure, so the exact
 * text is unit-tested. Every value that people or the release supply (reasons, comments, logins) is escaped,
 * so free text can neither break the tables nor inject links or HTML.
 */
import type { EnvironmentProgress, ReleaseStatus } from '../../workflows/types.js';

export type Outcome =
  | { kind: 'succeeded'; text: string }
  | { kind: 'failed'; text: string }
  | { kind: 'timed-out'; text: string };

export interface SummaryInput {
  status: ReleaseStatus;
  outcome: Outcome;
  releaseId: string;
  /** A link to the release's run in the Temporal UI, when the UI's address is known. */
  uiLink: string | null;
}

/** CRLF, C0 and C1 controls, DEL, and the line and paragraph separators. */
// eslint-disable-next-line no-control-regex -- control characters are what this finds
const LINE_BREAKING = /\r\n|[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Escapes text for a Markdown table cell: no HTML, no Markdown syntax, no line breaks (line and paragraph
 * separators and other control characters included), no `|`.
 */
export function md(text: string | null | undefined): string {
  if (!text) return '';
  return text
    .replace(LINE_BREAKING, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_{}[\]()#+!|~]/g, (c) => `\\${c}`);
}

const OUTCOME_ICON: Record<Outcome['kind'], string> = { succeeded: '✅', failed: '❌', 'timed-out': '⏱️' };

const ENV_ICON: Record<EnvironmentProgress['state'], string> = {
  pending: '⚪',
  waiting: '⏳',
  deploying: '🚀',
  verifying: '🔎',
  succeeded: '✅',
  failed: '❌',
  'rolled-back': '↩️',
};

/** A URL inside Markdown link parentheses. */
const mdUrl = (url: string) =>
  url.replace(/[()<>\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function renderSummary({ status: s, outcome, releaseId, uiLink: rawLink }: SummaryInput): string {
  const uiLink = rawLink && mdUrl(rawLink);
  const out: string[] = [];
  out.push(`### ${OUTCOME_ICON[outcome.kind]} shipgate: ${md(s.app)} ${md(s.version)}`, '');
  out.push(md(outcome.text), '');

  out.push('| | |', '| --- | --- |');
  out.push(`| State | \`${s.state}\` |`);
  out.push(`| Stage | \`${s.stage}\` |`);
  if (s.reason) out.push(`| Reason | ${md(s.reason)} |`);
  if (s.blockedBy)
    out.push(`| Held by | ${md(s.blockedBy)}${s.blockedUntil ? ` until ${md(s.blockedUntil)}` : ''} |`);
  out.push(`| Commit | \`${md(s.commit)}\` on ${md(s.branch)} |`);
  out.push(`| Started by | ${md(s.actor)} at ${md(s.startedAt)} |`);
  if (s.endedAt) out.push(`| Ended | ${md(s.endedAt)} |`);
  out.push(`| Release | ${uiLink ? `[${md(releaseId)}](${uiLink})` : `\`${md(releaseId)}\``} |`, '');

  out.push('#### Stages', '', '| Environment | State | Since |', '| --- | --- | --- |');
  for (const [env, p] of Object.entries(s.environments))
    out.push(`| ${md(env)} | ${ENV_ICON[p.state] ?? ''} ${p.state} | ${md(p.at)} |`);
  out.push('');

  const a = s.approvals;
  if (a.required.length || a.given.length || a.refused.length) {
    out.push(`#### Approvals${a.environment ? ` for ${md(a.environment)}` : ''}`, '');
    if (a.required.length) {
      const need = a.required.map((r) => `${r.count} of ${md(r.group)}`).join(' and ');
      out.push(`Required: ${need}. Given: ${a.given.length}.`, '');
    }
    if (a.given.length) {
      out.push('| Approved by | Via | At | Comment |', '| --- | --- | --- | --- |');
      for (const g of a.given) out.push(`| ${md(g.by)} | ${md(g.via)} | ${md(g.at)} | ${md(g.comment)} |`);
      out.push('');
    }
    if (a.refused.length) {
      out.push('| Refused | Action | Via | Reason |', '| --- | --- | --- | --- |');
      for (const r of a.refused)
        out.push(`| ${md(r.by)} | ${md(r.action)} | ${md(r.via)} | ${md(r.reason)} |`);
      out.push('');
    }
  }

  if (uiLink) out.push(`[Open the release in the Temporal UI](${uiLink})`, '');
  else out.push('Set the `ui-url` input to link the release in the Temporal UI.', '');
  return out.join('\n');
}
