import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { staticConfigSource } from '../../src/config/source.js';
import { createSlackNotifier } from '../../src/integrations/slack/notifier.js';
import { createWebClient, DEFAULT_CALL_POLICY } from '../../src/integrations/slack/web.js';
import { slackNotifierFromConfig } from '../../src/integrations/slack/setup.js';
import type { Notifier } from '../../src/integrations/notifier.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';
import type { EnvironmentSnapshot, ReleaseStatus } from '../../src/workflows/types.js';
import { ROOT } from '../helpers/processes.js';
import {
  startSlackApiStandin,
  STANDIN_TOKEN,
  type SlackApiCall,
  type SlackApiStandin,
} from '../helpers/slack-api-standin.js';

const logger = pino({ level: 'silent' });

let standin: SlackApiStandin;
let home: string;
beforeAll(async () => {
  standin = await startSlackApiStandin();
});
afterAll(async () => {
  await standin.close();
});
afterEach(async () => {
  standin.setOutage('none');
  if (home) await rm(home, { recursive: true, force: true });
});

function config(withSlack = true) {
  return staticConfigSource(
    validateConfig(
      {
        groups: { 'team-leads': ['alice', 'bob'] },
        people: { alice: { slack: 'U0ALICE' }, bob: { slack: 'U0BOB' }, dave: { slack: 'U0DAVE' } },
        ...(withSlack ? { slack: { channel: 'C0DEPLOYS', apiUrl: standin.apiUrl } } : {}),
        apps: {
          hello: {
            build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
            environments: {
              staging: { target: { kind: 'local', port: 19001 } },
              production: {
                after: 'staging',
                target: { kind: 'local', port: 19002 },
                approvals: [{ group: 'team-leads', count: 2 }],
              },
            },
          },
        },
      },
      path.join(ROOT, 'shipgate.yaml'),
    ),
  );
}

let versionSeq = 0;
function status(over: Partial<ReleaseStatus> = {}): ReleaseStatus {
  return {
    app: 'hello',
    version: `3.0.${++versionSeq}`,
    commit: 'c0ffee',
    branch: 'main',
    actor: 'dave',
    state: 'running',
    stage: 'awaiting-approval',
    reason: null,
    startedAt: new Date().toISOString(),
    endedAt: null,
    approvals: {
      environment: 'production',
      required: [{ group: 'team-leads', count: 2 }],
      given: [],
      refused: [],
    },
    environments: { staging: { state: 'succeeded', at: null }, production: { state: 'waiting', at: null } },
    blockedBy: null,
    blockedUntil: null,
    override: null,
    ...over,
  };
}

const snapshot = (current: string, ledger: Partial<LedgerEntry>[]): EnvironmentSnapshot => ({
  app: 'hello',
  env: 'production',
  current: { version: current, since: '', artifact: '' },
  running: null,
  queue: [],
  freezes: [],
  ledger: ledger.map(
    (e, i) =>
      ({
        opId: `op${i}`,
        action: 'deploy',
        artifact: `/a/${e.version}`,
        outcome: 'succeeded',
        verifiedAt: '2026-01-01T00:00:00.000Z',
        ...e,
      }) as LedgerEntry,
  ),
});

async function notifier(
  opts: {
    withSlack?: boolean;
    env?: EnvironmentSnapshot | null;
    releaseRun?: (app: string, version: string) => Promise<string | null>;
  } = {},
): Promise<Notifier> {
  home ??= await mkdtemp(path.join(os.tmpdir(), 'shipgate-slack-'));
  return createSlackNotifier({
    config: config(opts.withSlack ?? true),
    token: STANDIN_TOKEN,
    logger,
    home,
    environmentState: async () => opts.env ?? null,
    releaseRun: opts.releaseRun,
  });
}

/** A release's first-execution run id, as Temporal gives it. */
const RUN = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const buttonValues = (c: SlackApiCall) =>
  (c.body.blocks as { type: string; elements?: { value?: string }[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? [])
    .map((e) => JSON.parse(e.value ?? 'null') as unknown);

const since = (n: number) => standin.answered.slice(n);
const actionIds = (c: SlackApiCall) => JSON.stringify(c.body.blocks).match(/shipgate\.[a-z]+/g) ?? [];

describe('Slack notifier against a stand-in for the Web API over real HTTP', () => {
  it('posts the card at the gate with the bot token, then updates that same message', async () => {
    const n = await notifier();
    const mark = standin.answered.length;
    const s = status();
    await n.notify({ kind: 'awaiting-approval', status: s, run: RUN });
    const [post, ...more] = since(mark);
    expect(more).toEqual([]);
    expect(post).toMatchObject({ method: 'chat.postMessage', token: STANDIN_TOKEN });
    expect(post!.contentType).toMatch(/x-www-form-urlencoded/);
    expect(post!.body.channel).toBe('C0DEPLOYS');
    expect(actionIds(post!)).toEqual(['shipgate.approve', 'shipgate.reject']);
    expect(buttonValues(post!)).toEqual([
      { app: 'hello', version: s.version, run: RUN },
      { app: 'hello', version: s.version, run: RUN },
    ]);

    s.approvals.given = [{ by: 'alice', at: new Date().toISOString(), via: 'slack' }];
    await n.notify({ kind: 'release-progress', status: s, run: RUN });
    const update = since(mark)[1]!;
    expect(update.method).toBe('chat.update');
    expect(update.body.channel).toBe('C0DEPLOYS');
    expect(update.body.ts).toBeTypeOf('string');
    expect(JSON.stringify(update.body.blocks)).toContain('team-leads 1/2');
  });

  it('asks Temporal for the release’s run when the event does not carry it; without one, shows no buttons', async () => {
    const asked: string[] = [];
    const n = await notifier({
      releaseRun: async (app, version) => {
        asked.push(`${app} ${version}`);
        return version.endsWith('.1') ? null : RUN;
      },
    });
    const s = status({ version: '4.0.0' });
    const mark = standin.answered.length;
    await n.notify({ kind: 'awaiting-approval', status: s });
    expect(buttonValues(since(mark)[0]!)).toEqual([
      { app: 'hello', version: '4.0.0', run: RUN },
      { app: 'hello', version: '4.0.0', run: RUN },
    ]);
    // A release that no longer runs (or a lookup that failed) gets a card without buttons.
    const gone = status({ version: '4.0.1' });
    await n.notify({ kind: 'awaiting-approval', status: gone });
    expect(actionIds(since(mark)[1]!)).toEqual([]);
    expect(JSON.stringify(since(mark)[1]!.body.blocks)).toContain('Decide with the CLI');
    expect(asked).toEqual(['hello 4.0.0', 'hello 4.0.1']);
  });

  it('remembers the message under SHIPGATE_HOME, so a restarted worker updates it instead of posting again', async () => {
    const s = status();
    await (await notifier()).notify({ kind: 'awaiting-approval', status: s });
    const posted = standin.answered.at(-1)!;
    const file = JSON.parse(await readFile(path.join(home, 'slack', 'messages.json'), 'utf8')) as object;
    expect(Object.keys(file)).toEqual([`hello/${s.version}@${s.startedAt}`]);

    const restarted = await notifier();
    const mark = standin.answered.length;
    // A retried 'awaiting-approval' (the worker died before reporting it) updates rather than posts.
    await restarted.notify({ kind: 'awaiting-approval', status: s });
    await restarted.notify({ kind: 'release-progress', status: { ...s, stage: 'deploying-production' } });
    expect(since(mark).map((c) => [c.method, c.body.channel, c.body.ts])).toEqual([
      ['chat.update', 'C0DEPLOYS', posted.response!.ts],
      ['chat.update', 'C0DEPLOYS', posted.response!.ts],
    ]);
  });

  it('on production success: final card without buttons, then the outcome with "Roll back to X"', async () => {
    const n = await notifier({
      env: snapshot('3.9.0', [{ version: '3.8.0' }, { version: '3.9.0' }]),
    });
    const s = status();
    await n.notify({ kind: 'awaiting-approval', status: s });
    const mark = standin.answered.length;
    const ended = {
      ...s,
      state: 'succeeded' as const,
      stage: 'done' as const,
      environments: {
        staging: { state: 'succeeded' as const, at: null },
        production: { state: 'succeeded' as const, at: null },
      },
    };
    await n.notify({ kind: 'release-ended', status: ended });
    const [update, outcome] = since(mark);
    expect(update!.method).toBe('chat.update');
    expect(actionIds(update!)).toEqual([]);
    expect(JSON.stringify(update!.body.blocks)).toContain('✅ Released');
    expect(outcome!.method).toBe('chat.postMessage');
    expect(outcome!.body.text).toBe(`hello ${s.version} is live on production`);
    expect(actionIds(outcome!)).toEqual(['shipgate.rollback']);
    expect(JSON.stringify(outcome!.body.blocks)).toContain(
      JSON.stringify(JSON.stringify({ app: 'hello', env: 'production', to: '3.8.0' })).slice(1, -1),
    );

    // Late updates never overwrite the final card.
    const after = standin.answered.length;
    await n.notify({ kind: 'release-progress', status: { ...s, stage: 'verifying-production' } });
    expect(since(after)).toEqual([]);
  });

  it('posts nothing for a release that ended before its last environment (no card, no outcome)', async () => {
    const n = await notifier();
    const mark = standin.answered.length;
    await n.notify({
      kind: 'release-ended',
      status: status({
        state: 'failed',
        stage: 'done',
        environments: { staging: { state: 'failed', at: null }, production: { state: 'pending', at: null } },
      }),
    });
    expect(since(mark)).toEqual([]);
  });

  it('posts requested rollbacks, and leaves automatic ones to the release outcome', async () => {
    const n = await notifier({ env: snapshot('3.8.0', [{ version: '3.7.0' }, { version: '3.8.0' }]) });
    const mark = standin.answered.length;
    const entry = {
      version: '3.8.0',
      fromVersion: '3.9.0',
      actor: 'alice',
      reason: 'latency',
      outcome: 'succeeded',
      automatic: false,
    } as LedgerEntry;
    await n.notify({ kind: 'rollback', app: 'hello', env: 'production', entry });
    await n.notify({
      kind: 'rollback',
      app: 'hello',
      env: 'production',
      entry: { ...entry, automatic: true },
    });
    const posts = since(mark);
    expect(posts.map((c) => c.body.text)).toEqual(['hello/production rolled back to 3.8.0']);
    expect(actionIds(posts[0]!)).toEqual(['shipgate.rollback']);
  });

  it('announces a break-glass override in the channel and on the card', async () => {
    const n = await notifier();
    const s = status();
    await n.notify({ kind: 'awaiting-approval', status: s });
    const mark = standin.answered.length;
    const override = { by: 'dave', at: new Date().toISOString(), reason: 'hotfix' };
    await n.notify({
      kind: 'override',
      status: { ...s, stage: 'awaiting-window', blockedBy: 'freeze', override },
      env: 'production',
      override,
    });
    const [update, notice] = since(mark);
    expect(update!.method).toBe('chat.update');
    expect(JSON.stringify(update!.body.blocks)).toContain('Window override by <@U0DAVE>');
    expect(notice!.method).toBe('chat.postMessage');
    expect(notice!.body.text).toBe(`Break-glass: dave overrode freeze for hello ${s.version} on production`);
  });

  it('does nothing without `slack` in the config', async () => {
    const n = await notifier({ withSlack: false });
    const mark = standin.calls.length;
    await n.notify({ kind: 'awaiting-approval', status: status() });
    expect(standin.calls.length).toBe(mark);
  });

  it('survives an outage: four attempts with backoff, never throws, then one attempt per call until Slack is back', async () => {
    const n = await notifier();
    standin.setOutage('error');
    let mark = standin.calls.length;
    await expect(n.notify({ kind: 'awaiting-approval', status: status() })).resolves.toBeUndefined();
    // One attempt and three retries, all answered 500.
    expect(standin.calls.length - mark).toBe(4);

    standin.setOutage('hang');
    mark = standin.calls.length;
    await n.notify({ kind: 'awaiting-approval', status: status() });
    // Fail-fast mode: a single attempt, abandoned by the notifier while Slack still holds it.
    expect(standin.calls.length - mark).toBe(1);

    standin.setOutage('none');
    const s = status();
    await n.notify({ kind: 'awaiting-approval', status: s });
    expect(standin.answered.at(-1)!.body.text).toContain(s.version);
  }, 30_000);

  it('gives up on a hanging Slack API when the call budget runs out, although no request timed out yet', async () => {
    home ??= await mkdtemp(path.join(os.tmpdir(), 'shipgate-slack-'));
    // Each request may wait a minute; the whole call may not: only the budget can end it.
    const n = createSlackNotifier({
      config: config(),
      token: STANDIN_TOKEN,
      logger,
      home,
      policy: { timeoutMs: 60_000, retries: 0, minBackoffMs: 10, budgetMs: 200 },
    });
    standin.setOutage('hang');
    const mark = standin.calls.length;
    await expect(n.notify({ kind: 'awaiting-approval', status: status() })).resolves.toBeUndefined();
    expect(standin.calls.length - mark).toBe(1);
    expect(standin.held()).toBeGreaterThanOrEqual(1);
  });

  it('by default, all attempts, timeouts and backoffs of one call fit within its hard budget', () => {
    const p = DEFAULT_CALL_POLICY;
    const backoffs = Array.from({ length: p.retries }, (_, i) => p.minBackoffMs * 2 ** i);
    const worstCase = (p.retries + 1) * p.timeoutMs + backoffs.reduce((a, b) => a + b, 0);
    expect(worstCase).toBeLessThan(p.budgetMs);
  });
});

describe('the Web API client', () => {
  it('refuses a plain-http slack.apiUrl off loopback, where the bot token would travel in clear', () => {
    expect(() => createWebClient(STANDIN_TOKEN, { apiUrl: 'http://slack.example.com/api/', logger })).toThrow(
      /slack\.apiUrl: expected https: \(plain http is allowed only on loopback\).*in clear/,
    );
    expect(() => createWebClient(STANDIN_TOKEN, { apiUrl: 'ftp://127.0.0.1/api/', logger })).toThrow(
      /slack\.apiUrl: expected an https: URL/,
    );
    expect(
      createWebClient(STANDIN_TOKEN, { apiUrl: 'https://slack.example.com/api/', logger }),
    ).toBeDefined();
    expect(createWebClient(STANDIN_TOKEN, { apiUrl: standin.apiUrl, logger })).toBeDefined();
    expect(createWebClient(STANDIN_TOKEN, { logger })).toBeDefined();
  });
});

describe('wiring the notifier into the worker', () => {
  const temporal = { address: '127.0.0.1:1', namespace: 'default' };
  it('runs without Slack when `slack` is not configured', async () => {
    const n = await slackNotifierFromConfig({
      config: config(false),
      home: os.tmpdir(),
      temporal,
      logger,
      env: {},
    });
    expect(n).toBeUndefined();
  });

  it('runs without Slack, with a warning naming the variable, when the token is not set', async () => {
    const warnings: string[] = [];
    const capture = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const n = await slackNotifierFromConfig({
      config: config(),
      home: os.tmpdir(),
      temporal,
      logger: capture,
      env: {},
    });
    expect(n).toBeUndefined();
    expect(warnings.join('')).toContain('SLACK_BOT_TOKEN is not set');
  });

  it('with the token set, builds a notifier that posts to the configured channel with that token', async () => {
    home ??= await mkdtemp(path.join(os.tmpdir(), 'shipgate-slack-'));
    const n = await slackNotifierFromConfig({
      config: config(),
      home,
      temporal,
      logger,
      env: { SLACK_BOT_TOKEN: STANDIN_TOKEN },
    });
    expect(n).toBeDefined();
    const mark = standin.answered.length;
    const s = status();
    await n!.notify({ kind: 'awaiting-approval', status: s, run: RUN });
    const [post, ...more] = since(mark);
    expect(more).toEqual([]);
    expect(post).toMatchObject({ method: 'chat.postMessage', token: STANDIN_TOKEN });
    expect(post!.body.channel).toBe('C0DEPLOYS');
    expect(post!.body.text).toBe(`hello ${s.version} → production: waiting for approval (team-leads 0/2)`);
    // The card is remembered under the given home, so the worker's successor updates it.
    const remembered = JSON.parse(
      await readFile(path.join(home, 'slack', 'messages.json'), 'utf8'),
    ) as object;
    expect(Object.keys(remembered)).toContain(`hello/${s.version}@${s.startedAt}`);
  });
});
