/**
 * Slack's request signature (v0): HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the app's signing secret.
 * The comparison and the staleness rule are Bolt's `verifySlackRequest` (constant-time compare); this adds the
 * header checks Bolt leaves to its callers and refuses timestamps more than five minutes in the future too.
 */
import { verifySlackRequest } from '@slack/bolt';

/** Slack's replay window, both ways. */
export const MAX_SKEW_SECONDS = 5 * 60;

export type Verification = { ok: true } | { ok: false; reason: string };

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

export function verifySignature(req: SignedRequest): Verification {
  if (!req.signingSecret) return { ok: false, reason: 'no signing secret configured' };
  const { signature, timestamp } = req;
  if (typeof timestamp !== 'string' || !/^[1-9][0-9]{0,11}$/.test(timestamp))
    return { ok: false, reason: 'missing or malformed X-Slack-Request-Timestamp' };
  if (typeof signature !== 'string' || !/^v0=[0-9a-f]{64}$/.test(signature))
    return { ok: false, reason: 'missing or malformed X-Slack-Signature' };
  const nowMs = req.nowMs ?? Date.now();
  const ts = Number(timestamp);
  if (ts > Math.floor(nowMs / 1000) + MAX_SKEW_SECONDS)
    return { ok: false, reason: 'X-Slack-Request-Timestamp is in the future' };
  try {
    verifySlackRequest({
      signingSecret: req.signingSecret,
      body: req.rawBody,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': ts },
      nowMilliseconds: nowMs,
    });
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
