/** The rules of the dashboard's sign-in that need no server: the ui block of the config, and who a token is. */
import { describe, expect, it } from 'vitest';
import { uiSchema } from '../../src/config/schema.js';
import {
  keyThumbprint,
  loginForOidcClaims,
  newSessionKey,
  signWebStatement,
  verifyWebStatementSignature,
} from '../../src/identity/web-oidc.js';
import { newStatement } from '../../src/identity/statement.js';

const people = {
  alice: { oidc: 'alice@example.com' },
  bob: { oidc: 'b0b-subject-42' },
  carol: { oidc: 'shared@example.com' },
  dave: { oidc: 'SHARED@example.com' },
  erin: {},
};

describe('ui config', () => {
  const oidc = { issuer: 'https://id.example.com', clientId: 'shipgate' };
  it('takes the secret only by the name of a variable, and refuses it in the file, saying where it belongs', () => {
    expect(uiSchema.parse({ oidc }).oidc?.clientSecretEnv).toBe('SHIPGATE_OIDC_CLIENT_SECRET');
    const r = uiSchema.safeParse({ oidc: { ...oidc, clientSecret: 'hunter2' } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/does not belong in the config: set clientSecretEnv/);
    expect(JSON.stringify(r.error?.issues)).not.toContain('hunter2');
    const named = uiSchema.safeParse({ oidc: { ...oidc, clientSecretEnv: 'not a name!' } });
    expect(JSON.stringify(named.error?.issues)).toMatch(/not the secret itself/);
  });

  it('refuses a plain-http issuer or public URL off loopback, and a public URL with a path', () => {
    expect(uiSchema.safeParse({ oidc: { ...oidc, issuer: 'http://id.example.com' } }).success).toBe(false);
    expect(uiSchema.safeParse({ oidc: { ...oidc, issuer: 'http://127.0.0.1:9000' } }).success).toBe(true);
    expect(uiSchema.safeParse({ publicUrl: 'http://deploys.example.com' }).success).toBe(false);
    const path = uiSchema.safeParse({ publicUrl: 'https://deploys.example.com/ui' });
    expect(JSON.stringify(path.error?.issues)).toMatch(/an origin without a path/);
    expect(uiSchema.parse({ publicUrl: 'https://deploys.example.com/' }).publicUrl).toBe(
      'https://deploys.example.com',
    );
  });
});

describe('who an ID token is', () => {
  it('maps the subject exactly, and an email only when the provider says it is verified', () => {
    expect(loginForOidcClaims(people, { sub: 'b0b-subject-42' })).toMatchObject({
      ok: true,
      login: 'bob',
      matched: 'sub',
    });
    expect(loginForOidcClaims(people, { sub: 'B0B-SUBJECT-42' }).ok).toBe(false);
    expect(
      loginForOidcClaims(people, { sub: 'x', email: 'Alice@Example.com', email_verified: true }),
    ).toMatchObject({
      ok: true,
      login: 'alice',
      matched: 'email',
    });
    const unverified = loginForOidcClaims(people, {
      sub: 'x',
      email: 'alice@example.com',
      email_verified: 'true',
    });
    expect(unverified).toEqual({
      ok: false,
      reason:
        'the email "alice@example.com" is linked to alice, but the provider does not say it is verified (email_verified)',
    });
  });

  it('refuses a person no login claims, or several do, naming them', () => {
    expect(loginForOidcClaims(people, { sub: 'nobody' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(
        /subject "nobody" is not linked to a login \(people\.<login>\.oidc\); the ID token carries no email/,
      ),
    });
    expect(
      loginForOidcClaims(people, { sub: 'y', email: 'shared@example.com', email_verified: true }),
    ).toEqual({
      ok: false,
      reason: 'email "shared@example.com" is linked to several logins (carol, dave)',
    });
  });
});

describe('session key', () => {
  it('signs a statement that verifies with its public key only, and its thumbprint is the RFC 7638 one', () => {
    const key = newSessionKey();
    const other = newSessionKey();
    const s = newStatement({
      action: 'approve',
      login: 'alice',
      app: 'hello',
      env: 'production',
      version: '1.0.0',
      run: 'r1',
      details: '0'.repeat(64),
    });
    const sig = signWebStatement(s, key.privateKey);
    expect(verifyWebStatementSignature(key.jwk, s, sig)).toBe(true);
    expect(verifyWebStatementSignature(other.jwk, s, sig)).toBe(false);
    expect(verifyWebStatementSignature(key.jwk, { ...s, version: '1.0.1' }, sig)).toBe(false);
    expect(keyThumbprint(key.jwk)).toBe(key.thumbprint);
    // RFC 8037 appendix A.3's example key and thumbprint.
    expect(
      keyThumbprint({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }),
    ).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });
});
