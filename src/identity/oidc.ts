/**
 * GitHub Actions ID tokens (OIDC JWTs): verified against the configured issuer's published keys (discovery, then
 * its JWKS), its audience and the token's time; the repository, ref, commit and actor then come from the claims.
 */
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type RemoteJWKSet,
} from 'jose';
import { formatSpan, MAX_PROOF_AGE_MS, MAX_PROOF_FUTURE_MS } from './statement.js';
import { sha256Hex } from './sha256.js';
import { httpsUnlessLoopbackProblem } from './urls.js';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
export const DEFAULT_OIDC_AUDIENCE = 'shipgate';
/** Asymmetric algorithms only: a JWKS never holds a shared secret we would accept. */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
/** Claims a GitHub Actions token always has and shipgate relies on. */
export const REQUIRED_CLAIMS = ['repository', 'ref', 'sha', 'actor', 'workflow_ref'] as const;
/** Claims copied into the verdict when present (for the audit record). */
const OPTIONAL_CLAIMS = [
  'environment',
  'run_id',
  'run_attempt',
  'event_name',
  'job_workflow_ref',
  'sub',
] as const;
const MAX_TOKEN_LENGTH = 16 * 1024;
const FETCH_TIMEOUT_MS = 5000;

export interface OidcSettings {
  issuer: string;
  audience: string;
}

export type TokenCheck =
  | { ok: true; claims: Record<string, string>; issuedAt: string; digest: string }
  | { ok: false; reason: string };

export type IdTokenCheck =
  { ok: true; payload: JWTPayload; issuedAt: string; digest: string } | { ok: false; reason: string };

export interface OidcVerifier {
  /** Verifies the token at `now` (ISO): signature by the issuer's keys, iss, aud, exp/nbf, and age. */
  verifyToken(token: string, settings: OidcSettings, now: string): Promise<TokenCheck>;
  /**
   * Any issuer's ID token (the dashboard's sign-in): the same checks, with the config field named in refusals,
   * the age limit and the claims that must be present given by the caller.
   */
  verifyIdToken(
    token: string,
    settings: OidcSettings,
    now: string,
    opts: { field: string; maxAgeMs: number; requiredClaims: readonly string[] },
  ): Promise<IdTokenCheck>;
}

/** `refs/heads/<branch>` → branch; anything else (tags, pull requests) → null. */
export function branchOfRef(ref: string): string | null {
  return ref.startsWith('refs/heads/') && ref.length > 'refs/heads/'.length
    ? ref.slice('refs/heads/'.length)
    : null;
}

/** sha256 hex of the token's signed part: the replay key (re-encoding a signature does not change it). */
export function tokenDigest(token: string): string {
  return sha256Hex(token.split('.').slice(0, 2).join('.'));
}

export function createOidcVerifier(opts: { fetch?: typeof fetch } = {}): OidcVerifier {
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  // One key set per issuer; a failed discovery is forgotten so the next token tries again.
  const keySets = new Map<string, Promise<RemoteJWKSet>>();

  const keySet = (issuer: string): Promise<RemoteJWKSet> => {
    let p = keySets.get(issuer);
    if (!p) {
      p = discover(issuer, fetchImpl);
      keySets.set(issuer, p);
      p.catch(() => keySets.delete(issuer));
    }
    return p;
  };

  /** Signature by the issuer's published keys, iss, aud, exp/nbf/iat and age; the payload as verified. */
  const checkJwt = async (
    token: string,
    settings: OidcSettings,
    now: string,
    opts: { field: string; maxAgeMs: number; requiredClaims: readonly string[] },
  ): Promise<{ ok: true; payload: JWTPayload } | { ok: false; reason: string }> => {
    if (typeof token !== 'string' || token.length === 0) return { ok: false, reason: 'no token was sent' };
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'the token is too long' };
    let unverified: JWTPayload;
    try {
      const header = decodeProtectedHeader(token);
      if (typeof header.alg !== 'string' || !OIDC_ALGORITHMS.includes(header.alg))
        return { ok: false, reason: `the token's algorithm ${JSON.stringify(header.alg)} is not accepted` };
      unverified = decodeJwt(token);
    } catch {
      return { ok: false, reason: 'the token is not a well-formed JWT' };
    }
    // Checked before any network call, so the refusal names the real problem, not a missing key.
    if (unverified.iss !== settings.issuer)
      return {
        ok: false,
        reason: `the token is from issuer ${JSON.stringify(String(unverified.iss).slice(0, 200))}, expected "${settings.issuer}" (${opts.field}.issuer)`,
      };
    const aud = Array.isArray(unverified.aud) ? unverified.aud : [unverified.aud];
    if (!aud.includes(settings.audience))
      return {
        ok: false,
        reason: `the token is for audience ${JSON.stringify(aud.join(', ').slice(0, 200))}, expected "${settings.audience}" (${opts.field === 'ci.oidc' ? 'ci.oidc.audience' : `${opts.field}.clientId`})`,
      };

    let jwks: RemoteJWKSet;
    try {
      jwks = await keySet(settings.issuer);
    } catch (err) {
      return {
        ok: false,
        reason: `could not fetch the keys of OIDC issuer ${settings.issuer}: ${(err as Error).message}`,
      };
    }
    const nowDate = new Date(now);
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: OIDC_ALGORITHMS,
        currentDate: nowDate,
        clockTolerance: MAX_PROOF_FUTURE_MS / 1000,
        maxTokenAge: opts.maxAgeMs / 1000,
        requiredClaims: ['exp', 'iat', ...opts.requiredClaims],
      });
      return { ok: true, payload };
    } catch (err) {
      return { ok: false, reason: describeJoseError(err, nowDate, unverified, opts.maxAgeMs) };
    }
  };

  return {
    async verifyToken(token, settings, now) {
      const checked = await checkJwt(token, settings, now, {
        field: 'ci.oidc',
        maxAgeMs: MAX_PROOF_AGE_MS,
        requiredClaims: REQUIRED_CLAIMS,
      });
      if (!checked.ok) return checked;
      const payload = checked.payload;
      const claims: Record<string, string> = {};
      for (const name of REQUIRED_CLAIMS) {
        const v = payload[name];
        if (typeof v !== 'string' || v === '')
          return { ok: false, reason: `the token's ${name} claim is not a string` };
        claims[name] = v;
      }
      for (const name of OPTIONAL_CLAIMS) {
        const v = payload[name];
        if (typeof v === 'string' && v !== '') claims[name] = v;
      }
      return {
        ok: true,
        claims,
        issuedAt: new Date((payload.iat ?? 0) * 1000).toISOString(),
        digest: tokenDigest(token),
      };
    },

    async verifyIdToken(token, settings, now, opts) {
      const checked = await checkJwt(token, settings, now, opts);
      if (!checked.ok) return checked;
      return {
        ok: true,
        payload: checked.payload,
        issuedAt: new Date((checked.payload.iat ?? 0) * 1000).toISOString(),
        digest: tokenDigest(token),
      };
    },
  };
}

/** The issuer's discovery document, then a key set for its jwks_uri (both https, except on loopback). */
async function discover(issuer: string, fetchImpl: typeof fetch): Promise<RemoteJWKSet> {
  const problem = httpsUnlessLoopbackProblem(issuer);
  if (problem) throw new Error(`issuer URL: ${problem}`);
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let doc: Record<string, unknown>;
  try {
    const res = await fetchImpl(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > 256 * 1024) throw new Error('the document is too large');
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`discovery at ${url} failed: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object') throw new Error(`discovery at ${url} is not a JSON object`);
  if (doc.issuer !== issuer)
    throw new Error(`discovery at ${url} names issuer ${JSON.stringify(String(doc.issuer).slice(0, 200))}`);
  if (typeof doc.jwks_uri !== 'string') throw new Error(`discovery at ${url} has no jwks_uri`);
  const jwksProblem = httpsUnlessLoopbackProblem(doc.jwks_uri);
  if (jwksProblem) throw new Error(`jwks_uri: ${jwksProblem}`);
  return createRemoteJWKSet(new URL(doc.jwks_uri), {
    timeoutDuration: FETCH_TIMEOUT_MS,
    [customFetch]: (u, init) => fetchImpl(u, init),
  });
}

function describeJoseError(err: unknown, now: Date, unverified: JWTPayload, maxAgeMs: number): string {
  const at = (s: unknown) => (typeof s === 'number' ? new Date(s * 1000).toISOString() : 'an unknown time');
  // jose reports a token older than maxTokenAge as JWTExpired with claim "iat".
  if (
    (err instanceof errors.JWTExpired || err instanceof errors.JWTClaimValidationFailed) &&
    err.claim === 'iat' &&
    typeof unverified.iat === 'number'
  ) {
    const age = now.getTime() - unverified.iat * 1000;
    return age > 0
      ? `the token was issued ${formatSpan(age)} ago (limit ${formatSpan(maxAgeMs)})`
      : `the token is dated ${formatSpan(-age)} in the future`;
  }
  if (err instanceof errors.JWTExpired) {
    const exp = typeof unverified.exp === 'number' ? unverified.exp * 1000 : now.getTime();
    return `the token expired ${formatSpan(now.getTime() - exp)} ago (at ${at(unverified.exp)})`;
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return `the token is not valid before ${at(unverified.nbf)}`;
    if (err.reason === 'missing') return `the token has no ${err.claim} claim`;
    return `the token's ${err.claim} claim is not acceptable: ${err.message}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return "the token's signature does not verify against the issuer's published keys";
  if (err instanceof errors.JWKSNoMatchingKey)
    return 'the token is signed by a key the issuer does not publish';
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid)
    return 'the token is not a well-formed JWT';
  if (err instanceof errors.JWKSTimeout) return "the issuer's keys could not be fetched in time";
  return `the token was refused: ${(err as Error)?.message ?? String(err)}`;
}
