/**
 * The Slack app end to end: a real dev server, a real worker process, the real `shipgate slack` endpoint as a
 * child process, and a stand-in for Slack's Web API that speaks its wire protocol over real HTTP (Slack's own
 * servers cannot run here). Requests to the endpoint are signed as Slack signs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { freePort } from '../../src/temporal/ports.js';
import { getVersion, startStack, type Stack } from '../helpers/fixture.js';
import { BIN, cli } from '../helpers/processes.js';
import {
  interactionBody,
  postToEndpoint,
  slackSignature,
  startSlackApiStandin,
  STANDIN_TOKEN,
  type SlackApiCall,
  type SlackApiStandin,
  type SlackPostResult,
} from '../helpers/slack-api-standin.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const USERS = { alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL', dave: 'U0DAVE', mallory: 'U0MALLORY' };

interface Endpoint {
  url: string;
  logs: () => string;
  stop(): Promise<void>;
}

async function startEndpoint(stack: Stack, env: Record<string, string> = {}): Promise<Endpoint> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'slack', '--port', String(port), '--config', stack.configFile, '--address', stack.server.address],
    {
      env: {
        ...process.env,
        SHIPGATE_HOME: stack.home,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_BOT_TOKEN: STANDIN_TOKEN,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let logs = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once it logs that it listens (checked on each chunk of output), or failed when it exits first.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`slack endpoint did not start:\n${logs}`)), 30_000);
    const onData = (d: Buffer) => {
      logs += d;
      if (!logs.includes('slack endpoint listening')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`slack endpoint exited with ${code}:\n${logs}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/slack/events`,
    logs: () => logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

describe('Slack app: signed clicks on the real endpoint, with a stand-in for Slack’s Web API over real HTTP', () => {
  let stack: Stack;
  let standin: SlackApiStandin;
  let endpoint: Endpoint;
  let clickSeq = 0;

  const run = (...args: string[]) => stack.run(args);

  /** Polls a condition outside Temporal (a served version, an audit file) until it holds. */
  const waitFor = async <T>(
    what: string,
    probe: () => Promise<T | undefined> | T | undefined,
    ms = 60_000,
  ) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** Follows the release (the client's one follow loop) until it stands at `stage`. */
  const waitStage = async (app: string, version: string, stage: string) => {
    const { status } = await stack.sg.follow(app, version, {
      until: (s) => s.stage === stage,
      deadline: Date.now() + 90_000,
      intervalMs: 100,
    });
    expect(status.stage, `${app} ${version}: ${status.state} at ${status.stage}`).toBe(stage);
    return status;
  };
  const waitDone = (app: string, version: string) => waitStage(app, version, 'done');

  /** Each test releases an app of its own, so none depends on what an earlier one left behind. */
  const newApp = (name: string) => stack.addApp(name);

  const releaseToGate = async (app: string, version: string, actor = 'dave') => {
    const r = await run(
      ...['release', app, version, '--commit', `c-${version}`, '--branch', 'main', '--actor', actor],
      ...['--wait', 'staging', '--json'],
    );
    expect(r.code, r.stderr).toBe(0);
    return waitStage(app, version, 'awaiting-approval');
  };
  /** Through the gate with two CLI approvals, to production. */
  const shipApproved = async (app: string, version: string) => {
    await releaseToGate(app, version);
    for (const by of ['alice', 'bob']) expect((await run('approve', app, version, '--as', by)).code).toBe(0);
    expect((await waitDone(app, version)).state).toBe('succeeded');
  };

  /** A block_actions payload as Slack sends it for a button click. */
  const click = (user: string, actionId: string, value: string) => {
    const n = ++clickSeq;
    return {
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), team_id: 'T0TEAM' },
      team: { id: 'T0TEAM', domain: 'example' },
      api_app_id: 'A0SHIPGATE',
      trigger_id: `trigger-${n}`,
      response_url: standin.responseUrl(`click-${n}`),
      container: { type: 'message', channel_id: 'C0DEPLOYS', message_ts: '1.000001' },
      actions: [
        {
          type: 'button',
          action_id: actionId,
          block_id: 'decision',
          value,
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
  };
  /**
   * Sends a signed interaction. When Temporal took longer than the endpoint's 2.5 s (a loaded machine), the
   * endpoint answers "working on it" and posts the outcome to response_url later: that outcome is returned.
   */
  const send = async (
    payload: { type: string; response_url?: string },
    opts: Parameters<typeof postToEndpoint>[2] = { secret: SECRET },
  ) => {
    const r = await postToEndpoint(endpoint.url, interactionBody(payload), opts);
    const text = String(r.body?.text ?? '');
    if (r.status !== 200 || !text.startsWith('⏳') || !payload.response_url) return r;
    const path = new URL(payload.response_url).pathname;
    const follow = await standin.waitForResponse(
      (x) => x.path === path && !String(x.body.text).startsWith('⏳'),
      30_000,
    );
    return { ...r, body: { ...r.body, text: follow.body.text } };
  };
  const release = (app: string, version: string) => JSON.stringify({ app, version });
  const approve = (user: string, app: string, version: string) =>
    send(click(user, 'shipgate.approve', release(app, version)));
  const ephemeral = (r: SlackPostResult) => {
    expect(r.status, r.text).toBe(200);
    expect(r.body?.response_type).toBe('ephemeral');
    return String(r.body?.text);
  };

  const cardCalls = (app: string, version: string) =>
    standin.answered.filter(
      (c) =>
        (c.method === 'chat.postMessage' || c.method === 'chat.update') &&
        String(c.body.text).startsWith(`${app} ${version} → production`),
    );
  const blocksText = (c: SlackApiCall) => JSON.stringify(c.body.blocks);
  const actionIds = (c: SlackApiCall) => blocksText(c).match(/shipgate\.[a-z]+/g) ?? [];

  beforeAll(async () => {
    standin = await startSlackApiStandin();
    stack = await startStack(
      (c) => {
        Object.assign(c, {
          people: {
            alice: { slack: USERS.alice },
            bob: { slack: USERS.bob },
            carol: { slack: USERS.carol },
            dave: { slack: USERS.dave },
          },
          slack: { channel: 'C0DEPLOYS', apiUrl: standin.apiUrl },
        });
      },
      { workerEnv: { SLACK_BOT_TOKEN: STANDIN_TOKEN } },
    );
    endpoint = await startEndpoint(stack);
  });
  afterAll(async () => {
    await endpoint?.stop();
    await stack?.stop();
    await standin?.close();
  });

  it('posts the release card at the gate, approves through signed clicks (via slack) and updates the same message, even across a worker restart', async () => {
    const { name: app, ports } = await newApp('card');
    await releaseToGate(app, '2.0.0');
    const posted = await standin.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.body.text).startsWith(`${app} 2.0.0 → production`),
    );
    expect(posted.token).toBe(STANDIN_TOKEN);
    expect(posted.body.channel).toBe('C0DEPLOYS');
    const text = blocksText(posted);
    expect(text).toContain('`c-2.0.0` on main');
    expect(text).toContain(`<@${USERS.dave}>`);
    expect(text).toMatch(/✅ \*staging\* succeeded/);
    expect(text).toContain('team-leads 0/2');
    expect(actionIds(posted)).toEqual(['shipgate.approve', 'shipgate.reject']);
    expect(text).toContain(JSON.stringify(release(app, '2.0.0')).slice(1, -1));
    const ts = posted.response!.ts;

    // The worker that posted the card goes away; its successor must update the same message.
    await stack.worker.stop();
    await stack.restartWorker();

    const a = await approve(USERS.alice, app, '2.0.0');
    expect(ephemeral(a)).toMatch(
      new RegExp(`You approved ${app} 2\\.0\\.0 for production as alice\\. Tally: team-leads 1/2`),
    );
    await standin.waitForResponse((r) => String(r.body.text).includes(`You approved ${app} 2.0.0`));
    await standin.waitFor(
      (c) => c.method === 'chat.update' && c.body.ts === ts && blocksText(c).includes('team-leads 1/2'),
    );
    const b = await approve(USERS.bob, app, '2.0.0');
    expect(ephemeral(b)).toMatch(/approvals complete/);

    const final = await waitDone(app, '2.0.0');
    expect(final.state).toBe('succeeded');
    expect(await getVersion(ports.production)).toBe('2.0.0');
    const status = (await run('status', app, '2.0.0', '--json')).json as {
      approvals: { given: { by: string; via: string }[] };
    };
    expect(status.approvals.given.map((g) => [g.by, g.via])).toEqual([
      ['alice', 'slack'],
      ['bob', 'slack'],
    ]);

    const last = await standin.waitFor(
      (c) => c.method === 'chat.update' && c.body.ts === ts && blocksText(c).includes('✅ Released'),
    );
    expect(actionIds(last)).toEqual([]);
    const calls = cardCalls(app, '2.0.0');
    expect(calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
    expect(calls.filter((c) => c.method === 'chat.update').every((c) => c.body.ts === ts)).toBe(true);
    expect(calls.some((c) => blocksText(c).includes(`<@${USERS.bob}> via slack`))).toBe(true);
    expect(calls.some((c) => blocksText(c).includes('Deploying to production'))).toBe(true);
    const outcome = await standin.waitFor((c) => c.body.text === `${app} 2.0.0 is live on production`);
    // The first production deploy has nothing to roll back to.
    expect(actionIds(outcome)).toEqual([]);
  });

  it('answers refusals ephemerally: self-approval, not a member, already approved', async () => {
    const { name: app } = await newApp('refusals');
    await releaseToGate(app, '2.1.0', 'carol');
    const self = await approve(USERS.carol, app, '2.1.0');
    expect(ephemeral(self)).toMatch(/Not approved: carol started this release and cannot approve it/);
    const outsider = await approve(USERS.dave, app, '2.1.0');
    expect(ephemeral(outsider)).toMatch(/Not approved: dave is not a member of team-leads/);
    expect(ephemeral(await approve(USERS.alice, app, '2.1.0'))).toMatch(/You approved/);
    const secondClick = click(USERS.alice, 'shipgate.approve', release(app, '2.1.0'));
    const again = await send(secondClick);
    expect(ephemeral(again)).toMatch(/Not approved: alice already approved this release/);
    // Slack ignores the acknowledgement's body for button clicks; the reply also goes to response_url.
    const againPath = new URL(secondClick.response_url).pathname;
    const followUp = await standin.waitForResponse(
      (r) => r.path === againPath && String(r.body.text).includes('already approved'),
    );
    expect(followUp.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });

    const s = await stack.sg.status(app, '2.1.0');
    expect(s.approvals.given.map((g) => g.by)).toEqual(['alice']);
    expect(s.approvals.refused.map((r) => [r.by, r.via])).toEqual([
      ['carol', 'slack'],
      ['dave', 'slack'],
      ['alice', 'slack'],
    ]);
  });

  it('refuses an unknown Slack user and audits the attempt, without touching the release', async () => {
    const { name: app } = await newApp('unknown-user');
    const before = await releaseToGate(app, '2.1.0');
    const r = await approve(USERS.mallory, app, '2.1.0');
    expect(ephemeral(r)).toMatch(/Refused: Slack user U0MALLORY is not linked to a shipgate login/);
    const after = await stack.sg.status(app, '2.1.0');
    expect(after.approvals).toEqual(before.approvals);

    const audit = createJsonlAuditStore(path.join(stack.home, 'audit', 'audit.jsonl'));
    const records = await audit.read({ app });
    const refusal = records.find((x) => x.actor === 'slack:U0MALLORY');
    expect(refusal).toMatchObject({
      type: 'approve-refused',
      via: 'slack',
      version: '2.1.0',
      releaseId: `release/${app}/2.1.0`,
      outcome: 'refused',
    });
    // The worker keeps appending to the same file after the endpoint did; the hash chain stays whole.
    expect((await run('approve', app, '2.1.0', '--as', 'eve')).code).toBe(3);
    await waitFor('the worker to audit a later refusal', async () =>
      (await audit.read()).some((x) => x.actor === 'eve' && x.seq > refusal!.seq) ? true : undefined,
    );
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('refuses forged and stale signatures with 401, and nothing reaches the release or response_url', async () => {
    const { name: app } = await newApp('forged');
    const before = await releaseToGate(app, '2.1.0');
    const responsesBefore = standin.responses.length;
    const payload = click(USERS.bob, 'shipgate.approve', release(app, '2.1.0'));
    const body = interactionBody(payload);

    const forged = await postToEndpoint(endpoint.url, body, { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    const unsigned = await postToEndpoint(endpoint.url, body, {});
    expect(unsigned.status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const old = await postToEndpoint(endpoint.url, body, {
      timestamp: stale,
      signature: slackSignature(SECRET, stale, body),
    });
    expect(old.status).toBe(401);
    const future = Math.floor(Date.now() / 1000) + 6 * 60;
    const ahead = await postToEndpoint(endpoint.url, body, {
      timestamp: future,
      signature: slackSignature(SECRET, future, body),
    });
    expect(ahead.status).toBe(401);
    // A signature over another body (the approver swapped in) does not carry over.
    const other = interactionBody(click(USERS.carol, 'shipgate.approve', release(app, '2.1.0')));
    const now = Math.floor(Date.now() / 1000);
    const swapped = await postToEndpoint(endpoint.url, body, {
      timestamp: now,
      signature: slackSignature(SECRET, now, other),
    });
    expect(swapped.status).toBe(401);

    // A barrier instead of a pause: a signed click whose reply goes to response_url. Background work from the
    // refused requests, had there been any, was started before it.
    const barrier = click(USERS.mallory, 'shipgate.approve', release(app, '2.1.0'));
    expect((await send(barrier)).status).toBe(200);
    const barrierPath = new URL(barrier.response_url).pathname;
    await standin.waitForResponse((r) => r.path === barrierPath);
    const after = await stack.sg.status(app, '2.1.0');
    expect(after.approvals).toEqual(before.approvals);
    const mine = new Set([new URL(payload.response_url).pathname, barrierPath]);
    expect(
      standin.responses
        .slice(responsesBefore)
        .map((r) => r.path)
        .filter((p) => mine.has(p)),
    ).toEqual([barrierPath]);
  });

  it('answers 400 to a malformed payload, an unknown action_id, an unknown release and a body over 1 MB', async () => {
    const { name: app } = await newApp('malformed');
    await releaseToGate(app, '2.1.0');
    const signed = (body: string) => postToEndpoint(endpoint.url, body, { secret: SECRET });
    expect((await signed('payload=%7Bnot-json')).status).toBe(400);
    expect((await signed('nothing=here')).status).toBe(400);
    expect((await send(click(USERS.alice, 'shipgate.deploy', release(app, '2.1.0')))).status).toBe(400);
    const unknownRelease = await approve(USERS.alice, app, '9.9.9');
    expect(unknownRelease.status).toBe(400);
    expect(String(unknownRelease.body?.error)).toContain(`unknown release ${app} 9.9.9`);
    // Unknown Slack users get the same answer for a release that does not exist.
    expect((await approve(USERS.mallory, app, '9.9.9')).status).toBe(400);
    expect(
      (await send(click(USERS.alice, 'shipgate.approve', '{"app":"nope","version":"1.0.0"}'))).status,
    ).toBe(400);
    expect((await send(click(USERS.alice, 'shipgate.approve', 'not json'))).status).toBe(400);
    const badRollback = click(
      USERS.alice,
      'shipgate.rollback',
      JSON.stringify({ app, env: 'qa', to: '2.0.0' }),
    );
    expect((await send(badRollback)).status).toBe(400);

    const huge = interactionBody({
      ...click(USERS.alice, 'shipgate.approve', release(app, '2.1.0')),
      pad: 'x'.repeat(1_100_000),
    });
    const declared = await postToEndpoint(endpoint.url, huge, { secret: SECRET });
    expect(declared.status).toBe(400);
    const streamed = await postToEndpoint(endpoint.url, huge, { secret: SECRET, chunked: true });
    expect(streamed.status).toBe(400);

    // None of it reached the release.
    const s = await stack.sg.status(app, '2.1.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.stage).toBe('awaiting-approval');
  });

  it('rejects through the Reject button; the card shows the ending and later clicks are refused', async () => {
    const { name: app } = await newApp('reject');
    await releaseToGate(app, '2.1.0');
    const r = await send(click(USERS.bob, 'shipgate.reject', release(app, '2.1.0')));
    expect(ephemeral(r)).toMatch(new RegExp(`You rejected ${app} 2\\.1\\.0 as bob`));
    const s = await waitDone(app, '2.1.0');
    expect(s.state).toBe('rejected');
    expect(s.reason).toContain('rejected by bob');
    const final = await standin.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        String(c.body.text).startsWith(`${app} 2.1.0`) &&
        blocksText(c).includes('🚫 Rejected'),
    );
    expect(actionIds(final)).toEqual([]);
    const late = await approve(USERS.alice, app, '2.1.0');
    expect(ephemeral(late)).toBe(
      `Not approved: release ${app} 2.1.0 is not waiting for approval: it ended rejected`,
    );
  });

  it('rolls back from the outcome message: button → reason dialog (views.open) → submission', async () => {
    const { name: app, ports } = await newApp('rollback');
    await shipApproved(app, '2.0.0');
    await shipApproved(app, '2.2.0');

    const outcome = await standin.waitFor((c) => c.body.text === `${app} 2.2.0 is live on production`);
    expect(actionIds(outcome)).toEqual(['shipgate.rollback']);
    const button = (
      outcome.body.blocks as { type: string; elements?: { value: string; text: { text: string } }[] }[]
    ).find((b) => b.type === 'actions')!.elements![0]!;
    expect(button.text.text).toBe('Roll back to 2.0.0');
    expect(JSON.parse(button.value)).toEqual({ app, env: 'production', to: '2.0.0' });

    // Unknown Slack users get no dialog.
    const opensBefore = standin.answered.filter((c) => c.method === 'views.open').length;
    expect(ephemeral(await send(click(USERS.mallory, 'shipgate.rollback', button.value)))).toMatch(
      /Refused: Slack user U0MALLORY/,
    );

    const payload = click(USERS.alice, 'shipgate.rollback', button.value);
    const r = await send(payload);
    expect(r.status).toBe(200);
    const opened = await standin.waitFor(
      (c) => c.method === 'views.open' && c.body.trigger_id === payload.trigger_id,
    );
    expect(standin.answered.filter((c) => c.method === 'views.open')).toHaveLength(opensBefore + 1);
    const view = opened.body.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('shipgate.rollback');
    expect(JSON.parse(view.private_metadata)).toEqual({ app, env: 'production', to: '2.0.0' });

    const submission = (user: string, reason: string, id: string) => ({
      type: 'view_submission',
      user: { id: user },
      team: { id: 'T0TEAM' },
      view: {
        id,
        callback_id: view.callback_id,
        private_metadata: view.private_metadata,
        state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } },
      },
    });
    // dave is a release manager, not among those who may roll back production: the dialog shows why.
    const refused = await send(submission(USERS.dave, 'not mine to do', 'V0DAVE'));
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ response_action: 'errors' });
    expect(JSON.stringify(refused.body)).toContain(`dave may not roll back ${app}/production`);
    const empty = await send(submission(USERS.alice, '  ', 'V0EMPTY'));
    expect(empty.body).toMatchObject({ response_action: 'errors', errors: { reason: expect.any(String) } });

    const ok = await send(submission(USERS.alice, 'checkout latency', 'V0ALICE'));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ response_action: 'update' });
    await waitFor('production back on 2.0.0', async () =>
      (await getVersion(ports.production)) === '2.0.0' ? true : undefined,
    );
    const history = (await run('history', app, 'production', '--json')).json as {
      action: string;
      version: string;
      actor: string;
      reason: string;
    }[];
    expect(history[0]).toMatchObject({
      action: 'rollback',
      version: '2.0.0',
      actor: 'alice',
      reason: 'checkout latency',
    });
    const posted = await standin.waitFor((c) => c.body.text === `${app}/production rolled back to 2.0.0`);
    expect(blocksText(posted)).toContain(`<@${USERS.alice}>`);
  });

  it('during a Slack outage the notifier gives up unanswered and the release goes on; notifications resume after', async () => {
    const { name: app, ports } = await newApp('outage');
    const mine = (c: SlackApiCall) => String(c.body.text).startsWith(`${app} `);
    standin.setOutage('hang');
    const attempts = standin.calls.length;
    try {
      await shipApproved(app, '2.3.0');
      // The notifier called Slack, never got an answer, and gave up on its own: the release did not wait.
      expect(standin.calls.slice(attempts).filter(mine).length).toBeGreaterThan(0);
      expect(standin.answered.filter(mine)).toEqual([]);
      expect(stack.worker.logs()).toContain('Slack call gave up; the release goes on');
      expect(await getVersion(ports.production)).toBe('2.3.0');
    } finally {
      standin.setOutage('none');
    }
    await releaseToGate(app, '2.4.0');
    await standin.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.body.text).startsWith(`${app} 2.4.0`),
    );
  });

  it('acknowledges a click without waiting for the Update: with no worker to settle it, answers "working on it", then replies on response_url', async () => {
    const { name: app } = await newApp('ack');
    await releaseToGate(app, '2.5.0');
    await stack.worker.stop();
    const payload = click(USERS.alice, 'shipgate.approve', release(app, '2.5.0'));
    const clickPath = new URL(payload.response_url).pathname;
    try {
      // Posted directly (not through send, which would wait for the follow-up).
      const ack = await postToEndpoint(endpoint.url, interactionBody(payload), { secret: SECRET });
      expect(ephemeral(ack)).toBe(`⏳ Working on ${app} 2.5.0; shipgate will reply here shortly.`);
      expect(
        standin.responses.filter((r) => r.path === clickPath && !String(r.body.text).startsWith('⏳')),
      ).toEqual([]);
    } finally {
      await stack.restartWorker();
    }
    const outcome = await standin.waitForResponse(
      (r) => r.path === clickPath && !String(r.body.text).startsWith('⏳'),
      60_000,
    );
    expect(outcome.body.text).toMatch(
      new RegExp(`^✅ You approved ${app} 2\\.5\\.0 for production as alice\\. Tally: team-leads 1/2`),
    );
    expect((await stack.sg.status(app, '2.5.0')).approvals.given.map((g) => [g.by, g.via])).toEqual([
      ['alice', 'slack'],
    ]);
  });

  it('refuses to start without the signing secret, naming the variable (exit 2)', async () => {
    const r = await cli(['slack', '--port', '0', '--config', stack.configFile], {
      SLACK_SIGNING_SECRET: '',
      SHIPGATE_HOME: stack.home,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('SLACK_SIGNING_SECRET is not set');
  });
});
