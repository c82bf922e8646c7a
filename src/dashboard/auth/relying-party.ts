/**
 * The OpenID Connect relying party, through openid-client: discovery, then the authorization code flow with
 * PKCE (S256), state, and a nonce that is the session key's thumbprint (see src/identity/web-oidc.ts).
 * openid-client checks the state, the code exchange, the ID token's signature, issuer, audience, expiry and
 * nonce; the worker checks the token again for itself before anything counts.
 */
import * as oidc from 'openid-client';
import { isLoopbackHost } from '../../identity/urls.js';

export interface RelyingPartySettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface AuthorizationStart {
  url: URL;
  codeVerifier: string;
}

export interface SignedIn {
  idToken: string;
  claims: Record<string, unknown>;
}

export interface RelyingParty {
  start(opts: { state: string; nonce: string }): Promise<AuthorizationStart>;
  finish(callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string }): Promise<SignedIn>;
}

const SCOPE = 'openid email profile';

export function createRelyingParty(s: RelyingPartySettings): RelyingParty {
  // Discovered once; a failure is forgotten so that the next sign-in tries again.
  let discovered: Promise<oidc.Configuration> | null = null;
  const configuration = () => {
    if (!discovered) {
      const issuer = new URL(s.issuer);
      discovered = oidc.discovery(
        issuer,
        s.clientId,
        undefined,
        oidc.ClientSecretBasic(s.clientSecret),
        // Plain http only to this machine (the config refuses it elsewhere).
        isLoopbackHost(issuer.hostname)
          ? { execute: [oidc.allowInsecureRequests], timeout: 10 }
          : { timeout: 10 },
      );
      discovered.catch(() => (discovered = null));
    }
    return discovered;
  };

  return {
    async start({ state, nonce }) {
      const config = await configuration();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: s.redirectUri,
        scope: SCOPE,
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url, codeVerifier };
    },

    async finish(callbackUrl, checks) {
      const config = await configuration();
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!tokens.id_token || !claims) throw new Error('the provider returned no ID token');
      return { idToken: tokens.id_token, claims: { ...claims } };
    },
  };
}
