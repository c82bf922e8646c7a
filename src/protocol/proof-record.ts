/**
 * What a worker keeps of a proof it accepted: enough for anyone to check it again later, offline. An SSH proof
 * keeps the signed statement and its signature (checked with the person's public key alone); a GitHub Actions
 * proof keeps the token's claims; a Slack proof keeps what the request said and its digest (never the raw body
 * or the signing secret: the Update input in the workflow's history holds the body).
 */
import type { Statement } from '../identity/types.js';
import type { Channel } from './channels.js';

export interface ProofRecord {
  /** The login the proof established. */
  login: string;
  via: Channel;
  /** sha256 hex of the proof: the key the acting workflow refuses a replay by. */
  digest: string;
  /** When the proof was made (statement time, Slack request time, token issue time). */
  at: string;
  /** ssh: the statement as signed, and the armored SSHSIG over its canonical text; web-oidc: the statement and
   *  the session key's Ed25519 signature (base64url), the key in claims.publicKey. */
  statement?: Statement;
  signature?: string;
  /** github-oidc: repository, ref, sha, actor, workflow_ref, environment; slack: user, action, value; web-oidc:
   *  iss, sub, email, matched, token (the ID token's digest), key (thumbprint), publicKey, nonce. */
  claims?: Record<string, string>;
}

/** Who a record names, without the proof material: what ledgers and refusals keep. */
export type ProofRef = Pick<ProofRecord, 'login' | 'via' | 'digest'>;
