/**
 * Configuration removed under live state, on a real dev server, worker process and local target: the config
 * file is rewritten under the running worker (which reads it live). A release waiting at production when
 * production is removed ends after the grace; the environment, still serving, is rolled back and torn down by
 * people its last known config and the current groups both name; everyone else is refused and nothing changes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { eventually, getVersion, startStack, type App, type Stack } from '../helpers/fixture.js';

describe('configuration removed under live state (real worker, local target)', () => {
  let stack: Stack;
  let app: App;
  const records = () =>
    createJsonlAuditStore(path.join(stack.home, 'audit', 'audit.jsonl')).read({ app: app.name });
  /** Writes the config without `gone`'s production, with a short grace (and `team-leads` as given). */
  const removeProduction = async (teamLeads = ['alice', 'bob', 'carol']) => {
    await stack.writeConfig((c) => {
      (c as Record<string, unknown>).configRemovedGrace = '3s';
      c.groups['team-leads'] = teamLeads;
    });
    await app.writeConfig((c) => {
      delete (c.apps.hello.environments as Record<string, unknown>).production;
    });
  };

  beforeAll(async () => {
    stack = await startStack();
    app = await stack.addApp('gone');
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a release waiting at a removed environment holds, then ends cancelled; the environment is rolled back and torn down only by those allowed', async () => {
    await app.shipApproved('1.0.0');
    await app.shipApproved('1.1.0');
    await app.toGate('1.2.0');
    await removeProduction();

    // The approvals count (the release's snapshot); then the deploy gate finds production gone.
    await app.approve('1.2.0', 'alice', 'bob');
    const held = await app.waitFor('1.2.0', (s) => s.blockedBy === 'config' || s.state !== 'running');
    expect(held.state).toBe('running');
    expect(held.stage).toBe('awaiting-gate');
    const ended = await app.ended('1.2.0');
    expect(ended.state).toBe('cancelled');
    expect(ended.reason).toMatch(
      /^gone\/production was removed from the config \(first seen missing at \S+\) and did not come back within 3s$/,
    );
    const status = await app.run('status', 'gone', '1.2.0', '--json');
    expect(status.json).toMatchObject({ state: 'cancelled' });
    await eventually('the release-ended record', async () =>
      (await records()).find((r) => r.type === 'release-ended' && r.outcome === 'cancelled'),
    );
    // Production still serves what it served: removing config stops nothing by itself.
    expect(await app.serving()).toBe('1.1.0');

    // Refused, exit 3, nothing changes: someone in no group; dave, in a group that never could roll it back;
    // carol once she left team-leads (the group production last named).
    const mallory = await app.run('rollback', 'gone', 'production', '--as', 'mallory', '--reason', 'x');
    expect(mallory.code, mallory.stderr).toBe(3);
    expect(mallory.stderr).toContain('mallory may not roll back gone/production');
    const dave = await app.run('teardown', 'gone', 'production', '--as', 'dave', '--reason', 'x');
    expect(dave.code, dave.stderr).toBe(3);
    expect(dave.stderr).toContain('dave may not tear down gone/production');
    expect(dave.stderr).toContain('(team-leads)');
    await removeProduction(['alice', 'bob']);
    const carolLeft = await app.run('rollback', 'gone', 'production', '--as', 'carol', '--reason', 'x');
    expect(carolLeft.code, carolLeft.stderr).toBe(3);
    await removeProduction();
    expect(await app.serving()).toBe('1.1.0');
    expect((await app.environment())?.queue).toEqual([]);

    // Bad input and unknown names.
    const noReason = await app.run('teardown', 'gone', 'production', '--as', 'bob');
    expect(noReason.code, noReason.stderr).toBe(2);
    expect(noReason.stderr).toContain('--reason');
    const unknown = await app.run('teardown', 'gone', 'nowhere', '--as', 'bob', '--reason', 'x');
    expect(unknown.code, unknown.stderr).toBe(3);
    expect(unknown.stderr).toContain('cannot tear down gone/nowhere: nothing has been deployed there');
    const configured = await app.run('teardown', 'gone', 'staging', '--as', 'alice', '--reason', 'x');
    expect(configured.code, configured.stderr).toBe(3);
    expect(configured.stderr).toContain('it is still configured; remove it from the config first');
    expect(await app.serving('staging')).toBe('1.2.0');

    // A rollback works under the settings production last deployed with; --unconfigured skips the name check
    // against a --config that no longer names it.
    const rb = await app.run(
      ...['rollback', 'gone', 'production', '--as', 'carol', '--reason', 'unconfigured rollback'],
      ...['--unconfigured', '--config', stack.configFile, '--wait', '--json'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.json).toMatchObject({ from: '1.1.0', to: '1.0.0', outcome: 'succeeded' });
    expect(await app.serving()).toBe('1.0.0');

    // Teardown: production's proxy and processes stop; staging's keep serving.
    const td = await app.run(
      ...['teardown', 'gone', 'production', '--as', 'bob', '--reason', 'decommissioned', '--json'],
    );
    expect(td.code, td.stderr).toBe(0);
    expect(td.json).toMatchObject({ by: 'bob', version: '1.0.0', reason: 'decommissioned' });
    expect((td.json as { stopped: string }).stopped).toMatch(/^stopped [1-9]\d* local process/);
    await expect(getVersion(app.ports.production)).rejects.toThrow();
    expect(await app.serving('staging')).toBe('1.2.0');
    const env = await app.environment();
    expect(env?.tornDown).toMatchObject({ by: 'bob', version: '1.0.0' });
    expect(env?.current).toBeNull();
    await eventually('the teardown record', async () =>
      (await records()).find((r) => r.type === 'teardown' && r.env === 'production'),
    );
    const again = await app.run('teardown', 'gone', 'production', '--as', 'bob', '--reason', 'again');
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain('already torn down by bob');
  });
});
