/**
 * Block Kit messages, pure: the release card posted at the approval gate (and updated as approvals arrive
 * and stages change), the outcome messages with their "Roll back to X" button, and the rollback reason dialog.
 * The action ids and button values here are the Contract between these cards and the interactivity endpoint.
 */
import { tally, type ApprovalPolicy } from '../../policy/approvals.js';
import type { LedgerEntry } from '../../policy/ledger.js';
import { isValidVersion, LOGIN_PATTERN, NAME_PATTERN } from '../../policy/patterns.js';
import { RUN_ID_PATTERN } from '../../identity/statement.js';
import { parseStage } from '../../protocol/stages.js';
import { releaseUiLink } from '../../client/ui-link.js';
import { describeFindings, driftConsequence } from '../../policy/drift.js';
import type { DriftRecord, EnvironmentProgress, ReleaseStatus } from '../../workflows/types.js';
import type { AuditDegraded } from '../../policy/audit-delivery.js';
import { mention, type People } from './identity.js';

export const ACTION = {
  approve: 'shipgate.approve',
  reject: 'shipgate.reject',
  rollback: 'shipgate.rollback',
} as const;
export type ActionId = (typeof ACTION)[keyof typeof ACTION];

/** The callback id of the rollback reason dialog, and the ids of its reason field. */
export const ROLLBACK_VIEW = {
  callbackId: 'shipgate.rollback',
  reasonBlock: 'reason',
  reasonAction: 'reason',
} as const;

/** A Block Kit block or element: plain data, as Slack's API takes it. */
export type SlackBlock = { type: string; block_id?: string } & Record<string, unknown>;

export interface SlackMessage {
  /** The notification and screen-reader fallback. */
  text: string;
  blocks: SlackBlock[];
}

export interface CardContext {
  people: People;
  /** Group members from the config, to show the tally per rule. */
  groups?: Record<string, string[]>;
  /** The Temporal UI's base URL (e.g. http://127.0.0.1:8233), for links to the release. */
  uiUrl?: string;
  namespace?: string;
}

// ---- button values ----

export interface ReleaseRef {
  app: string;
  version: string;
  /**
   * The release's run (its first-execution run id): a click counts only for the run whose card it was on, so
   * a card left over from a rejected run can never approve the next run of the same version. Cards posted
   * before proofs existed carry none.
   */
  run?: string;
}
export interface RollbackRef {
  app: string;
  env: string;
  to: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function releaseValue(ref: ReleaseRef & { run: string }): string {
  return JSON.stringify({ app: ref.app, version: ref.version, run: ref.run });
}

export function rollbackValue(ref: RollbackRef): string {
  return JSON.stringify({ app: ref.app, env: ref.env, to: ref.to });
}

function parseObject(value: unknown): Parsed<Record<string, unknown>> {
  if (typeof value !== 'string') return { ok: false, reason: 'the button value is missing' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { ok: false, reason: 'the button value is not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { ok: false, reason: 'the button value is not a JSON object' };
  return { ok: true, value: parsed as Record<string, unknown> };
}

/** `{"app","version","run"}` from an Approve or Reject button (`run` absent on cards from before proofs). */
export function parseReleaseValue(value: unknown): Parsed<ReleaseRef> {
  const o = parseObject(value);
  if (!o.ok) return o;
  const { app, version, run } = o.value;
  if (typeof app !== 'string' || !NAME_PATTERN.test(app))
    return { ok: false, reason: 'value.app is not an app name' };
  if (typeof version !== 'string' || !isValidVersion(version))
    return { ok: false, reason: 'value.version is not a valid version' };
  if (run === undefined) return { ok: true, value: { app, version } };
  if (typeof run !== 'string' || !RUN_ID_PATTERN.test(run))
    return { ok: false, reason: 'value.run is not a run id' };
  return { ok: true, value: { app, version, run } };
}

/** `{"app","env","to"}` from a "Roll back to X" button (or the dialog's private metadata). */
export function parseRollbackValue(value: unknown): Parsed<RollbackRef> {
  const o = parseObject(value);
  if (!o.ok) return o;
  const { app, env, to } = o.value;
  if (typeof app !== 'string' || !NAME_PATTERN.test(app))
    return { ok: false, reason: 'value.app is not an app name' };
  if (typeof env !== 'string' || !NAME_PATTERN.test(env))
    return { ok: false, reason: 'value.env is not an environment name' };
  if (typeof to !== 'string' || !isValidVersion(to))
    return { ok: false, reason: 'value.to is not a valid version' };
  return { ok: true, value: { app, env, to } };
}

// ---- text helpers ----

/** Slack's mrkdwn needs &, < and > escaped; everything users typed goes through this. */
export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });
const plain = (text: string) => ({ type: 'plain_text', text: text.slice(0, 150), emoji: true });

/** A login rendered as a mention when it maps to a Slack user (escaped otherwise). */
function who(ctx: CardContext, login: string): string {
  return LOGIN_PATTERN.test(login) ? mention(ctx.people, login) : escapeText(login);
}

/** Slack renders `<!date^…>` in the reader's time zone; the fallback is the ISO time. */
function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeText(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${iso}>`;
}

export function releaseUrl(ctx: CardContext, app: string, version: string): string | undefined {
  return ctx.uiUrl ? releaseUiLink(ctx.uiUrl, ctx.namespace ?? 'default', app, version) : undefined;
}

const ENV_ICON: Record<EnvironmentProgress['state'], string> = {
  pending: '▫️',
  waiting: '⏸️',
  deploying: '🚀',
  verifying: '🔎',
  succeeded: '✅',
  failed: '❌',
  'rolled-back': '↩️',
};

const STATE_LINE: Record<string, string> = {
  succeeded: '✅ Released',
  failed: '❌ Failed',
  rejected: '🚫 Rejected',
  expired: '⌛ Expired: no decision in time',
  superseded: '⏭️ Superseded',
  'rolled-back': '↩️ Rolled back',
  cancelled: '🛑 Cancelled',
};

/** A person-readable stage, e.g. "deploying-production" → "Deploying to production". */
export function describeStage(status: Pick<ReleaseStatus, 'stage' | 'blockedBy' | 'blockedUntil'>): string {
  const stage = parseStage(status.stage);
  if (!stage) return escapeText(status.stage);
  switch (stage.kind) {
    case 'building':
      return 'Building';
    case 'awaiting-approval':
      return 'Waiting for approval';
    case 'wait-timer':
      return 'Approved; in the wait timer';
    case 'awaiting-window':
      return `Held by ${escapeText(status.blockedBy ?? 'a window')}${status.blockedUntil ? ` until ${when(status.blockedUntil)}` : ''}`;
    case 'awaiting-gate':
      return `Waiting for gate ${escapeText(status.blockedBy ?? '')}`.trim();
    case 'deploying':
      return `Deploying to ${escapeText(stage.env)}`;
    case 'smoke':
      return `Smoke tests on ${escapeText(stage.env)}`;
    case 'verifying':
      return `Verifying ${escapeText(stage.env)}`;
    case 'done':
      return 'Done';
  }
}

/** "team-leads 1/2" per rule, counting only members when the groups are known. */
export function tallyText(status: ReleaseStatus, groups?: Record<string, string[]>): string {
  const required = status.approvals.required;
  if (required.length === 0) return 'none required';
  if (groups) {
    const policy: ApprovalPolicy = { rules: required, groups, allowSelfApproval: true, channels: [] };
    return tally(policy, status.approvals.given)
      .rules.map((r) => `${escapeText(r.group)} ${r.have}/${r.count}`)
      .join(', ');
  }
  const need = required.reduce((n, r) => n + r.count, 0);
  return `${Math.min(status.approvals.given.length, need)}/${need}`;
}

// ---- the release card ----

/**
 * The card at the approval gate. Buttons show only while the release waits for approval, and only when the
 * release's run is known (`run`): a button names the run it decides on, and a click without one never counts.
 */
export function releaseCard(status: ReleaseStatus, ctx: CardContext, run?: string | null): SlackMessage {
  const gate = status.approvals.environment ?? 'production';
  const title = `${status.app} ${status.version} → ${gate}`;
  const url = releaseUrl(ctx, status.app, status.version);
  const waiting = status.state === 'running' && status.stage === 'awaiting-approval';

  const envLine = Object.entries(status.environments)
    .map(([env, p]) => {
      const at = p.at && p.state !== 'pending' ? ` ${when(p.at)}` : '';
      return `${ENV_ICON[p.state] ?? '•'} *${escapeText(env)}* ${p.state}${at}`;
    })
    .join('\n');

  const given = status.approvals.given
    .map((a) => {
      const note = a.comment ? `: _${escapeText(a.comment)}_` : '';
      return `• ${who(ctx, a.by)} via ${a.via} ${when(a.at)}${note}`;
    })
    .join('\n');

  const progress =
    status.state === 'running'
      ? `⏳ ${describeStage(status)}`
      : `${STATE_LINE[status.state] ?? status.state}${status.reason ? `: ${escapeText(status.reason)}` : ''}`;

  const blocks: SlackBlock[] = [
    { type: 'header', text: plain(title) },
    {
      type: 'section',
      fields: [
        mrkdwn(`*App*\n${escapeText(status.app)}`),
        mrkdwn(`*Version*\n${escapeText(status.version)}`),
        mrkdwn(`*Commit*\n\`${escapeText(status.commit.slice(0, 40))}\` on ${escapeText(status.branch)}`),
        mrkdwn(`*Started by*\n${who(ctx, status.actor)}`),
      ],
    },
    {
      type: 'section',
      block_id: 'environments',
      text: mrkdwn(`${envLine || '_no environments_'}${url ? `\n<${url}|Release in the Temporal UI>` : ''}`),
    },
    {
      type: 'section',
      block_id: 'approvals',
      text: mrkdwn(
        `*Approvals for ${escapeText(gate)}*: ${tallyText(status, ctx.groups)}${given ? `\n${given}` : ''}`,
      ),
    },
    { type: 'context', block_id: 'stage', elements: [mrkdwn(progress)] },
  ];
  if (status.override) {
    blocks.push({
      type: 'context',
      block_id: 'override',
      elements: [
        mrkdwn(
          `⚠️ Window override by ${who(ctx, status.override.by)} ${when(status.override.at)}: ${escapeText(status.override.reason)}`,
        ),
      ],
    });
  }
  if (waiting && !run) {
    blocks.push({
      type: 'context',
      block_id: 'decision',
      elements: [
        mrkdwn(
          `Decide with the CLI: \`shipgate approve ${escapeText(status.app)} ${escapeText(status.version)}\` (the buttons appear once shipgate knows this release's run)`,
        ),
      ],
    });
  }
  if (waiting && run) {
    const value = releaseValue({ app: status.app, version: status.version, run });
    blocks.push({
      type: 'actions',
      block_id: 'decision',
      elements: [
        { type: 'button', action_id: ACTION.approve, text: plain('Approve'), style: 'primary', value },
        {
          type: 'button',
          action_id: ACTION.reject,
          text: plain('Reject'),
          style: 'danger',
          value,
          confirm: {
            title: plain('Reject this release?'),
            text: mrkdwn(`${escapeText(status.app)} ${escapeText(status.version)} will end rejected.`),
            confirm: plain('Reject'),
            deny: plain('Cancel'),
            style: 'danger',
          },
        },
      ],
    });
  }
  const text = waiting
    ? `${title}: waiting for approval (${tallyText(status, ctx.groups)})`
    : `${title}: ${status.state === 'running' ? describeStage(status) : status.state}`;
  return { text, blocks };
}

// ---- outcomes ----

function rollbackButton(ref: RollbackRef): SlackBlock {
  return {
    type: 'actions',
    block_id: 'rollback',
    elements: [
      {
        type: 'button',
        action_id: ACTION.rollback,
        text: plain(`Roll back to ${ref.to}`),
        value: rollbackValue(ref),
      },
    ],
  };
}

/**
 * The outcome of a release on its last environment: live, failed, or rolled back. `rollbackTo` is the
 * version a rollback would restore now (none: no button).
 */
export function releaseOutcome(
  status: ReleaseStatus,
  env: string,
  rollbackTo: string | null,
  ctx: CardContext,
): SlackMessage {
  const name = `${escapeText(status.app)} ${escapeText(status.version)}`;
  const reason = status.reason ? `: ${escapeText(status.reason)}` : '';
  const headline =
    status.state === 'succeeded'
      ? `✅ *${name} is live on ${escapeText(env)}*`
      : status.state === 'rolled-back'
        ? `↩️ *${name} was rolled back on ${escapeText(env)}*${reason}`
        : `❌ *${name} failed on ${escapeText(env)}*${reason}`;
  const approvers = status.approvals.given.map((a) => who(ctx, a.by)).join(', ');
  const url = releaseUrl(ctx, status.app, status.version);
  const details = [
    `commit \`${escapeText(status.commit.slice(0, 40))}\``,
    `started by ${who(ctx, status.actor)}`,
    ...(approvers ? [`approved by ${approvers}`] : []),
    ...(url ? [`<${url}|Temporal UI>`] : []),
  ].join(' · ');
  const blocks: SlackBlock[] = [
    { type: 'section', text: mrkdwn(headline) },
    { type: 'context', elements: [mrkdwn(details)] },
  ];
  if (rollbackTo) blocks.push(rollbackButton({ app: status.app, env, to: rollbackTo }));
  const text =
    status.state === 'succeeded'
      ? `${status.app} ${status.version} is live on ${env}`
      : `${status.app} ${status.version} ${status.state === 'rolled-back' ? 'was rolled back' : 'failed'} on ${env}`;
  return { text, blocks };
}

/** The outcome of a rollback (requested, or automatic outside a release). */
export function rollbackOutcome(
  app: string,
  env: string,
  entry: LedgerEntry,
  rollbackTo: string | null,
  ctx: CardContext,
): SlackMessage {
  const where = `${escapeText(app)}/${escapeText(env)}`;
  const ok = entry.outcome === 'succeeded';
  const from = entry.fromVersion ? ` from ${escapeText(entry.fromVersion)}` : '';
  const headline = ok
    ? `↩️ *${where} rolled back to ${escapeText(entry.version)}*${from}`
    : `❌ *Rollback of ${where} to ${escapeText(entry.version)} failed*: ${escapeText(entry.failure ?? 'unknown error')}`;
  const details = [
    `by ${entry.automatic ? 'shipgate (automatic)' : who(ctx, entry.actor)}`,
    ...(entry.reason ? [`reason: ${escapeText(entry.reason)}`] : []),
  ].join(' · ');
  const blocks: SlackBlock[] = [
    { type: 'section', text: mrkdwn(headline) },
    { type: 'context', elements: [mrkdwn(details)] },
  ];
  if (rollbackTo) blocks.push(rollbackButton({ app, env, to: rollbackTo }));
  const text = ok
    ? `${app}/${env} rolled back to ${entry.version}`
    : `rollback of ${app}/${env} to ${entry.version} failed`;
  return { text, blocks };
}

/** Break-glass: someone let a release deploy while a window or freeze blocked it. */
export function overrideNotice(
  status: ReleaseStatus,
  env: string,
  override: { by: string; at: string; reason: string },
  ctx: CardContext,
): SlackMessage {
  const blocker = status.blockedBy ? escapeText(status.blockedBy) : 'a window or freeze';
  const url = releaseUrl(ctx, status.app, status.version);
  const blocks: SlackBlock[] = [
    {
      type: 'section',
      text: mrkdwn(
        `⚠️ *Break-glass on ${escapeText(env)}*: ${who(ctx, override.by)} let *${escapeText(status.app)} ${escapeText(status.version)}* deploy despite *${blocker}*`,
      ),
    },
    {
      type: 'context',
      elements: [
        mrkdwn(
          [
            `reason: ${escapeText(override.reason)}`,
            when(override.at),
            ...(url ? [`<${url}|Temporal UI>`] : []),
          ]
            .filter(Boolean)
            .join(' · '),
        ),
      ],
    },
  ];
  return {
    text: `Break-glass: ${override.by} overrode ${status.blockedBy ?? 'a window or freeze'} for ${status.app} ${status.version} on ${env}`,
    blocks,
  };
}

/**
 * Drift: what runs differs from what the environment's ledger says (changed outside shipgate), with what
 * changed and what happens next; a "Roll back to X" button when deploys are held and a version can be restored.
 */
export function driftNotice(
  app: string,
  env: string,
  drift: DriftRecord,
  rollbackTo: string | null,
): SlackMessage {
  const where = `${escapeText(app)}/${escapeText(env)}`;
  const lines = drift.findings.map(
    (f) =>
      `• \`${escapeText(f.object)}\` ${escapeText(f.what)}: expected \`${escapeText(f.expected)}\`, found \`${escapeText(f.actual)}\``,
  );
  const blocks: SlackBlock[] = [
    {
      type: 'section',
      text: mrkdwn(
        `⚠️ *Drift on ${where}*: what runs is not what shipgate deployed (${escapeText(drift.expected.version)})\n${lines.join('\n')}`,
      ),
    },
    {
      type: 'context',
      elements: [mrkdwn([escapeText(driftConsequence(drift.onDrift, app, env)), when(drift.at)].join(' · '))],
    },
  ];
  if (drift.onDrift === 'block' && rollbackTo) blocks.push(rollbackButton({ app, env, to: rollbackTo }));
  return { text: `Drift on ${app}/${env}: ${describeFindings(drift.findings)}`, blocks };
}

/** The audit store refused a workflow's records (sent once per outage), or took them again. */
export function auditNotice(event: {
  kind: 'audit-degraded' | 'audit-recovered';
  app: string;
  env: string | null;
  version?: string;
  degraded: AuditDegraded;
}): SlackMessage {
  const { app, env, version, degraded: d } = event;
  const where = env ? `${app}/${env}` : `${app} ${version ?? ''}`.trim();
  const text =
    event.kind === 'audit-degraded'
      ? `Audit degraded on ${where}: records cannot be written to the audit store (${d.lastError}); deploys and rollbacks go on, and the records wait in the workflow`
      : `Audit recovered on ${where}: the records waiting since ${d.since} are written`;
  const icon = event.kind === 'audit-degraded' ? '⚠️' : '✅';
  return {
    text,
    blocks: [
      { type: 'section', text: mrkdwn(`${icon} ${escapeText(text)}`) },
      { type: 'context', elements: [mrkdwn(`since ${when(d.since)}`)] },
    ],
  };
}

/** The worker found an environment down (its proxy or the serving version's process dead), or serving again. */
export function healthNotice(event: {
  kind: 'environment-down' | 'environment-restored';
  app: string;
  env: string;
  outage: { version: string | null; since: string; until: string | null; detail: string };
}): SlackMessage {
  const { app, env, outage: o } = event;
  const where = `${app}/${env}${o.version ? ` (${o.version})` : ''}`;
  const took =
    o.until !== null ? ` after ${((Date.parse(o.until) - Date.parse(o.since)) / 1000).toFixed(1)} s` : '';
  const text =
    event.kind === 'environment-down'
      ? `${where} is DOWN: ${o.detail}; shipgate keeps trying to restart it`
      : `${where} serves again${took}: ${o.detail}`;
  const icon = event.kind === 'environment-down' ? '🔴' : '✅';
  return {
    text,
    blocks: [
      { type: 'section', text: mrkdwn(`${icon} ${escapeText(text)}`) },
      { type: 'context', elements: [mrkdwn(`down since ${when(o.since)}`)] },
    ],
  };
}

// ---- the rollback dialog ----

/** The modal a "Roll back to X" button opens; its submission carries the reason. */
export function rollbackModal(ref: RollbackRef): Record<string, unknown> & { type: 'modal' } {
  return {
    type: 'modal',
    callback_id: ROLLBACK_VIEW.callbackId,
    private_metadata: rollbackValue(ref),
    title: plain('Roll back'),
    submit: plain('Roll back'),
    close: plain('Cancel'),
    blocks: [
      {
        type: 'section',
        text: mrkdwn(
          `Roll back *${escapeText(ref.app)}* on *${escapeText(ref.env)}* to *${escapeText(ref.to)}*? The reason is stored verbatim in the audit trail.`,
        ),
      },
      {
        type: 'input',
        block_id: ROLLBACK_VIEW.reasonBlock,
        label: plain('Reason'),
        element: {
          type: 'plain_text_input',
          action_id: ROLLBACK_VIEW.reasonAction,
          // One line: reasons with control characters (newlines among them) are refused.
          multiline: false,
          max_length: 3000,
        },
      },
    ],
  };
}
