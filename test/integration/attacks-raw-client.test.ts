/**
 * The attacks of issue "proven identity", each made the way an attacker holding only a Temporal client of the
 * namespace (a CI job, a laptop with the API key) would make it: raw Updates, Signals and workflow starts,
 * against a real dev server and a real `shipgate worker` process with real SSH keys, a real local OIDC issuer
 * (its own key pair, a JWKS endpoint on loopback) and Slack requests signed with the app's signing secret.
 *
 * Each asserts that nothing changed (what production serves, its ledger, the release's status) and that the
 * refusal is on record (the release's status, the audit log).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { sshProver, type Prover } from '../../src/client.js';
import { slackSignature } from '../../src/identity/slack.js';
import { detailsDigest } from '../../src/identity/statement.js';
import type { Proof } from '../../src/identity/types.js';
import { ACTION } from '../../src/integrations/slack/cards.js';
import { environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import {
  admitUpdate,
  adoptUpdate,
  approveUpdate,
  cancelUpdate,
  deployReportSignal,
  enqueueDeployUpdate,
  rejectUpdate,
  statusQuery,
} from '../../src/workflows/messages.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';
import {
  eventually,
  startControl,
  startStack,
  type App,
  type ExampleConfig,
  type Stack,
  type StartControl,
} from '../helpers/fixture.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

const SLACK_SECRET = 'attack-test-signing-secret-41c7';

type Loose = Record<string, unknown>;

describe('attacks through a raw Temporal client (dev server, worker process, local target)', () => {
  let stack: Stack;
  let issuer: OidcIssuer;
  let control: StartControl;
  let raw: Client;
  let connection: Connection;

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    control = await startControl();
    stack = await startStack(
      (c) => {
        const top = c as ExampleConfig & Loose;
        top.ci = { oidc: { issuer: issuer.issuer, audience: 'shipgate' } };
        // A token env the tests never set: the worker posts nothing to Slack, it only verifies requests.
        top.slack = {
          channel: '#releases',
          signingSecretEnv: 'SHIPGATE_ATTACK_SLACK_SECRET',
          tokenEnv: 'SHIPGATE_ATTACK_SLACK_TOKEN_UNSET',
        };
        top.people = {
          alice: { github: 'alice-gh', slack: 'UALICE' },
          bob: { slack: 'UBOB' },
          carol: { slack: 'UCAROL' },
        };
      },
      { workerEnv: { SHIPGATE_ATTACK_SLACK_SECRET: SLACK_SECRET } },
    );
    connection = await Connection.connect({ address: stack.server.address });
    raw = new Client({ connection });
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await stack?.stop();
    await control?.close();
    await issuer?.close();
  });

  // ---- what the attacker can reach, and what the tests read ----

  const release = (app: App, version: string) => raw.workflow.getHandle(releaseWorkflowId(app.name, version));
  const statusOf = (app: App, version: string) => release(app, version).query(statusQuery);
  const audit = async (app: App): Promise<AuditRecord[]> =>
    createJsonlAuditStore(path.join(stack.home, 'audit', 'audit.jsonl')).read({ app: app.name });
  const onRecord = (app: App, pred: (r: AuditRecord[]) => boolean, what: string) =>
    eventually(what, async () => {
      const records = await audit(app);
      return pred(records) ? records : undefined;
    });

  /** The failure an Update came back with: its type and message. */
  async function refused(p: Promise<unknown>): Promise<{ type: string | undefined; message: string }> {
    try {
      await p;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
        return { type: err.cause.type ?? undefined, message: err.cause.message };
      throw err;
    }
    throw new Error('the attack was accepted');
  }
  const policy = (message: string | RegExp) => ({
    type: 'PolicyRefusal',
    message: typeof message === 'string' ? message : expect.stringMatching(message),
  });

  /** A release-scoped proof request for the release as it stands now (its run and environment). */
  async function scopeOf(
    app: App,
    version: string,
    action: 'approve' | 'reject' | 'cancel',
    details: string,
  ) {
    const s = await statusOf(app, version);
    const { run, env } = s.proofScope!;
    return { action, app: app.name, env, version, run, details } as Parameters<Prover>[0];
  }
  const prove = (login: string) => stack.prove(login);

  /** A click on a release card's Approve button, signed as Slack signs it (only Slack and the worker hold the secret). */
  async function slackApprove(app: App, version: string, user: string, run: string, secret = SLACK_SECRET) {
    const payload = {
      type: 'block_actions',
      user: { id: user },
      actions: [{ action_id: ACTION.approve, value: JSON.stringify({ app: app.name, version, run }) }],
    };
    const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    return { kind: 'slack', body, timestamp, signature: slackSignature(secret, timestamp, body) } as Proof;
  }

  /** A GitHub Actions ID token from the local issuer for `repository` on `ref`, run by `actor`. */
  const githubToken = async (repository: string, ref: string, actor: string): Promise<Proof> => ({
    kind: 'github-oidc',
    token: await issuer.mint(issuer.githubClaims({ repository, ref, actor, sha: 'e'.repeat(40) })),
  });

  /** A CI start exactly as the Action sends it (update-with-start of admit), with whatever fields it claims. */
  const ciStart = (app: App, version: string, fields: Loose) =>
    raw.workflow.executeUpdateWithStart(admitUpdate, {
      args: [{ app: app.name, version, ...fields } as never],
      startWorkflowOperation: new WithStartWorkflowOperation('releaseWorkflow', {
        workflowId: releaseWorkflowId(app.name, version),
        taskQueue: 'shipgate',
        args: [{ app: app.name, version, ...fields } as never],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });

  const ended = async (app: App, version: string) =>
    eventually(`${app.name} ${version} ended`, async () => {
      const s = await statusOf(app, version).catch(() => undefined);
      return s && s.state !== 'running' ? s : undefined;
    });

  // ---- deploy requests and reports ----

  it('a forged enqueue-deploy switches nothing, runs nothing, and is recorded as refused', async () => {
    const app = await stack.addApp('atk-enqueue');
    await app.shipApproved('1.0.0');
    const before = await app.ledger();
    const pwned = path.join(stack.home, 'pwned');
    const op = (releaseId: string, opId: string, version: string) => ({
      kind: 'deploy',
      opId,
      releaseId,
      version,
      commit: 'evil',
      artifact: stack.home,
      actor: 'alice',
      approvers: ['alice', 'bob'],
      spec: {
        port: app.ports.production,
        command: ['sh', '-c', `id > ${pwned}`],
        strategy: 'recreate',
        canarySteps: [100],
        keepPreviousMs: 0,
        verify: { checks: [], durationMs: 0, intervalMs: 1000, failureLimit: 0 },
        autoRollback: false,
      },
      gated: false,
      overridden: false,
      requestedAt: new Date().toISOString(),
    });
    const env = raw.workflow.getHandle(environmentWorkflowId(app.name, 'production'));
    const send = (o: Loose) => env.executeUpdate(enqueueDeployUpdate, { args: [o as never] });
    const fake = releaseWorkflowId(app.name, '6.6.6');
    const shipped = await statusOf(app, '1.0.0');
    const realRun = shipped.proofScope!.run;
    // A release that never existed, and the real (finished) release with an attempt it never made.
    expect(await refused(send(op(fake, `${fake}@${realRun}#production#1`, '6.6.6')))).toEqual(
      policy(/refused: no release release\/atk-enqueue\/6\.6\.6 with run .* exists$/),
    );
    const real = releaseWorkflowId(app.name, '1.0.0');
    expect(await refused(send(op(real, `${real}@${realRun}#production#2`, '1.0.0')))).toEqual(
      policy(/refused: release release\/atk-enqueue\/1\.0\.0 is not running$/),
    );
    expect(await app.serving()).toBe('1.0.0');
    expect(await app.ledger()).toEqual(before);
    expect(existsSync(pwned)).toBe(false);
    const records = await onRecord(
      app,
      (r) => r.filter((x) => x.type === 'deploy-refused').length === 2,
      'both forged deploys on record',
    );
    expect(
      records.filter((r) => r.type === 'deploy-refused').map((r) => [r.env, r.actor, r.version]),
    ).toEqual([
      ['production', '(unverified)', '6.6.6'],
      ['production', '(unverified)', '1.0.0'],
    ]);
  });

  it('a forged adopt (signed with a key not listed for the login it names, or carrying no proof) adopts nothing and is recorded', async () => {
    const app = await stack.addApp('atk-adopt');
    await app.shipApproved('1.0.0');
    const before = await app.ledger();
    const handle = raw.workflow.getHandle(environmentWorkflowId(app.name, 'production'));
    const reason = 'mine now';
    const request = {
      action: 'adopt',
      app: app.name,
      env: 'production',
      version: null,
      run: null,
      details: detailsDigest({ reason }),
    } as Parameters<Prover>[0];
    const forged = await sshProver({ login: 'alice', keyFile: stack.keys.mallory!.privateKeyFile })(request);
    expect(await refused(handle.executeUpdate(adoptUpdate, { args: [{ proof: forged, reason }] }))).toEqual(
      policy(/not listed for alice/),
    );
    // No proof at all: the Update's validator refuses it before the workflow acts.
    const unsigned = await refused(handle.executeUpdate(adoptUpdate, { args: [{ reason } as never] }));
    expect(unsigned.message).toMatch(/proof/);
    await onRecord(
      app,
      (rs) => rs.some((r) => r.type === 'adopt-refused' && r.actor === '(unverified)'),
      'the forged adopt recorded as refused',
    );
    expect(await app.ledger()).toEqual(before);
  });

  it('a forged deploy-report neither ends nor advances a release; it goes on as its environment says', async () => {
    const app = await stack.addApp('atk-report', (c) => {
      c.apps.hello.build.command = control.command;
    });
    await app.toGate('1.0.0');
    const held = control.hold('1.0.0');
    await app.approve('1.0.0', 'alice', 'bob');
    const start = await held.next();
    const deploying = await app.waitFor('1.0.0', (s) => s.stage === 'deploying-production');
    const opId = `${releaseWorkflowId(app.name, '1.0.0')}@${deploying.proofScope!.run}#production#1`;
    const handle = release(app, '1.0.0');
    await handle.signal(deployReportSignal, { opId, env: 'production', phase: 'done', outcome: 'succeeded' });
    await handle.signal(deployReportSignal, {
      opId,
      env: 'production',
      phase: 'done',
      outcome: 'rolled-back',
    });
    await onRecord(
      app,
      (r) => r.filter((x) => x.type === 'deploy-report-refused').length === 2,
      'both forged reports on record',
    );
    const s = await statusOf(app, '1.0.0');
    expect(s).toMatchObject({ state: 'running', stage: 'deploying-production' });
    expect((await app.ledger()).map((e) => `${e.version} ${e.outcome}`)).toEqual(['1.0.0 running']);
    start.release();
    held.stop();
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
    expect(await app.serving()).toBe('1.0.0');
  });

  // ---- decisions ----

  it('an approve claiming via: slack, an approve-signal and a fake Slack proof count for nothing', async () => {
    const app = await stack.addApp('atk-claim');
    const gate = await app.toGate('1.0.0');
    const handle = release(app, '1.0.0');
    for (const by of ['alice', 'bob']) {
      const claimed = await refused(
        handle.executeUpdate(approveUpdate, { args: [{ by, via: 'slack' } as never] }),
      );
      expect(claimed.message).toMatch(/^proof: a proof of identity is required/);
    }
    await handle.signal('approve-signal', { by: 'alice', via: 'slack' });
    const fake = await slackApprove(app, '1.0.0', 'UBOB', gate.proofScope!.run, 'guessed-secret');
    expect(await refused(handle.executeUpdate(approveUpdate, { args: [{ proof: fake }] }))).toEqual(
      policy(/signature/i),
    );
    const s = await statusOf(app, '1.0.0');
    expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused).toMatchObject([{ by: '(unverified)', via: 'slack', action: 'approve' }]);
    await onRecord(app, (r) => r.some((x) => x.type === 'approve-refused'), 'the fake Slack proof on record');
    expect(await app.ledger()).toEqual([]);
  });

  it('a cancel by someone who may not reject is refused and recorded; the release goes on', async () => {
    const app = await stack.addApp('atk-cancel');
    await app.toGate('1.0.0');
    const handle = release(app, '1.0.0');
    const cancel = async (login: string) => {
      const reason = 'stop it';
      const proof = await prove(login)(await scopeOf(app, '1.0.0', 'cancel', detailsDigest({ reason })));
      return handle.executeUpdate(cancelUpdate, { args: [{ proof, reason }] });
    };
    expect(await refused(cancel('mallory'))).toEqual(
      policy('mallory is not a member of team-leads, the groups that can cancel'),
    );
    expect(await refused(cancel('dave'))).toEqual(
      policy('dave is not a member of team-leads, the groups that can cancel'),
    );
    const s = await statusOf(app, '1.0.0');
    expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
    expect(s.approvals.refused.map((a) => [a.by, a.via, a.action])).toEqual([
      ['mallory', 'ssh', 'cancel'],
      ['dave', 'ssh', 'cancel'],
    ]);
    await onRecord(
      app,
      (r) => r.filter((x) => x.type === 'cancel-refused').length === 2,
      'both refused cancellations on record',
    );
    await app.approve('1.0.0', 'alice', 'bob');
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
  });

  it('statements for another run, environment, version or action, expired, by a wrong key, of an unknown login, or replayed are refused', async () => {
    const app = await stack.addApp('atk-statements');
    // A first run of 2.0.0 is rejected; alice's approval of that run must not count on the next one.
    await app.toGate('2.0.0');
    const firstRun = (await statusOf(app, '2.0.0')).proofScope!.run;
    const oldScope = await scopeOf(app, '2.0.0', 'approve', detailsDigest({}));
    const stale = await prove('alice')(oldScope);
    const r = await app.run('reject', app.name, '2.0.0', '--as', 'carol', '--reason', 'not yet');
    expect(r.code, r.stderr).toBe(0);
    expect((await app.ended('2.0.0')).state).toBe('rejected');
    await app.toGate('2.0.0');
    const run = (await statusOf(app, '2.0.0')).proofScope!.run;
    expect(run).not.toBe(firstRun);

    const handle = release(app, '2.0.0');
    const approve = (proof: Proof) => handle.executeUpdate(approveUpdate, { args: [{ proof }] });
    const scope = await scopeOf(app, '2.0.0', 'approve', detailsDigest({}));
    const aliceWith = (key: 'alice' | 'bob', now?: () => Date) =>
      sshProver({ login: 'alice', keyFile: stack.keys[key]!.privateKeyFile, now });
    const attempts: [string, Promise<Proof>, string | RegExp][] = [
      [
        'the rejected run',
        Promise.resolve(stale),
        `the statement is for run "${firstRun}", this release is run "${run}"`,
      ],
      [
        'another environment',
        prove('alice')({ ...scope, env: 'staging' }),
        'the statement is for environment "staging", this request is for "production"',
      ],
      [
        'another version',
        prove('alice')({ ...scope, version: '2.0.1' }),
        'the statement is for version "2.0.1", this request is for "2.0.0"',
      ],
      [
        'another action',
        prove('alice')({ ...scope, action: 'reject' }),
        'the statement is for reject, this request is approve',
      ],
      [
        'expired',
        aliceWith('alice', () => new Date(Date.now() - 6 * 60_000))(scope),
        /^the statement is 6 min( \d+ s)? old \(limit 5 min\)$/,
      ],
      ['wrong key', aliceWith('bob')(scope), /^the signature is by a key not listed for alice /],
      [
        'unknown login',
        sshProver({ login: 'zed', keyFile: stack.keys.alice!.privateKeyFile })(scope),
        'unknown login "zed": not listed under people in the config',
      ],
    ];
    for (const [what, proof, reason] of attempts)
      expect(await refused(approve(await proof)), what).toEqual(policy(reason));
    const once = await prove('alice')(scope);
    expect(await approve(once)).toMatchObject({ met: false });
    expect(await refused(approve(once))).toEqual(
      policy('this proof was used before (a replay); sign the request again'),
    );

    const s = await statusOf(app, '2.0.0');
    expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
    expect(s.approvals.given.map((a) => a.by)).toEqual(['alice']);
    expect(s.approvals.refused).toHaveLength(attempts.length + 1);
    await onRecord(
      app,
      (rs) =>
        rs.filter((x) => x.type === 'approve-refused' && x.releaseId === handle.workflowId).length >=
        attempts.length + 1,
      'every refused approval on record',
    );
    expect(await app.ledger()).toEqual([]);
  });

  // ---- CI starts ----

  it('a CI start from a GitHub login linked to nobody is refused, recorded, and builds nothing', async () => {
    const app = await stack.addApp('atk-unlinked', (c) => {
      (c.apps.hello as Loose).repository = 'acme/atk-unlinked';
    });
    const token = await githubToken('acme/atk-unlinked', 'refs/heads/main', 'stranger-gh');
    expect(await refused(ciStart(app, '1.0.0', { commit: '', branch: '', proof: token }))).toEqual(
      policy('GitHub user stranger-gh is not linked to a login (people.<login>.github)'),
    );
    expect(await ended(app, '1.0.0')).toMatchObject({ state: 'failed', actor: '' });
    await onRecord(app, (r) => r.some((x) => x.type === 'release-refused'), 'the refused start on record');
    expect(existsSync(path.join(stack.home, 'artifacts', app.name))).toBe(false);
    expect(await app.ledger('staging')).toEqual([]);
  });

  it('a CI start claiming another branch and actor than its token is refused; its own branch is policed', async () => {
    const app = await stack.addApp('atk-branch', (c) => {
      (c.apps.hello as Loose).repository = 'acme/atk-branch';
    });
    // The job ran on feature/evil; it claims main and dave.
    const token = await githubToken('acme/atk-branch', 'refs/heads/feature/evil', 'alice-gh');
    const claimed = { commit: 'e'.repeat(40), branch: 'main', actor: 'dave', via: 'github', proof: token };
    expect(await refused(ciStart(app, '1.0.0', claimed))).toEqual(
      policy('the request names branch main, but the GitHub Actions token is for feature/evil'),
    );
    expect(await ended(app, '1.0.0')).toMatchObject({ state: 'failed', actor: '' });
    // Taken from the token, the branch is feature/evil, which the environments do not accept.
    expect(await refused(ciStart(app, '1.0.1', { commit: '', branch: '', proof: token }))).toEqual(
      policy('branch feature/evil may not release to staging (allowed: main)'),
    );
    const s = await ended(app, '1.0.1');
    expect(s).toMatchObject({ state: 'failed', actor: 'alice', branch: 'feature/evil' });
    expect(await app.ledger('staging')).toEqual([]);
    await onRecord(app, (r) => r.some((x) => x.type === 'release-refused'), 'the refused start on record');
  });

  it('the author of a CI release cannot approve it from Slack: alice-gh pushed, alice clicks Approve', async () => {
    const app = await stack.addApp('atk-self', (c) => {
      (c.apps.hello as Loose).repository = 'acme/atk-self';
    });
    const token = await githubToken('acme/atk-self', 'refs/heads/main', 'alice-gh');
    const admitted = (await ciStart(app, '1.0.0', { commit: '', branch: '', proof: token })) as {
      status: ReleaseStatus;
    };
    expect(admitted.status).toMatchObject({ actor: 'alice', branch: 'main' });
    const gate = await app.waitFor('1.0.0', (s) => s.stage === 'awaiting-approval');
    const handle = release(app, '1.0.0');
    const click = (user: string) => slackApprove(app, '1.0.0', user, gate.proofScope!.run);
    expect(
      await refused(handle.executeUpdate(approveUpdate, { args: [{ proof: await click('UALICE') }] })),
    ).toEqual(policy('alice started this release and cannot approve it (self-approval is not allowed)'));
    expect((await statusOf(app, '1.0.0')).approvals.given).toEqual([]);
    await handle.executeUpdate(approveUpdate, { args: [{ proof: await click('UBOB') }] });
    await handle.executeUpdate(approveUpdate, { args: [{ proof: await click('UCAROL') }] });
    const done = await app.ended('1.0.0');
    expect(done.state).toBe('succeeded');
    expect(done.approvals.given.map((a) => [a.by, a.via])).toEqual([
      ['bob', 'slack'],
      ['carol', 'slack'],
    ]);
    expect(done.approvals.refused).toMatchObject([{ by: 'alice', via: 'slack', action: 'approve' }]);
  });

  // ---- input ----

  it('a release started directly with a version that climbs out of SHIPGATE_HOME fails before any activity', async () => {
    const app = await stack.addApp('atk-traversal');
    const victim = path.join(path.dirname(stack.home), `${path.basename(stack.home)}-victim`);
    mkdirSync(victim);
    writeFileSync(path.join(victim, 'keep.txt'), 'precious');
    try {
      const version = `../../../${path.basename(victim)}`;
      const proof = await prove('dave')({
        action: 'release',
        app: app.name,
        env: null,
        version,
        run: null,
        details: detailsDigest({ commit: 'c', branch: 'main' }),
      });
      const handle = await raw.workflow.start('releaseWorkflow', {
        workflowId: releaseWorkflowId(app.name, 'traversal'),
        taskQueue: 'shipgate',
        args: [{ app: app.name, version, commit: 'c', branch: 'main', proof } as never],
      });
      const failure = await handle.result().then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
      expect([cause.type, cause.message]).toEqual([
        'BadInput',
        expect.stringMatching(/^version: must match /),
      ]);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
      expect(readFileSync(path.join(victim, 'keep.txt'), 'utf8')).toBe('precious');
      expect(existsSync(path.join(stack.home, 'artifacts', app.name))).toBe(false);
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it('a rejection reason that forges a history line is refused before it reaches the release', async () => {
    const app = await stack.addApp('atk-escapes');
    await app.toGate('1.0.0');
    const reason =
      'no\n  2026-01-01  deploy  succeeded  by bob \u001b]8;;https://evil.example\u0007x\u001b]8;;\u0007';
    const proof = await prove('carol')(await scopeOf(app, '1.0.0', 'reject', detailsDigest({ reason })));
    const r = await refused(release(app, '1.0.0').executeUpdate(rejectUpdate, { args: [{ proof, reason }] }));
    expect(r.message).toBe('reason: must not contain control characters (U+000A at 3)');
    expect(await statusOf(app, '1.0.0')).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
  });
});
