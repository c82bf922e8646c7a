import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { eventually, startStack, type App, type Stack } from '../helpers/fixture.js';

/** A deny window that is open right now: it opens at the top of the current UTC hour and lasts 2 h. */
const openNowWindow = (name: string) => ({
  name,
  kind: 'deny',
  schedule: `0 ${new Date().getUTCHours()} * * *`,
  duration: '2h',
  timezone: 'UTC',
});

type Payload = temporal.api.common.v1.IPayload | null | undefined;
const text = (p: Payload) => (p ? (defaultPayloadConverter.fromPayload(p) as string) : undefined);

/** What the Temporal UI lists for a run's timers and activities: the summary each command was given. */
async function summaries(handle: WorkflowHandle) {
  const { events } = await handle.fetchHistory();
  const timers: string[] = [];
  const activities: string[] = [];
  for (const e of events ?? []) {
    const summary = text(e.userMetadata?.summary);
    if (e.timerStartedEventAttributes)
      timers.push(summary ?? `(none: timer ${e.timerStartedEventAttributes.timerId})`);
    if (e.activityTaskScheduledEventAttributes)
      activities.push(summary ?? `(none: ${e.activityTaskScheduledEventAttributes.activityType?.name})`);
  }
  return { timers, activities };
}

/** The "Current Details" the Temporal UI shows: the workflow metadata query, answered by the worker. */
async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

/** How the run closed as Temporal records it, and the failure it closed with (none when it completed). */
async function closed(handle: WorkflowHandle) {
  const status = (await handle.describe()).status.name;
  const failure = await handle.result().then(
    () => null,
    (err: unknown) => {
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      return { type: (cause as ApplicationFailure).type, message: (cause as ApplicationFailure).message };
    },
  );
  return { status, failure };
}

describe('the Temporal UI reads like the pipeline (dev server, worker process, local target)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a release shows what it is, where it stands and what each timer and activity is for', async () => {
    const app = await stack.addApp('tui', (c) => {
      const { staging, production } = c.apps.hello.environments;
      staging.verify = {
        checks: [{ path: '/version', json: { version: '{{version}}' } }],
        duration: '2s',
        interval: '1s',
        failureLimit: 0,
      };
      production.approvalTimeout = '24h';
      production.waitTimer = '1s';
    });
    await app.toGate('1.0.0');
    const release = stack.sg.releaseHandle(app.name, '1.0.0');

    // The releases list: app, version, commit and branch; the login the CLI sent is labelled a claim.
    const described = await release.describe();
    expect(await described.staticSummary()).toBe('tui 1.0.0 from c-1.0.0 on main, claimed by dave');
    const staticDetails = await described.staticDetails();
    expect(staticDetails).toContain(
      '- Claimed actor: dave (ssh proof; a claim until the worker verifies it)',
    );

    // Current details: the verified starter, the chain, and who still can approve until when.
    const waiting = await currentDetails(release);
    expect(waiting.split('\n')[0]).toMatch(
      /^awaiting approval at production: 0\/2 team-leads; eligible: alice, bob, carol; times out \d{4}-\d\d-\d\d \d\d:\d\d UTC$/,
    );
    expect(waiting).toContain('- Started by: dave (verified, ssh)');
    expect(waiting).toContain('- Environments: staging: deployed → production: at its gates');
    await app.approve('1.0.0', 'alice');
    await eventually('the tally shows alice', async () =>
      (await currentDetails(release)).includes('1/2 team-leads (alice); eligible: bob, carol')
        ? true
        : undefined,
    );
    await app.approve('1.0.0', 'bob');
    expect((await app.ended('1.0.0')).state).toBe('succeeded');

    const { timers, activities } = await summaries(release);
    expect(timers).toEqual(['approval timeout for production (24h)', 'wait timer for production (1s)']);
    expect(activities).toEqual(
      expect.arrayContaining([
        'build tui 1.0.0 (c-1.0.0)',
        "hand 1.0.0 to staging's queue (blue-green)",
        "hand 1.0.0 to production's queue (blue-green)",
        'notify: awaiting approval at production',
        'notify: release ended succeeded',
        "read tui's config (the release's snapshot)",
        'was 1.0.0 released to production before?',
        'audit: write 1 record',
      ]),
    );
    expect(activities.filter((a) => a.startsWith('(none'))).toEqual([]);
    const ended = await currentDetails(release);
    expect(ended.split('\n')[0]).toBe('**Succeeded**');
    expect(await closed(release)).toEqual({ status: 'COMPLETED', failure: null });

    // The environment: what it is, the deploy with its strategy, each soak round and the timer before it.
    const staging = stack.sg.environment(app.name, 'staging');
    expect(await (await staging.describe()).staticSummary()).toBe(
      'tui/staging: deploys, rollbacks and freezes',
    );
    const env = await summaries(staging);
    expect(env.activities).toEqual(
      expect.arrayContaining([
        'deploy 1.0.0 to staging (blue-green)',
        'verify 1.0.0 on staging (soak round 1 of 3)',
        'verify 1.0.0 on staging (soak round 3 of 3)',
      ]),
    );
    // The last round comes when the soak's duration is up, so its timer may be shorter than the interval.
    expect(env.timers.slice(0, 2)).toEqual([
      'soak round 2 of 3 for 1.0.0 on staging in 1s',
      expect.stringMatching(/^soak round 3 of 3 for 1\.0\.0 on staging in (1s|\d+ms)$/),
    ]);
    expect(env.timers).toContainEqual(
      expect.stringMatching(/^idle; next: stop the warm previous version in \d+m(\d+s)?$/),
    );
    const production = stack.sg.environment(app.name, 'production');
    expect((await currentDetails(production)).split('\n')[0]).toMatch(/^\*\*serving 1\.0\.0\*\* since /);
  });

  it('an environment started by a freeze says what it is, and its freeze', async () => {
    const app = await stack.addApp('tui-freeze');
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const frozen = await app.run(
      ...['freeze', app.name, 'production', '--until', until, '--as', 'carol', '--reason', 'incident'],
    );
    expect(frozen.code, frozen.stderr).toBe(0);
    const production = stack.sg.environment(app.name, 'production');
    const described = await production.describe();
    expect(await described.staticSummary()).toBe('tui-freeze/production: deploys, rollbacks and freezes');
    expect(await described.staticDetails()).toContain('- Started by: carol (claimed, ssh proof)');
    const details = await eventually('the freeze shows', async () => {
      const d = await currentDetails(production);
      return d.includes('Frozen by carol') ? d : undefined;
    });
    expect(details.split('\n')[0]).toBe('**nothing deployed yet**');
    expect(details).toMatch(/- Frozen by carol until \d{4}-\d\d-\d\d \d\d:\d\d UTC: incident/);
  });

  it('a superseded, rejected, expired or cancelled release says in its failure and its details that it is not an error', async () => {
    const app = await stack.addApp('tui-ends');
    await app.toGate('2.0.0');
    await app.toGate('2.1.0');
    expect((await app.ended('2.0.0')).state).toBe('superseded');
    const rejected = await app.run('reject', app.name, '2.1.0', '--as', 'alice', '--reason', 'not this week');
    expect(rejected.code, rejected.stderr).toBe(0);
    expect((await app.ended('2.1.0')).state).toBe('rejected');

    const expiring = await stack.addApp('tui-expire', (c) => {
      c.apps.hello.environments.production.approvalTimeout = '2s';
    });
    const started = await expiring.run(...expiring.releaseArgs('3.0.0'));
    expect(started.code, started.stderr).toBe(0);
    expect((await expiring.ended('3.0.0')).state).toBe('expired');

    const held = await stack.addApp('tui-held', (c) => {
      c.apps.hello.environments.production.approvals = [];
      c.apps.hello.environments.production.windows = [openNowWindow('weeknight-maintenance')];
    });
    const heldStart = await held.run(...held.releaseArgs('4.0.0'));
    expect(heldStart.code, heldStart.stderr).toBe(0);
    await held.waitFor('4.0.0', (s) => s.stage === 'awaiting-window');
    const heldRelease = stack.sg.releaseHandle(held.name, '4.0.0');
    await eventually('current details name the window', async () => {
      const d = await currentDetails(heldRelease);
      return /^held by weeknight-maintenance until \d{4}-\d\d-\d\d \d\d:\d\d UTC$/.test(d.split('\n')[0]!)
        ? true
        : undefined;
    });
    const holdTimers = await eventually('the hold timer started', async () => {
      const { timers } = await summaries(heldRelease);
      return timers.length > 0 ? timers : undefined;
    });
    expect(holdTimers[0]).toMatch(
      /^held by weeknight-maintenance at production until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(look again in \d+m(\d+s)?\)$/,
    );
    const cancel = await held.run(
      'cancel',
      held.name,
      '4.0.0',
      '--as',
      'dave',
      '--reason',
      'maintenance ran long',
    );
    expect(cancel.code, cancel.stderr).toBe(0);
    expect((await held.ended('4.0.0')).state).toBe('cancelled');

    const cases: [App, string, string, string][] = [
      [app, '2.0.0', 'ReleaseSuperseded', 'superseded (not an error): superseded by tui-ends 2.1.0'],
      [app, '2.1.0', 'ReleaseRejected', 'rejected (not an error): rejected by alice: not this week'],
      [
        expiring,
        '3.0.0',
        'ReleaseExpired',
        'expired (not an error): no decision within the approval timeout',
      ],
      [
        held,
        '4.0.0',
        'ReleaseCancelled',
        'cancelled (not an error): cancelled by dave: maintenance ran long',
      ],
    ];
    for (const [a, version, type, message] of cases) {
      const handle = stack.sg.releaseHandle(a.name, version);
      // Temporal lists every release that did not succeed as Failed (so the version may be released again);
      // the failure's type and message say which end it was and that it is not an error.
      const { status, failure } = await closed(handle);
      expect(status).toBe('FAILED');
      expect(failure?.type).toBe(type);
      expect(failure?.message).toContain(`${a.name} ${version} ${message}`);
      const details = await currentDetails(handle);
      expect(details).toContain('Not an error');
    }
  });
});
