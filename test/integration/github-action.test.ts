/**
 * The bundled GitHub Action, run exactly as the runner runs it: `node dist/index.js` in a workspace directory,
 * with INPUT_* variables (hyphens kept) for every input the step gives and every other input that has a
 * default in action.yml, GITHUB_* variables, and pre-created GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files.
 * Against a real dev server and a real worker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/processes.js';
import { startStack, type ExampleConfig, type Stack } from '../helpers/fixture.js';

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

describe('the GitHub Action (dist/index.js) on a real dev server and worker', () => {
  let stack: Stack;
  const workspaces: string[] = [];

  /** Runs the action as a step `with:` these inputs. */
  async function action(
    inputs: Record<string, string>,
    opts: { whileRunning?: (log: () => string) => Promise<void> } = {},
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
      GITHUB_SHA: '3f2a9c0d1e4b5a6978877665544332211f0e9d8c',
      GITHUB_REF_NAME: 'main',
      GITHUB_ACTOR: 'dave',
    };
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
  /** Each test releases an app of its own, so no test depends on what an earlier one left behind. */
  const newApp = (name: string) => stack.addApp(name, smokeOnStaging);
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

  /** Starts the release the way a first run of the job does (commit from GITHUB_SHA) and waits at the gate. */
  async function startToGate(app: string, version: string) {
    const r = await action({ ...inputsFor(app), version, 'wait-for': 'none' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return waitStage(app, version, 'awaiting-approval');
  }

  /** Waits until the running action has logged `text` (checked as its output grows). */
  async function logged(log: () => string, text: string) {
    const deadline = Date.now() + 60_000;
    while (!log().includes(text)) {
      if (Date.now() > deadline) throw new Error(`the action never logged "${text}":\n${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    stack = await startStack(smokeOnStaging);
  });
  afterAll(async () => {
    await stack?.stop();
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

  it('starts a release and succeeds once staging is done, while the release waits for approval', async () => {
    const app = await newApp('gha-start');
    const r = await action({ ...inputsFor(app.name), version: '1.0.0' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toContain(`Started release ${app.name} 1.0.0 (release/${app.name}/1.0.0)`);
    expect(r.stdout).toMatch(/stage: (building|deploying-staging|smoke-staging)/);
    expect(r.stdout).toContain('staging: succeeded');
    expect(r.outputs['release-id']).toBe(`release/${app.name}/1.0.0`);
    expect(r.outputs.state).toBe('running');
    expect(r.outputs.stage).toBeTruthy();

    const runs = await releaseRuns(app.name);
    expect(runs).toHaveLength(1);
    const s = await waitStage(app.name, '1.0.0', 'awaiting-approval');
    expect(s.commit).toBe('3f2a9c0d1e4b5a6978877665544332211f0e9d8c');
    expect(s.branch).toBe('main');
    expect(s.actor).toBe('dave');

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
          for (const by of ['alice', 'bob'])
            expect(
              (await app.run('approve', app.name, '1.0.0', '--as', by, '--comment', `ok from ${by}`)).code,
            ).toBe(0);
        },
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs).toMatchObject({ state: 'succeeded', stage: 'done' });
    expect(r.stdout).toContain('production needs approvals: 2 of team-leads');
    expect(r.stdout).toContain('approved by alice via cli');
    expect(r.stdout).toContain('approved by bob via cli');
    expect(r.stdout).toContain('production: succeeded');
    expect(r.summary).toContain('| production | ✅ succeeded |');
    expect(r.summary).toContain('| alice | cli |');
    expect(r.summary).toContain('ok from bob');
  });

  it('reports a re-run after the release succeeded as success, starting nothing', async () => {
    const app = await newApp('gha-rerun');
    await app.shipApproved('1.0.0');
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
    await app.toGate('1.0.0');
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
    const app = await newApp('gha-reject');
    const started = await action({ ...inputsFor(app.name), version: '1.3.0', 'wait-for': 'none' });
    expect(started.code, started.stdout + started.stderr).toBe(0);
    expect(started.outputs).toMatchObject({ 'release-id': `release/${app.name}/1.3.0`, state: 'running' });

    const reason = 'not today\n::set-output name=state::hacked\n::error::injected';
    const r = await action(
      { ...inputsFor(app.name), version: '1.3.0', 'wait-for': 'production', 'timeout-minutes': '2' },
      {
        async whileRunning() {
          await waitStage(app.name, '1.3.0', 'awaiting-approval');
          expect((await app.run('reject', app.name, '1.3.0', '--as', 'alice', '--reason', reason)).code).toBe(
            0,
          );
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

  it('fails with exit 3 and the policy reason when the branch is not allowed', async () => {
    const app = await newApp('gha-branch');
    const r = await action({ ...inputsFor(app.name), version: '1.5.0', branch: 'feature/x' });
    expect(r.code).toBe(3);
    expect(r.error).toMatch(/^shipgate: .*feature\/x/);
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
