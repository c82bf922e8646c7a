/**
 * The Slack notifier: posts a release card at the approval gate, updates that same message as approvals arrive
 * and stages change, and posts outcomes (and drift) with a "Roll back to X" button. Runs inside the `notify` activity, so
 * it must never throw and never stall a release: each Slack call is bounded (see web.ts), and after a call gave
 * up the notifier stays in a fail-fast mode for a while so an outage costs a release one bound, not one per
 * event. Cards are always rendered from the release's full status, so a missed update heals with the next.
 */
import path from 'node:path';
import type { WebClient } from '@slack/web-api';
import type { ConfigSource } from '../../config/source.js';
import type { Logger } from '../../logger.js';
import { chooseRollbackTarget } from '../../policy/ledger.js';
import type { EnvironmentSnapshot, ReleaseStatus } from '../../workflows/types.js';
import type { Notifier, NotifyEvent } from '../notifier.js';
import {
  auditNotice,
  escapeText,
  healthNotice,
  driftNotice,
  overrideNotice,
  releaseCard,
  releaseOutcome,
  rollbackOutcome,
  type CardContext,
  type SlackMessage,
} from './cards.js';
import { cardKey, createMessageStore, type MessageStore } from './messages.js';
import { createWebClient, DEFAULT_CALL_POLICY, slackError, withBudget, type SlackCallPolicy } from './web.js';

export interface SlackNotifierOptions {
  config: ConfigSource;
  token: string;
  logger: Logger;
  /** Overrides `slack.apiUrl` from the config (the Web API client's slackApiUrl). */
  apiUrl?: string;
  /** SHIPGATE_HOME: message timestamps are kept in `<home>/slack/messages.json`. */
  home: string;
  /** The Temporal UI's base URL, for links on the cards. */
  uiUrl?: string;
  namespace?: string;
  /** Reads an environment's state, to offer the right "Roll back to X" button. */
  environmentState?: (app: string, env: string) => Promise<EnvironmentSnapshot | null>;
  /**
   * The first-execution run id of the release running for app and version (null when none runs), for events
   * that do not carry it: Approve and Reject buttons name the run they decide on.
   */
  releaseRun?: (app: string, version: string) => Promise<string | null>;
  policy?: SlackCallPolicy;
  /** How long to fail fast after a call gave up. */
  coolDownMs?: number;
}

/** Final environment states that mean the release's production outcome is known. */
const OUTCOME_STATES = new Set(['succeeded', 'failed', 'rolled-back']);

export function createSlackNotifier(opts: SlackNotifierOptions): Notifier {
  const policy = opts.policy ?? DEFAULT_CALL_POLICY;
  const coolDownMs = opts.coolDownMs ?? 60_000;
  const log = opts.logger.child({ component: 'slack-notifier' });
  const store: MessageStore = createMessageStore(path.join(opts.home, 'slack', 'messages.json'));
  const clients = new Map<string, WebClient>();
  let failingSince: number | null = null;

  const slack = () => opts.config.get().config.slack;
  /** While Slack looked down (fail-fast mode), a single short attempt per call. */
  const client = (fast: boolean): WebClient => {
    const apiUrl = opts.apiUrl ?? slack()?.apiUrl;
    const key = `${fast ? 'fast' : 'normal'} ${apiUrl ?? ''}`;
    let c = clients.get(key);
    if (!c) {
      const p = fast ? { ...policy, retries: 0, timeoutMs: Math.min(policy.timeoutMs, 1000) } : policy;
      c = createWebClient(opts.token, { apiUrl, logger: log, policy: p });
      clients.set(key, c);
    }
    return c;
  };

  const context = (): CardContext => {
    const { config } = opts.config.get();
    return { people: config.people, groups: config.groups, uiUrl: opts.uiUrl, namespace: opts.namespace };
  };

  /** One Slack call, bounded; undefined when Slack did not answer (logged, never thrown). */
  const call = async <T>(what: string, fn: (c: WebClient) => Promise<T>): Promise<T | undefined> => {
    const degraded = failingSince !== null && Date.now() - failingSince < coolDownMs;
    try {
      const result = await withBudget(policy.budgetMs, what, () => fn(client(degraded)));
      if (failingSince !== null) log.info({ what }, 'Slack answers again');
      failingSince = null;
      return result;
    } catch (err) {
      const platform = (err as { code?: string }).code === 'slack_webapi_platform_error';
      // Slack answered with an error (e.g. channel_not_found): it is up, the request is wrong.
      if (!platform) failingSince ??= Date.now();
      log.warn({ what, error: slackError(err), degraded }, 'Slack call gave up; the release goes on');
      return undefined;
    }
  };

  const post = async (channel: string, msg: SlackMessage, what: string) =>
    call(what, (c) =>
      c.chat.postMessage({ channel, text: msg.text, blocks: msg.blocks, unfurl_links: false }),
    );

  /** The release's run for its buttons: from the event, else asked of Temporal (bounded; null when unknown). */
  const runOf = async (status: ReleaseStatus, given: string | undefined): Promise<string | null> => {
    if (given) return given;
    if (!opts.releaseRun) return null;
    try {
      return await withBudget(5000, `release run of ${status.app} ${status.version}`, () =>
        opts.releaseRun!(status.app, status.version),
      );
    } catch (err) {
      log.warn(
        { app: status.app, version: status.version, error: (err as Error).message },
        'could not learn the release’s run; the card shows no buttons',
      );
      return null;
    }
  };

  /** Posts the card for this run, or updates it when it was already posted. */
  const upsertCard = async (
    status: ReleaseStatus,
    mode: 'post' | 'update-only',
    final = false,
    givenRun?: string,
  ) => {
    const conf = slack();
    if (!conf) return;
    const key = cardKey(status);
    const existing = await store.get(key);
    if (existing?.final) return;
    const waiting = status.state === 'running' && status.stage === 'awaiting-approval';
    const run = waiting ? await runOf(status, givenRun) : null;
    const msg = releaseCard(status, context(), run);
    if (existing) {
      const ok = await call(`chat.update ${key}`, (c) =>
        c.chat.update({ channel: existing.channel, ts: existing.ts, text: msg.text, blocks: msg.blocks }),
      );
      if (ok && final) await store.set(key, { ...existing, final: true, updatedAt: now() });
      return;
    }
    if (mode === 'update-only') return;
    const res = await post(conf.channel, msg, `chat.postMessage card ${key}`);
    if (res?.ts) {
      await store.set(key, { channel: res.channel ?? conf.channel, ts: res.ts, final, updatedAt: now() });
    }
  };

  const rollbackTarget = async (app: string, env: string): Promise<string | null> => {
    if (!opts.environmentState) return null;
    try {
      const snap = await withBudget(5000, `environment ${app}/${env}`, () =>
        opts.environmentState!(app, env),
      );
      if (!snap) return null;
      const choice = chooseRollbackTarget(snap.ledger, snap.current?.version ?? null);
      return choice.ok ? choice.to : null;
    } catch (err) {
      log.warn(
        { app, env, error: (err as Error).message },
        'could not read the environment for a rollback button',
      );
      return null;
    }
  };

  const handle = async (event: NotifyEvent) => {
    const conf = slack();
    if (!conf) return;
    switch (event.kind) {
      case 'awaiting-approval':
        return upsertCard(event.status, 'post', false, event.run);
      case 'release-progress': {
        // A card missed at the gate (Slack was down) is posted while the release still waits for approval.
        const waiting = event.status.state === 'running' && event.status.stage === 'awaiting-approval';
        return upsertCard(event.status, waiting ? 'post' : 'update-only', false, event.run);
      }
      case 'release-ended': {
        const s = event.status;
        await upsertCard(s, 'update-only', true);
        const envs = Object.keys(s.environments);
        const last = envs[envs.length - 1];
        if (!last || !OUTCOME_STATES.has(s.environments[last]!.state)) return;
        const to = await rollbackTarget(s.app, last);
        await post(conf.channel, releaseOutcome(s, last, to, context()), `outcome ${s.app} ${s.version}`);
        return;
      }
      case 'override': {
        // Break-glass is announced in the channel, and the card shows it.
        await upsertCard(event.status, 'update-only', false, event.run);
        await post(
          conf.channel,
          overrideNotice(event.status, event.env, event.override, context()),
          `override ${event.status.app} ${event.status.version}`,
        );
        return;
      }
      case 'rollback': {
        // An automatic rollback belongs to a release, whose outcome message reports it.
        if (event.entry.automatic) return;
        const to = await rollbackTarget(event.app, event.env);
        await post(
          conf.channel,
          rollbackOutcome(event.app, event.env, event.entry, to, context()),
          `rollback ${event.app}/${event.env}`,
        );
        return;
      }
      case 'audit-degraded':
      case 'audit-recovered': {
        const where = event.env ? `${event.app}/${event.env}` : `${event.app} ${event.version ?? ''}`;
        await post(conf.channel, auditNotice(event), `${event.kind} ${where}`);
        return;
      }
      case 'environment-down':
      case 'environment-restored':
        await post(conf.channel, healthNotice(event), `${event.kind} ${event.app}/${event.env}`);
        return;
      case 'github-deployments':
        await post(
          conf.channel,
          {
            text: event.text,
            blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `⚠️ ${escapeText(event.text)}` } }],
          },
          `github-deployments ${event.app}/${event.env}`,
        );
        return;
      case 'drift': {
        const to = event.drift.onDrift === 'block' ? await rollbackTarget(event.app, event.env) : null;
        await post(
          conf.channel,
          driftNotice(event.app, event.env, event.drift, to),
          `drift ${event.app}/${event.env}`,
        );
        return;
      }
    }
  };

  // Events for one release are handled one at a time, in arrival order, so a late update never lands last.
  const chains = new Map<string, Promise<void>>();
  return {
    async notify(event) {
      const key =
        event.kind === 'rollback' ||
        event.kind === 'drift' ||
        event.kind === 'environment-down' ||
        event.kind === 'environment-restored' ||
        event.kind === 'github-deployments'
          ? `env:${event.app}/${event.env}`
          : event.kind === 'audit-degraded' || event.kind === 'audit-recovered'
            ? `audit:${event.app}/${event.env ?? event.releaseId ?? ''}`
            : `release:${cardKey(event.status)}`;
      const prev = chains.get(key) ?? Promise.resolve();
      const next = prev.then(() =>
        handle(event).catch((err: unknown) => {
          log.warn(
            { kind: event.kind, error: (err as Error)?.message ?? String(err) },
            'Slack notification failed',
          );
        }),
      );
      chains.set(key, next);
      try {
        await next;
      } finally {
        if (chains.get(key) === next) chains.delete(key);
      }
    },
  };
}

const now = () => new Date().toISOString();
