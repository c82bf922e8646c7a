/**
 * The dashboard's sign-in and actions (channel web-oidc), behind the DashboardAuth seam:
 *
 * - `GET /auth/login[?return=/path]`: starts the authorization code flow (PKCE S256, state, nonce = the
 *   thumbprint of a key pair made for this sign-in); `GET /auth/callback`: finishes it and opens a session;
 *   `GET|POST /auth/logout`.
 * - `GET /api/me`: `{ login, csrf, expiresAt }`, or `{ login: null }`.
 * - `POST /api/actions/{approve|reject|rollback}`: JSON `{ app, version?, env?, reason?, comment? }` with the
 *   session's CSRF token in `x-csrf-token` and this dashboard's Origin. The action is sent as the signed-in
 *   login with a web-oidc proof; the worker decides, exactly as for the CLI, and its refusal comes back as
 *   `{ ok: false, error, exitCode }`.
 *
 * The client secret is read once from the variable ui.oidc.clientSecretEnv names, and goes to the provider's
 * token endpoint only: never to a worker, a log or a response.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ShipgateClient } from '../../client.js';
import { webOidcProver } from '../../client/prove.js';
import {
  BadInputError,
  EnvironmentNotFoundError,
  ReleaseEndedError,
  ReleaseNotFoundError,
  toShipgateError,
} from '../../client/errors.js';
import { requireAppName, requireText, requireVersion } from '../../client/validate.js';
import type { ShipgateConfig } from '../../config/schema.js';
import { loginForOidcClaims, newSessionKey, WEB_SESSION_MAX_MS } from '../../identity/web-oidc.js';
import { readBody } from '../../http/read-body.js';
import type { Logger } from '../../logger.js';
import type { DashboardAuth } from '../auth-seam.js';
import { clearCookie, cookieName, readCookie, setCookie } from './cookies.js';
import { createRelyingParty, type RelyingParty } from './relying-party.js';
import { ExpiringStore, newId, sameToken, type PendingLogin, type Session } from './sessions.js';

export { createRelyingParty } from './relying-party.js';

export interface OidcAuthOptions {
  /** The config as it is now (people, apps, ui). */
  config: () => ShipgateConfig;
  sg: ShipgateClient;
  /** The dashboard's own origin (`http://127.0.0.1:8234`), used when ui.publicUrl is not set. */
  origin: string | (() => string);
  /** Where the client secret is read (process.env). */
  env?: NodeJS.ProcessEnv;
  /** The Temporal address, for error messages. */
  address?: string;
  logger?: Logger;
  now?: () => number;
}

export const ACTIONS = ['approve', 'reject', 'rollback'] as const;
const LOGIN_TTL_MS = 10 * 60_000;
const MAX_BODY = 16 * 1024;
const MAX_SESSIONS = 10_000;
const MAX_PENDING = 1_000;

type Answer = { status: number; body: Record<string, unknown> };

/**
 * The sign-in for a dashboard whose config has ui.oidc. Throws, naming the variable, when the client secret is
 * not set (the dashboard then does not start), never printing a value.
 */
export function createOidcAuth(opts: OidcAuthOptions): DashboardAuth & { close(): void } {
  const now = opts.now ?? Date.now;
  const settings = opts.config().ui?.oidc;
  if (!settings) throw new BadInputError('ui.oidc is not configured: the dashboard is read-only');
  const secret = (opts.env ?? process.env)[settings.clientSecretEnv];
  if (!secret)
    throw new BadInputError(
      `the OpenID client secret is not set: export ${settings.clientSecretEnv} (ui.oidc.clientSecretEnv) for shipgate ui`,
    );
  const origin = () =>
    opts.config().ui?.publicUrl ?? (typeof opts.origin === 'string' ? opts.origin : opts.origin());
  const secure = () => origin().startsWith('https:');
  const sessionCookie = () => cookieName('sg_session', secure());
  const loginCookie = () => cookieName('sg_login', secure());
  const sessions = new ExpiringStore<Session & { id: string }>(MAX_SESSIONS, now);
  const pending = new ExpiringStore<PendingLogin>(MAX_PENDING, now);
  let rp: RelyingParty | null = null;
  let rpFor = '';
  // The redirect URI follows the origin (known once the server listens).
  const relyingParty = () => {
    const redirectUri = `${origin()}/auth/callback`;
    if (!rp || rpFor !== redirectUri) {
      rp = createRelyingParty({
        issuer: settings.issuer,
        clientId: settings.clientId,
        clientSecret: secret,
        redirectUri,
      });
      rpFor = redirectUri;
    }
    return rp;
  };

  const sessionOf = (req: IncomingMessage) => sessions.get(readCookie(req, sessionCookie()));

  const headers = (type: string, extra: Record<string, string | string[]> = {}) => ({
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    ...extra,
  });
  const json = (res: ServerResponse, a: Answer, extra: Record<string, string | string[]> = {}) => {
    res.writeHead(a.status, headers('application/json; charset=utf-8', extra));
    res.end(JSON.stringify(a.body));
  };
  /** A small page for the browser's own navigations (sign-in failures), every value escaped. */
  const page = (res: ServerResponse, status: number, title: string, text: string, extra = {}) => {
    res.writeHead(status, headers('text/html; charset=utf-8', extra));
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
        `<link rel="stylesheet" href="/styles.css"></head><body><main><h1>${escapeHtml(title)}</h1>` +
        `<p>${escapeHtml(text)}</p><p><a href="/">Back to the dashboard</a> · <a href="/auth/login">Sign in again</a></p></main></body></html>`,
    );
  };
  const refuse = (status: number, error: string, exitCode: number): Answer => ({
    status,
    body: { ok: false, error, exitCode },
  });

  const login = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const returnTo = safeReturn(url.searchParams.get('return'));
    const key = newSessionKey();
    const state = newId();
    let start;
    try {
      start = await relyingParty().start({ state, nonce: key.thumbprint });
    } catch (err) {
      opts.logger?.warn({ error: (err as Error).message }, 'dashboard: OpenID discovery failed');
      return page(
        res,
        502,
        'Sign-in unavailable',
        `The OpenID provider ${settings.issuer} could not be reached: ${(err as Error).message}`,
      );
    }
    const id = newId();
    pending.put(id, {
      state,
      codeVerifier: start.codeVerifier,
      key,
      returnTo,
      expiresAt: now() + LOGIN_TTL_MS,
    });
    res.writeHead(302, {
      ...headers('text/plain; charset=utf-8'),
      location: start.url.href,
      'set-cookie': setCookie(loginCookie(), id, { secure: secure(), maxAgeS: LOGIN_TTL_MS / 1000 }),
    });
    res.end();
  };

  const callback = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const clear = { 'set-cookie': clearCookie(loginCookie(), secure()) };
    // Bound to the browser that started it: a callback carrying someone else's code and state finds nothing.
    const p = pending.take(readCookie(req, loginCookie()));
    if (!p)
      return page(
        res,
        400,
        'Sign-in not started here',
        'This sign-in was not started in this browser, or it took more than 10 minutes. Start again.',
        clear,
      );
    const providerError = url.searchParams.get('error');
    if (providerError) {
      const description = url.searchParams.get('error_description');
      return page(
        res,
        401,
        'Sign-in refused',
        `The provider answered ${providerError}${description ? `: ${description}` : ''}.`,
        clear,
      );
    }
    const callbackUrl = new URL(`${url.pathname}${url.search}`, origin());
    let signed;
    try {
      signed = await relyingParty().finish(callbackUrl, {
        state: p.state,
        nonce: p.key.thumbprint,
        codeVerifier: p.codeVerifier,
      });
    } catch (err) {
      opts.logger?.warn({ error: (err as Error).message }, 'dashboard: sign-in failed');
      return page(res, 401, 'Sign-in failed', (err as Error).message, clear);
    }
    const c = signed.claims;
    const who = loginForOidcClaims(opts.config().people, c);
    if (!who.ok) {
      opts.logger?.warn({ sub: c.sub, reason: who.reason }, 'dashboard: sign-in for no login');
      return page(
        res,
        403,
        'Not linked to a login',
        `${who.reason}. Ask whoever keeps the shipgate config to add you; until then you can read the dashboard but not act from it.`,
        clear,
      );
    }
    const iat = typeof c.iat === 'number' ? c.iat * 1000 : now();
    const exp = typeof c.exp === 'number' ? c.exp * 1000 : now();
    const id = newId();
    const session: Session & { id: string } = {
      id,
      login: who.login,
      csrf: newId(),
      idToken: signed.idToken,
      key: p.key,
      subject: String(c.sub),
      email: typeof c.email === 'string' ? c.email : null,
      // The worker refuses the token after its exp and after WEB_SESSION_MAX_MS: the session ends first.
      expiresAt: Math.min(exp, iat + WEB_SESSION_MAX_MS),
    };
    sessions.put(id, session);
    opts.logger?.info({ login: who.login, matched: who.matched }, 'dashboard: signed in');
    res.writeHead(303, {
      ...headers('text/plain; charset=utf-8'),
      location: p.returnTo,
      'set-cookie': [
        clear['set-cookie'],
        setCookie(sessionCookie(), id, {
          secure: secure(),
          maxAgeS: Math.floor((session.expiresAt - now()) / 1000),
        }),
      ],
    });
    res.end();
  };

  const logout = (req: IncomingMessage, res: ServerResponse) => {
    const id = readCookie(req, sessionCookie());
    const s = sessions.get(id);
    // A POST must come from the page; a GET (a link) only ever signs out.
    if (req.method === 'POST' && s && !sameToken(headerOf(req, 'x-csrf-token'), s.csrf))
      return json(res, refuse(403, 'the CSRF token is missing or wrong', 2));
    sessions.delete(id);
    res.writeHead(303, {
      ...headers('text/plain; charset=utf-8'),
      location: '/',
      'set-cookie': clearCookie(sessionCookie(), secure()),
    });
    res.end();
  };

  const act = async (req: IncomingMessage, action: string): Promise<Answer> => {
    if (req.method !== 'POST') return refuse(405, 'use POST', 2);
    if (!(ACTIONS as readonly string[]).includes(action))
      return refuse(
        404,
        `unknown action ${JSON.stringify(action.slice(0, 40))}: approve, reject or rollback`,
        2,
      );
    const s = sessionOf(req);
    if (!s) return refuse(401, 'sign in first: nothing was sent (GET /auth/login)', 2);
    // A cross-site page cannot read the CSRF token; a same-site one from another origin fails the Origin check.
    if (headerOf(req, 'origin') !== origin())
      return refuse(403, `cross-origin request refused: the Origin must be ${origin()}`, 2);
    if (!sameToken(headerOf(req, 'x-csrf-token'), s.csrf))
      return refuse(403, 'the CSRF token is missing or wrong (x-csrf-token): reload the page', 2);
    if (!/^application\/json\b/i.test(headerOf(req, 'content-type') ?? ''))
      return refuse(415, 'expected Content-Type: application/json', 2);
    const read = await readBody(req, MAX_BODY);
    if (!read.ok) return refuse(413, read.reason, 2);
    let input: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(read.body.toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      input = parsed as Record<string, unknown>;
    } catch {
      return refuse(400, 'the body is not a JSON object', 2);
    }
    const prove = webOidcProver({ login: s.login, idToken: s.idToken, key: s.key });
    try {
      const result = await run(action as (typeof ACTIONS)[number], input, prove, s.login);
      opts.logger?.info({ action, app: input.app, by: s.login }, 'dashboard: action accepted');
      return { status: 200, body: { ok: true, result } };
    } catch (err) {
      const e = toShipgateError(err, opts.address ?? 'Temporal');
      const status =
        e instanceof BadInputError
          ? 400
          : err instanceof ReleaseNotFoundError ||
              err instanceof EnvironmentNotFoundError ||
              err instanceof ReleaseEndedError
            ? 409
            : e.exitCode === 3
              ? 403
              : e.exitCode === 4
                ? 503
                : 502;
      opts.logger?.info(
        { action, app: input.app, by: s.login, refused: e.message },
        'dashboard: action refused',
      );
      return refuse(status, e.message, e.exitCode);
    }
  };

  const run = async (
    action: (typeof ACTIONS)[number],
    input: Record<string, unknown>,
    prove: ReturnType<typeof webOidcProver>,
    by: string,
  ): Promise<unknown> => {
    const config = opts.config();
    const text = (field: string): string | undefined => {
      const v = input[field];
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') throw new BadInputError(`${field} must be a string`);
      return v;
    };
    const app = requireAppName(text('app') ?? '', 'app');
    if (!config.apps[app]) throw new BadInputError(`unknown app ${app}`);
    if (action === 'rollback') {
      const env = requireAppName(text('env') ?? '', 'env');
      if (!config.apps[app].environments[env])
        throw new BadInputError(`unknown environment ${env} for app ${app}`);
      const to = text('version');
      const reason = requireText(text('reason'), 'reason');
      return opts.sg.rollback({
        app,
        env,
        ...(to === undefined ? {} : { to: requireVersion(to, 'version') }),
        reason,
        prove,
        requestId: `web-${by}-${randomUUID()}`,
      });
    }
    const version = requireVersion(text('version') ?? '', 'version');
    if (action === 'approve') {
      const comment = text('comment');
      return opts.sg.approve({ app, version, prove, ...(comment === undefined ? {} : { comment }) });
    }
    const reason = text('reason');
    const status = await opts.sg.reject({ app, version, prove, ...(reason === undefined ? {} : { reason }) });
    return { state: status.state, stage: status.stage };
  };

  return {
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://dashboard');
      const path = url.pathname;
      switch (path) {
        case '/auth/login':
          await login(req, res, url);
          return true;
        case '/auth/callback':
          await callback(req, res, url);
          return true;
        case '/auth/logout':
          logout(req, res);
          return true;
        case '/api/me': {
          const s = sessionOf(req);
          json(res, {
            status: 200,
            body: s
              ? { login: s.login, csrf: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() }
              : { login: null, signIn: '/auth/login' },
          });
          return true;
        }
      }
      if (path.startsWith('/api/actions/')) {
        const answer = await act(req, path.slice('/api/actions/'.length));
        json(res, answer, answer.status === 405 ? { allow: 'POST' } : {});
        return true;
      }
      return false;
    },

    session(req) {
      const s = sessionOf(req);
      return s ? { login: s.login, csrf: s.csrf } : null;
    },

    close() {
      // Sessions live in memory only; nothing to flush.
    },
  };
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? null) : null;
}

/** Only a path on this dashboard: never `//host` or a URL, so the sign-in cannot be made to redirect away. */
function safeReturn(value: string | null): string {
  if (
    !value ||
    !value.startsWith('/') ||
    value.startsWith('//') ||
    value.includes('\\') ||
    /[\r\n]/.test(value)
  )
    return '/';
  return value.slice(0, 1000);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
