import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { freePort } from '../../src/temporal/ports.js';
import { cli } from '../helpers/processes.js';
import { exampleConfig, startStack, type App, type ExampleConfig, type Stack } from '../helpers/fixture.js';

interface StatusJson {
  state: string;
  stage: string;
  reason?: string | null;
  approvals: {
    required: { group: string; count: number }[];
    given: { by: string; via: string; comment: string | null }[];
    refused: { by: string; reason: string }[];
  };
  environments: Record<string, { state: string; at: string | null }>;
}

interface HistoryRow {
  version: string;
  action: string;
  outcome: string;
  actor: string;
  reason: string | null;
  fromVersion: string | null;
}

describe('release pipeline on a real dev server, worker process and local target', () => {
  let stack: Stack;
  // Each test releases an app of its own, so no test depends on what another one left behind.
  const newApp = (name: string, tweak?: (c: ExampleConfig) => void) => stack.addApp(name, tweak);
  const noApprovals = (c: ExampleConfig) => {
    c.apps.hello.environments.production.approvals = [];
  };

  const statusJson = async (app: App, version: string) =>
    (await app.run('status', app.name, version, '--json')).json as StatusJson;
  const history = async (app: App, env = 'production') =>
    (await app.run('history', app.name, env, '--json')).json as HistoryRow[];

  /** Releases with --wait staging, checks staging succeeded, and waits for the production approval gate. */
  const releaseToGate = async (app: App, version: string) => {
    const r = await app.run(...app.releaseArgs(version, '--wait', 'staging', '--json'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect((r.json as StatusJson).environments.staging!.state).toBe('succeeded');
    return app.waitFor(version, (s) => s.stage === 'awaiting-approval');
  };

  beforeAll(async () => {
    stack = await startStack();
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs v1 through staging, two approvals and production, with the Contract status JSON', async () => {
    const app = await newApp('happy');
    await releaseToGate(app, '1.0.0');
    expect(await app.serving('staging')).toBe('1.0.0');
    const approved = await app.run(
      ...['approve', app.name, '1.0.0', '--as', 'alice', '--comment', 'ship it', '--json'],
    );
    expect(approved.code).toBe(0);
    expect(approved.json).toMatchObject({
      environment: 'production',
      met: false,
      tally: [{ group: 'team-leads', count: 2, have: 1 }],
    });
    await app.approve('1.0.0', 'bob');
    const final = await app.ended('1.0.0');
    expect(final.state).toBe('succeeded');
    expect(await app.serving()).toBe('1.0.0');
    const s = await statusJson(app, '1.0.0');
    expect(s).toMatchObject({
      app: app.name,
      version: '1.0.0',
      commit: 'c-1.0.0',
      actor: 'dave',
      state: 'succeeded',
      stage: 'done',
    });
    expect(s.approvals.required).toEqual([{ group: 'team-leads', count: 2 }]);
    // Each approval came signed with the approver's SSH key: the channel is what the worker verified.
    expect(s.approvals.given.map((g) => [g.by, g.via, g.comment])).toEqual([
      ['alice', 'ssh', 'ship it'],
      ['bob', 'ssh', null],
    ]);
    expect(s.approvals.refused).toEqual([]);
    expect(s.environments.staging!.state).toBe('succeeded');
    expect(s.environments.production!.state).toBe('succeeded');
  });

  it('refuses approvals by non-members (naming the groups), by the member who started the release, and a second approval by the same person', async () => {
    const app = await newApp('refusals');
    // Started by alice, a team lead: she is eligible as a member but may not approve her own release.
    const started = await app.run(
      ...['release', app.name, '1.1.0', '--commit', 'c-1.1.0', '--branch', 'main', '--actor', 'alice'],
    );
    expect(started.code, started.stderr).toBe(0);
    await app.waitFor('1.1.0', (s) => s.stage === 'awaiting-approval');
    const outsider = await app.run('approve', app.name, '1.1.0', '--as', 'mallory');
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toContain('mallory is not a member of team-leads');
    const releaseManager = await app.run('approve', app.name, '1.1.0', '--as', 'dave');
    expect(releaseManager.code).toBe(3);
    expect(releaseManager.stderr).toContain('dave is not a member of team-leads');
    const self = await app.run('approve', app.name, '1.1.0', '--as', 'alice');
    expect(self.code).toBe(3);
    expect(self.stderr).toContain('alice started this release and cannot approve it');
    await app.approve('1.1.0', 'carol');
    const again = await app.run('approve', app.name, '1.1.0', '--as', 'carol');
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('already approved');
    const s = await statusJson(app, '1.1.0');
    expect(s.approvals.given.map((g) => g.by)).toEqual(['carol']);
    expect(s.approvals.refused.map((r) => r.by)).toEqual(['mallory', 'dave', 'alice', 'carol']);
    expect(s.approvals.refused[2]!.reason).toContain('self-approval is not allowed');
    await app.approve('1.1.0', 'bob');
    expect((await app.ended('1.1.0')).state).toBe('succeeded');
    expect(await app.serving()).toBe('1.1.0');
  });

  it('refuses approval of a finished release and a second release of a succeeded version (exit 3)', async () => {
    const app = await newApp('finished');
    await app.shipApproved('1.0.0');
    const late = await app.run('approve', app.name, '1.0.0', '--as', 'carol');
    expect(late.code).toBe(3);
    const again = await app.run(...app.releaseArgs('1.0.0'));
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('rollback');
    expect((await statusJson(app, '1.0.0')).approvals.given.map((g) => g.by)).toEqual(['alice', 'bob']);
  });

  it('attaches to a running release of the same version instead of starting another', async () => {
    const app = await newApp('attach');
    await releaseToGate(app, '1.4.0');
    const attach = await app.run(...app.releaseArgs('1.4.0'));
    expect(attach.code).toBe(0);
    expect(attach.stderr).toContain('Attached');
    expect(attach.stdout).toContain('awaiting-approval');
    const otherCommit = await app.run(
      ...['release', app.name, '1.4.0', '--commit', 'different', '--branch', 'main', '--actor', 'dave'],
    );
    expect(otherCommit.code).toBe(3);
    expect(otherCommit.stderr).toContain('already being released from commit c-1.4.0');
  });

  it('a rejected release ends rejected, approving it afterwards is refused, and the version may be released again', async () => {
    const app = await newApp('rejected');
    await releaseToGate(app, '1.4.0');
    const r = await app.run(
      ...['reject', app.name, '1.4.0', '--as', 'bob', '--reason', 'changelog missing', '--json'],
    );
    expect(r.code).toBe(0);
    const s = await app.ended('1.4.0');
    expect(s.state).toBe('rejected');
    expect(s.reason).toContain('changelog missing');
    const late = await app.run('approve', app.name, '1.4.0', '--as', 'alice');
    expect(late.code).toBe(3);
    expect(late.stderr).toContain('is not waiting for approval: it ended rejected');
    await releaseToGate(app, '1.4.0');
  });

  it('cancel stops a waiting release before its production deploy; only someone who may reject there may cancel', async () => {
    const app = await newApp('cancel');
    await app.shipApproved('1.0.0');
    await releaseToGate(app, '1.1.0');
    // dave, a release manager, may not reject at production's gate, so he may not cancel there either.
    const notEligible = await app.run('cancel', app.name, '1.1.0', '--as', 'dave', '--reason', 'wrong build');
    expect(notEligible.code).toBe(3);
    expect(notEligible.stderr).toContain('dave is not a member of team-leads');
    const r = await app.run('cancel', app.name, '1.1.0', '--as', 'carol', '--reason', 'wrong build');
    expect(r.code, r.stderr).toBe(0);
    const s = await app.ended('1.1.0');
    expect(s.state).toBe('cancelled');
    expect(s.reason).toContain('wrong build');
    expect(await app.serving()).toBe('1.0.0');
    expect((await app.ledger()).map((e) => e.version)).toEqual(['1.0.0']);
  });

  it('a release that fails production verification is rolled back automatically: `release --wait production` exits 1 and reports rolled-back', async () => {
    const app = await newApp('auto-rollback');
    await app.shipApproved('1.1.0');
    const released = app.run(...app.releaseArgs('1.2.0-bad', '--wait', 'production', '--json'));
    await app.waitFor('1.2.0-bad', (s) => s.stage === 'awaiting-approval');
    expect(await app.serving('staging')).toBe('1.2.0-bad');
    await app.approve('1.2.0-bad', 'alice', 'carol');
    const r = await released;
    // What the waiting user sees: exit 1 (the release ran and failed) and why, as the status JSON.
    expect(r.code, r.stderr).toBe(1);
    const final = r.json as StatusJson;
    expect(final).toMatchObject({
      state: 'rolled-back',
      stage: 'done',
      environments: { staging: { state: 'succeeded' }, production: { state: 'rolled-back' } },
    });
    expect(final.approvals.given.map((g) => g.by)).toEqual(['alice', 'carol']);
    expect(final.reason).toContain('/smoke');
    expect(final.reason).toContain('rolled back to 1.1.0');
    expect(await app.serving()).toBe('1.1.0');
    const rows = await history(app);
    expect(rows[0]).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      fromVersion: '1.2.0-bad',
      outcome: 'succeeded',
    });
    expect(rows[0]!.reason).toContain('automatic');
    expect(rows[1]).toMatchObject({ action: 'deploy', version: '1.2.0-bad', outcome: 'rolled-back' });
  });

  it('rolls back with and without --to, never to a failed version, and refuses what it cannot restore', async () => {
    const app = await newApp('manual-rollback', noApprovals);
    await app.ship('1.0.0');
    await app.ship('1.1.0');
    const bad = await app.run(...app.releaseArgs('1.2.0-bad', '--wait', 'production'));
    expect(bad.code).toBe(1);
    expect(await app.serving()).toBe('1.1.0');
    const rollback = (...args: string[]) => app.run('rollback', app.name, 'production', ...args);
    const none = await rollback('--as', 'alice', '--reason', 'latency up', '--wait', '--json');
    expect(none.code, none.stderr + none.stdout).toBe(0);
    expect(none.json).toMatchObject({ from: '1.1.0', to: '1.0.0', outcome: 'succeeded' });
    expect(await app.serving()).toBe('1.0.0');
    const failed = await rollback('--to', '1.2.0-bad', '--as', 'alice', '--reason', 'x');
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain('1.1.0');
    const never = await rollback('--to', '9.9.9', '--as', 'alice', '--reason', 'x');
    expect(never.code).toBe(3);
    const serving = await rollback('--to', '1.0.0', '--as', 'alice', '--reason', 'x');
    expect(serving.code).toBe(3);
    expect(serving.stderr).toContain('already serving');
    const outsider = await rollback('--to', '1.1.0', '--as', 'mallory', '--reason', 'x');
    expect(outsider.code).toBe(3);
    const noReason = await rollback('--to', '1.1.0', '--as', 'alice');
    expect(noReason.code).toBe(2);
    const to = await rollback('--to', '1.1.0', '--as', 'bob', '--reason', 'fixed upstream', '--wait');
    expect(to.code).toBe(0);
    expect(await app.serving()).toBe('1.1.0');
    expect((await history(app))[0]).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      actor: 'bob',
      reason: 'fixed upstream',
    });
  });

  it('refuses bad input with exit 2 and starts nothing', async () => {
    const app = await newApp('bad-input');
    const release = (version: string, actor = 'dave') =>
      app.run('release', app.name, version, '--commit', 'c', '--branch', 'main', '--actor', actor);
    expect((await release('-1.0.0')).code).toBe(2);
    for (const version of ['1.0 .0', '$(touch /tmp/pwned)', '1.0;rm', 'x'.repeat(129), '`id`', '1.0.0\n']) {
      const r = await release(version);
      expect(r.code, version).toBe(2);
      expect(r.stderr).toContain('version');
    }
    expect((await release('7.0.0', 'bad login!')).code).toBe(2);
    expect((await app.run('approve', app.name, '1.1.0', '--as', '-rf')).code).toBe(2);
    // None of the refused releases started a workflow.
    expect((await app.run('status', app.name, '7.0.0')).code).toBe(3);
    const unknownApp = await app.run(
      ...['--config', stack.configFile, 'release', 'nope', '7.0.0', '--commit', 'c'],
      ...['--branch', 'main', '--actor', 'dave'],
    );
    expect(unknownApp.code).toBe(2);
    expect(unknownApp.stderr).toContain('unknown app "nope"');
    const unknownEnv = await app.run('--config', stack.configFile, 'history', app.name, 'qa');
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toContain('unknown environment "qa"');
    // Without a config on the client, the release's admission refuses an unknown app.
    const admitted = await app.run(
      ...['release', 'nope', '7.0.0', '--commit', 'c', '--branch', 'main', '--actor', 'dave'],
    );
    expect(admitted.code).toBe(2);
    expect(admitted.stderr).toContain('unknown app');
  });

  it('refuses a branch the entry environment does not allow (exit 3)', async () => {
    const app = await newApp('branch');
    const r = await app.run(
      ...['release', app.name, '8.0.0', '--commit', 'c', '--branch', 'feature/x', '--actor', 'dave'],
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('branch feature/x');
  });

  it('an invalid config is exit 2 with the file and field path, and nothing starts', async () => {
    const app = await newApp('invalid-config');
    const bad = path.join(stack.home, 'bad.yaml');
    const ports = { staging: await freePort(), production: await freePort() };
    const invalid = exampleConfig(ports, (c) => {
      (c.apps.hello.environments.production.approvals as { count: number }[])[0]!.count = 0;
    });
    await writeFile(bad, stringify({ ...invalid, apps: { [app.name]: invalid.apps.hello } }));
    const r = await app.run('--config', bad, ...app.releaseArgs('9.0.0'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${bad}: apps.${app.name}.environments.production.approvals[0].count: expected a positive integer`,
    );
    expect((await app.run('status', app.name, '9.0.0')).code).toBe(3);
  });

  it('exits 4 within 15 s naming the address when Temporal is unreachable', async () => {
    const port = await freePort();
    const r = await cli(['status', 'hello', '1.0.0', '--address', `127.0.0.1:${port}`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.ms).toBeLessThan(15_000);
  });

  it('writes every decision to a hash-chained audit log', async () => {
    const app = await newApp('audit');
    // A good release, with a refused approval on the way.
    await releaseToGate(app, '1.0.0');
    expect((await app.run('approve', app.name, '1.0.0', '--as', 'mallory')).code).toBe(3);
    await app.approve('1.0.0', 'alice', 'bob');
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
    // A rejected one, then a cancelled one.
    await releaseToGate(app, '1.1.0');
    expect((await app.run('reject', app.name, '1.1.0', '--as', 'bob', '--reason', 'no')).code).toBe(0);
    await releaseToGate(app, '1.2.0');
    expect((await app.run('cancel', app.name, '1.2.0', '--as', 'carol', '--reason', 'no')).code).toBe(0);
    // A bad one that production verification catches and rolls back.
    await releaseToGate(app, '1.3.0-bad');
    await app.approve('1.3.0-bad', 'alice', 'carol');
    expect((await app.ended('1.3.0-bad')).state).toBe('rolled-back');
    const store = createJsonlAuditStore(path.join(stack.home, 'audit', 'audit.jsonl'));
    expect(await store.verify()).toMatchObject({ ok: true });
    const records = await store.read({ app: app.name });
    const types = new Set(records.map((r) => r.type));
    for (const t of [
      'release-started',
      'approval',
      'approve-refused',
      'rejection',
      'cancellation',
      'deploy-succeeded',
      'verification-failed',
      'rollback-succeeded',
    ]) {
      expect(types, t).toContain(t);
    }
    const refusal = records.find((r) => r.type === 'approve-refused' && r.actor === 'mallory');
    expect(refusal?.reason).toContain('team-leads');
  });
});
