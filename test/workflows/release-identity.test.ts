/**
 * Proven identity on a release, on the time-skipping server: every start and decision is believed only as far
 * as its proof goes (SSH statements signed by ssh-keygen, Slack requests signed with the signing secret,
 * GitHub Actions tokens from a real local OIDC issuer), and everything else is refused, recorded, and changes
 * nothing.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WithStartWorkflowOperation } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createBuildActivities } from '../../src/activities/build.js';
import { slackSignature } from '../../src/identity/slack.js';
import type { Proof } from '../../src/identity/types.js';
import { ACTION } from '../../src/integrations/slack/cards.js';
import { environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import {
  approveUpdate,
  cancelUpdate,
  deployReportSignal,
  enqueueDeployUpdate,
  rejectUpdate,
} from '../../src/workflows/messages.js';
import type { ExampleConfig } from '../helpers/fixture.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';
import {
  detailsOf,
  peopleBlock,
  releaseScope,
  SLACK_SECRET,
  SLACK_SECRET_ENV,
  type Scope,
} from './proofs.js';
import { refusal, useTimeSkippingServer, withReleases, type Release } from './release-harness.js';
import { releaseEnded, testKeys } from './time-skipping-harness.js';

useTimeSkippingServer();

const { EventType } = proto.temporal.api.enums.v1;

type Config = ExampleConfig & Record<string, unknown>;
/** The example config's people with their keys, plus what a test links to them (GitHub and Slack users). */
const people = (c: ExampleConfig, extra: Record<string, Record<string, string>>) => {
  const block = peopleBlock(testKeys()) as Record<string, Record<string, unknown>>;
  for (const [login, fields] of Object.entries(extra)) block[login] = { ...block[login], ...fields };
  (c as Config).people = block;
};

const approveWith = (r: Release, proof: Proof, comment?: string) =>
  r.handle.executeUpdate(approveUpdate, { args: [{ proof, ...(comment ? { comment } : {}) }] });

const policy = (message: string | RegExp) => ({
  type: 'PolicyRefusal',
  message: typeof message === 'string' ? message : expect.stringMatching(message),
});

describe('the start of a release', () => {
  it('is by whoever signed it: actor, commit and branch as signed, the proof kept in status and audit', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const admitted = await h.admit('1.0.0', { as: 'carol' });
        expect(admitted.status).toMatchObject({ actor: 'carol', commit: 'c-1.0.0', branch: 'main' });
        const r = h.release('1.0.0');
        const s = await r.waitStage('awaiting-approval');
        expect(s.startProof).toMatchObject({
          login: 'carol',
          via: 'ssh',
          statement: { action: 'release', login: 'carol', version: '1.0.0', env: null, run: null },
        });
        const started = r.audit().find((a) => a.type === 'release-started')!;
        expect(started).toMatchObject({ actor: 'carol', via: 'ssh', reason: 'commit c-1.0.0 on main' });
        expect((started as unknown as { proof: { digest: string } }).proof.digest).toBe(s.startProof!.digest);
      },
    );
  });

  it('a start whose proof does not hold is refused before anything is built, and recorded', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const { sandbox: s, app } = h;
        // alice's statement signed with bob's key: the signer is not who the statement names.
        const base = { action: 'release' as const, app, env: null, run: null };
        const wrongKey = await s.sign(
          'alice',
          { ...base, version: '1.0.0', details: detailsOf.release({ commit: 'c-1.0.0', branch: 'main' }) },
          { key: testKeys().of.bob },
        );
        expect(await refusal(h.admit('1.0.0', { proof: wrongKey }))).toEqual(
          policy(/^the signature is by a key not listed for alice \(ssh-ed25519 SHA256:/),
        );
        // Signed for main, sent for another branch: the signature does not cover this request.
        const signedMain = await s.sign('dave', {
          ...base,
          version: '1.0.1',
          details: detailsOf.release({ commit: 'c-1.0.1', branch: 'main' }),
        });
        expect(await refusal(h.admit('1.0.1', { proof: signedMain, branch: 'release/1' }))).toEqual(
          policy(
            'the statement was signed over other details (comment, reason, target or commit) than this request carries',
          ),
        );
        // An unsigned --as is for local trials only.
        expect(await refusal(h.admit('1.0.2', { proof: { kind: 'asserted', login: 'dave' } }))).toEqual(
          policy(/^an unsigned \(asserted\) identity is refused: the config says identity: proven/),
        );
        for (const v of ['1.0.0', '1.0.1', '1.0.2']) {
          const { status, failure } = await h.release(v).ended();
          expect(failure).toBe('PolicyRefusal');
          expect(status).toMatchObject({ state: 'failed', actor: '' });
          expect(
            h
              .release(v)
              .audit()
              .map((a) => `${a.type} ${a.actor}`),
          ).toEqual(['release-refused (unverified)']);
        }
        expect(existsSync(path.join(s.home, 'artifacts'))).toBe(false);
        expect(h.target.activations).toEqual([]);
      },
    );
  });

  it('checks its own input before any activity: a version that climbs out of SHIPGATE_HOME, a missing proof', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const { sandbox: s, app } = h;
        const victim = path.join(path.dirname(s.home), `${path.basename(s.home)}-victim`);
        mkdirSync(victim);
        writeFileSync(path.join(victim, 'keep.txt'), 'precious');
        try {
          const version = `../../../${path.basename(victim)}`;
          // Started directly, as any client of the namespace can: no validator runs on a workflow's input.
          const signed = await s.request('1.0.0');
          const attempts = [
            { id: 'traversal', args: { ...signed, version } },
            { id: 'no-proof', args: { ...signed, version: '1.0.1', proof: undefined } },
          ];
          const failures = [];
          for (const a of attempts) {
            const handle = await h.env.client.workflow.start('releaseWorkflow', {
              workflowId: releaseWorkflowId(app, a.id),
              taskQueue: h.taskQueue,
              args: [a.args as never],
            });
            s.started.push(handle.workflowId);
            const { status, failure } = await releaseEnded(handle);
            failures.push([failure, status.reason]);
            const history = await handle.fetchHistory();
            const scheduled = (history.events ?? []).filter(
              (e) =>
                e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED ||
                e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED,
            );
            // Patch markers only (one per patch the start passes): no activity, local or not, ran.
            const markers = scheduled.map((e) => e.markerRecordedEventAttributes?.markerName);
            expect(markers.length).toBeGreaterThan(0);
            expect(markers.every((m) => m === 'core_patch')).toBe(true);
          }
          expect(failures).toEqual([
            ['BadInput', expect.stringMatching(/^version: must match /)],
            ['BadInput', expect.stringMatching(/^proof: a proof of identity is required/)],
          ]);
          expect(readFileSync(path.join(victim, 'keep.txt'), 'utf8')).toBe('precious');
          // The build proves its own path too, whoever calls it.
          await expect(
            createBuildActivities(s.home).buildArtifact({ app, version, commit: 'c', source: victim }),
          ).rejects.toThrow(/is not a version/);
          expect(readFileSync(path.join(victim, 'keep.txt'), 'utf8')).toBe('precious');
        } finally {
          rmSync(victim, { recursive: true, force: true });
        }
      },
    );
  });
});

describe('a CI start with a GitHub Actions token (local OIDC issuer over HTTP)', () => {
  let issuer: OidcIssuer;
  beforeAll(async () => {
    issuer = await startOidcIssuer();
  });
  afterAll(() => issuer.close());

  const ci = (c: ExampleConfig) => {
    (c as Config).ci = { oidc: { issuer: issuer.issuer, audience: 'shipgate' } };
    (c.apps.hello as Record<string, unknown>).repository = 'acme/hello';
    people(c, { alice: { github: 'alice-gh' }, dave: { github: 'dave-gh' } });
  };
  const token = async (
    h: { env: { currentTimeMs(): Promise<number> } },
    claims: { ref?: string; actor?: string; repository?: string },
  ): Promise<Proof> => ({
    kind: 'github-oidc',
    token: await issuer.mint(
      issuer.githubClaims({
        repository: claims.repository ?? 'acme/hello',
        ref: claims.ref ?? 'refs/heads/main',
        actor: claims.actor ?? 'alice-gh',
        sha: 'f'.repeat(40),
      }),
      { iat: Math.floor((await h.env.currentTimeMs()) / 1000) },
    ),
  });

  it('takes branch, commit and actor from the token; the linked login cannot then approve its own release', async () => {
    await withReleases(ci, async (h) => {
      const admitted = await h.admit('1.0.0', { proof: await token(h, {}), commit: '', branch: '' });
      expect(admitted.status).toMatchObject({ actor: 'alice', branch: 'main', commit: 'f'.repeat(40) });
      const r = h.release('1.0.0');
      const gate = await r.waitStage('awaiting-approval');
      expect(gate.startProof).toMatchObject({
        login: 'alice',
        via: 'github-oidc',
        claims: { repository: 'acme/hello', ref: 'refs/heads/main', actor: 'alice-gh', branch: 'main' },
      });
      // alice-gh pushed; alice approving from her laptop is self-approval.
      expect(await refusal(r.approve('alice'))).toEqual(
        policy('alice started this release and cannot approve it (self-approval is not allowed)'),
      );
      // A token proves a start, never a decision.
      expect(await refusal(approveWith(r, await token(h, { actor: 'dave-gh' })))).toEqual(
        policy(/^a GitHub Actions token can only start a release, not approve/),
      );
      await r.approve('bob');
      await r.approve('carol');
      expect((await r.ended()).status).toMatchObject({ state: 'succeeded', actor: 'alice' });
    });
  });

  it('refuses a claimed branch the token does not carry, an unlinked actor and another repository', async () => {
    await withReleases(ci, async (h) => {
      // The Action run on feature/evil, told to say main and dave.
      const evil = await token(h, { ref: 'refs/heads/feature/evil' });
      expect(await refusal(h.admit('1.0.0', { proof: evil, branch: 'main', commit: '' }))).toEqual(
        policy('the request names branch main, but the GitHub Actions token is for feature/evil'),
      );
      // Left to the token, the branch is feature/evil, which production's branch policy refuses.
      expect(await refusal(h.admit('1.0.1', { proof: evil, branch: '', commit: '' }))).toEqual(
        policy('branch feature/evil may not release to staging (allowed: main)'),
      );
      expect(
        await refusal(
          h.admit('1.0.2', { proof: await token(h, { actor: 'mallory-gh' }), branch: '', commit: '' }),
        ),
      ).toEqual(policy('GitHub user mallory-gh is not linked to a login (people.<login>.github)'));
      expect(
        await refusal(
          h.admit('1.0.3', { proof: await token(h, { repository: 'evil/hello' }), branch: '', commit: '' }),
        ),
      ).toEqual(
        policy('the token is from repository evil/hello; apps.' + h.app + '.repository is acme/hello'),
      );
      for (const v of ['1.0.0', '1.0.1', '1.0.2', '1.0.3'])
        expect((await h.release(v).ended()).status.state).toBe('failed');
      expect(h.target.activations).toEqual([]);
    });
  });
});

describe('decisions on a release', () => {
  it('each approval whose proof does not fit this release, now, is refused with what failed, and recorded', async () => {
    await withReleases(
      (c) => people(c, {}),
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        const sign = h.sandbox.sign;
        const scope = await releaseScope(r.handle, 'approve', detailsOf.approve({}));
        const run = scope.run!;
        const now = await h.env.currentTimeMs();
        const other = 'f0e1d2c3-0000-4000-8000-000000000000';
        const cases: [string, Promise<Proof>, string | RegExp][] = [
          [
            'another run',
            sign('alice', { ...scope, run: other }),
            `the statement is for run "${other}", this release is run "${run}"`,
          ],
          [
            'another environment',
            sign('alice', { ...scope, env: 'staging' }),
            'the statement is for environment "staging", this request is for "production"',
          ],
          [
            'another version',
            sign('alice', { ...scope, version: '1.0.1' }),
            'the statement is for version "1.0.1", this request is for "1.0.0"',
          ],
          [
            'another action',
            sign('alice', { ...scope, action: 'reject' }),
            'the statement is for reject, this request is approve',
          ],
          [
            'another comment',
            sign('alice', { ...scope, details: detailsOf.approve({ comment: 'lgtm' }) }),
            /signed over other details/,
          ],
          [
            'expired',
            sign('alice', scope, { at: new Date(now - 6 * 60_000) }),
            /^the statement is 6 min( \d+ s)? old \(limit 5 min\)$/,
          ],
          [
            'wrong key',
            sign('alice', scope, { key: testKeys().of.bob }),
            /^the signature is by a key not listed for alice /,
          ],
          [
            'a key listed for nobody',
            sign('alice', scope, { key: testKeys().stranger }),
            /^the signature is by a key not listed for alice /,
          ],
          ['unknown login', sign('zed', scope), 'unknown login "zed": not listed under people in the config'],
          [
            'changed after signing',
            sign('alice', scope).then((p) =>
              p.kind === 'ssh' ? { ...p, statement: { ...p.statement, nonce: 'x'.repeat(22) } } : p,
            ),
            /does not match what was signed/,
          ],
          [
            'unsigned',
            Promise.resolve({ kind: 'asserted', login: 'alice' } as Proof),
            /^an unsigned \(asserted\) identity is refused/,
          ],
        ];
        for (const [what, proof, reason] of cases) {
          expect(await refusal(approveWith(r, await proof)), what).toEqual(policy(reason));
        }
        // Malformed signatures are refused the same way.
        const good = await sign('alice', scope);
        const mangled = {
          ...good,
          signature: '-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----',
        };
        expect(await refusal(approveWith(r, mangled as Proof))).toEqual(policy(/^malformed signature/));

        const s = await r.status();
        expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
        expect(s.approvals.given).toEqual([]);
        expect(s.approvals.refused).toHaveLength(cases.length + 1);
        expect(new Set(s.approvals.refused.map((a) => a.by))).toEqual(new Set(['(unverified)']));
        await r.waitFor(
          () => r.audit().filter((a) => a.type === 'approve-refused').length === cases.length + 1,
          'every refusal on record',
        );
        expect(
          r
            .audit()
            .filter((a) => a.type === 'approve-refused')
            .map((a) => a.reason),
        ).toEqual(s.approvals.refused.map((a) => a.reason));
      },
    );
  });

  it('a proof counts once: the same signed approval sent again is a replay', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        const proof = await h.sandbox.sign(
          'alice',
          await releaseScope(r.handle, 'approve', detailsOf.approve({})),
        );
        expect(await approveWith(r, proof)).toMatchObject({ met: false });
        expect(await refusal(approveWith(r, proof))).toEqual(
          policy('this proof was used before (a replay); sign the request again'),
        );
        const s = await r.status();
        expect(s.approvals.given.map((a) => a.by)).toEqual(['alice']);
        // The replay is on record as alice's: the proof held, it had been used.
        expect(s.approvals.refused).toMatchObject([{ by: 'alice', via: 'ssh', proof: expect.any(String) }]);
      },
    );
  });

  it('Slack approvals count only as requests Slack signed for this run, once', async () => {
    await withReleases(
      (c) => {
        (c as Config).slack = { channel: '#releases', signingSecretEnv: SLACK_SECRET_ENV };
        people(c, { bob: { slack: 'UBOB' }, carol: { slack: 'UCAROL' } });
      },
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        const { run } = (await r.status()).proofScope!;
        const click = async (user: string, forRun: string, secret = SLACK_SECRET): Promise<Proof> => {
          const payload = {
            type: 'block_actions',
            user: { id: user },
            actions: [
              {
                action_id: ACTION.approve,
                value: JSON.stringify({ app: h.app, version: '1.0.0', run: forRun }),
              },
            ],
          };
          const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
          const timestamp = String(Math.floor((await h.env.currentTimeMs()) / 1000));
          return { kind: 'slack', body, timestamp, signature: slackSignature(secret, timestamp, body) };
        };
        // The body of a click on an older run's card, signed by Slack: it names that run.
        const old = 'a1b2c3d4-0000-4000-8000-000000000000';
        expect(await refusal(approveWith(r, await click('UBOB', old)))).toEqual(
          policy(`the Slack button is for run "${old}", this release is run "${run}"`),
        );
        // Not signed by Slack (a forger without the signing secret).
        expect(await refusal(approveWith(r, await click('UBOB', run, 'not-the-secret')))).toEqual(
          policy(/signature/i),
        );
        // A claimed `via: slack` with no proof is turned away before it reaches the release.
        const forged = r.handle.executeUpdate(approveUpdate, {
          args: [{ by: 'alice', via: 'slack' } as never],
        });
        expect((await refusal(forged)).message).toMatch(/^proof: a proof of identity is required/);
        const real = await click('UBOB', run);
        expect(await approveWith(r, real)).toMatchObject({ met: false });
        expect(await refusal(approveWith(r, real))).toEqual(
          policy('this proof was used before (a replay); sign the request again'),
        );
        await approveWith(r, await click('UCAROL', run));
        const { status } = await r.ended();
        expect(status.state).toBe('succeeded');
        expect(status.approvals.given.map((a) => [a.by, a.via])).toEqual([
          ['bob', 'slack'],
          ['carol', 'slack'],
        ]);
        // Slack proofs keep what the request said, never its raw body.
        expect(status.approvals.given[0]!.proof).toMatchObject({ via: 'slack', claims: { user: 'UBOB' } });
        expect(JSON.stringify(r.audit())).not.toContain('payload=');
      },
    );
  });

  it('cancel needs the same eligibility as reject: someone in no deciding group is refused and nothing stops', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        expect(await refusal(r.cancel('mallory', 'nope'))).toEqual(
          policy('mallory is not a member of team-leads, the groups that can cancel'),
        );
        expect(await refusal(r.cancel('dave', 'nope'))).toEqual(
          policy('dave is not a member of team-leads, the groups that can cancel'),
        );
        const s = await r.status();
        expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
        expect(s.approvals.refused.map((a) => [a.by, a.action])).toEqual([
          ['mallory', 'cancel'],
          ['dave', 'cancel'],
        ]);
        await r.cancel('carol', 'wrong build');
        expect((await r.ended()).status).toMatchObject({
          state: 'cancelled',
          reason: 'cancelled by carol: wrong build',
        });
      },
    );
  });

  it('reasons and comments with control characters are refused, naming the field', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        const sign = async (action: Scope['action'], details: string) =>
          h.sandbox.sign('alice', await releaseScope(r.handle, action, details));
        const reason = 'ok\n2026-01-01 deploy-succeeded by bob';
        const reject = r.handle.executeUpdate(rejectUpdate, {
          args: [{ proof: await sign('reject', detailsOf.decide({ reason })), reason }],
        });
        expect(await refusal(reject)).toMatchObject({
          message: 'reason: must not contain control characters (U+000A at 3)',
        });
        const comment = '\u001b]8;;https://evil.example\u0007looks fine\u001b]8;;\u0007';
        expect(
          await refusal(approveWith(r, await sign('approve', detailsOf.approve({ comment })), comment)),
        ).toMatchObject({
          message: 'comment: must not contain control characters (U+001B at 1)',
        });
        const c1 = 'stop\u009b31m';
        const cancel = r.handle.executeUpdate(cancelUpdate, {
          args: [{ proof: await sign('cancel', detailsOf.decide({ reason: c1 })), reason: c1 }],
        });
        expect(await refusal(cancel)).toMatchObject({
          message: 'reason: must not contain control characters (U+009B at 5)',
        });
        const s = await r.status();
        expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
        expect(s.approvals).toMatchObject({ given: [], refused: [] });
      },
    );
  });
});

describe('deploy requests and reports are confirmed, not believed', () => {
  it('a forged enqueue-deploy changes nothing and is recorded as refused', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        const gate = await r.waitStage('awaiting-approval');
        const env = h.env.client.workflow;
        const forged = (opId: string, releaseId: string, version: string) => ({
          kind: 'deploy' as const,
          opId,
          releaseId,
          version,
          commit: 'evil',
          artifact: '/tmp',
          actor: 'alice',
          approvers: ['alice', 'bob'],
          spec: { port: 1, command: ['sh', '-c', 'id > /tmp/shipgate-pwned'] } as never,
          gated: false,
          overridden: false,
          requestedAt: new Date().toISOString(),
        });
        const send = (op: ReturnType<typeof forged>) =>
          env.executeUpdateWithStart(enqueueDeployUpdate, {
            args: [op],
            startWorkflowOperation: new WithStartWorkflowOperation('environmentWorkflow', {
              workflowId: environmentWorkflowId(h.app, 'production'),
              taskQueue: h.taskQueue,
              args: [{ app: h.app, env: 'production' }],
              workflowIdConflictPolicy: 'USE_EXISTING',
            }),
          });
        const fake = releaseWorkflowId(h.app, '6.6.6');
        const run = gate.proofScope!.run;
        expect(await refusal(send(forged(`${fake}@${run}#production#1`, fake, '6.6.6')))).toEqual(
          policy(/no release release\/.*\/6\.6\.6 with run .* exists$/),
        );
        // A real release, but one that is waiting for approval, not asking for a deploy.
        const real = r.handle.workflowId;
        expect(await refusal(send(forged(`${real}@${run}#production#1`, real, '1.0.0')))).toEqual(
          policy(
            `deploy request "${real}@${run}#production#1" refused: release ${real} is not asking for this deploy`,
          ),
        );
        const production = await h.environment('production');
        expect(production).toMatchObject({ current: null, queue: [], ledger: [] });
        expect(h.target.activations.filter((a) => a.env === 'production')).toEqual([]);
        expect(existsSync('/tmp/shipgate-pwned')).toBe(false);
        const refused = h.audit.records.filter((a) => a.type === 'deploy-refused');
        expect(refused.map((a) => [a.env, a.actor, a.version])).toEqual([
          ['production', '(unverified)', '6.6.6'],
          ['production', '(unverified)', '1.0.0'],
        ]);
      },
    );
  });

  it('a forged deploy-report is refused and recorded; the release goes on as its environment says', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        const held = h.target.hold('1.0.0');
        await r.approve('alice');
        await r.approve('bob');
        await held.reached;
        const s = await r.waitStage('deploying-production');
        const opId = `${r.handle.workflowId}@${s.proofScope!.run}#production#1`;
        await r.handle.signal(deployReportSignal, {
          opId,
          env: 'production',
          phase: 'done',
          outcome: 'succeeded',
        });
        await r.handle.signal(deployReportSignal, {
          opId: 'other-op',
          env: 'production',
          phase: 'done',
          outcome: 'succeeded',
        });
        await r.waitFor(
          () => r.audit().filter((a) => a.type === 'deploy-report-refused').length === 2,
          'both forged reports on record',
        );
        expect(await r.status()).toMatchObject({ state: 'running', stage: 'deploying-production' });
        expect(
          r
            .audit()
            .filter((a) => a.type === 'deploy-report-refused')
            .map((a) => a.reason),
        ).toEqual([
          'a deploy report (done succeeded) was refused: environment production sent no such report',
          'a deploy report (done succeeded) was refused: no deploy of this release has the operation id other-op',
        ]);
        held.release();
        const { status } = await r.ended();
        expect(status.state).toBe('succeeded');
        expect((await h.environment('production')).ledger.at(-1)).toMatchObject({
          version: '1.0.0',
          outcome: 'succeeded',
        });
      },
    );
  });
});
