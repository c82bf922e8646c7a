/**
 * (a) Orchestration overhead of a full release whose deploys and checks are instant, against the bare time of
 *     the same two local-target activations done directly.
 * (b) Rollback round trip to a warm version, through the real CLI and in-process, against the bare traffic
 *     switch of a warm version done directly.
 *
 * Both run on one stack: a dev server, a `shipgate worker` process and the local data plane, in a temp home,
 * under the default `identity: proven`: every start, approval and rollback is signed with an ssh-keygen key
 * and verified by the worker, as in real use.
 * The bare baselines run on a second local target in its own temp home, interleaved with the measured runs so
 * both see the same machine load.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { createLocalTarget, type LocalTarget } from '../src/targets/local/local-target.js';
import type { LocalRequest } from '../src/targets/local/types.js';
import { freePort } from '../src/temporal/ports.js';
import { cli } from '../test/helpers/processes.js';
import {
  cliEnv,
  HELLO_SOURCE,
  releaseOutcome,
  ROOT,
  servedVersion,
  startStack,
  tempHome,
  withTimeout,
  type Cleanup,
  type Stack,
} from './lib/stack.js';
import { ms, ratio, summarize, type ResultRow } from './lib/stats.js';

const APP = 'hello';
const APPROVERS = ['alice', 'bob'];
/** Who starts releases and rolls back; each signs with their own key. */
const RELEASER = 'dave';
const ROLLER = 'alice';
const SIGNERS = [...APPROVERS, 'carol', RELEASER];
const KEEP_PREVIOUS_MS = 30 * 60_000;
const RELEASE_TIMEOUT_MS = 60_000;

/** Readiness only (no smoke checks), no wait timer, two approvals on production: nothing but orchestration waits. */
export function instantConfig(stagingPort: number, productionPort: number) {
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'] },
    apps: {
      [APP]: {
        build: { kind: 'local', source: HELLO_SOURCE },
        environments: {
          staging: { branches: ['main'], target: { kind: 'local', port: stagingPort } },
          production: {
            after: 'staging',
            branches: ['main'],
            target: { kind: 'local', port: productionPort },
            approvals: [{ group: 'team-leads', count: 2 }],
            waitTimer: '0s',
          },
        },
      },
    },
  };
}

/** The same data plane, driven directly: a local target over its own home, with artifacts copied as the build does. */
class BareTarget {
  readonly target: LocalTarget;
  constructor(
    readonly home: string,
    readonly ports: { staging: number; production: number },
  ) {
    this.target = createLocalTarget({ home, stopGraceMs: 2000 });
  }

  async artifact(version: string): Promise<string> {
    const dir = path.join(this.home, 'artifacts', 'bare', version);
    await cp(HELLO_SOURCE, dir, { recursive: true });
    return dir;
  }

  request(env: 'staging' | 'production', version: string, artifact: string): LocalRequest {
    return {
      app: 'bare',
      env,
      port: this.ports[env],
      version,
      artifact,
      command: ['node', 'server.js'],
      strategy: 'blue-green',
      keepPreviousMs: KEEP_PREVIOUS_MS,
    };
  }

  /** Both activations a release makes (staging, then production), timed without the copy. */
  async deployBoth(version: string): Promise<{ staging: number; production: number }> {
    const dir = await this.artifact(version);
    const t0 = performance.now();
    await this.target.activate(this.request('staging', version, dir));
    const t1 = performance.now();
    await this.target.activate(this.request('production', version, dir));
    const t2 = performance.now();
    return { staging: t1 - t0, production: t2 - t1 };
  }
}

export interface PipelineOptions {
  releases: number;
  rollbacks: number;
  runReleases: boolean;
  runRollbacks: boolean;
  log: (line: string) => void;
}

export async function pipelineBenchmarks(cleanup: Cleanup, opts: PipelineOptions): Promise<ResultRow[]> {
  const { log } = opts;
  const ports = { staging: await freePort(), production: await freePort() };
  log(`starting dev server and worker (staging :${ports.staging}, production :${ports.production})`);
  const stack = await startStack(
    cleanup,
    'pipeline',
    instantConfig(ports.staging, ports.production),
    SIGNERS,
  );
  const bareHome = await tempHome(cleanup, 'bare');
  const bare = new BareTarget(bareHome, { staging: await freePort(), production: await freePort() });

  const rows: ResultRow[] = [];
  // Warm-up, not measured: the first release creates the environment workflows and starts both proxies.
  const releases = opts.runReleases ? opts.releases : 2;
  const versions = Array.from({ length: releases + 1 }, (_, i) => `1.0.${i}`);
  const full: number[] = [];
  const toGate: number[] = [];
  const approving: number[] = [];
  const afterApproval: number[] = [];
  const bareBoth: number[] = [];
  const bareStaging: number[] = [];
  const bareProduction: number[] = [];
  for (const [i, version] of versions.entries()) {
    const b = await bare.deployBoth(version);
    const r = await timedRelease(stack, version, i);
    const served = await servedVersion(ports.production);
    if (served !== version) throw new Error(`after release ${version}, production serves ${served}`);
    if (i === 0) continue;
    bareStaging.push(b.staging);
    bareProduction.push(b.production);
    bareBoth.push(b.staging + b.production);
    full.push(r.total);
    toGate.push(r.toGate);
    approving.push(r.approving);
    afterApproval.push(r.afterApproval);
    log(`release ${version}: ${ms(r.total)} (bare activations ${ms(b.staging + b.production)})`);
  }

  if (opts.runReleases) {
    const f = summarize(full);
    const bb = summarize(bareBoth);
    rows.push(
      row('a. release', 'start → succeeded (2 envs, 2 approvals)', f, bb),
      row(
        'a. release',
        '  start → awaiting-approval (build + staging)',
        summarize(toGate),
        summarize(bareStaging),
      ),
      row('a. release', '  2 signed approvals, in parallel (status, sign, Update)', summarize(approving)),
      row(
        'a. release',
        '  approvals accepted → succeeded (production)',
        summarize(afterApproval),
        summarize(bareProduction),
      ),
      row('a. release', 'bare: 2 local-target activations', bb),
      {
        bench: 'a. release',
        figure: 'orchestration overhead (release − bare)',
        n: f.n,
        median: ms(f.median - bb.median),
        p95: ms(f.p95 - bb.p95),
        ratio: '',
      },
    );
  }

  if (opts.runRollbacks)
    rows.push(
      ...(await rollbackBenchmarks(
        stack,
        bare,
        ports.production,
        versions.slice(-2) as [string, string],
        opts,
      )),
    );
  return rows;
}

async function timedRelease(stack: Stack, version: string, i: number) {
  const { sg } = stack;
  const t0 = performance.now();
  await sg.release({
    app: APP,
    version,
    commit: `bench${String(i).padStart(4, '0')}`,
    branch: 'main',
    prove: stack.prove(RELEASER),
  });
  const { status: gate } = await sg.follow(APP, version, {
    until: (s) => s.stage === 'awaiting-approval',
    intervalMs: 10,
    deadline: Date.now() + RELEASE_TIMEOUT_MS,
  });
  if (gate.stage !== 'awaiting-approval')
    throw new Error(
      `release ${version} did not reach its approval gate: ${gate.state} ${gate.stage} ${gate.reason ?? ''}`,
    );
  const t1 = performance.now();
  await Promise.all(
    APPROVERS.map((by) => sg.approve({ app: APP, version, comment: 'bench', prove: stack.prove(by) })),
  );
  const t2 = performance.now();
  const status = await withTimeout(
    releaseOutcome(stack, APP, version),
    RELEASE_TIMEOUT_MS,
    `release ${version} to end`,
  );
  const t3 = performance.now();
  if (status.state !== 'succeeded')
    throw new Error(`release ${version} ended ${status.state}: ${status.reason}`);
  return { total: t3 - t0, toGate: t1 - t0, approving: t2 - t1, afterApproval: t3 - t2 };
}

async function rollbackBenchmarks(
  stack: Stack,
  bare: BareTarget,
  productionPort: number,
  [older, newer]: [string, string],
  opts: PipelineOptions,
): Promise<ResultRow[]> {
  const { log } = opts;
  const target = createLocalTarget({ home: stack.home });
  /** Alternates between the last two versions; both stay warm, since each switch keeps the other as standby. */
  let serving = newer;
  const flip = () => (serving === newer ? older : newer);
  const pidOf = async (version: string) =>
    (await target.status(APP, 'production'))?.processes.find((p) => p.version === version && p.alive)?.pid;

  /** Runs one rollback via `how`, then checks what production serves and that no process was started. */
  const measure = async (label: string, how: (to: string) => Promise<void>): Promise<number[]> => {
    const samples: number[] = [];
    let cold = 0;
    for (let i = 0; i < opts.rollbacks; i++) {
      const to = flip();
      const pidBefore = await pidOf(to);
      const t0 = performance.now();
      await how(to);
      const elapsed = performance.now() - t0;
      const served = await servedVersion(productionPort);
      if (served !== to)
        throw new Error(`${label}: after rolling back to ${to}, production serves ${served}`);
      if (pidBefore === undefined || (await pidOf(to)) !== pidBefore) cold++;
      serving = to;
      samples.push(elapsed);
    }
    log(
      `${label}: median ${ms(summarize(samples).median)}${cold ? ` (${cold} of ${samples.length} were not warm)` : ', all warm'}`,
    );
    return samples;
  };

  const env = cliEnv(stack.home);
  if (!existsSync(path.join(ROOT, 'build', 'cli', 'shipgate.mjs')))
    throw new Error('build/cli/shipgate.mjs is missing: run npm run build (it bundles the CLI)');
  /** The CLI as users run it (the bundle), or the compiled modules it ran from before (SHIPGATE_CLI_UNBUNDLED). */
  const viaCliWith = (cliEnvExtra: Record<string, string>) => async (to: string) => {
    const args = [
      'rollback',
      APP,
      'production',
      '--to',
      to,
      '--as',
      ROLLER,
      '--key',
      stack.keys[ROLLER]!.file,
      '--reason',
      'bench',
      '--wait',
      '--address',
      stack.server.address,
    ];
    const r = await cli(args, { ...env, ...cliEnvExtra }, 60_000);
    if (r.code !== 0) throw new Error(`shipgate ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  };
  const viaCli = await measure('rollback via CLI (bundle)', viaCliWith({}));
  const viaCliUnbundled = await measure(
    'rollback via CLI (unbundled modules)',
    viaCliWith({ SHIPGATE_CLI_UNBUNDLED: '1' }),
  );
  const inProcess = (pollMs: number | 'update') => async (to: string) => {
    const accepted = await stack.sg.rollback({
      app: APP,
      env: 'production',
      to,
      reason: 'bench',
      requestId: randomUUID(),
      prove: stack.prove(ROLLER),
    });
    const entry = await withTimeout(
      pollMs === 'update'
        ? stack.sg.awaitOperation(APP, 'production', accepted.opId)
        : stack.sg.waitForOperation(APP, 'production', accepted.opId, pollMs),
      60_000,
      `rollback to ${to}`,
    );
    if (entry.outcome !== 'succeeded')
      throw new Error(`rollback to ${to} ended ${entry.outcome}: ${entry.failure}`);
  };
  const viaClientAwait = await measure(
    'rollback in-process (await-operation Update, as the CLI)',
    inProcess('update'),
  );
  const viaClient = await measure('rollback in-process (100 ms poll, as the CLI did)', inProcess(100));
  const viaClientFine = await measure('rollback in-process (10 ms poll)', inProcess(10));

  // The bare switch: the bare target's production also holds both versions, warm. Beside it, one Temporal round
  // trip that no worker serves (DescribeWorkflowExecution): a rollback's floor is the switch plus about four.
  const bareSwitch: number[] = [];
  const roundTrip: number[] = [];
  const envHandle = stack.sg.environment(APP, 'production');
  let bareServing = newer;
  for (let i = 0; i < opts.rollbacks; i++) {
    const r0 = performance.now();
    await envHandle.describe();
    roundTrip.push(performance.now() - r0);
    const to = bareServing === newer ? older : newer;
    const dir = path.join(bare.home, 'artifacts', 'bare', to);
    const t0 = performance.now();
    const result = await bare.target.activate(bare.request('production', to, dir));
    bareSwitch.push(performance.now() - t0);
    if (!result.warm) throw new Error(`bare switch to ${to} was not warm`);
    if ((await servedVersion(bare.ports.production)) !== to)
      throw new Error(`bare switch to ${to} did not take`);
    bareServing = to;
  }
  log(`bare warm switch: median ${ms(summarize(bareSwitch).median)}`);

  // What starting the CLI costs on its own: node, module loading and argument parsing, no Temporal. The
  // bundle and the compiled modules alternate, so both see the same load.
  const startup: number[] = [];
  const startupUnbundled: number[] = [];
  for (let i = 0; i < Math.max(opts.rollbacks, 5); i++) {
    for (const [samples, extra] of [
      [startup, {}],
      [startupUnbundled, { SHIPGATE_CLI_UNBUNDLED: '1' }],
    ] as const) {
      const t0 = performance.now();
      const r = await cli(['--help'], { ...env, ...extra }, 30_000);
      samples.push(performance.now() - t0);
      if (r.code !== 0) throw new Error(`shipgate --help exited ${r.code}`);
    }
  }

  const bs = summarize(bareSwitch);
  const c = summarize(viaCli);
  const a = summarize(viaClientAwait);
  const su = summarize(startupUnbundled);
  return [
    row('b. rollback', 'CLI rollback --wait, bundle (process start → exit; goal < 300 ms)', c, bs),
    row('b. rollback', 'CLI rollback --wait, unbundled modules (before)', summarize(viaCliUnbundled), bs),
    row('b. rollback', 'in-process rollback + await-operation Update (goal < 60 ms)', a, bs),
    row('b. rollback', 'in-process rollback + wait, 100 ms poll (before)', summarize(viaClient), bs),
    row('b. rollback', 'in-process rollback + wait, 10 ms poll', summarize(viaClientFine), bs),
    row('b. rollback', 'bare: warm traffic switch (activate)', bs),
    row(
      'b. rollback',
      'one Temporal round trip, no worker (DescribeWorkflowExecution)',
      summarize(roundTrip),
    ),
    row('b. rollback', 'CLI start-up alone (shipgate --help), bundle', summarize(startup), su),
    row('b. rollback', 'CLI start-up alone (shipgate --help), unbundled (before)', su),
    {
      bench: 'b. rollback',
      figure: 'CLI cost (CLI bundle − in-process Update)',
      n: c.n,
      median: ms(c.median - a.median),
      p95: ms(c.p95 - a.p95),
      ratio: '',
    },
  ];
}

/** A result row; with a baseline, the ratio column holds median ratio (p95 ratio). */
function row(
  bench: string,
  figure: string,
  s: ReturnType<typeof summarize>,
  base?: ReturnType<typeof summarize>,
): ResultRow {
  return {
    bench,
    figure,
    n: s.n,
    median: ms(s.median),
    p95: ms(s.p95),
    ratio: base ? `${ratio(s.median, base.median)} (p95 ${ratio(s.p95, base.p95)})` : '',
  };
}
