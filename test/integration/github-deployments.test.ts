/**
 * GitHub Deployments kept in step by a real worker process on a real dev server, against the GitHub API stand-in
 * on loopback (test/helpers/github-api-standin.ts), which validates every request against GitHub's published
 * OpenAPI description. Releases start as the Action starts them: with a GitHub Actions ID token minted by a local
 * issuer (test/helpers/oidc-issuer.ts), verified by the worker; the token for GitHub comes from the worker's
 * environment (github.token.env).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { eventually, startStack, type App, type ExampleConfig, type Stack } from '../helpers/fixture.js';
import { startGithubApiStandin, type GithubApiStandin } from '../helpers/github-api-standin.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

const TOKEN = 'github_pat_11STANDINwriteTOKEN0123456789';
const READ_TOKEN = 'github_pat_11STANDINreadTOKEN0123456789';
const PUBLIC_URL = 'https://deploys.example.com';
const sha = (c: string) => c.repeat(40);

describe('GitHub Deployments kept in step by the worker (GitHub API stand-in on loopback)', () => {
  let stack: Stack;
  let gh: GithubApiStandin;
  let issuer: OidcIssuer;
  let raw: Client;
  let tokenEnv = 'GH_DEPLOY_TOKEN';

  const base = (c: ExampleConfig) => {
    const config = c as ExampleConfig & Record<string, unknown>;
    config.ci = { oidc: { issuer: issuer.issuer } };
    config.people = { dave: { github: 'dave-gh' } };
    config.github = { api: gh.url, token: { env: tokenEnv } };
    config.ui = { publicUrl: PUBLIC_URL };
  };

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    gh = await startGithubApiStandin();
    gh.tokens.set(TOKEN, 'write');
    gh.tokens.set(READ_TOKEN, 'read');
    stack = await startStack(base, { workerEnv: { GH_DEPLOY_TOKEN: TOKEN, GH_READ_TOKEN: READ_TOKEN } });
    raw = new Client({ connection: await Connection.connect({ address: stack.server.address }) });
  }, 120_000);
  afterAll(async () => {
    await raw?.connection.close().catch(() => undefined);
    await stack?.stop();
    await gh?.close();
    await issuer?.close();
  });

  /** An app of its own whose repository is acme/<name>; production needs no approvals, staging has a URL. */
  const addApp = async (name: string) => {
    gh.repositories.add(`acme/${name}`);
    return stack.addApp(name, (c) => {
      const app = c.apps.hello as ExampleConfig['apps']['hello'] & { repository?: string };
      app.repository = `acme/${name}`;
      delete app.environments.production.approvals;
      app.environments.staging.url = `https://staging.${name}.example.com`;
      app.environments.production.githubEnvironment = 'live';
    });
  };

  /** Starts a release as the Action does: the job's ID token proves repository, ref, commit and actor. */
  const ciRelease = async (app: App, version: string, commit: string) => {
    const token = await issuer.mint(
      issuer.githubClaims({ repository: `acme/${app.name}`, actor: 'dave-gh', sha: commit }),
    );
    await stack.sg.release({
      app: app.name,
      version,
      commit,
      branch: 'main',
      prove: () => Promise.resolve({ kind: 'github-oidc', token }),
    });
    return app.ended(version);
  };

  const states = (app: App, env: string) =>
    gh.deploymentsOf(`acme/${app.name}`, env).map((d) => ({
      version: (d.payload.shipgate as { version: string }).version,
      sha: d.sha,
      states: d.statuses.map((s) => s.state),
    }));

  /** Waits until the stand-in holds exactly these deployments and statuses for the environment. */
  const settled = (app: App, env: string, want: ReturnType<typeof states>) =>
    eventually(`${app.name} ${env} on GitHub is ${JSON.stringify(want)}`, async () => {
      const now = states(app, env);
      return JSON.stringify(now) === JSON.stringify(want) ? now : undefined;
    });

  const notices = (repository: string) =>
    stack.worker
      .logs()
      .split('\n')
      .filter((l) => l.includes(`GitHub deployments for ${repository}:`));

  it('statuses in order per environment, inactive for the replaced deployment, URLs; a rollback deploys the restored commit; CLI releases are not shown', async () => {
    const app = await addApp('gh-flow');
    expect((await ciRelease(app, '1.0.0', sha('a'))).state).toBe('succeeded');
    expect((await ciRelease(app, '1.1.0', sha('b'))).state).toBe('succeeded');
    for (const env of ['staging', 'live'])
      await settled(app, env, [
        { version: '1.0.0', sha: sha('a'), states: ['in_progress', 'success', 'inactive'] },
        { version: '1.1.0', sha: sha('b'), states: ['in_progress', 'success'] },
      ]);
    const [staging1] = gh.deploymentsOf(`acme/${app.name}`, 'staging');
    expect(staging1).toMatchObject({
      ref: sha('a'),
      production_environment: false,
      transient_environment: false,
    });
    expect(staging1!.payload.shipgate).toMatchObject({ releaseId: `release/${app.name}/1.0.0` });
    expect(staging1!.statuses[1]).toMatchObject({
      environment_url: `https://staging.${app.name}.example.com`,
      log_url: `${PUBLIC_URL}/?app=${app.name}&env=staging`,
    });
    expect(gh.deploymentsOf(`acme/${app.name}`, 'live')[0]?.production_environment).toBe(true);

    // A rollback of production restores 1.0.0: a deployment of its commit, and 1.1.0's becomes inactive.
    const r = await app.run(
      'rollback',
      app.name,
      'production',
      '--as',
      'alice',
      '--reason',
      'latency',
      '--wait',
    );
    expect(r.code, r.stderr).toBe(0);
    await settled(app, 'live', [
      { version: '1.0.0', sha: sha('a'), states: ['in_progress', 'success', 'inactive'] },
      { version: '1.1.0', sha: sha('b'), states: ['in_progress', 'success', 'inactive'] },
      { version: '1.0.0', sha: sha('a'), states: ['in_progress', 'success'] },
    ]);
    const rollbackEntry = (await app.ledger()).at(-1)!;
    expect(rollbackEntry.action).toBe('rollback');
    expect(gh.deploymentsOf(`acme/${app.name}`, 'live')[2]!.payload.shipgate).toMatchObject({
      opId: rollbackEntry.opId,
    });

    // A release from the CLI is not GitHub's to show: no deployment of it, and the one it replaced goes inactive.
    await app.ship('1.2.0');
    await settled(app, 'live', [
      { version: '1.0.0', sha: sha('a'), states: ['in_progress', 'success', 'inactive'] },
      { version: '1.1.0', sha: sha('b'), states: ['in_progress', 'success', 'inactive'] },
      { version: '1.0.0', sha: sha('a'), states: ['in_progress', 'success', 'inactive'] },
    ]);

    // Every request validated against GitHub's description, all with the token from the worker's environment.
    expect(gh.violations).toEqual([]);
    const mine = gh.requests.filter((q) => q.url.includes(`/acme/${app.name}/`));
    expect(mine.every((q) => q.token === TOKEN)).toBe(true);
  });

  it('a deploy that fails verification: failure with the reason, then the automatic rollback as a deployment of the restored commit', async () => {
    const app = await addApp('gh-auto');
    expect((await ciRelease(app, '1.0.0', sha('1'))).state).toBe('succeeded');
    // 1.1.0-bad passes staging (which checks only /version) and fails production's /smoke.
    expect((await ciRelease(app, '1.1.0-bad', sha('2'))).state).toBe('rolled-back');
    await settled(app, 'live', [
      { version: '1.0.0', sha: sha('1'), states: ['in_progress', 'success', 'inactive'] },
      { version: '1.1.0-bad', sha: sha('2'), states: ['in_progress', 'failure'] },
      { version: '1.0.0', sha: sha('1'), states: ['in_progress', 'success'] },
    ]);
    const failed = gh.deploymentsOf(`acme/${app.name}`, 'live')[1]!;
    expect(failed.statuses[1]!.description).toMatch(/^1\.1\.0-bad failed: .*500/);
    expect(gh.violations).toEqual([]);
  });

  it('a worker killed while a status is on its way: the retry finds the deployment, never a second one', async () => {
    const app = await addApp('gh-crash');
    const hold = gh.hold(
      (q) => q.operationId === 'repos/create-deployment-status' && q.url.includes('gh-crash'),
    );
    const token = await issuer.mint(
      issuer.githubClaims({ repository: `acme/${app.name}`, actor: 'dave-gh', sha: sha('c') }),
    );
    await stack.sg.release({
      app: app.name,
      version: '1.0.0',
      commit: sha('c'),
      branch: 'main',
      prove: () => Promise.resolve({ kind: 'github-oidc', token }),
    });
    await hold.held;
    // The deployment exists; the activity that made it has not finished: the worker dies now.
    expect(gh.deploymentsOf(`acme/${app.name}`, 'staging')).toHaveLength(1);
    await stack.worker.kill();
    hold.release();
    await stack.restartWorker();
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
    await settled(app, 'live', [{ version: '1.0.0', sha: sha('c'), states: ['in_progress', 'success'] }]);
    const staging = await eventually('staging settled', async () => {
      const s = states(app, 'staging');
      return s[0]?.states.includes('success') ? s : undefined;
    });
    // One deployment; its in_progress status was posted before the crash and again by the retry.
    expect(staging).toHaveLength(1);
    expect(staging[0]!.states.filter((s) => s !== 'in_progress')).toEqual(['success']);
    const listed = gh.requests.filter(
      (q) =>
        q.operationId === 'repos/list-deployments' &&
        q.url.includes('gh-crash') &&
        q.query.environment === 'staging',
    );
    expect(listed.length).toBeGreaterThanOrEqual(2);
    expect(gh.violations).toEqual([]);
  }, 180_000);

  it('GitHub down (500): the release succeeds meanwhile, one notice, and the token is in no log, history or file', async () => {
    const app = await addApp('gh-down');
    gh.setOutage('error');
    try {
      expect((await ciRelease(app, '1.0.0', sha('d'))).state).toBe('succeeded');
      // Every transition is tried (three times each) before the outage is told: two per environment.
      await eventually('every try made', async () => {
        const n = gh.requests.filter((q) => q.url.includes('/acme/gh-down/')).length;
        return n >= 12 ? n : undefined;
      });
      const told = await eventually('the outage told', async () => {
        const n = notices('acme/gh-down');
        return n.length > 0 ? n : undefined;
      });
      expect(told).toHaveLength(1);
      expect(told[0]).toContain(
        'GitHub deployments for acme/gh-down: GitHub did not answer (500 Server Error) after 3 tries; releases go on',
      );
    } finally {
      gh.setOutage('none');
    }
    // Never the token: not in the worker's logs, nor in any workflow's history, nor in any file shipgate wrote.
    expect(stack.worker.logs()).not.toContain(TOKEN);
    for (const id of [`release/${app.name}/1.0.0`, `env/${app.name}/staging`, `env/${app.name}/production`]) {
      const history = JSON.stringify(await raw.workflow.getHandle(id).fetchHistory());
      expect(history).not.toContain(TOKEN);
      if (id.startsWith('env/')) expect(history).toContain('syncGithubDeployment');
    }
    for (const file of await filesUnder(stack.home))
      expect(await readFile(file, 'utf8').catch(() => ''), file).not.toContain(TOKEN);
  }, 180_000);

  it('GitHub hanging: the release succeeds before GitHub has answered anything', async () => {
    const app = await addApp('gh-hang');
    gh.setOutage('hang');
    try {
      expect((await ciRelease(app, '1.0.0', sha('e'))).state).toBe('succeeded');
      const mine = gh.requests.filter((q) => q.url.includes('/acme/gh-hang/'));
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((q) => q.status === 0)).toBe(true);
    } finally {
      gh.setOutage('none');
    }
  }, 180_000);

  it('a token without deployments: write: one clear notice, the release unaffected', async () => {
    tokenEnv = 'GH_READ_TOKEN';
    await stack.writeConfig(base);
    try {
      const app = await addApp('gh-readonly');
      expect((await ciRelease(app, '1.0.0', sha('f'))).state).toBe('succeeded');
      await eventually('each transition refused', async () => {
        const refused = gh.requests.filter(
          (q) => q.url.includes('/acme/gh-readonly/') && q.method === 'POST' && q.status === 403,
        );
        return refused.length >= 4 ? refused : undefined;
      });
      const told = notices('acme/gh-readonly');
      expect(told).toHaveLength(1);
      expect(told[0]).toContain(
        'GitHub deployments for acme/gh-readonly: the token may not create deployments (403 Resource not accessible by integration); it needs deployments: write; releases go on',
      );
      expect(gh.deploymentsOf('acme/gh-readonly', 'staging')).toEqual([]);
      expect(stack.worker.logs()).not.toContain(READ_TOKEN);
    } finally {
      tokenEnv = 'GH_DEPLOY_TOKEN';
      await stack.writeConfig(base);
    }
  }, 180_000);
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && !e.parentPath.includes('artifacts')) out.push(path.join(e.parentPath, e.name));
  return out;
}
