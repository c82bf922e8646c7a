/**
 * Proofs of identity: what a client sends with a privileged message, and what a worker concludes from it.
 * Types only, so workflow code may import them.
 */
import type { ProvenChannel as Channel } from './channels.js';

export type ProofAction =
  | 'release'
  | 'approve'
  | 'reject'
  | 'cancel'
  | 'override'
  | 'rollback'
  | 'freeze'
  | 'unfreeze'
  | 'adopt'
  | 'teardown';

/** What a signer commits to. `run` is the release's first-execution run id for release-scoped actions
 *  (approve, reject, cancel, override); null for 'release' (no run yet) and for environment actions. */
export interface Statement {
  v: 1;
  action: ProofAction;
  login: string;
  app: string;
  env: string | null;
  version: string | null;
  run: string | null;
  at: string /* ISO, signer's clock */;
  nonce: string /* >= 128 bits, base64url */;
  /** sha256 hex of the canonical JSON of the action's details (comment/reason/to/until/commit/branch), so a
   *  signature cannot be moved to another reason or rollback target. */
  details: string;
}

export type Proof =
  | { kind: 'ssh'; statement: Statement; signature: string /* armored SSHSIG, namespace "shipgate" */ }
  | { kind: 'slack'; body: string /* raw form body */; timestamp: string; signature: string /* v0=... */ }
  | { kind: 'github-oidc'; token: string /* GitHub Actions ID token (JWT) */ }
  | {
      kind: 'web-oidc';
      /** The signed-in person's ID token from ui.oidc; its nonce is the thumbprint of `key`. */
      token: string;
      /** The dashboard session's public key (JWK, OKP Ed25519), made for this sign-in only. */
      key: { kty: 'OKP'; crv: 'Ed25519'; x: string };
      statement: Statement;
      /** Ed25519 over webStatementText(statement) by the session key, base64url. */
      signature: string;
    }
  | { kind: 'asserted'; login: string };

export type Verified =
  | {
      ok: true;
      login: string;
      via: Channel;
      digest: string /* sha256 hex of the proof: the replay key */;
      at: string;
      claims?: Record<string, string> /* OIDC: repository, ref, sha, actor, workflow_ref, environment;
      Slack: user, action, value */;
    }
  | { ok: false; reason: string };

/** What a proof must be about: the statement's fields besides the signer, the time and the nonce. */
export interface ProofScope {
  action: ProofAction;
  app: string;
  env: string | null;
  version: string | null;
  run: string | null;
  details: string;
}

export interface Expectation extends ProofScope {
  /** workflow time (ISO) the proof is checked at */
  now: string;
}
