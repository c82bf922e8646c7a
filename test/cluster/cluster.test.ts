import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporalCliPath } from '../../src/temporal/binaries.js';
import { getVersion, waitForRelease } from '../helpers/fixture.js';
import { cli, startWorker } from '../helpers/processes.js';
import { startClusterStack, type ClusterStack } from './cluster-stack.js';

/**
 * The cluster tier: the same pipeline as test/integration, on Temporal built from go.temporal.io/server running on
 * PostgreSQL (persistence and SQL visibility), with three shipgate workers sharing the work, as production runs.
 */
let stack: ClusterStack;

beforeAll(async () => {
  stack = await startClusterStack({ workers: 3, apps: ['hello', 'rollme', 'sup'] });
}, 1_800_000);

afterAll(async () => {
  await stack?.stop();
});

interface StatusJson {
  state: string;
  stage: string;
  approvals: { given: { by: string }[]; refused: { by: string; reason: string }[] };
  environments: Record<string, { state: string }>;
}

const releaseArgs = (app: string, version: string, ...extra: string[]) => [
  ...['release', app, version, '--commit', `c-${version}`, '--branch', 'main', '--actor', 'dave'],
  ...extra,
];

async function approve(app: string, version: string, ...logins: string[]) {
  for (const by of logins) {
    const r = await stack.run(['approve', app, version, '--as', by]);
    expect(r.code, `${by}: ${r.stderr}`).toBe(0);
  }
}

async function ship(app: string, version: string) {
  const r = await stack.run(releaseArgs(app, version, '--wait', 'staging'));
  expect(r.code, r.stderr + r.stdout).toBe(0);
  await approve(app, version, 'alice', 'bob');
  const s = await waitForRelease(stack.sg, version, (x) => x.state !== 'running', 120_000, app);
  expect(s.state, JSON.stringify(s)).toBe('succeeded');
}

describe('cluster tier: Temporal on PostgreSQL, three workers', () => {
  it('ships a release through staging, two approvals and production while a worker is SIGKILLed at the gate and Temporal and PostgreSQL restart', async () => {
    const app = 'hello';
    const r = await stack.run(releaseArgs(app, '1.0.0', '--wait', 'staging'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await getVersion(stack.apps[app]!.staging)).toBe('1.0.0');

    // A worker dies with the release waiting at the gate (it may hold it in its sticky cache): the others go on.
    await stack.workers[0]!.kill();
    await approve(app, '1.0.0', 'alice');
    const again = await stack.run(['approve', app, '1.0.0', '--as', 'alice']);
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain('alice already approved this release');

    await stack.cluster.restartPostgres();
    await approve(app, '1.0.0', 'bob');
    await stack.cluster.restart();

    const s = await waitForRelease(stack.sg, '1.0.0', (x) => x.state !== 'running', 120_000, app);
    expect(s.state, JSON.stringify(s)).toBe('succeeded');
    expect(await getVersion(stack.apps[app]!.production)).toBe('1.0.0');
    const status = (await stack.run(['status', app, '1.0.0', '--json'])).json as StatusJson;
    // Each approval counted once, however many workers and restarts it went through.
    expect(status.approvals.given.map((g) => g.by)).toEqual(['alice', 'bob']);
    expect(status.approvals.refused.map((g) => g.by)).toEqual(['alice']);
    const ledger = (await stack.sg.environmentState(app, 'production'))?.ledger ?? [];
    expect(ledger.filter((e) => e.version === '1.0.0').map((e) => e.outcome)).toEqual(['succeeded']);
    await stack.ensureWorkers();
  });

  it('rolls production back from the CLI after a second release, and history shows both on PostgreSQL visibility', async () => {
    const app = 'rollme';
    await ship(app, '1.0.0');
    await ship(app, '1.1.0');
    expect(await getVersion(stack.apps[app]!.production)).toBe('1.1.0');
    const rb = await stack.run([
      'rollback',
      app,
      'production',
      '--as',
      'carol',
      '--reason',
      'latency on the cluster',
      '--wait',
    ]);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    expect(await getVersion(stack.apps[app]!.production)).toBe('1.0.0');
    const rows = (await stack.run(['history', app, 'production', '--json'])).json as {
      action: string;
      version: string;
      outcome: string;
      actor: string;
    }[];
    expect(rows.map((x) => [x.action, x.version, x.outcome])).toEqual([
      ['rollback', '1.0.0', 'succeeded'],
      ['deploy', '1.1.0', 'rolled-back'],
      ['deploy', '1.0.0', 'succeeded'],
    ]);
    expect(rows[0]!.actor).toBe('carol');
  });

  it('supersedes an older release waiting at the gate when a newer one reaches it (a visibility query on PostgreSQL)', async () => {
    const app = 'sup';
    for (const v of ['2.0.0', '2.1.0']) {
      const r = await stack.run(releaseArgs(app, v, '--wait', 'staging'));
      expect(r.code, r.stderr + r.stdout).toBe(0);
    }
    const older = await waitForRelease(stack.sg, '2.0.0', (x) => x.state !== 'running', 60_000, app);
    expect(older.state).toBe('superseded');
    const newer = await stack.sg.status(app, '2.1.0');
    expect(newer.state).toBe('running');
    expect(newer.stage).toBe('awaiting-approval');

    // The search attributes the worker sets are queryable on SQL visibility, as the Temporal UI filters them.
    const list = spawnSync(
      temporalCliPath(),
      [
        ...['workflow', 'list', '--address', stack.cluster.address, '--namespace', stack.cluster.namespace],
        ...['--query', `ShipgateApp = '${app}' AND ShipgateVersion = '2.1.0'`],
      ],
      { encoding: 'utf8' },
    );
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(`release/${app}/2.1.0`);
    expect(list.stdout).not.toContain(`release/${app}/2.0.0`);
  });

  it('a worker creates a namespace that does not exist yet, and fails at once, naming it, where the server refuses', async () => {
    const fresh = `sg-fresh-${process.pid}`;
    const w = await startWorker({
      config: stack.configFile,
      address: stack.cluster.address,
      home: path.join(stack.home, 'fresh'),
      extraArgs: ['--namespace', fresh],
    });
    try {
      expect(w.logs()).toContain('created the Temporal namespace');
      const d = spawnSync(
        temporalCliPath(),
        ['operator', 'namespace', 'describe', '--address', stack.cluster.address, '--namespace', fresh],
        { encoding: 'utf8' },
      );
      expect(d.status, d.stderr).toBe(0);
      // Its search attributes were registered too, with no misleading warning first.
      expect(w.logs()).not.toContain('could not register search attributes');
    } finally {
      await w.stop();
    }

    // Longer than the server's id limit (1000): registration is refused, and the worker says what to do.
    const refused = 'n'.repeat(1001);
    const r = await cli(
      ['worker', '--config', stack.configFile, '--address', stack.cluster.address, '--namespace', refused],
      { SHIPGATE_HOME: path.join(stack.home, 'refused') },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Temporal namespace "${refused}" does not exist`);
    expect(r.stderr).toContain('temporal operator namespace create');
  });
});
