/**
 * A real OpenID Connect issuer on 127.0.0.1: a stand-in for GitHub's Actions token issuer. It has its own key
 * pair, serves the discovery document and JWKS over real HTTP, and mints ID tokens with the claims a test
 * chooses (GitHub's claim names), signed with its key, or, for refusal tests, with a key it does not publish.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

export interface MintOptions {
  /** Seconds since the epoch; default now. */
  iat?: number;
  /** Lifetime in seconds from iat; default 300. */
  lifetime?: number;
  /** Sign with a fresh key the issuer does not publish (same kid): a forged token. */
  foreignKey?: boolean;
  /** Overrides iss / aud. */
  iss?: string;
  aud?: string | string[];
}

export interface OidcIssuer {
  /** `http://127.0.0.1:<port>`; use it as ci.oidc.issuer. */
  issuer: string;
  /** How many discovery and JWKS requests it has answered. */
  requests: { discovery: number; jwks: number };
  /** GitHub-shaped claims for a push to `repository` on `ref` by `actor`, plus `extra`. */
  githubClaims(p: { repository: string; ref?: string; actor: string; sha?: string } & JWTPayload): JWTPayload;
  mint(claims: JWTPayload, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

const ALG = 'RS256';

export async function startOidcIssuer(opts: { audience?: string } = {}): Promise<OidcIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = 'standin-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
  const requests = { discovery: 0, jwks: 0 };
  let issuer = '';

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/.well-known/openid-configuration') {
      requests.discovery++;
      return send(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: [
          'sub',
          'aud',
          'exp',
          'iat',
          'iss',
          'jti',
          'nbf',
          'ref',
          'sha',
          'repository',
          'actor',
        ],
        id_token_signing_alg_values_supported: [ALG],
        scopes_supported: ['openid'],
      });
    }
    if (req.method === 'GET' && req.url === '/.well-known/jwks') {
      requests.jwks++;
      return send(200, { keys: [jwk] });
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let foreign: CryptoKey | undefined;

  return {
    issuer,
    requests,
    githubClaims: ({ repository, ref = 'refs/heads/main', actor, sha = 'a'.repeat(40), ...extra }) => ({
      sub: `repo:${repository}:ref:${ref}`,
      repository,
      repository_owner: repository.split('/')[0],
      ref,
      sha,
      actor,
      workflow: 'release',
      workflow_ref: `${repository}/.github/workflows/release.yml@${ref}`,
      job_workflow_ref: `${repository}/.github/workflows/release.yml@${ref}`,
      event_name: 'push',
      run_id: '1234567890',
      run_attempt: '1',
      ...extra,
    }),
    async mint(claims, o = {}) {
      const iat = o.iat ?? Math.floor(Date.now() / 1000);
      let key = privateKey;
      if (o.foreignKey) {
        foreign ??= (await generateKeyPair(ALG)).privateKey;
        key = foreign;
      }
      return new SignJWT(claims)
        .setProtectedHeader({ alg: ALG, kid, typ: 'JWT' })
        .setIssuer(o.iss ?? issuer)
        .setAudience(o.aud ?? opts.audience ?? 'shipgate')
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + (o.lifetime ?? 300))
        .setJti(crypto.randomUUID())
        .sign(key);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
