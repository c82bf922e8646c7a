/**
 * Slack's interactivity endpoint: `POST /slack/events`. Button clicks (Approve, Reject, Roll back to X) and the
 * rollback dialog's submission arrive here, signed by Slack. A verified click becomes the same Update the CLI
 * sends, and its proof is the original request itself (raw body, timestamp, signature): the worker checks
 * Slack's signature again, maps the Slack user through `people`, and refuses a request it has seen before or
 * whose button names another run of the release. This endpoint believes nothing the worker would not.
 *
 * Unsigned traffic costs it little: the signature headers are checked (present, well-formed, within five
 * minutes) before a byte of the body is read, a body is at most 64 KiB, connections are bounded in number and
 * each request must arrive within a deadline, and a request seen before is refused here too.
 *
 * Accepting a click needs no call to Slack's API: the answer is the HTTP response, sent once the Update was
 * accepted or refused and always within Slack's 3 s. Ephemeral replies are also posted to the click's
 * `response_url` in the background (Slack ignores the body of a block_actions acknowledgement), and the card
 * itself is updated by the worker's notifier.
 */
import http from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { AuditStore } from '../../audit/types.js';
import type { ShipgateClient } from '../../client.js';
import type { ConfigSource } from '../../config/source.js';
import type { Logger } from '../../logger.js';
import {
  EnvironmentNotFoundError,
  ReleaseNotFoundError,
  toShipgateError,
  UnreachableError,
} from '../../client/errors.js';
import { settledWithin } from '../../client/timeout.js';
import { closeAfterAnswer } from '../../http/read-body.js';
import { tallyText } from '../../client.js';
import type { Prover } from '../../client/prove.js';
import type { Proof } from '../../identity/types.js';
import { refusedType } from '../../protocol/audit-types.js';
import { releaseWorkflowId } from '../../protocol/ids.js';
import {
  ACTION,
  parseReleaseValue,
  parseRollbackValue,
  rollbackModal,
  ROLLBACK_VIEW,
  type ReleaseRef,
  type RollbackRef,
} from './cards.js';
import { loginForSlackUser } from './identity.js';
import { checkSlackHeaders, MAX_SKEW_SECONDS, verifySignature } from './signature.js';
import { slackError } from './web.js';

export const EVENTS_PATH = '/slack/events';
/** Slack's interaction payloads are a few KiB; a rollback reason is at most 3000 characters. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Open connections at once; more are closed as they arrive. Each holds at most one body. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** From the request's headers to its last body byte. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/** From the connection (or the previous request on it) to the end of the headers. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

export interface SlackServerOptions {
  config: ConfigSource;
  signingSecret: string;
  sg: ShipgateClient;
  audit: AuditStore;
  logger: Logger;
  /** For views.open (the rollback dialog); without a bot token the dialog is unavailable. */
  web?: WebClient;
  /** `slack.apiUrl`: response_url posts are allowed to its origin besides Slack's own. */
  apiUrl?: string;
  /** When to answer "working on it" if the Update has not settled (Slack gives up after 3 s). */
  replyWithinMs?: number;
  /** Temporal's address, for messages. */
  address?: string;
  /** Open connections at once (default 64); further connections are closed at once. */
  maxConnections?: number;
  /** How long a request's body may take to arrive once its headers are in (default 10 s): 408 after. */
  bodyTimeoutMs?: number;
  /** How long a request's headers may take (default 10 s): the connection is closed after. */
  headersTimeoutMs?: number;
}

export interface SlackServer {
  listen(port: number, host?: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
  /** Settles when background work (dialogs, response_url posts) started so far is done; for tests. */
  idle(): Promise<void>;
  /** Connections open right now. */
  connections(): Promise<number>;
}

/** What an interaction comes to: an HTTP status and body, plus an ephemeral message for the user. */
interface Reply {
  status: number;
  body?: Record<string, unknown>;
  /** Shown only to the person who clicked. */
  ephemeral?: string;
}

class BadRequest extends Error {}

const bad = (message: string) => new BadRequest(message);

export function createSlackServer(opts: SlackServerOptions): SlackServer {
  const log = opts.logger.child({ component: 'slack-endpoint' });
  const replyWithinMs = opts.replyWithinMs ?? 2500;
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const q = p.catch(() => undefined).finally(() => background.delete(q));
    background.add(q);
  };

  const config = () => opts.config.get().config;

  // ---- the HTTP layer ----

  const headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const server = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      // Node's own bound on the whole request, behind the body deadline below.
      requestTimeout: headersTimeoutMs + bodyTimeoutMs + 1000,
      // How often Node looks for requests past those bounds (default 30 s).
      connectionsCheckingInterval: Math.min(1000, headersTimeoutMs),
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => {
      void handle(req, res).catch((err: unknown) => {
        log.error({ error: (err as Error)?.message ?? String(err) }, 'Slack request failed');
        if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      });
    },
  );
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.keepAliveTimeout = 5000;
  let dropped = 0;
  server.on('drop', () => {
    // Logged once per hundred, so a flood does not flood the log too.
    if (dropped++ % 100 === 0)
      log.warn(
        { maxConnections: server.maxConnections, dropped },
        'connection limit reached; connection closed',
      );
  });

  const replays = createReplayCache();

  /** Answers without reading the rest of the body, then closes the connection. */
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, status: number, error: string) => {
    closeAfterAnswer(req, res);
    send(res, { status, body: { error } });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== EVENTS_PATH) return refuse(req, res, 404, 'not found');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return refuse(req, res, 405, 'use POST');
    }
    // Before the body: anything Slack did not send is refused for the price of its headers.
    const headers = checkSlackHeaders({
      signature: req.headers['x-slack-signature'],
      timestamp: req.headers['x-slack-request-timestamp'],
    });
    if (!headers.ok) {
      log.warn({ reason: headers.reason }, 'Slack request refused before its body');
      return refuse(req, res, headers.problem === 'malformed' ? 400 : 401, 'invalid signature');
    }
    const read = await readLimitedBody(req, MAX_BODY_BYTES, bodyTimeoutMs);
    if (!read.ok) {
      log.warn({ reason: read.reason }, 'Slack request refused');
      return refuse(req, res, read.status, read.reason);
    }
    const rawBody = read.body.toString('utf8');
    const verified = verifySignature({
      signingSecret: opts.signingSecret,
      rawBody,
      signature: headers.signature,
      timestamp: headers.timestamp,
    });
    if (!verified.ok) {
      log.warn({ reason: verified.reason }, 'Slack request with a bad signature refused');
      return send(res, { status: 401, body: { error: 'invalid signature' } });
    }
    // Slack sends each request once; the same signed request again is a replay (the worker refuses it too).
    if (!replays.first(headers.signature, Number(headers.timestamp))) {
      log.warn({ timestamp: headers.timestamp }, 'replayed Slack request refused');
      return send(res, { status: 409, body: { error: 'request already received' } });
    }
    const proof: Proof = {
      kind: 'slack',
      body: rawBody,
      timestamp: headers.timestamp,
      signature: headers.signature,
    };
    let reply: Reply;
    try {
      reply = await interaction(rawBody, String(req.headers['content-type'] ?? ''), proof);
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      log.warn({ reason: err.message }, 'Slack request rejected as bad input');
      reply = { status: 400, body: { error: err.message } };
    }
    send(res, reply);
  };

  // ---- interactions ----

  /** Parses the (verified) body and dispatches on the payload type; `proof` is the request itself. */
  const interaction = async (rawBody: string, contentType: string, proof: Proof): Promise<Reply> => {
    if (contentType.startsWith('application/json')) {
      // The Events API's one-time URL check, so the same Request URL can be registered there.
      const body = parseJson(rawBody, 'body');
      if (body.type === 'url_verification' && typeof body.challenge === 'string')
        return { status: 200, body: { challenge: body.challenge } };
      throw bad('unsupported JSON request; interactivity payloads are form-encoded');
    }
    const form = new URLSearchParams(rawBody);
    const raw = form.get('payload');
    if (raw === null) throw bad('missing payload');
    const payload = parseJson(raw, 'payload');
    if (payload.type === 'block_actions') return blockAction(payload, proof);
    if (payload.type === 'view_submission') return viewSubmission(payload, proof);
    throw bad(`unsupported payload type ${JSON.stringify(String(payload.type)).slice(0, 60)}`);
  };

  const blockAction = async (payload: Record<string, unknown>, proof: Proof): Promise<Reply> => {
    const actions = payload.actions;
    const action = Array.isArray(actions) ? (actions[0] as Record<string, unknown> | undefined) : undefined;
    if (!action || typeof action !== 'object') throw bad('payload.actions is empty');
    const actionId = action.action_id;
    const userId = userOf(payload);
    const responseUrl = typeof payload.response_url === 'string' ? payload.response_url : undefined;
    const respond = (reply: Reply) => {
      if (reply.ephemeral && responseUrl) track(postResponse(responseUrl, reply.ephemeral));
      return reply;
    };

    if (actionId === ACTION.approve || actionId === ACTION.reject) {
      const ref = parseReleaseValue(action.value);
      if (!ref.ok) throw bad(ref.reason);
      requireApp(ref.value.app);
      const work = decide(actionId === ACTION.approve ? 'approve' : 'reject', ref.value, userId, proof);
      return respond(await withinReplyTime(work, responseUrl, `${ref.value.app} ${ref.value.version}`));
    }
    if (actionId === ACTION.rollback) {
      const ref = parseRollbackValue(action.value);
      if (!ref.ok) throw bad(ref.reason);
      requireApp(ref.value.app, ref.value.env);
      const who = loginForSlackUser(config().people, userId);
      if (!who.ok) return respond(await refuseUnknown('rollback', userId, who.reason, ref.value));
      const triggerId = payload.trigger_id;
      if (typeof triggerId !== 'string' || triggerId === '') throw bad('payload.trigger_id is missing');
      if (!opts.web) {
        return respond({
          status: 200,
          ephemeral: `The rollback dialog needs the bot token (slack.tokenEnv), which this endpoint does not have. Use: shipgate rollback ${ref.value.app} ${ref.value.env} --to ${ref.value.to} --as ${who.login} --reason "…"`,
        });
      }
      // The trigger id is valid for 3 s: open the dialog now, without holding the acknowledgement.
      track(openRollbackDialog(triggerId, ref.value, responseUrl));
      return { status: 200 };
    }
    throw bad(`unknown action_id ${JSON.stringify(String(actionId)).slice(0, 80)}`);
  };

  const viewSubmission = async (payload: Record<string, unknown>, proof: Proof): Promise<Reply> => {
    const view = payload.view as Record<string, unknown> | undefined;
    if (!view || typeof view !== 'object') throw bad('payload.view is missing');
    if (view.callback_id !== ROLLBACK_VIEW.callbackId)
      throw bad(`unknown view callback_id ${JSON.stringify(String(view.callback_id)).slice(0, 80)}`);
    const ref = parseRollbackValue(view.private_metadata);
    if (!ref.ok) throw bad(ref.reason);
    const { app, env, to } = ref.value;
    requireApp(app, env);
    const userId = userOf(payload);
    const fieldError = (text: string): Reply => ({
      status: 200,
      body: { response_action: 'errors', errors: { [ROLLBACK_VIEW.reasonBlock]: text.slice(0, 1900) } },
    });
    const values = (
      view.state as { values?: Record<string, Record<string, { value?: unknown }>> } | undefined
    )?.values;
    const reason = values?.[ROLLBACK_VIEW.reasonBlock]?.[ROLLBACK_VIEW.reasonAction]?.value;
    if (typeof reason !== 'string' || reason.trim() === '')
      return fieldError('Give a reason for the rollback.');
    if (reason.length > 4000) return fieldError('The reason must be at most 4000 characters.');
    const who = loginForSlackUser(config().people, userId);
    if (!who.ok) {
      const refused = await refuseUnknown('rollback', userId, who.reason, ref.value);
      return fieldError(refused.ephemeral ?? who.reason);
    }
    const viewId = typeof view.id === 'string' && view.id ? view.id : randomUUID();
    const work = (async (): Promise<Reply> => {
      try {
        const accepted = await opts.sg.rollback({
          app,
          env,
          to,
          // Exactly as submitted: the worker checks it against the signed request.
          reason,
          prove: slackProver(proof),
          // A resubmitted dialog must not roll back twice.
          requestId: `slack-${viewId}`.slice(0, 120),
        });
        log.info({ app, env, to: accepted.to, by: who.login }, 'rollback requested from Slack');
        return {
          status: 200,
          body: {
            response_action: 'update',
            view: doneView(
              `Rolling back *${app}/${env}* from ${accepted.from ?? 'nothing'} to *${accepted.to}*. The outcome will be posted in the channel.`,
            ),
          },
        };
      } catch (err) {
        if (err instanceof EnvironmentNotFoundError)
          return fieldError(`Cannot roll back ${app}/${env}: nothing has been deployed there.`);
        return fieldError(refusalText(err));
      }
    })();
    const settled = await settledWithin(work, replyWithinMs);
    if (settled !== undefined) return settled;
    track(work.then((r) => log.info({ app, env, status: r.status }, 'slow rollback request settled')));
    return {
      status: 200,
      body: {
        response_action: 'update',
        view: doneView(
          `Rollback of *${app}/${env}* to *${to}* requested; the outcome will be posted in the channel.`,
        ),
      },
    };
  };

  // ---- decisions ----

  /**
   * Approve or reject with the click as proof; the worker decides who that is. Refusals come back as ephemeral
   * text. A click carries no text of its own, so a rejection from Slack has no reason but who rejected it.
   */
  const decide = async (
    verb: 'approve' | 'reject',
    ref: ReleaseRef,
    userId: string,
    proof: Proof,
  ): Promise<Reply> => {
    const { app, version } = ref;
    const who = loginForSlackUser(config().people, userId);
    if (!who.ok) {
      if (!(await releaseExists(ref))) throw bad(`unknown release ${app} ${version}`);
      return refuseUnknown(verb, userId, who.reason, ref);
    }
    if (ref.run === undefined)
      return {
        status: 200,
        ephemeral: `This card is from before shipgate checked which run a button is for, so it no longer decides anything. Use: shipgate ${verb} ${app} ${version}${verb === 'reject' ? ' --reason "…"' : ''}`,
      };
    const prove = slackProver(proof);
    try {
      if (verb === 'approve') {
        const r = await opts.sg.approve({ app, version, prove });
        log.info({ app, version, by: who.login }, 'approved from Slack');
        return {
          status: 200,
          ephemeral: `✅ You approved ${app} ${version} for ${r.environment} as ${who.login}. Tally: ${tallyText(r)}${r.met ? ' — approvals complete' : ''}`,
        };
      }
      await opts.sg.reject({ app, version, prove });
      log.info({ app, version, by: who.login }, 'rejected from Slack');
      return { status: 200, ephemeral: `🚫 You rejected ${app} ${version} as ${who.login}.` };
    } catch (err) {
      if (err instanceof ReleaseNotFoundError) throw bad(`unknown release ${app} ${version}`);
      // A release that already ended comes back as ReleaseEndedError, whose message says so plainly.
      const text = refusalText(err);
      log.info({ app, version, by: who.login, verb, reason: text }, 'Slack decision refused');
      return { status: 200, ephemeral: `Not ${verb === 'approve' ? 'approved' : 'rejected'}: ${text}` };
    }
  };

  /** Whether the release exists; queries work on closed runs too. Unsure (Temporal unreachable) counts as yes. */
  const releaseExists = async (ref: ReleaseRef): Promise<boolean> => {
    try {
      await opts.sg.status(ref.app, ref.version);
      return true;
    } catch (err) {
      // Unreachable Temporal and the like are not the caller's fault, so not a 400.
      return !(err instanceof ReleaseNotFoundError);
    }
  };

  /** A Slack user who maps to nobody: refused, and the attempt audited (the workflow never sees it). */
  const refuseUnknown = async (
    verb: 'approve' | 'reject' | 'rollback',
    userId: string,
    reason: string,
    ref: Partial<ReleaseRef & RollbackRef> & { app: string },
  ): Promise<Reply> => {
    const record = {
      id: `slack-${randomUUID()}`,
      at: new Date().toISOString(),
      type: refusedType(verb),
      app: ref.app,
      env: ref.env ?? null,
      version: ref.version ?? ref.to ?? null,
      actor: `slack:${userId || 'unknown'}`,
      via: 'slack',
      reason,
      outcome: 'refused',
      releaseId: ref.version ? releaseWorkflowId(ref.app, ref.version) : null,
    };
    try {
      await opts.audit.append([record]);
    } catch (err) {
      log.error({ error: (err as Error).message, record }, 'could not audit a refused Slack user');
    }
    log.warn({ verb, userId, app: ref.app, reason }, 'refused an unknown Slack user');
    return { status: 200, ephemeral: `Refused: ${reason}.` };
  };

  /** Answers within Slack's 3 s: if the Update has not settled, says so and follows up on response_url. */
  const withinReplyTime = async (work: Promise<Reply>, responseUrl: string | undefined, what: string) => {
    const settled = await settledWithin(work, replyWithinMs);
    if (settled !== undefined) return settled;
    const followUp = (text: string | undefined) =>
      text && responseUrl ? postResponse(responseUrl, text) : undefined;
    track(
      work.then(
        (r) => followUp(r.ephemeral),
        (err: unknown) =>
          followUp(err instanceof BadRequest ? `Cannot act on ${what}: ${err.message}` : refusalText(err)),
      ),
    );
    return { status: 200, ephemeral: `⏳ Working on ${what}; shipgate will reply here shortly.` };
  };

  // ---- calls out (background only) ----

  const openRollbackDialog = async (triggerId: string, ref: RollbackRef, responseUrl?: string) => {
    try {
      await opts.web!.views.open({ trigger_id: triggerId, view: rollbackModal(ref) as never });
    } catch (err) {
      log.warn({ error: slackError(err), ...ref }, 'could not open the rollback dialog');
      if (responseUrl)
        await postResponse(
          responseUrl,
          `Could not open the rollback dialog (${slackError(err)}). Use: shipgate rollback ${ref.app} ${ref.env} --to ${ref.to} --reason "…"`,
        );
    }
  };

  /** Slack's response_url, and only Slack's (or the configured stand-in's), gets the ephemeral reply. */
  const postResponse = async (responseUrl: string, text: string) => {
    if (!responseUrlAllowed(responseUrl, opts.apiUrl ?? config().slack?.apiUrl)) {
      log.warn({ responseUrl: responseUrl.slice(0, 200) }, 'ignored a response_url outside Slack');
      return;
    }
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const res = await fetch(responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
          signal: AbortSignal.timeout(3000),
          redirect: 'error',
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        log.warn({ status: res.status }, 'response_url answered with an error');
      } catch (err) {
        log.warn({ error: (err as Error).message, attempt }, 'could not post to response_url');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  // ---- helpers ----

  const requireApp = (app: string, env?: string) => {
    const a = config().apps[app];
    if (!a) throw bad(`unknown app ${app}`);
    if (env !== undefined && !a.environments[env]) throw bad(`unknown environment ${env} for app ${app}`);
  };

  const refusalText = (err: unknown): string => {
    const e = toShipgateError(err, opts.address ?? 'Temporal');
    return e instanceof UnreachableError
      ? `shipgate cannot reach Temporal right now; try again (${e.message})`
      : e.message;
  };

  return {
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const actual = (server.address() as { port: number }).port;
          resolve({ port: actual, url: `http://${host}:${actual}${EVENTS_PATH}` });
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.allSettled([...background]);
    },
    async idle() {
      while (background.size > 0) await Promise.allSettled([...background]);
    },
    connections() {
      return new Promise((resolve, reject) =>
        server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      );
    },
  };
}

/** Slack's prover: whatever the client asks to be signed, the proof is the signed request being handled. */
function slackProver(proof: Proof): Prover {
  return () => Promise.resolve(proof);
}

type LimitedBody = { ok: true; body: Buffer } | { ok: false; status: 408 | 413 | 400; reason: string };

/**
 * Reads at most `limit` bytes within `timeoutMs`: 413 from the Content-Length or as soon as the body passes the
 * limit, 408 when it has not arrived in time. The rest is never read (answer with `closeAfterAnswer`).
 */
function readLimitedBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<LimitedBody> {
  const tooLarge = { ok: false, status: 413, reason: `body over ${limit} bytes` } as const;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: LimitedBody) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (!r.ok) req.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(tooLarge);
      chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks) });
    const onError = (err: Error) =>
      finish({ ok: false, status: 400, reason: `could not read the body: ${err.message}` });
    const timer = setTimeout(
      () => finish({ ok: false, status: 408, reason: `body not received within ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

/**
 * Signatures seen within Slack's window (both ways), so the same signed request is acted on once. Bounded: only
 * verified requests enter, each leaves once its timestamp is out of the window, and past the cap the oldest go
 * first (the worker, which keeps what it accepted, still refuses those).
 */
function createReplayCache(cap = 10_000) {
  const seen = new Map<string, number>();
  return {
    /** True the first time this signature is offered; false for a replay. */
    first(signature: string, timestampSeconds: number): boolean {
      const nowSeconds = Math.floor(Date.now() / 1000);
      for (const [key, ts] of seen) {
        if (ts >= nowSeconds - MAX_SKEW_SECONDS && seen.size < cap) break;
        seen.delete(key);
      }
      const key = createHash('sha256').update(signature).digest('hex');
      if (seen.has(key)) return false;
      seen.set(key, timestampSeconds);
      return true;
    },
  };
}

function userOf(payload: Record<string, unknown>): string {
  const user = payload.user as { id?: unknown } | undefined;
  return typeof user?.id === 'string' ? user.id : '';
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad(`${what} is not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function doneView(text: string) {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Roll back' },
    close: { type: 'plain_text', text: 'Done' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
  };
}

export function responseUrlAllowed(url: string, apiUrl?: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:' && u.hostname === 'hooks.slack.com') return true;
  if (!apiUrl) return false;
  try {
    return new URL(apiUrl).origin === u.origin;
  } catch {
    return false;
  }
}

function send(res: http.ServerResponse, reply: Reply) {
  const body =
    reply.body ??
    (reply.ephemeral !== undefined
      ? { response_type: 'ephemeral', replace_original: false, text: reply.ephemeral }
      : undefined);
  if (body === undefined) {
    res.writeHead(reply.status, { 'content-length': 0 });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The `shipgate slack` command's body: serve until SIGINT or SIGTERM. */
export async function runSlackEndpoint(
  opts: SlackServerOptions & { port: number; host: string; onListening?: (url: string) => void },
): Promise<void> {
  const server = createSlackServer(opts);
  const { url } = await server.listen(opts.port, opts.host);
  opts.onListening?.(url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
}
