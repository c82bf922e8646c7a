/**
 * A real OpenID provider on 127.0.0.1 for the dashboard's sign-in tests: oidc-provider (a certified
 * implementation) with its own RSA signing key, one confidential client (client_secret_basic, PKCE required,
 * redirect URIs the test names) and a few accounts. The provider's interaction URL answers a GET with the names
 * of the accounts (a browser, which accepts text/html, gets a one-field login form instead), and a POST of
 * `user=<account>` to it signs that account in, as a person submitting a login form would; consent is granted for the client (a first-party app).
 *
 * For refusal tests it can also sign tokens with its own key (an expired but genuine ID token) or with a key
 * it does not publish (a forged one).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface OidcAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface OidcProvider {
  /** `http://127.0.0.1:<port>`: ui.oidc.issuer. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Record<string, OidcAccount>;
  /** Signs claims with the provider's own published key (kid and all): a genuine token, whatever its times. */
  signWithProviderKey(claims: JWTPayload): Promise<string>;
  /** Signs with a fresh key the provider does not publish, under the provider's kid: a forgery. */
  signWithForeignKey(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_ACCOUNTS: Record<string, OidcAccount> = {
  alice: { sub: 'a1b2c3-alice', email: 'alice@example.com', email_verified: true, name: 'Alice' },
  bob: { sub: 'b0b-subject-42', email: 'robert@example.org', email_verified: true, name: 'Bob' },
  mallory: { sub: 'm-666', email: 'mallory@example.com', email_verified: true, name: 'Mallory' },
  /** Linked to no login. */
  zed: { sub: 'z-000', email: 'zed@example.com', email_verified: true, name: 'Zed' },
  /** Claims eve's email, unverified. */
  impostor: { sub: 'i-123', email: 'eve@example.com', email_verified: false, name: 'Not Eve' },
};

const ALG = 'RS256';

export async function startOidcProvider(opts: {
  redirectUris: string[];
  accounts?: Record<string, OidcAccount>;
}): Promise<OidcProvider> {
  const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
  const bySub = new Map(Object.values(accounts).map((a) => [a.sub, a]));
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = 'provider-key-1';
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: ALG, use: 'sig' };
  const clientId = 'shipgate-dashboard';
  const clientSecret = `test-secret-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingJwk as never] },
    cookies: { keys: ['test-cookie-key-1'] },
    pkce: { required: () => true },
    // The worker sees only the ID token: its email claims must be in it, as most providers put them.
    conformIdTokenClaims: false,
    ttl: {
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AccessToken: 600,
      IdToken: 3600,
      AuthorizationCode: 60,
    },
    features: { devInteractions: { enabled: false } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = bySub.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ ...account }) };
    },
    // A first-party client: consent is implied, so the flow needs no consent screen.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const existing = session.grantIdFor(client.clientId);
      if (existing) {
        const found = await ctx.oidc.provider.Grant.find(existing);
        if (found) return found;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
  });

  const callback = provider.callback();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (!m) return void callback(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (req.method === 'GET' && /text\/html/.test(req.headers.accept ?? '')) {
          // A browser gets a login form that posts the same field (test/browser signs in through it).
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(
            `<!doctype html><title>Test provider: sign in</title><form method="post">` +
              `<label>Account <input name="user" autocomplete="username"></label>` +
              `<button type="submit">Sign in</button></form>`,
          );
          return;
        }
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`sign in (${details.prompt.name}): POST user=<${Object.keys(accounts).join('|')}>\n`);
          return;
        }
        const body = await new Promise<string>((resolve) => {
          let text = '';
          req.on('data', (d: Buffer) => (text += d.toString()));
          req.on('end', () => resolve(text));
        });
        const user = new URLSearchParams(body).get('user') ?? '';
        const account = accounts[user];
        if (!account) {
          res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`no account ${user}\n`);
          return;
        }
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: account.sub } },
          { mergeWithLastSubmission: false },
        );
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`interaction failed: ${(err as Error).message}\n`);
      }
    })();
  });

  let foreign: CryptoKey | undefined;
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    signWithProviderKey: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: ALG, kid, typ: 'JWT' }).sign(privateKey),
    async signWithForeignKey(claims) {
      foreign ??= (await generateKeyPair(ALG)).privateKey;
      return new SignJWT(claims).setProtectedHeader({ alg: ALG, kid, typ: 'JWT' }).sign(foreign);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
