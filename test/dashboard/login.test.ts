/**
 * Signing in to the dashboard through a real OpenID provider (oidc-provider on loopback, its own keys) and acting
 * from the page's API, against a real dev server and a real worker process: the worker verifies every web-oidc
 * proof itself, and what it refuses comes back with the CLI's words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { Client, Connection } from '@temporalio/client';
import { webOidcProver } from '../../src/client/prove.js';
import { ShipgateError, toShipgateError } from '../../src/client/errors.js';
import { createConfigSource } from '../../src/config/source.js';
import { createOidcAuth } from '../../src/dashboard/auth/index.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/index.js';
import { newSessionKey } from '../../src/identity/web-oidc.js';
import { detailsDigest } from '../../src/identity/statement.js';
import type { Proof } from '../../src/identity/types.js';
import { releaseWorkflowId } from '../../src/protocol/ids.js';
import { freePort } from '../../src/temporal/ports.js';
import { startStack, type App, type Stack } from '../helpers/fixture.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { CookieBrowser } from './login-browser.js';

const SECRET_ENV = 'SHIPGATE_TEST_OIDC_SECRET';

let provider: OidcProvider;
let stack: Stack;
let dashboard: Dashboard;
let url: string;
let hello: App;

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({ redirectUris: [`${url}/auth/callback`] });
  stack = await startStack((c) => {
    const config = c as unknown as Record<string, unknown>;
    config.ui = {
      oidc: { issuer: provider.issuer, clientId: provider.clientId, clientSecretEnv: SECRET_ENV },
    };
    config.people = {
      alice: { oidc: 'alice@example.com' }, // by verified email
      bob: { oidc: 'b0b-subject-42' }, // by subject
      mallory: { oidc: 'mallory@example.com' }, // known, in no group
      eve: { oidc: 'eve@example.com' }, // the impostor claims this email, unverified
    };
  });
  hello = await stack.addApp('web');
  const config = createConfigSource(stack.configFile);
  const auth = createOidcAuth({
    config: () => config.get().config,
    sg: stack.sg,
    origin: url,
    env: { [SECRET_ENV]: provider.clientSecret },
    address: stack.server.address,
  });
  dashboard = await startDashboard({ sg: stack.sg, config, port, auth, intervalMs: 500 });
}, 120_000);

afterAll(async () => {
  await dashboard?.close();
  await stack?.stop();
  await provider?.close();
});

const statusJson = async (app: App, version: string) => {
  const r = await app.run('status', app.name, version, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    state: string;
    approvals: {
      given: { by: string; via: string }[];
      refused: { by: string; via: string; reason: string }[];
    };
  };
};

async function signedIn(user: string): Promise<CookieBrowser> {
  const b = new CookieBrowser();
  const done = await b.signIn(url, user);
  expect(done.res.status, await done.res.clone().text()).toBe(200);
  expect(done.url).toBe(`${url}/`);
  return b;
}

/** A history as text, payloads decoded (they are JSON bytes). */
const historyText = (history: unknown): string => {
  // Walks the decoded protobuf objects (their toJSON would turn bytes into base64): every string and every
  // byte field, as text.
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
    else if (v && typeof v === 'object' && !seen.has(v)) {
      seen.add(v);
      for (const x of Object.values(v)) walk(x);
    }
  };
  walk(history);
  return out.join('\n');
};

const parseOrNull = (text: string): { proof?: Proof } | null => {
  try {
    return JSON.parse(text) as { proof?: Proof };
  } catch {
    return null;
  }
};

/** A genuine proof made the way the dashboard makes it, from a raw client, with the token given. */
function rawProof(token: string, login: string, key = newSessionKey()) {
  return webOidcProver({ login, idToken: token, key });
}

/** ID-token claims as the provider issues them to the dashboard, for a session key. */
function idClaims(sub: string, nonce: string, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: provider.issuer, aud: provider.clientId, sub, nonce, iat: now, exp: now + 600, ...extra };
}

describe('dashboard sign-in (web-oidc) through a real OpenID provider', () => {
  it('signs in with code + PKCE at the provider and shows who is signed in; the session cookie is HttpOnly and SameSite=Lax', async () => {
    const b = new CookieBrowser();
    expect(await b.me(url)).toEqual({ login: null, signIn: '/auth/login' });
    const start = await b.request(`${url}/auth/login`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin).toBe(provider.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${url}/auth/callback`);
    expect(authorize.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(authorize.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);

    const done = await b.signIn(url, 'alice');
    expect(done.hops.some((h) => h.url.startsWith(`${url}/auth/callback?code=`) && h.status === 303)).toBe(
      true,
    );
    const me = await b.me(url);
    expect(me.login).toBe('alice');
    expect(me.csrf).toMatch(/^[\w-]{43}$/);

    // The cookie as the callback sets it.
    const again = new CookieBrowser();
    const first = await again.navigate(`${url}/auth/login`);
    await first.res.body?.cancel();
    let res = await again.request(first.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'user=bob',
    });
    let location = res.headers.get('location');
    while (location && !location.startsWith(`${url}/auth/callback`)) {
      res = await again.request(new URL(location, first.url).href);
      location = res.headers.get('location');
    }
    const callback = await again.request(location!);
    const cookie = callback.headers.getSetCookie().find((c) => c.startsWith('sg_session='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect((await again.me(url)).login).toBe('bob');

    // Signing out ends the session.
    await again.navigate(`${url}/auth/logout`);
    expect((await again.me(url)).login).toBeNull();
  });

  it('a person the provider knows but no login links to is refused at sign-in, saying so; an unverified email links nobody', async () => {
    for (const [user, words] of [
      [
        'zed',
        /subject "z-000" and email "zed@example.com" are not linked to a login \(people\.<login>\.oidc\)/,
      ],
      ['impostor', /email "eve@example.com" is linked to eve, but the provider does not say it is verified/],
    ] as const) {
      const b = new CookieBrowser();
      const done = await b.signIn(url, user);
      expect(done.res.status).toBe(403);
      expect(
        (await done.res.text()).replace(/&#34;/g, '"').replace(/&#60;/g, '<').replace(/&#62;/g, '>'),
      ).toMatch(words);
      expect((await b.me(url)).login).toBeNull();
    }
  });

  it('a callback with a code and state from another browser opens no session', async () => {
    const victim = new CookieBrowser();
    const attacker = new CookieBrowser();
    const first = await attacker.navigate(`${url}/auth/login`);
    await first.res.body?.cancel();
    let res = await attacker.request(first.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'user=mallory',
    });
    let location = res.headers.get('location');
    while (location && !location.startsWith(`${url}/auth/callback`)) {
      res = await attacker.request(new URL(location, first.url).href);
      location = res.headers.get('location');
    }
    // The victim's browser is made to open the attacker's callback URL (login CSRF).
    const forced = await victim.request(location!);
    expect(forced.status).toBe(400);
    expect(await forced.text()).toMatch(/not started in this browser/);
    expect((await victim.me(url)).login).toBeNull();
  });

  it('approves from the page as alice and bob: status --json shows via web-oidc and their logins, and the release goes on', async () => {
    await hello.toGate('1.0.0');
    const alice = await signedIn('alice');
    const a = await alice.act(url, 'approve', {
      app: hello.name,
      version: '1.0.0',
      comment: 'from the page',
    });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.ok).toBe(true);
    // alice again: the workflow refuses a second approval, with the CLI's words.
    const twice = await alice.act(url, 'approve', { app: hello.name, version: '1.0.0' });
    expect(twice.body).toMatchObject({ ok: false, exitCode: 3 });
    expect(twice.body.error).toMatch(/already approved/);

    const bob = await signedIn('bob');
    const b = await bob.act(url, 'approve', { app: hello.name, version: '1.0.0' });
    expect(b.body.ok, JSON.stringify(b.body)).toBe(true);
    const s = await statusJson(hello, '1.0.0');
    expect(s.approvals.given.map((g) => [g.by, g.via])).toEqual([
      ['alice', 'web-oidc'],
      ['bob', 'web-oidc'],
    ]);
    expect((await hello.ended('1.0.0')).state).toBe('succeeded');
  });

  it('rolls back from the page with a reason: history names alice, the audit record says web-oidc', async () => {
    const roll = await stack.addApp('webroll');
    await roll.shipApproved('1.0.0');
    await roll.shipApproved('1.1.0');
    const alice = await signedIn('alice');
    const r = await alice.act(url, 'rollback', {
      app: roll.name,
      env: 'production',
      reason: 'checkout latency',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.result).toMatchObject({ to: '1.0.0' });
    await expect.poll(() => roll.serving('production'), { timeout: 60_000 }).toBe('1.0.0');
    const h = await roll.run('history', roll.name, 'production', '--json');
    const rows = JSON.parse(h.stdout) as { action: string; actor: string; reason: string }[];
    expect(rows.find((row) => row.action === 'rollback')).toMatchObject({
      actor: 'alice',
      reason: 'checkout latency',
    });
    const audit = (await readFile(path.join(stack.home, 'audit', 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const rollback = audit.find(
      (e) => JSON.stringify(e).includes('checkout latency') && /"web-oidc"/.test(JSON.stringify(e)),
    );
    expect(rollback, 'an audit record of the rollback through web-oidc').toBeDefined();
    // The audit keeps the token's digest, never the token.
    const text = JSON.stringify(audit);
    expect(text).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });

  it('without a session an action is 401 and nothing changes; without or with a wrong CSRF token, or from another origin, 403', async () => {
    await hello.toGate('1.2.0');
    const anonymous = new CookieBrowser();
    const none = await anonymous.act(url, 'approve', { app: hello.name, version: '1.2.0' }, { csrf: null });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ ok: false, exitCode: 2 });
    expect(none.body.error).toMatch(/sign in first/);

    const alice = await signedIn('alice');
    const noCsrf = await alice.act(url, 'approve', { app: hello.name, version: '1.2.0' }, { csrf: null });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toMatch(/CSRF token is missing or wrong/);
    const wrong = await alice.act(
      url,
      'approve',
      { app: hello.name, version: '1.2.0' },
      { csrf: 'x'.repeat(43) },
    );
    expect(wrong.status).toBe(403);
    const crossSite = await alice.act(
      url,
      'approve',
      { app: hello.name, version: '1.2.0' },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error).toMatch(/cross-origin request refused/);
    const noOrigin = await alice.act(url, 'approve', { app: hello.name, version: '1.2.0' }, { origin: null });
    expect(noOrigin.status).toBe(403);
    // Another person's CSRF token does not work with alice's session either.
    const bob = await signedIn('bob');
    const bobs = (await bob.me(url)).csrf!;
    expect(
      (await alice.act(url, 'approve', { app: hello.name, version: '1.2.0' }, { csrf: bobs })).status,
    ).toBe(403);

    const s = await statusJson(hello, '1.2.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused).toEqual([]);
  });

  it('mallory, signed in but in no approving group, gets the refusal text the CLI prints', async () => {
    await hello.toGate('1.3.0');
    const mallory = await signedIn('mallory');
    const r = await mallory.act(url, 'approve', { app: hello.name, version: '1.3.0' });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ ok: false, exitCode: 3 });
    const cli = await hello.run('approve', hello.name, '1.3.0', '--as', 'mallory');
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain(r.body.error!.split(':')[0]);
    expect(r.body.error).toMatch(/team-leads/);
    const s = await statusJson(hello, '1.3.0');
    expect(s.approvals.refused.find((x) => x.by === 'mallory' && x.via === 'web-oidc')).toBeDefined();
  });

  it("an environment whose approvalChannels leave out web-oidc refuses the page's approval", async () => {
    const sshOnly = await stack.addApp('sshonly', (c) => {
      (c.apps.hello.environments.production as Record<string, unknown>).approvalChannels = ['ssh'];
    });
    await sshOnly.toGate('2.0.0');
    const alice = await signedIn('alice');
    const r = await alice.act(url, 'approve', { app: sshOnly.name, version: '2.0.0' });
    expect(r.body).toMatchObject({ ok: false, exitCode: 3 });
    expect(r.body.error).toMatch(/approvals through web-oidc are not accepted here; use ssh/);
    expect((await statusJson(sshOnly, '2.0.0')).approvals.given).toEqual([]);
  });

  it('raw client: a forged ID token, an expired one and one for a subject linked to no login are refused by the worker', async () => {
    await hello.toGate('1.4.0');
    const key = newSessionKey();
    const cases: [string, string, RegExp][] = [
      [
        'forged',
        await provider.signWithForeignKey(
          idClaims('a1b2c3-alice', key.thumbprint, { email: 'alice@example.com', email_verified: true }),
        ),
        /signature does not verify/,
      ],
      [
        'expired',
        await provider.signWithProviderKey(
          idClaims('a1b2c3-alice', key.thumbprint, {
            email: 'alice@example.com',
            email_verified: true,
            iat: Math.floor(Date.now() / 1000) - 7200,
            exp: Math.floor(Date.now() / 1000) - 3600,
          }),
        ),
        /the ID token: the token expired/,
      ],
      [
        'unlinked',
        await provider.signWithProviderKey(idClaims('z-000', key.thumbprint)),
        /subject "z-000" is not linked to a login/,
      ],
    ];
    for (const [name, token, reason] of cases) {
      const err = await stack.sg
        .approve({ app: hello.name, version: '1.4.0', prove: rawProof(token, 'alice', key) })
        .then(
          () => null,
          (e: unknown) => toShipgateError(e, stack.server.address),
        );
      expect(err, name).toBeInstanceOf(ShipgateError);
      expect((err as ShipgateError).exitCode, name).toBe(3);
      expect((err as Error).message, name).toMatch(reason);
    }
    expect((await statusJson(hello, '1.4.0')).approvals.given).toEqual([]);
  });

  it("raw client: alice's real token copied from history cannot sign a new request, nor its proof be replayed", async () => {
    await hello.toGate('1.5.0');
    const alice = await signedIn('alice');
    const ok = await alice.act(url, 'approve', { app: hello.name, version: '1.5.0', comment: 'lgtm' });
    expect(ok.body.ok, JSON.stringify(ok.body)).toBe(true);
    // What a history reader finds: the Update input with the whole proof.
    const connection = await Connection.connect({ address: stack.server.address });
    let sent: Extract<Proof, { kind: 'web-oidc' }> | undefined;
    try {
      const history = await new Client({ connection }).workflow
        .getHandle(releaseWorkflowId(hello.name, '1.5.0'))
        .fetchHistory();
      const text = historyText(history);
      expect(text, 'the ID token is in the Update input').toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
      expect(text).not.toContain(provider.clientSecret);
      const input = (history.events ?? [])
        .map(
          (e) =>
            e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads ?? [],
        )
        .flat()
        .map((p) => parseOrNull(Buffer.from(p.data ?? new Uint8Array()).toString()))
        .find((i) => i?.proof?.kind === 'web-oidc');
      sent = input?.proof as Extract<Proof, { kind: 'web-oidc' }>;
    } finally {
      await connection.close();
    }
    expect(decodeJwt(sent!.token).sub).toBe('a1b2c3-alice');

    // Her token with a key of the attacker's: the token's nonce names her session key, not this one.
    const own = await stack.sg
      .reject({ app: hello.name, version: '1.5.0', reason: 'no', prove: rawProof(sent!.token, 'alice') })
      .then(
        () => null,
        (e: unknown) => toShipgateError(e, stack.server.address),
      );
    expect((own as Error).message).toMatch(/not issued for the key that signed this request/);
    // Her token and her public key, with a statement the attacker signs: the signature fails.
    const forgedSig: Proof = {
      ...sent!,
      statement: { ...sent!.statement, action: 'reject', details: detailsDigest({ reason: 'no' }) },
    };
    const re = await stack.sg
      .reject({ app: hello.name, version: '1.5.0', reason: 'no', prove: () => Promise.resolve(forgedSig) })
      .then(
        () => null,
        (e: unknown) => toShipgateError(e, stack.server.address),
      );
    expect((re as Error).message).toMatch(/signature does not verify with the session key/);
    // The very proof again, for the approval it was made for: a replay.
    const replay = await stack.sg
      .approve({ app: hello.name, version: '1.5.0', comment: 'lgtm', prove: () => Promise.resolve(sent!) })
      .then(
        () => null,
        (e: unknown) => toShipgateError(e, stack.server.address),
      );
    expect((replay as Error).message).toMatch(/used before|replay|already approved/);
    const s = await statusJson(hello, '1.5.0');
    expect(s.state).toBe('running');
    expect(s.approvals.given.map((g) => g.by)).toEqual(['alice']);
  });

  it('the client secret never reaches the worker: not in its log, its histories or the audit trail', async () => {
    const audit = await readFile(path.join(stack.home, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit).not.toContain(provider.clientSecret);
    expect(stack.worker.logs()).not.toContain(provider.clientSecret);
    const connection = await Connection.connect({ address: stack.server.address });
    try {
      const client = new Client({ connection });
      for await (const w of client.workflow.list()) {
        const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
        expect(historyText(history), w.workflowId).not.toContain(provider.clientSecret);
      }
    } finally {
      await connection.close();
    }
  });
});
