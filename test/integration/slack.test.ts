/**
 * The Slack app end to end: a real dev server, a real worker process, the real `shipgate slack` endpoint as a
 * child process, and a stand-in for Slack's Web API that speaks its wire protocol over real HTTP (Slack's own
 * servers cannot run here). Requests to the endpoint are signed as Slack signs them (real HMAC with a test
 * signing secret), and the worker, which holds the same secret, checks each forwarded request again. Everything
 * that is not a Slack click (starting a release, approving from the CLI) is signed with each person's real SSH
 * key (the fixture's, generated with ssh-keygen).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { toShipgateError } from '../../src/client/errors.js';
import { freePort } from '../../src/temporal/ports.js';
import { getVersion, startStack, type Stack } from '../helpers/fixture.js';
import { BIN, cli } from '../helpers/processes.js';
import {
  interactionBody,
  postToEndpoint,
  rawExchange,
  slackSignature,
  slowConnection,
  startSlackApiStandin,
  STANDIN_TOKEN,
  type SlackApiCall,
  type SlackApiStandin,
  type SlackPostResult,
} from '../helpers/slack-api-standin.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const USERS = { alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL', dave: 'U0DAVE', mallory: 'U0MALLORY' };
type Login = 'alice' | 'bob' | 'carol' | 'dave';

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
  const prove = (login: Login) => stack.prove(login);

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

  /** Starts the release signed by `actor`'s SSH key and waits at production's approval gate. */
  const releaseToGate = async (app: string, version: string, actor: Login = 'dave') => {
    await stack.sg.release({ app, version, commit: `c-${version}`, branch: 'main', prove: prove(actor) });
    return waitStage(app, version, 'awaiting-approval');
  };
  /** Through the gate with two SSH-signed approvals, to production. */
  const shipApproved = async (app: string, version: string) => {
    await releaseToGate(app, version);
    for (const by of ['alice', 'bob'] as const) await stack.sg.approve({ app, version, prove: prove(by) });
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
    to = endpoint,
  ) => {
    const r = await postToEndpoint(to.url, interactionBody(payload), opts);
    return followUp(r, payload);
  };
  const followUp = async (r: SlackPostResult, payload: { response_url?: string }) => {
    const text = String(r.body?.text ?? '');
    if (r.status !== 200 || !text.startsWith('⏳') || !payload.response_url) return r;
    const path = new URL(payload.response_url).pathname;
    const follow = await standin.waitForResponse(
      (x) => x.path === path && !String(x.body.text).startsWith('⏳'),
      60_000,
    );
    return { ...r, body: { ...r.body, text: follow.body.text } };
  };
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
  const actionIds = (c: SlackApiCall): string[] => blocksText(c).match(/shipgate\.[a-z]+/g) ?? [];
  const buttonValues = (c: SlackApiCall) =>
    (c.body.blocks as { type: string; elements?: { value?: string }[] }[])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? [])
      .map((e) => e.value!);

  /** The Approve button's value on the card posted for this release's run (`after`: posted after that call). */
  const cardValue = async (app: string, version: string, after = 0) => {
    const card = await standin.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.body.text).startsWith(`${app} ${version} → production`) &&
        actionIds(c).includes('shipgate.approve') &&
        standin.answered.indexOf(c) >= after,
      60_000,
    );
    return buttonValues(card)[0]!;
  };
  const approve = async (user: string, app: string, version: string) =>
    send(click(user, 'shipgate.approve', await cardValue(app, version)));

  beforeAll(async () => {
    standin = await startSlackApiStandin();
    stack = await startStack(
      (c) => {
        Object.assign(c, {
          // Each person's SSH key is added by the fixture.
          people: {
            alice: { slack: USERS.alice },
            bob: { slack: USERS.bob },
            carol: { slack: USERS.carol },
            dave: { slack: USERS.dave },
          },
          slack: { channel: 'C0DEPLOYS', apiUrl: standin.apiUrl },
        });
      },
      // The worker verifies Slack proofs itself: it holds the signing secret too.
      { workerEnv: { SLACK_BOT_TOKEN: STANDIN_TOKEN, SLACK_SIGNING_SECRET: SECRET } },
    );
    endpoint = await startEndpoint(stack);
  });
  afterAll(async () => {
    await endpoint?.stop();
    await stack?.stop();
    await standin?.close();
  });

  it('posts the release card at the gate with buttons naming the run, approves through signed clicks (channel slack) and updates the same message, even across a worker restart', async () => {
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
    const { runId } = await stack.sg.releaseHandle(app, '2.0.0').describe();
    for (const v of buttonValues(posted))
      expect(JSON.parse(v)).toEqual({ app, version: '2.0.0', run: runId });
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
    expect(final.approvals.given.map((g) => [g.by, g.via])).toEqual([
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
    const secondClick = click(USERS.alice, 'shipgate.approve', await cardValue(app, '2.1.0'));
    const again = await send(secondClick);
    expect(ephemeral(again)).toMatch(/Not approved: alice already approved this release/);
    // Slack ignores the acknowledgement's body for button clicks; the reply also goes to response_url.
    const againPath = new URL(secondClick.response_url).pathname;
    const followUpPost = await standin.waitForResponse(
      (r) => r.path === againPath && String(r.body.text).includes('already approved'),
    );
    expect(followUpPost.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });

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
    const refusedDave = await stack.sg
      .approve({ app, version: '2.1.0', prove: prove('dave') })
      .catch((err: unknown) => toShipgateError(err, stack.server.address));
    expect(refusedDave).toMatchObject({
      exitCode: 3,
      message: expect.stringMatching(/dave is not a member of team-leads/),
    });
    await waitFor('the worker to audit a later refusal', async () =>
      (await audit.read()).some((x) => x.actor === 'dave' && x.seq > refusal!.seq) ? true : undefined,
    );
    expect(await audit.verify()).toMatchObject({ ok: true });
  });

  it('refuses forged and stale signatures with 401, and nothing reaches the release or response_url', async () => {
    const { name: app } = await newApp('forged');
    const before = await releaseToGate(app, '2.1.0');
    const value = await cardValue(app, '2.1.0');
    const responsesBefore = standin.responses.length;
    const payload = click(USERS.bob, 'shipgate.approve', value);
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
    const other = interactionBody(click(USERS.carol, 'shipgate.approve', value));
    const now = Math.floor(Date.now() / 1000);
    const swapped = await postToEndpoint(endpoint.url, body, {
      timestamp: now,
      signature: slackSignature(SECRET, now, other),
    });
    expect(swapped.status).toBe(401);

    // A barrier instead of a pause: a signed click whose reply goes to response_url. Background work from the
    // refused requests, had there been any, was started before it.
    const barrier = click(USERS.mallory, 'shipgate.approve', value);
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

  it('refuses a signed click replayed within the window: the endpoint (409), and the worker when another endpoint forwards it', async () => {
    const { name: app } = await newApp('replay');
    await releaseToGate(app, '2.1.0');
    const payload = click(USERS.alice, 'shipgate.approve', await cardValue(app, '2.1.0'));
    const body = interactionBody(payload);
    const ts = Math.floor(Date.now() / 1000);
    const signed = { timestamp: ts, signature: slackSignature(SECRET, ts, body) };
    const first = await followUp(await postToEndpoint(endpoint.url, body, signed), payload);
    expect(ephemeral(first)).toMatch(/You approved/);

    // The same bytes again, seconds later, as an attacker who captured them would send them.
    const again = await postToEndpoint(endpoint.url, body, signed);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: 'request already received' });

    // An endpoint that never saw it forwards it; the worker remembers the proofs it accepted.
    const second = await startEndpoint(stack);
    try {
      const replayed = await followUp(await postToEndpoint(second.url, body, signed), payload);
      expect(ephemeral(replayed)).toBe(
        'Not approved: this proof was used before (a replay); sign the request again',
      );
    } finally {
      await second.stop();
    }
    const s = await stack.sg.status(app, '2.1.0');
    expect(s.approvals.given.map((g) => [g.by, g.via])).toEqual([['alice', 'slack']]);
    expect(s.approvals.refused.map((r) => [r.by, r.action])).toEqual([['alice', 'approve']]);
  });

  it('refuses a signed approval from a rejected run replayed on the next run of the same version', async () => {
    const { name: app } = await newApp('cross-run');
    await releaseToGate(app, '2.6.0');
    const firstValue = await cardValue(app, '2.6.0');
    // bob approves run 1 from Slack; the request is captured.
    const payload = click(USERS.bob, 'shipgate.approve', firstValue);
    const body = interactionBody(payload);
    const ts = Math.floor(Date.now() / 1000);
    const signed = { timestamp: ts, signature: slackSignature(SECRET, ts, body) };
    expect(ephemeral(await followUp(await postToEndpoint(endpoint.url, body, signed), payload))).toMatch(
      /You approved/,
    );
    await stack.sg.reject({ app, version: '2.6.0', reason: 'not this one', prove: prove('alice') });
    expect((await waitDone(app, '2.6.0')).state).toBe('rejected');

    // The same version again: a new run, a new card whose buttons name it.
    const mark = standin.answered.length;
    await releaseToGate(app, '2.6.0');
    const secondValue = await cardValue(app, '2.6.0', mark);
    const run1 = (JSON.parse(firstValue) as { run: string }).run;
    const run2 = (JSON.parse(secondValue) as { run: string }).run;
    expect(run2).not.toBe(run1);

    // Replayed through an endpoint that never saw it (the first one answers 409 to a request it has seen).
    expect((await postToEndpoint(endpoint.url, body, signed)).status).toBe(409);
    const second = await startEndpoint(stack);
    try {
      const replayed = await followUp(await postToEndpoint(second.url, body, signed), payload);
      expect(ephemeral(replayed)).toBe(
        `Not approved: the Slack button is for run "${run1}", this release is run "${run2}"`,
      );
    } finally {
      await second.stop();
    }
    const s = await stack.sg.status(app, '2.6.0');
    expect(s.state).toBe('running');
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused.map((r) => [r.by, r.action])).toEqual([['(unverified)', 'approve']]);
  });

  it('answers 400 to a malformed payload, an unknown action_id and an unknown release, and 413 to a body over 64 KiB', async () => {
    const { name: app } = await newApp('malformed');
    await releaseToGate(app, '2.1.0');
    const value = await cardValue(app, '2.1.0');
    const signed = (body: string) => postToEndpoint(endpoint.url, body, { secret: SECRET });
    expect((await signed('payload=%7Bnot-json')).status).toBe(400);
    expect((await signed('nothing=here')).status).toBe(400);
    expect((await send(click(USERS.alice, 'shipgate.deploy', value))).status).toBe(400);
    const { run } = JSON.parse(value) as { run: string };
    const unknown = JSON.stringify({ app, version: '9.9.9', run });
    const unknownRelease = await send(click(USERS.alice, 'shipgate.approve', unknown));
    expect(unknownRelease.status).toBe(400);
    expect(String(unknownRelease.body?.error)).toContain(`unknown release ${app} 9.9.9`);
    // Unknown Slack users get the same answer for a release that does not exist.
    expect((await send(click(USERS.mallory, 'shipgate.approve', unknown))).status).toBe(400);
    expect(
      (
        await send(
          click(USERS.alice, 'shipgate.approve', JSON.stringify({ app: 'nope', version: '1.0.0', run })),
        )
      ).status,
    ).toBe(400);
    expect((await send(click(USERS.alice, 'shipgate.approve', 'not json'))).status).toBe(400);
    const badRollback = click(
      USERS.alice,
      'shipgate.rollback',
      JSON.stringify({ app, env: 'qa', to: '2.0.0' }),
    );
    expect((await send(badRollback)).status).toBe(400);
    // A card from before buttons named their run no longer decides anything.
    const old = await send(click(USERS.alice, 'shipgate.approve', JSON.stringify({ app, version: '2.1.0' })));
    expect(ephemeral(old)).toMatch(/^This card is from before .* Use: shipgate approve/);

    const huge = interactionBody({
      ...click(USERS.alice, 'shipgate.approve', value),
      pad: 'x'.repeat(70_000),
    });
    const declared = await postToEndpoint(endpoint.url, huge, { secret: SECRET });
    expect(declared.status).toBe(413);
    const streamed = await postToEndpoint(endpoint.url, huge, { secret: SECRET, chunked: true });
    expect(streamed.status).toBe(413);

    // None of it reached the release.
    const s = await stack.sg.status(app, '2.1.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused).toEqual([]);
    expect(s.stage).toBe('awaiting-approval');
  });

  it('answers a client that sends headers and stalls its body when the headers are missing, malformed or stale, and holds a bounded number of slow connections', async () => {
    const host = new URL(endpoint.url).host;
    const now = Math.floor(Date.now() / 1000);
    const head = (headers: string[]) => [
      'POST /slack/events HTTP/1.1',
      `Host: ${host}`,
      'Content-Type: application/x-www-form-urlencoded',
      'Content-Length: 8192',
      ...headers,
    ];
    const sig = `X-Slack-Signature: v0=${'a'.repeat(64)}`;
    const cases: [string[], number][] = [
      [[], 401],
      [[`X-Slack-Request-Timestamp: ${now}`], 401],
      [[`X-Slack-Request-Timestamp: ${now}x`, sig], 400],
      [[`X-Slack-Request-Timestamp: ${now}`, 'X-Slack-Signature: sha256=abc'], 400],
      [[`X-Slack-Request-Timestamp: ${now - 6 * 60}`, sig], 401],
    ];
    for (const [headers, status] of cases) {
      // 8 KiB announced, a few bytes sent: the answer comes without the rest.
      const r = await rawExchange(endpoint.url, head(headers), 'payload=');
      expect(r.status, headers.join(' | ')).toBe(status);
    }
    const oversized = await rawExchange(endpoint.url, [
      ...head([`X-Slack-Request-Timestamp: ${now}`, sig]).slice(0, 3),
      'Content-Length: 70000',
      `X-Slack-Request-Timestamp: ${now}`,
      sig,
    ]);
    expect(oversized.status).toBe(413);

    // 200 slowloris connections: the endpoint keeps at most its limit (64) and closes the rest at once.
    const slow = Array.from({ length: 200 }, () => slowConnection(endpoint.url));
    try {
      let closes = 0;
      await new Promise<void>((resolve) => {
        for (const c of slow)
          void c.closed.then(() => {
            if (++closes === slow.length - 64) resolve();
          });
      });
      // Exactly 64 unless a connection of an earlier request was still closing when these arrived.
      expect(slow.filter((c) => !c.isClosed()).length).toBeLessThanOrEqual(64);
    } finally {
      for (const c of slow) c.destroy();
    }
  });

  it('rejects through the Reject button; the card shows the ending and later clicks are refused', async () => {
    const { name: app } = await newApp('reject');
    await releaseToGate(app, '2.1.0');
    const value = await cardValue(app, '2.1.0');
    const r = await send(click(USERS.bob, 'shipgate.reject', value));
    expect(ephemeral(r)).toMatch(new RegExp(`You rejected ${app} 2\\.1\\.0 as bob`));
    const s = await waitDone(app, '2.1.0');
    expect(s.state).toBe('rejected');
    expect(s.reason).toContain('bob');
    const final = await standin.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        String(c.body.text).startsWith(`${app} 2.1.0`) &&
        blocksText(c).includes('🚫 Rejected'),
    );
    expect(actionIds(final)).toEqual([]);
    const late = await send(click(USERS.alice, 'shipgate.approve', value));
    expect(ephemeral(late)).toBe(
      `Not approved: release ${app} 2.1.0 is not waiting for approval: it ended rejected`,
    );
  });

  it('rolls back from the outcome message: button → reason dialog (views.open) → signed submission', async () => {
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

  it('acknowledges a click without waiting: with no worker, answers "working on it", then says on response_url that no worker is polling, and nothing lands later', async () => {
    const { name: app } = await newApp('ack');
    await releaseToGate(app, '2.5.0');
    const payload = click(USERS.alice, 'shipgate.approve', await cardValue(app, '2.5.0'));
    const clickPath = new URL(payload.response_url).pathname;
    await stack.worker.stop();
    try {
      // Posted directly (not through send, which would wait for the follow-up).
      const ack = await postToEndpoint(endpoint.url, interactionBody(payload), { secret: SECRET });
      expect(ephemeral(ack)).toBe(`⏳ Working on ${app} 2.5.0; shipgate will reply here shortly.`);
      const outcome = await standin.waitForResponse(
        (r) => r.path === clickPath && !String(r.body.text).startsWith('⏳'),
        60_000,
      );
      expect(outcome.body.text).toMatch(/^Not approved: no shipgate worker is polling task queue /);
    } finally {
      await stack.restartWorker();
    }
    const s = await stack.sg.status(app, '2.5.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.stage).toBe('awaiting-approval');
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
