/**
 * Slack's request signature (v0): HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the app's signing secret.
 * Checked in two steps, so nothing unsigned costs the endpoint more than its headers: `checkSlackHeaders` before
 * a byte of the body is read (both headers present, well-formed, and the timestamp within five minutes either
 * way), then `verifySignature` over the body. The HMAC itself is the worker's (src/identity/slack.ts): the
 * endpoint and the worker, which checks the forwarded request again, compare with the same code.
 */
import { SLACK_MAX_SKEW_MS, verifySlackSignature } from '../../identity/slack.js';

/** Slack's replay window, both ways. */
export const MAX_SKEW_SECONDS = SLACK_MAX_SKEW_MS / 1000;

const TIMESTAMP_PATTERN = /^[1-9][0-9]{0,11}$/;
const SIGNATURE_PATTERN = /^v0=[0-9a-f]{64}$/;

export type Verification = { ok: true } | { ok: false; reason: string };

/** A refusal before the body: `missing` (401), `malformed` (400) or `stale` (outside the window, 401). */
export type HeaderCheck =
  | { ok: true; timestamp: string; signature: string }
  | { ok: false; problem: 'missing' | 'malformed' | 'stale'; reason: string };

/** The signature headers as received: present once each, well-formed, and the timestamp inside the window. */
export function checkSlackHeaders(
  headers: { signature: string | string[] | undefined; timestamp: string | string[] | undefined },
  nowMs: number = Date.now(),
): HeaderCheck {
  const { signature, timestamp } = headers;
  if (timestamp === undefined || timestamp === '')
    return { ok: false, problem: 'missing', reason: 'missing X-Slack-Request-Timestamp' };
  if (signature === undefined || signature === '')
    return { ok: false, problem: 'missing', reason: 'missing X-Slack-Signature' };
  if (typeof timestamp !== 'string' || !TIMESTAMP_PATTERN.test(timestamp))
    return { ok: false, problem: 'malformed', reason: 'malformed X-Slack-Request-Timestamp' };
  if (typeof signature !== 'string' || !SIGNATURE_PATTERN.test(signature))
    return {
      ok: false,
      problem: 'malformed',
      reason: 'malformed X-Slack-Signature (expected v0=<64 hex digits>)',
    };
  const skew = Number(timestamp) - Math.floor(nowMs / 1000);
  if (skew < -MAX_SKEW_SECONDS)
    return { ok: false, problem: 'stale', reason: 'stale X-Slack-Request-Timestamp (over 5 minutes old)' };
  if (skew > MAX_SKEW_SECONDS)
    return {
      ok: false,
      problem: 'stale',
      reason: 'X-Slack-Request-Timestamp is in the future (over 5 minutes ahead)',
    };
  return { ok: true, timestamp, signature };
}

export interface SignedRequest {
  signingSecret: string;
  /** The body exactly as received. */
  rawBody: string;
  /** `X-Slack-Signature`. */
  signature: string | string[] | undefined;
  /** `X-Slack-Request-Timestamp`, seconds since the epoch. */
  timestamp: string | string[] | undefined;
  nowMs?: number;
}

/** Headers, window and HMAC together: whether Slack signed this body, now. */
export function verifySignature(req: SignedRequest): Verification {
  if (!req.signingSecret) return { ok: false, reason: 'no signing secret configured' };
  const headers = checkSlackHeaders(req, req.nowMs);
  if (!headers.ok) return { ok: false, reason: headers.reason };
  const signed = verifySlackSignature({
    signingSecret: req.signingSecret,
    body: req.rawBody,
    timestamp: headers.timestamp,
    signature: headers.signature,
  });
  return signed.ok ? { ok: true } : { ok: false, reason: signed.reason };
}
