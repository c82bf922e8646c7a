/**
 * A Slack interaction as proof: the raw request body with Slack's `X-Slack-Signature` (v0, HMAC-SHA256 with
 * the app's signing secret) and `X-Slack-Request-Timestamp`. The worker checks it again itself, so only a
 * request Slack really signed counts, whoever forwarded it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ACTION, ROLLBACK_VIEW } from '../integrations/slack/cards.js';
import { NAME_PATTERN, VERSION_PATTERN } from '../policy/patterns.js';
import { detailsDigest, RUN_ID_PATTERN, type Checked } from './statement.js';

/** Slack's own replay window, both ways. */
export const SLACK_MAX_SKEW_MS = 5 * 60_000;
const TIMESTAMP_PATTERN = /^[1-9][0-9]{0,11}$/;
const SIGNATURE_PATTERN = /^v0=[0-9a-f]{64}$/;
/** Slack user IDs are upper-case letters and digits (U…, W… for Enterprise Grid). */
const SLACK_USER_PATTERN = /^[UW][A-Z0-9]{2,}$/;

/** `v0=<hex>`: what Slack sends in X-Slack-Signature for this body and timestamp. */
export function slackSignature(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** Signature only (the time is the caller's question, against its own clock): well-formed, and Slack's. */
export function verifySlackSignature(req: {
  signingSecret: string;
  body: string;
  timestamp: unknown;
  signature: unknown;
}): { ok: true } | { ok: false; reason: string } {
  if (!req.signingSecret)
    return { ok: false, reason: 'no Slack signing secret is configured on this worker' };
  if (typeof req.timestamp !== 'string' || !TIMESTAMP_PATTERN.test(req.timestamp))
    return { ok: false, reason: 'the Slack request timestamp is missing or malformed' };
  if (typeof req.signature !== 'string' || !SIGNATURE_PATTERN.test(req.signature))
    return { ok: false, reason: 'the Slack signature is missing or malformed (expected v0=<64 hex digits>)' };
  if (typeof req.body !== 'string') return { ok: false, reason: 'the Slack request body is missing' };
  const expected = Buffer.from(slackSignature(req.signingSecret, req.timestamp, req.body));
  const given = Buffer.from(req.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return {
      ok: false,
      reason:
        'the Slack signature does not match the request (not signed by Slack with this app’s signing secret)',
    };
  return { ok: true };
}

/** The time of a Slack request timestamp (seconds since the epoch) as ISO, or null when malformed. */
export function slackTime(timestamp: string): string | null {
  if (!TIMESTAMP_PATTERN.test(timestamp)) return null;
  const ms = Number(timestamp) * 1000;
  return Number.isFinite(ms) && ms <= 8.64e15 ? new Date(ms).toISOString() : null;
}

/** What a signed Slack request asks for: who clicked, which button or dialog, about what. */
export interface SlackInteraction {
  /** The Slack user ID of the person who clicked or submitted. */
  user: string;
  action: 'approve' | 'reject' | 'rollback';
  /** The button's value, or the dialog's private metadata, as sent. */
  value: string;
  app: string;
  env: string | null;
  version: string | null;
  run: string | null;
  /** The rollback dialog's target and reason. */
  to?: string;
  reason?: string;
}

/**
 * Parses an interactivity body: `payload=<JSON>`, a block_actions click on Approve or Reject (value
 * `{"app","version","run"}`) or the rollback dialog's view_submission (metadata `{"app","env","to"}`).
 */
export function parseSlackInteraction(body: string): Checked<SlackInteraction> {
  const bad = (reason: string): Checked<SlackInteraction> => ({ ok: false, reason });
  const raw = new URLSearchParams(body).get('payload');
  if (raw === null) return bad('the Slack request has no payload');
  const payload = parseObject(raw);
  if (!payload) return bad('the Slack payload is not a JSON object');
  const userObj = payload.user as Record<string, unknown> | undefined;
  const user = userObj && typeof userObj === 'object' ? userObj.id : undefined;
  if (typeof user !== 'string' || !SLACK_USER_PATTERN.test(user))
    return bad('the Slack payload names no valid Slack user');

  if (payload.type === 'block_actions') {
    const actions = payload.actions;
    const first = Array.isArray(actions) ? (actions[0] as unknown) : undefined;
    if (!first || typeof first !== 'object') return bad('the Slack payload has no action');
    const { action_id: actionId, value } = first as Record<string, unknown>;
    if (actionId === ACTION.rollback)
      return bad('the Roll back button only opens the rollback dialog; its submission is the request');
    if (actionId !== ACTION.approve && actionId !== ACTION.reject)
      return bad(`unknown Slack action ${JSON.stringify(String(actionId)).slice(0, 80)}`);
    if (typeof value !== 'string') return bad('the button has no value');
    const v = parseObject(value);
    if (!v) return bad('the button value is not a JSON object');
    if (typeof v.app !== 'string' || !NAME_PATTERN.test(v.app)) return bad('the button value names no app');
    if (typeof v.version !== 'string' || !VERSION_PATTERN.test(v.version))
      return bad('the button value names no version');
    if (v.run === undefined)
      return bad(
        'the button names no release run (a card from before proofs); use the updated card or the CLI',
      );
    if (typeof v.run !== 'string' || !RUN_ID_PATTERN.test(v.run))
      return bad('the button value’s run is malformed');
    return {
      ok: true,
      value: {
        user,
        action: actionId === ACTION.approve ? 'approve' : 'reject',
        value,
        app: v.app,
        env: null,
        version: v.version,
        run: v.run,
      },
    };
  }

  if (payload.type === 'view_submission') {
    const view = payload.view as Record<string, unknown> | undefined;
    if (!view || typeof view !== 'object') return bad('the Slack payload has no view');
    if (view.callback_id !== ROLLBACK_VIEW.callbackId)
      return bad(`unknown Slack dialog ${JSON.stringify(String(view.callback_id)).slice(0, 80)}`);
    const meta = view.private_metadata;
    if (typeof meta !== 'string') return bad('the rollback dialog has no metadata');
    const v = parseObject(meta);
    if (!v) return bad('the rollback dialog’s metadata is not a JSON object');
    if (typeof v.app !== 'string' || !NAME_PATTERN.test(v.app))
      return bad('the rollback dialog names no app');
    if (typeof v.env !== 'string' || !NAME_PATTERN.test(v.env))
      return bad('the rollback dialog names no environment');
    if (typeof v.to !== 'string' || !VERSION_PATTERN.test(v.to))
      return bad('the rollback dialog names no version');
    const values = (
      view.state as { values?: Record<string, Record<string, { value?: unknown }>> } | undefined
    )?.values;
    const reason = values?.[ROLLBACK_VIEW.reasonBlock]?.[ROLLBACK_VIEW.reasonAction]?.value;
    if (typeof reason !== 'string') return bad('the rollback dialog has no reason');
    return {
      ok: true,
      value: {
        user,
        action: 'rollback',
        value: meta,
        app: v.app,
        env: v.env,
        version: null,
        run: null,
        to: v.to,
        reason,
      },
    };
  }
  return bad(`unsupported Slack payload type ${JSON.stringify(String(payload.type)).slice(0, 60)}`);
}

/**
 * The details a Slack request carries, as a digest comparable with Expectation.details: a button carries
 * none (so an approve or reject through Slack has no comment or reason of its own); the rollback dialog
 * carries its target and reason.
 */
export function slackDetails(i: SlackInteraction): string {
  return i.action === 'rollback' ? detailsDigest({ to: i.to, reason: i.reason }) : detailsDigest({});
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
