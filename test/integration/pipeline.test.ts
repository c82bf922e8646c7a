import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { freePort } from '../../src/temporal/ports.js';
import { cli } from '../helpers/processes.js';
import { getVersion, startStack, type Stack, waitForRelease } from '../helpers/fixture.js';

interface StatusJson {
  state: string;
  stage: string;
  approvals: {
    required: { group: string; count: number }[];
    given: { by: string; via: string; comment: string | null }[];
    refused: { by: string; reason: string }[];
  };
  environments: Record<string, { state: string; at: string | null }>;
}

describe('release pipeline on a real dev server, worker process and local target', () => {
  let stack: Stack;
  const run = (...args: string[]) => stack.run(args);
  const status = async (version: string) =>
    (await run('status', 'hello', version, '--json')).json as StatusJson;

  const waitStage = (version: string, stage: string) =>
    waitForRelease(stack.sg, version, (s) => s.stage === stage);

  const releaseToGate = async (version: string, commit = `c-${version}`) => {
    const r = await run(
      ...['release', 'hello', version, '--commit', commit, '--branch', 'main', '--actor', 'dave'],
      ...['--wait', 'staging', '--json'],
    );
    expect(r.code, r.stderr).toBe(0);
    expect((r.json as StatusJson).environments.staging!.state).toBe('succeeded');
    await waitStage(version, 'awaiting-approval');
  };

  const approveAndFinish = async (version: string, approvers = ['alice', 'bob']) => {
    for (const by of approvers) expect((await run('approve', 'hello', version, '--as', by)).code).toBe(0);
    for (let i = 0; i < 200; i++) {
      const s = await stack.sg.status('hello', version);
      if (s.stage === 'done') return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('release did not finish');
  };

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs v1 through staging, two approvals and production, with the Contract status JSON', async () => {
    await releaseToGate('1.0.0');
    expect(await getVersion(stack.ports.staging)).toBe('1.0.0');
    const approved = await run(
      'approve',
      'hello',
      '1.0.0',
      '--as',
      'alice',
      '--comment',
      'ship it',
      '--json',
    );
    expect(approved.code).toBe(0);
    expect(approved.json).toMatchObject({
      environment: 'production',
      met: false,
      tally: [{ group: 'team-leads', count: 2, have: 1 }],
    });
    const final = await approveAndFinish('1.0.0', ['bob']);
    expect(final.state).toBe('succeeded');
    expect(await getVersion(stack.ports.production)).toBe('1.0.0');
    const s = await status('1.0.0');
    expect(s).toMatchObject({
      app: 'hello',
      version: '1.0.0',
      commit: 'c-1.0.0',
      actor: 'dave',
      state: 'succeeded',
      stage: 'done',
    });
    expect(s.approvals.required).toEqual([{ group: 'team-leads', count: 2 }]);
    expect(s.approvals.given.map((g) => [g.by, g.via, g.comment])).toEqual([
      ['alice', 'cli', 'ship it'],
      ['bob', 'cli', null],
    ]);
    expect(s.approvals.refused).toEqual([]);
    expect(s.environments.staging!.state).toBe('succeeded');
    expect(s.environments.production!.state).toBe('succeeded');
  });

  it('refuses approvals by non-members (naming the groups), the actor, and a second approval by the same person', async () => {
    await releaseToGate('1.1.0');
    const outsider = await run('approve', 'hello', '1.1.0', '--as', 'mallory');
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toContain('team-leads');
    const self = await run('approve', 'hello', '1.1.0', '--as', 'dave');
    expect(self.code).toBe(3);
    // dave is not a team lead in this config, so add a self-approval case through a member below.
    expect((await run('approve', 'hello', '1.1.0', '--as', 'carol')).code).toBe(0);
    const again = await run('approve', 'hello', '1.1.0', '--as', 'carol');
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('already approved');
    const s = await status('1.1.0');
    expect(s.approvals.given.map((g) => g.by)).toEqual(['carol']);
    expect(s.approvals.refused.map((r) => r.by)).toEqual(['mallory', 'dave', 'carol']);
    expect((await run('approve', 'hello', '1.1.0', '--as', 'alice')).code).toBe(0);
    for (let i = 0; i < 200 && (await stack.sg.status('hello', '1.1.0')).stage !== 'done'; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await getVersion(stack.ports.production)).toBe('1.1.0');
  });

  it('refuses approval of a finished release and a second release of a succeeded version (exit 3)', async () => {
    const late = await run('approve', 'hello', '1.0.0', '--as', 'carol');
    expect(late.code).toBe(3);
    const again = await run(
      'release',
      'hello',
      '1.0.0',
      '--commit',
      'c-1.0.0',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('rollback');
  });

  it('attaches to a running release of the same version instead of starting another', async () => {
    await releaseToGate('1.4.0');
    const attach = await run(
      'release',
      'hello',
      '1.4.0',
      '--commit',
      'c-1.4.0',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(attach.code).toBe(0);
    expect(attach.stderr).toContain('Attached');
    expect(attach.stdout).toContain('awaiting-approval');
    const otherCommit = await run(
      'release',
      'hello',
      '1.4.0',
      '--commit',
      'different',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(otherCommit.code).toBe(3);
  });

  it('a rejected release ends rejected, and approving it afterwards is refused', async () => {
    const r = await run('reject', 'hello', '1.4.0', '--as', 'bob', '--reason', 'changelog missing', '--json');
    expect(r.code).toBe(0);
    for (let i = 0; i < 100 && (await stack.sg.status('hello', '1.4.0')).state === 'running'; i++)
      await new Promise((res) => setTimeout(res, 100));
    const s = await status('1.4.0');
    expect(s.state).toBe('rejected');
    expect((await run('approve', 'hello', '1.4.0', '--as', 'alice')).code).toBe(3);
    // A rejected version may be released again.
    await releaseToGate('1.4.0');
  });

  it('cancel stops a waiting release before its production deploy', async () => {
    const r = await run('cancel', 'hello', '1.4.0', '--as', 'dave', '--reason', 'wrong build');
    expect(r.code).toBe(0);
    for (let i = 0; i < 100 && (await stack.sg.status('hello', '1.4.0')).state === 'running'; i++)
      await new Promise((res) => setTimeout(res, 100));
    expect((await status('1.4.0')).state).toBe('cancelled');
    expect(await getVersion(stack.ports.production)).toBe('1.1.0');
  });

  it('a release that fails production verification is rolled back automatically and ends rolled-back', async () => {
    await releaseToGate('1.2.0-bad');
    expect(await getVersion(stack.ports.staging)).toBe('1.2.0-bad');
    const final = await approveAndFinish('1.2.0-bad');
    expect(final.state).toBe('rolled-back');
    expect(final.reason).toContain('/smoke');
    expect(await getVersion(stack.ports.production)).toBe('1.1.0');
    const history = (await run('history', 'hello', 'production', '--json')).json as {
      version: string;
      action: string;
      outcome: string;
      reason: string | null;
      fromVersion: string | null;
    }[];
    expect(history[0]).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      fromVersion: '1.2.0-bad',
      outcome: 'succeeded',
    });
    expect(history[0]!.reason).toContain('automatic');
    expect(history[1]).toMatchObject({ action: 'deploy', version: '1.2.0-bad', outcome: 'rolled-back' });
  });

  it('waiting on production with --wait exits 1 when the release ends rolled back', async () => {
    const started = run(
      'release',
      'hello',
      '1.3.0-bad',
      '--commit',
      'c',
      '--branch',
      'main',
      '--actor',
      'dave',
      '--wait',
      'production',
    );
    for (let i = 0; i < 200; i++) {
      const s = await stack.sg.status('hello', '1.3.0-bad').catch(() => null);
      if (s?.stage === 'awaiting-approval') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await run('approve', 'hello', '1.3.0-bad', '--as', 'alice');
    await run('approve', 'hello', '1.3.0-bad', '--as', 'carol');
    const r = await started;
    expect(r.code).toBe(1);
  });

  it('rolls back with and without --to, never to a failed version, and refuses what it cannot restore', async () => {
    const none = await run(
      'rollback',
      'hello',
      'production',
      '--as',
      'alice',
      '--reason',
      'latency up',
      '--wait',
      '--json',
    );
    expect(none.code, none.stderr + none.stdout).toBe(0);
    expect(none.json).toMatchObject({ from: '1.1.0', to: '1.0.0', outcome: 'succeeded' });
    expect(await getVersion(stack.ports.production)).toBe('1.0.0');
    const bad = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.2.0-bad',
      '--as',
      'alice',
      '--reason',
      'x',
    );
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('1.1.0');
    const never = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '9.9.9',
      '--as',
      'alice',
      '--reason',
      'x',
    );
    expect(never.code).toBe(3);
    const serving = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.0.0',
      '--as',
      'alice',
      '--reason',
      'x',
    );
    expect(serving.code).toBe(3);
    expect(serving.stderr).toContain('already serving');
    const outsider = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.1.0',
      '--as',
      'mallory',
      '--reason',
      'x',
    );
    expect(outsider.code).toBe(3);
    const noReason = await run('rollback', 'hello', 'production', '--to', '1.1.0', '--as', 'alice');
    expect(noReason.code).toBe(2);
    const to = await run(
      'rollback',
      'hello',
      'production',
      '--to',
      '1.1.0',
      '--as',
      'bob',
      '--reason',
      'fixed upstream',
      '--wait',
    );
    expect(to.code).toBe(0);
    expect(await getVersion(stack.ports.production)).toBe('1.1.0');
    const history = (await run('history', 'hello', 'production', '--json')).json as {
      action: string;
      version: string;
      actor: string;
      reason: string;
    }[];
    expect(history[0]).toMatchObject({
      action: 'rollback',
      version: '1.1.0',
      actor: 'bob',
      reason: 'fixed upstream',
    });
  });

  it('refuses bad input with exit 2 and starts nothing', async () => {
    expect(
      (await run('release', 'hello', '-1.0.0', '--commit', 'c', '--branch', 'main', '--actor', 'dave')).code,
    ).toBe(2);
    for (const version of ['1.0 .0', '$(touch /tmp/pwned)', '1.0;rm', 'x'.repeat(129), '`id`', '1.0.0\n']) {
      const r = await run(
        'release',
        'hello',
        version,
        '--commit',
        'c',
        '--branch',
        'main',
        '--actor',
        'dave',
      );
      expect(r.code, version).toBe(2);
      expect(r.stderr).toContain('version');
    }
    const login = await run(
      'release',
      'hello',
      '7.0.0',
      '--commit',
      'c',
      '--branch',
      'main',
      '--actor',
      'bad login!',
    );
    expect(login.code).toBe(2);
    expect((await run('approve', 'hello', '1.1.0', '--as', '-rf'))!.code).toBe(2);
    expect((await run('status', 'hello', '7.0.0')).code).toBe(3);
    const unknownApp = await run(
      '--config',
      stack.configFile,
      'release',
      'nope',
      '7.0.0',
      '--commit',
      'c',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(unknownApp.code).toBe(2);
    expect(unknownApp.stderr).toContain('unknown app "nope"');
    const unknownEnv = await run('--config', stack.configFile, 'history', 'hello', 'qa');
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toContain('unknown environment "qa"');
    // Without a config on the client, the release's admission refuses an unknown app.
    const admitted = await run(
      'release',
      'nope',
      '7.0.0',
      '--commit',
      'c',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(admitted.code).toBe(2);
    expect(admitted.stderr).toContain('unknown app');
  });

  it('refuses a branch the entry environment does not allow (exit 3)', async () => {
    const r = await run(
      'release',
      'hello',
      '8.0.0',
      '--commit',
      'c',
      '--branch',
      'feature/x',
      '--actor',
      'dave',
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('branch feature/x');
  });

  it('an invalid config is exit 2 with the file and field path, and nothing starts', async () => {
    const bad = path.join(stack.home, 'bad.yaml');
    const text = (await readFile(stack.configFile, 'utf8')).replace('count: 2', 'count: 0');
    await writeFile(bad, text);
    const r = await run(
      '--config',
      bad,
      'release',
      'hello',
      '9.0.0',
      '--commit',
      'c',
      '--branch',
      'main',
      '--actor',
      'dave',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${bad}: apps.hello.environments.production.approvals[0].count: expected a positive integer`,
    );
    expect((await run('status', 'hello', '9.0.0')).code).toBe(3);
  });

  it('exits 4 within 15 s naming the address when Temporal is unreachable', async () => {
    const port = await freePort();
    const r = await cli(['status', 'hello', '1.0.0', '--address', `127.0.0.1:${port}`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.ms).toBeLessThan(15_000);
  });

  it('writes every decision to a hash-chained audit log', async () => {
    const store = createJsonlAuditStore(path.join(stack.home, 'audit', 'audit.jsonl'));
    expect(await store.verify()).toMatchObject({ ok: true });
    const records = await store.read({ app: 'hello' });
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
