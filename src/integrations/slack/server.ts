/**
 * Slack's interactivity endpoint: `POST /slack/events`. Button clicks (Approve, Reject, Roll back to X) and the
 * rollback dialog's submission arrive here, signed by Slack. A verified click is mapped to a person through
 * `people` and becomes the same Update the CLI sends, with `via: "slack"`.
 *
 * Accepting a click needs no call to Slack's API: the answer is the HTTP response, sent once the Update was
 * accepted or refused and always within Slack's 3 s. Ephemeral replies are also posted to the click's
 * `response_url` in the background (Slack ignores the body of a block_actions acknowledgement), and the card
 * itself is updated by the worker's notifier.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
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
import { closeAfterAnswer, readBody } from '../../http/read-body.js';
import { tallyText } from '../../client.js';
import { refusedType } from '../../protocol/audit-types.js';
import type { Channel } from '../../protocol/channels.js';
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
import { verifySignature } from './signature.js';
import { slackError } from './web.js';

export const EVENTS_PATH = '/slack/events';
export const MAX_BODY_BYTES = 1024 * 1024;

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
}

export interface SlackServer {
  listen(port: number, host?: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
  /** Settles when background work (dialogs, response_url posts) started so far is done; for tests. */
  idle(): Promise<void>;
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

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error({ error: (err as Error)?.message ?? String(err) }, 'Slack request failed');
      if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
    });
  });
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== EVENTS_PATH) return send(res, { status: 404, body: { error: 'not found' } });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(res, { status: 405, body: { error: 'use POST' } });
    }
    const read = await readBody(req, MAX_BODY_BYTES);
    if (!read.ok) {
      log.warn({ reason: read.reason }, 'Slack request refused');
      closeAfterAnswer(req, res);
      return send(res, { status: 400, body: { error: read.reason } });
    }
    const rawBody = read.body.toString('utf8');
    const verified = verifySignature({
      signingSecret: opts.signingSecret,
      rawBody,
      signature: req.headers['x-slack-signature'],
      timestamp: req.headers['x-slack-request-timestamp'],
    });
    if (!verified.ok) {
      log.warn({ reason: verified.reason }, 'Slack request with a bad signature refused');
      return send(res, { status: 401, body: { error: 'invalid signature' } });
    }
    let reply: Reply;
    try {
      reply = await interaction(rawBody, String(req.headers['content-type'] ?? ''));
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      log.warn({ reason: err.message }, 'Slack request rejected as bad input');
      reply = { status: 400, body: { error: err.message } };
    }
    send(res, reply);
  };

  // ---- interactions ----

  /** Parses the (verified) body and dispatches on the payload type. */
  const interaction = async (rawBody: string, contentType: string): Promise<Reply> => {
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
    if (payload.type === 'block_actions') return blockAction(payload);
    if (payload.type === 'view_submission') return viewSubmission(payload);
    throw bad(`unsupported payload type ${JSON.stringify(String(payload.type)).slice(0, 60)}`);
  };

  const blockAction = async (payload: Record<string, unknown>): Promise<Reply> => {
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
      const work = decide(actionId === ACTION.approve ? 'approve' : 'reject', ref.value, userId);
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

  const viewSubmission = async (payload: Record<string, unknown>): Promise<Reply> => {
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
        const accepted = await opts.sg.rollback(app, env, {
          to,
          by: who.login,
          via: 'slack',
          reason,
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

  /** Approve or reject as the person behind the Slack user; refusals come back as ephemeral text. */
  const decide = async (verb: 'approve' | 'reject', ref: ReleaseRef, userId: string): Promise<Reply> => {
    const { app, version } = ref;
    const who = loginForSlackUser(config().people, userId);
    if (!who.ok) {
      if (!(await releaseExists(ref))) throw bad(`unknown release ${app} ${version}`);
      return refuseUnknown(verb, userId, who.reason, ref);
    }
    const via: Channel = 'slack';
    try {
      if (verb === 'approve') {
        const r = await opts.sg.approve(app, version, { by: who.login, via });
        log.info({ app, version, by: who.login }, 'approved from Slack');
        return {
          status: 200,
          ephemeral: `✅ You approved ${app} ${version} for ${r.environment} as ${who.login}. Tally: ${tallyText(r)}${r.met ? ' — approvals complete' : ''}`,
        };
      }
      await opts.sg.reject(app, version, { by: who.login, via, reason: `rejected in Slack by ${who.login}` });
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
