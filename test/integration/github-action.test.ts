/**
 * The bundled GitHub Action, run exactly as the runner runs it: `node dist/index.js` in a workspace directory,
 * with INPUT_* variables (hyphens kept) for every input the step gives and every other input that has a
 * default in action.yml, GITHUB_* variables, and pre-created GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files.
 * Against a real dev server and a real worker process.
 *
 * The job's ID token comes as on a runner: the action asks ACTIONS_ID_TOKEN_REQUEST_URL with the Bearer
 * ACTIONS_ID_TOKEN_REQUEST_TOKEN, here a stand-in for the runner's token endpoint over real HTTP on loopback,
 * which has a stand-in for GitHub's OIDC issuer (its own key pair, discovery and JWKS over real HTTP; the
 * workers' ci.oidc.issuer) mint the token GitHub would give that job. Approvals are signed with each person's
 * real SSH key (the fixture's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/processes.js';
import { startStack, type ExampleConfig, type Stack } from '../helpers/fixture.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

interface ActionYml {
  inputs: Record<string, { default?: string | number }>;
}

interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  ms: number;
  /** The message of the `::error::` command, unescaped as the runner does. */
  error: string | undefined;
}

const ACTION = parse(await readFile(path.join(ROOT, 'action.yml'), 'utf8')) as ActionYml;
const DIST = path.join(ROOT, 'dist', 'index.js');

/** core writes `name<<delimiter\nvalue\ndelimiter\n` to GITHUB_OUTPUT. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2\n/gm)) out[m[1]!] = m[3]!;
  return out;
}

function unescapeCommand(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

/** What GitHub would put in a job's ID token: the workflow's repository, ref and commit, and who ran it. */
interface Job {
  repository: string;
  ref: string;
  actor: string;
  sha: string;
}

interface RunnerTokenEndpoint {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (with its query, as the runner's has). */
  url: string;
  /** A request token for one job: the endpoint mints that job's token for whoever presents it. */
  jobToken(job: Job): string;
  /** The requests it answered: the audience asked for, and the token minted. */
  requests: { audience: string | null; token: string }[];
  close(): Promise<void>;
}

/**
 * A stand-in for the runner's ID token endpoint, over real HTTP: `GET <url>&audience=<aud>` with
 * `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`, answered `{"value": "<JWT>"}` as the runner
 * does; the JWT is minted by the issuer stand-in for the job the request token belongs to.
 */
async function startRunnerTokenEndpoint(issuer: OidcIssuer): Promise<RunnerTokenEndpoint> {
  const jobs = new Map<string, Job>();
  const requests: RunnerTokenEndpoint['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://runner');
    const auth = String(req.headers.authorization ?? '');
    const job = auth.startsWith('Bearer ') ? jobs.get(auth.slice(7)) : undefined;
    if (req.method !== 'GET' || url.pathname !== '/idtoken' || !job) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"unauthorized"}');
      return;
    }
    const audience = url.searchParams.get('audience');
    void issuer.mint(issuer.githubClaims({ ...job }), audience ? { aud: audience } : {}).then((token) => {
      requests.push({ audience, token });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: token }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/idtoken?api-version=2.0`,
    jobToken(job) {
      const t = randomUUID();
      jobs.set(t, job);
      return t;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const GITHUB_SHA = '3f2a9c0d1e4b5a6978877665544332211f0e9d8c';

describe('the GitHub Action (dist/index.js) on a real dev server and worker', () => {
  let stack: Stack;
  let issuer: OidcIssuer;
  let runner: RunnerTokenEndpoint;
  const workspaces: string[] = [];

  /**
   * Runs the action as a step `with:` these inputs. `job` is what the job's ID token says (default: a push of
   * GITHUB_SHA to main of acme/<app> by dave-gh); null runs it in a job without `id-token: write`. `env` adds
   * or overrides GITHUB_* variables.
   */
  async function action(
    inputs: Record<string, string>,
    opts: {
      whileRunning?: (log: () => string) => Promise<void>;
      job?: Partial<Job> | null;
      env?: Record<string, string>;
    } = {},
  ): Promise<ActionRun> {
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'shipgate-gha-'));
    workspaces.push(workspace);
    const outputFile = path.join(workspace, 'github-output');
    const summaryFile = path.join(workspace, 'step-summary.md');
    await writeFile(outputFile, '');
    await writeFile(summaryFile, '');
    // A clean environment, as on a runner: nothing from this process (no TEMPORAL_*) leaks in.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: workspace,
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: workspace,
      RUNNER_TEMP: workspace,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_SHA,
      GITHUB_REF_NAME: 'main',
      GITHUB_ACTOR: 'dave-gh',
      ...opts.env,
    };
    if (opts.job !== null) {
      const job: Job = {
        repository: `acme/${inputs.app ?? 'hello'}`,
        ref: 'refs/heads/main',
        actor: 'dave-gh',
        sha: GITHUB_SHA,
        ...opts.job,
      };
      env.ACTIONS_ID_TOKEN_REQUEST_URL = runner.url;
      env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = runner.jobToken(job);
    }
    for (const [name, spec] of Object.entries(ACTION.inputs)) {
      const value = name in inputs ? inputs[name] : spec.default;
      if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = String(value);
    }
    const started = Date.now();
    const child = spawn(process.execPath, [DIST], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    await opts.whileRunning?.(() => stdout);
    const code = await exited;
    clearTimeout(timer);
    const errorLine = stdout.split('\n').find((l) => l.startsWith('::error::'));
    return {
      code,
      stdout,
      stderr,
      outputs: parseOutputs(await readFile(outputFile, 'utf8')),
      summary: await readFile(summaryFile, 'utf8'),
      ms: Date.now() - started,
      error: errorLine && unescapeCommand(errorLine.slice('::error::'.length)),
    };
  }

  /** Staging's smoke test checks /smoke, so a `-bad` version fails there. */
  const smokeOnStaging = (c: ExampleConfig) => {
    c.apps.hello.environments.staging.smoke = [
      { path: '/smoke', status: 200 },
      { path: '/version', json: { version: '{{version}}' } },
    ];
  };
  /**
   * Each test releases an app of its own, so no test depends on what an earlier one left behind; tokens from
   * acme/<app> may start it.
   */
  const newApp = (name: string) =>
    stack.addApp(name, (c) => {
      smokeOnStaging(c);
      (c.apps.hello as Record<string, unknown>).repository = `acme/${name}`;
    });
  const approve = (app: string, version: string, by: 'alice' | 'bob', comment?: string) =>
    stack.sg.approve({
      app,
      version,
      comment,
      prove: stack.prove(by),
    });
  const inputsFor = (app: string) => ({
    address: stack.server.address,
    'ui-url': stack.server.uiUrl,
    app,
  });

  async function releaseRuns(app: string): Promise<{ workflowId: string; runId: string }[]> {
    const runs = [];
    for await (const wf of stack.sg.client.workflow.list({ query: `WorkflowType = 'releaseWorkflow'` }))
      if (wf.workflowId.startsWith(`release/${app}/`))
        runs.push({ workflowId: wf.workflowId, runId: wf.runId });
    return runs;
  }

  /** Follows the release (the client's one follow loop) until it stands at `stage`. */
  async function waitStage(app: string, version: string, stage: string) {
    const { status } = await stack.sg.follow(app, version, {
      until: (s) => s.stage === stage,
      deadline: Date.now() + 60_000,
      intervalMs: 100,
    });
    expect(status.stage, `${app} ${version}: ${status.state} at ${status.stage}`).toBe(stage);
    return status;
  }

  /** Waits until the running action has logged `text` (checked as its output grows). */
  async function logged(log: () => string, text: string) {
    const deadline = Date.now() + 60_000;
    while (!log().includes(text)) {
      if (Date.now() > deadline) throw new Error(`the action never logged "${text}":\n${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Starts the release as a job would (wait-for none) and waits at production's gate. */
  async function startToGate(app: string, version: string) {
    const r = await action({ ...inputsFor(app), version, 'wait-for': 'none' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return waitStage(app, version, 'awaiting-approval');
  }

  /** Through the gate with alice's and bob's signed approvals, to production. */
  async function shipApproved(app: string, version: string) {
    await startToGate(app, version);
    await approve(app, version, 'alice');
    await approve(app, version, 'bob');
    expect((await waitStage(app, version, 'done')).state).toBe('succeeded');
  }

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    runner = await startRunnerTokenEndpoint(issuer);
    stack = await startStack((c) => {
      smokeOnStaging(c);
      Object.assign(c, {
        ci: { oidc: { issuer: issuer.issuer, audience: 'shipgate' } },
        // Each person's SSH key is added by the fixture.
        people: {
          alice: { github: 'alice-gh' },
          bob: { github: 'bob-gh' },
          carol: { github: 'carol-gh' },
          dave: { github: 'dave-gh' },
        },
      });
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await runner?.close();
    await issuer?.close();
    for (const w of workspaces) await rm(w, { recursive: true, force: true });
  });

  it('fails naming a missing app or version, and starts nothing', async () => {
    const noApp = await action({ address: stack.server.address, version: '1.0.0' });
    expect(noApp.code).toBe(2);
    expect(noApp.error).toBe('shipgate: Input required and not supplied: app');
    const noVersion = await action(inputsFor('hello'));
    expect(noVersion.code).toBe(2);
    expect(noVersion.error).toBe('shipgate: Input required and not supplied: version');
    expect(noVersion.summary).toContain('Input required and not supplied: version');
    expect(noVersion.outputs).toEqual({});
    expect(await releaseRuns('hello')).toEqual([]);
  });

  it('refuses an injected version with the CLI message, and starts nothing', async () => {
    for (const version of ['1.0.0; rm -rf /', '$(id)']) {
      const r = await action({ ...inputsFor('hello'), version });
      expect(r.code).toBe(2);
      const cli = await stack.run([
        'release',
        'hello',
        version,
        '--commit',
        'c',
        '--branch',
        'main',
        '--actor',
        'dave',
      ]);
      expect(cli.code).toBe(2);
      // The same message, word for word, as the CLI's error line.
      expect(r.error).toBe(cli.stderr.trim());
      expect(r.error).toMatch(/^shipgate: version: ".*" is not a valid version/);
      expect(r.stdout).not.toMatch(/uid=\d+/);
    }
    expect(await releaseRuns('hello')).toEqual([]);
  });

  it('starts a release with the job’s ID token as proof and succeeds once staging is done, while the release waits for approval', async () => {
    const app = await newApp('gha-start');
    const minted = runner.requests.length;
    const r = await action({ ...inputsFor(app.name), version: '1.0.0' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toContain(
      `Started release ${app.name} 1.0.0 (release/${app.name}/1.0.0) for commit ${GITHUB_SHA} on main as dave (GitHub dave-gh in acme/${app.name}, from the job's ID token)`,
    );
    // One token, for the workers' audience, masked before anything could print it.
    const [asked, ...more] = runner.requests.slice(minted);
    expect(more).toEqual([]);
    expect(asked!.audience).toBe('shipgate');
    const showing = `${r.stdout}\n${r.stderr}\n${r.summary}`
      .split('\n')
      .filter((l) => l.includes(asked!.token));
    expect(showing.length).toBeGreaterThan(0);
    for (const line of showing) expect(line).toBe(`::add-mask::${asked!.token}`);
    expect(r.stdout).toMatch(/stage: (building|deploying-staging|smoke-staging)/);
    expect(r.stdout).toContain('staging: succeeded');
    expect(r.outputs['release-id']).toBe(`release/${app.name}/1.0.0`);
    expect(r.outputs.state).toBe('running');
    expect(r.outputs.stage).toBeTruthy();

    const runs = await releaseRuns(app.name);
    expect(runs).toHaveLength(1);
    const s = await waitStage(app.name, '1.0.0', 'awaiting-approval');
    expect(s.commit).toBe(GITHUB_SHA);
    expect(s.branch).toBe('main');
    expect(s.actor).toBe('dave');
    expect(s.startProof).toMatchObject({ login: 'dave', via: 'github-oidc' });

    expect(r.summary).toContain(`### ✅ shipgate: ${app.name} 1.0.0`);
    expect(r.summary).toContain('| staging | ✅ succeeded |');
    expect(r.summary).toContain('| production |');
    const link = `${stack.server.uiUrl}/namespaces/default/workflows/release%2F${app.name}%2F1.0.0/${runs[0]!.runId}/history`;
    expect(r.summary).toContain(`](${link})`);
  });

  it('attaches on a re-run instead of starting a second release', async () => {
    const app = await newApp('gha-attach');
    await startToGate(app.name, '1.0.0');
    const before = await releaseRuns(app.name);
    expect(before).toHaveLength(1);
    const r = await action({ ...inputsFor(app.name), version: '1.0.0' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `Attached to the running release ${app.name} 1.0.0 (release/${app.name}/1.0.0), started by dave`,
    );
    expect(r.outputs).toMatchObject({
      'release-id': `release/${app.name}/1.0.0`,
      state: 'running',
      stage: 'awaiting-approval',
    });
    expect(await releaseRuns(app.name)).toEqual(before);
  });

  it('fails when the timeout passes, and leaves the release running', async () => {
    const app = await newApp('gha-timeout');
    await startToGate(app.name, '1.0.0');
    const r = await action({
      ...inputsFor(app.name),
      version: '1.0.0',
      'wait-for': 'production',
      'timeout-minutes': '0.05',
    });
    expect(r.code).toBe(1);
    expect(r.error).toMatch(
      new RegExp(
        `^shipgate: timed out after 0\\.05 min waiting for production; release ${app.name} 1\\.0\\.0 is still running at stage awaiting-approval\\. The timeout does not cancel the release`,
      ),
    );
    expect(r.outputs).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
    expect(r.summary).toContain(`### ⏱️ shipgate: ${app.name} 1.0.0`);
    expect((await app.status('1.0.0')).state).toBe('running');
  });

  it('waits for production through the approvals, logging each change', async () => {
    const app = await newApp('gha-approvals');
    await startToGate(app.name, '1.0.0');
    const r = await action(
      { ...inputsFor(app.name), version: '1.0.0', 'wait-for': 'production', 'timeout-minutes': '2' },
      {
        async whileRunning(log) {
          // Approve only once the action follows the release, so it sees every change.
          await logged(log, `Attached to the running release ${app.name} 1.0.0`);
          for (const by of ['alice', 'bob'] as const) await approve(app.name, '1.0.0', by, `ok from ${by}`);
        },
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs).toMatchObject({ state: 'succeeded', stage: 'done' });
    expect(r.stdout).toContain('production needs approvals: 2 of team-leads');
    expect(r.stdout).toContain('approved by alice via ssh');
    expect(r.stdout).toContain('approved by bob via ssh');
    expect(r.stdout).toContain('production: succeeded');
    expect(r.summary).toContain('| production | ✅ succeeded |');
    expect(r.summary).toContain('| alice | ssh |');
    expect(r.summary).toContain('ok from bob');
  });

  it('reports a re-run after the release succeeded as success, starting nothing', async () => {
    const app = await newApp('gha-rerun');
    await shipApproved(app.name, '1.0.0');
    const before = await releaseRuns(app.name);
    const r = await action({ ...inputsFor(app.name), version: '1.0.0' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`::notice::${app.name} 1\\.0\\.0 was already released successfully`));
    expect(r.outputs).toMatchObject({
      'release-id': `release/${app.name}/1.0.0`,
      state: 'succeeded',
      stage: 'done',
    });
    expect(await releaseRuns(app.name)).toEqual(before);
  });

  it('fails the job with the state when the release fails', async () => {
    const app = await newApp('gha-fails');
    // Staging serves 1.0.0 first, so the failed version has something to roll back to.
    await startToGate(app.name, '1.0.0');
    const r = await action({ ...inputsFor(app.name), version: '1.2.0-bad' });
    expect(r.code).toBe(1);
    expect(r.error).toMatch(
      new RegExp(`^shipgate: release ${app.name} 1\\.2\\.0-bad ended failed at stage `),
    );
    expect(r.outputs).toMatchObject({ 'release-id': `release/${app.name}/1.2.0-bad`, state: 'failed' });
    expect(r.summary).toContain(`### ❌ shipgate: ${app.name} 1.2.0-bad`);
    // Staging's previous version (1.0.0) is restored automatically, so staging reads rolled-back.
    expect(r.summary).toMatch(/\| staging \| (❌ failed|↩️ rolled-back) \|/);
    expect((await app.status('1.2.0-bad')).state).toBe('failed');
  });

  it('returns at once with wait-for none; a rejection while following fails the job, and a reason cannot inject workflow commands', async () => {
    // Newlines are refused in reasons; a line separator is not a control character, so it is the way left.
    const app = await newApp('gha-reject');
    const started = await action({ ...inputsFor(app.name), version: '1.3.0', 'wait-for': 'none' });
    expect(started.code, started.stdout + started.stderr).toBe(0);
    expect(started.outputs).toMatchObject({ 'release-id': `release/${app.name}/1.3.0`, state: 'running' });

    const reason = 'not today\u2028::set-output name=state::hacked\u2028::error::injected';
    const r = await action(
      { ...inputsFor(app.name), version: '1.3.0', 'wait-for': 'production', 'timeout-minutes': '2' },
      {
        async whileRunning() {
          await waitStage(app.name, '1.3.0', 'awaiting-approval');
          await stack.sg.reject({
            app: app.name,
            version: '1.3.0',
            reason,
            prove: stack.prove('alice'),
          });
        },
      },
    );
    expect(r.code).toBe(1);
    expect(r.error).toMatch(new RegExp(`^shipgate: release ${app.name} 1\\.3\\.0 ended rejected`));
    expect(r.outputs).toMatchObject({ state: 'rejected' });
    // The reason is logged and reported, but never on a line of its own, where the runner would obey it.
    expect(r.stdout).toContain('not today');
    const injected = r.stdout.split('\n').filter((l) => /^::(set-output|error::injected)/.test(l));
    expect(injected).toEqual([]);
    expect(r.summary).not.toMatch(/^::/m);
  });

  it('releases as the token says, whatever GITHUB_REF_NAME, GITHUB_ACTOR and the deprecated branch, actor and commit inputs claim', async () => {
    const app = await newApp('gha-claims');
    const sha = 'b'.repeat(40);
    const r = await action(
      {
        ...inputsFor(app.name),
        version: '1.6.0',
        'wait-for': 'none',
        branch: 'feature/evil',
        actor: 'alice',
        commit: 'c'.repeat(40),
      },
      {
        job: { ref: 'refs/heads/main', actor: 'carol-gh', sha },
        env: { GITHUB_REF_NAME: 'feature/evil', GITHUB_ACTOR: 'alice-gh', GITHUB_SHA: 'd'.repeat(40) },
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const warnings = r.stdout.split('\n').filter((l) => l.startsWith('::warning::'));
    expect(warnings).toEqual([
      `::warning::the commit input is deprecated and ignored (given: "${'c'.repeat(40)}"); the release's commit comes from the job's GitHub Actions ID token: ${sha}`,
      `::warning::the branch input is deprecated and ignored (given: "feature/evil"); the release's branch comes from the job's GitHub Actions ID token: main (refs/heads/main)`,
      `::warning::the actor input is deprecated and ignored (given: "alice"); the release's actor comes from the job's GitHub Actions ID token: carol-gh`,
    ]);
    const s = await app.status('1.6.0');
    expect({ commit: s.commit, branch: s.branch, actor: s.actor }).toEqual({
      commit: sha,
      branch: 'main',
      actor: 'carol',
    });
    // carol started it, so she may not approve it; nothing the job claimed made it alice's or dave's.
    await waitStage(app.name, '1.6.0', 'awaiting-approval');
  });

  it('fails with exit 3 when the token is for a branch the environments do not allow, whatever the inputs say', async () => {
    const app = await newApp('gha-branch');
    const r = await action(
      { ...inputsFor(app.name), version: '1.5.0', branch: 'main', actor: 'dave' },
      { job: { ref: 'refs/heads/feature/evil' }, env: { GITHUB_REF_NAME: 'main' } },
    );
    expect(r.code).toBe(3);
    expect(r.error).toMatch(/^shipgate: .*feature\/evil/);
    // The start was refused before anything ran: one run, failed, with the refusal, nothing built or deployed.
    expect(await releaseRuns(app.name)).toHaveLength(1);
    const s = await app.status('1.5.0');
    expect(s).toMatchObject({
      state: 'failed',
      stage: 'done',
      reason: 'branch feature/evil may not release to staging (allowed: main)',
    });
    expect(Object.values(s.environments).filter((e) => e.state !== 'pending')).toEqual([]);
  });

  it('fails the step with exit 3 when the token is for another repository, or its actor is linked to no login', async () => {
    const app = await newApp('gha-repo');
    const other = await action(
      { ...inputsFor(app.name), version: '1.7.0' },
      { job: { repository: 'acme/other' } },
    );
    expect(other.code).toBe(3);
    expect(other.error).toBe(
      `shipgate: the token is from repository acme/other; apps.${app.name}.repository is acme/${app.name}`,
    );
    const stranger = await action(
      { ...inputsFor(app.name), version: '1.7.1' },
      { job: { actor: 'mallory-gh' } },
    );
    expect(stranger.code).toBe(3);
    expect(stranger.error).toBe(
      'shipgate: GitHub user mallory-gh is not linked to a login (people.<login>.github)',
    );
    // Refused before anything ran: each run failed with the refusal, started by nobody, nothing deployed.
    for (const [v, error] of [
      ['1.7.0', other.error],
      ['1.7.1', stranger.error],
    ] as const) {
      const s = await app.status(v);
      expect(s, v).toMatchObject({
        state: 'failed',
        stage: 'done',
        reason: error!.replace(/^shipgate: /, ''),
        actor: '',
      });
      expect(s.startProof, v).toBeUndefined();
      expect(Object.values(s.environments).filter((e) => e.state !== 'pending')).toEqual([]);
    }
  });

  it('fails with exit 2 naming id-token: write in a job that cannot request a token, and connects to nothing', async () => {
    const app = await newApp('gha-no-token');
    const r = await action({ ...inputsFor(app.name), version: '1.8.0' }, { job: null });
    expect(r.code).toBe(2);
    expect(r.error).toMatch(
      /^shipgate: this job cannot request a GitHub Actions ID token .*permissions: id-token: write/,
    );
    expect(r.outputs).toEqual({});
    expect(await releaseRuns(app.name)).toEqual([]);
  });

  it('masks the API key, and fails within 15 s naming the address when Temporal cannot be reached', async () => {
    const key = 'sgk-test-0123456789abcdef';
    // An API key turns TLS on, which the plain-text dev server does not speak.
    const r = await action({ ...inputsFor('hello'), version: '1.4.0', 'api-key': key });
    expect(r.code).toBe(4);
    expect(r.error).toContain(`shipgate: Temporal is unreachable at ${stack.server.address}`);
    expect(r.ms).toBeLessThan(15_000);
    const lines = (r.stdout + r.stderr).split('\n');
    expect(lines[0]).toBe(`::add-mask::${key}`);
    expect(lines.slice(1).join('\n')).not.toContain(key);
  });
});
