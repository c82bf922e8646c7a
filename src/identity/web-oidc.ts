/**
 * The dashboard's channel (`web-oidc`): a person signed in through the configured OpenID provider, and the
 * dashboard session acting for them.
 *
 * An ID token is a bearer token, valid for its whole lifetime, and the Update that carries it lands in workflow
 * history. So the token alone never counts: at sign-in the dashboard makes a key pair for that session only and
 * sends the thumbprint of its public key as the authorization request's `nonce`, which the provider signs into
 * the ID token. Each action is then a statement (the same fields an SSH signer commits to: action, app,
 * environment, version, run, details, time, nonce) signed with the session's private key, which never leaves the
 * dashboard process. The worker checks the token against the issuer's keys, that its nonce is the thumbprint of
 * the key that signed the statement, and the statement as for SSH. Someone who copies the token (and the whole
 * proof) out of history can neither sign another statement nor replay this one.
 *
 * Node only (node:crypto): the worker's verifier and the dashboard use it, workflow code never does.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { ShipgateConfig } from '../config/schema.js';
import { canonicalStatement } from './statement.js';
import type { ProofAction, Statement } from './types.js';

/** The actions a dashboard sign-in may take; everything else needs the CLI. */
export const WEB_OIDC_ACTIONS: readonly ProofAction[] = ['approve', 'reject', 'rollback'];

/** The longest a sign-in counts, whatever the ID token's own expiry says. */
export const WEB_SESSION_MAX_MS = 8 * 3_600_000;

/** Claims the dashboard's ID tokens must carry besides exp and iat. */
export const WEB_OIDC_REQUIRED_CLAIMS = ['sub', 'nonce'] as const;

export type SessionJwk = { kty: 'OKP'; crv: 'Ed25519'; x: string };

/** Separates these signatures from anything else the same key could be made to sign. */
const SIGNATURE_CONTEXT = 'shipgate-web-oidc-v1\n';

export function webStatementText(s: Statement): string {
  return SIGNATURE_CONTEXT + canonicalStatement(s);
}

/** RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public JWK: the ID token's nonce. */
export function keyThumbprint(jwk: SessionJwk): string {
  return createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
    .digest('base64url');
}

export interface SessionKey {
  privateKey: KeyObject;
  jwk: SessionJwk;
  thumbprint: string;
}

/** A key pair for one sign-in. */
export function newSessionKey(): SessionKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const exported = publicKey.export({ format: 'jwk' });
  const jwk: SessionJwk = { kty: 'OKP', crv: 'Ed25519', x: String(exported.x) };
  return { privateKey, jwk, thumbprint: keyThumbprint(jwk) };
}

export function signWebStatement(s: Statement, key: KeyObject): string {
  return sign(null, Buffer.from(webStatementText(s)), key).toString('base64url');
}

/** The public JWK as received (untrusted), or the reason it is not one. */
export function parseSessionJwk(
  value: unknown,
): { ok: true; jwk: SessionJwk } | { ok: false; reason: string } {
  const o = value as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    return { ok: false, reason: 'proof.key is not a JWK' };
  if (o.kty !== 'OKP' || o.crv !== 'Ed25519')
    return { ok: false, reason: 'proof.key is not an Ed25519 public key (kty OKP, crv Ed25519)' };
  if (typeof o.x !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(o.x))
    return { ok: false, reason: 'proof.key.x is not a 32-byte base64url public key' };
  if ('d' in o) return { ok: false, reason: 'proof.key holds a private key' };
  return { ok: true, jwk: { kty: 'OKP', crv: 'Ed25519', x: o.x } };
}

export function verifyWebStatementSignature(jwk: SessionJwk, s: Statement, signature: string): boolean {
  if (typeof signature !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
  try {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    return verify(null, Buffer.from(webStatementText(s)), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

type People = ShipgateConfig['people'];
export type OidcIdentity =
  { ok: true; login: string; matched: 'sub' | 'email'; value: string } | { ok: false; reason: string };

/**
 * The login whose `people.<login>.oidc` is the token's subject, else its email when the provider says the email
 * is verified (an unverified email is a claim anyone could make at some providers). Emails compare without
 * regard to case; subjects exactly.
 */
export function loginForOidcClaims(
  people: People,
  claims: { sub?: unknown; email?: unknown; email_verified?: unknown },
): OidcIdentity {
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  const linked = (match: (v: string) => boolean) =>
    Object.entries(people)
      .filter(([, p]) => p.oidc !== undefined && match(p.oidc.trim()))
      .map(([login]) => login);
  const one = (logins: string[], what: string, matched: 'sub' | 'email', value: string): OidcIdentity =>
    logins.length === 1
      ? { ok: true, login: logins[0]!, matched, value }
      : { ok: false, reason: `${what} is linked to several logins (${logins.join(', ')})` };
  if (sub !== '') {
    const bySub = linked((v) => v === sub);
    if (bySub.length > 0) return one(bySub, `subject ${JSON.stringify(sub)}`, 'sub', sub);
  }
  const email = typeof claims.email === 'string' ? claims.email.trim() : '';
  if (email !== '') {
    const byEmail = linked((v) => v.toLowerCase() === email.toLowerCase());
    if (byEmail.length > 0) {
      if (claims.email_verified !== true)
        return {
          ok: false,
          reason: `the email ${JSON.stringify(email)} is linked to ${byEmail.join(', ')}, but the provider does not say it is verified (email_verified)`,
        };
      return one(byEmail, `email ${JSON.stringify(email)}`, 'email', email);
    }
  }
  const named = [
    sub !== '' ? `subject ${JSON.stringify(sub)}` : '',
    email ? `email ${JSON.stringify(email)}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  return {
    ok: false,
    reason: `the signed-in ${named || 'person'} ${sub !== '' && email !== '' ? 'are' : 'is'} not linked to a login (people.<login>.oidc)${email ? '' : '; the ID token carries no email, so only its subject can be linked'}`,
  };
}
