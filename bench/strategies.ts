/**
 * (d) Deployment strategies on the local target, on one stack (dev server, `shipgate worker` process, local
 *     data plane) with production alone and no approvals, so each release runs straight through:
 *
 *   1. Failed requests under a steady autocannon load on production's port during a blue-green deploy, a
 *      canary step sequence and a warm rollback (target: 0 errors, 0 non-2xx), with latency p50/p99.
 *   2. Warm and cold rollbacks through the CLI (`rollback --to X --wait`, process start → exit). A cold one
 *      goes to an older version whose process is gone, so it starts a process; its ratio to the warm median
 *      is what starting the process costs.
 *   3. `recreate` downtime: a tight client loop timestamps every failed request during each recreate deploy.
 *
 * The strategy changes between phases by rewriting the config file, which the worker reads live (a release
 * snapshots it when it starts; a rollback reads it when it runs). Releases and rollbacks are signed with
 * ssh-keygen keys and verified by the worker (the default `identity: proven`).
 */
import { rename, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { createLocalTarget } from '../src/targets/local/local-target.js';
import { freePort } from '../src/temporal/ports.js';
import { cli } from '../test/helpers/processes.js';
import { steadyLoad, tightLoop, type LoadResult } from './lib/load.js';
import {
  cliEnv,
  HELLO_SOURCE,
  releaseOutcome,
  servedVersion,
  sleep,
  startStack,
  withPeopleKeys,
  withTimeout,
  type Cleanup,
  type Stack,
} from './lib/stack.js';
import { ms, ratio, summarize, type ResultRow, type Summary } from './lib/stats.js';

const APP = 'hello';
const ENV = 'production';
const BENCH = 'd. strategies';
const RELEASE_TIMEOUT_MS = 60_000;
/** The steady load: few connections at a fixed rate, so the machine still has room for the deploy itself. */
const LOAD = { connections: 2, rate: 200, maxSeconds: 60 };
/** Load runs this long before the operation starts and after it ends, so both edges are covered. */
const LOAD_MARGIN_MS = 300;
/** The recreate client sends a request every few ms. */
const LOOP_INTERVAL_MS = 3;
const CANARY_STEPS = [25, 50, 100];
const RELEASER = 'dave';
const ROLLER = 'alice';

type Strategy = 'blue-green' | 'canary' | 'recreate';

export function strategyConfig(port: number, strategy: Strategy) {
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'] },
    apps: {
      [APP]: {
        build: { kind: 'local', source: HELLO_SOURCE },
        environments: {
          [ENV]: {
            branches: ['main'],
            target: { kind: 'local', port },
            approvals: [],
            // Checked after each deploy and rollback, and at each canary step against the canary itself.
            smoke: [{ path: '/version', json: { version: '{{version}}' } }],
            strategy,
            canarySteps: CANARY_STEPS,
            canaryPause: '1s',
          },
        },
      },
    },
  };
}

export interface StrategyOptions {
  /** Samples of each timed figure: warm rollbacks, cold rollbacks, recreate deploys. */
  runs: number;
  log: (line: string) => void;
}

export async function strategyBenchmarks(cleanup: Cleanup, opts: StrategyOptions): Promise<ResultRow[]> {
  const { log } = opts;
  const port = await freePort();
  log(`starting dev server and worker (production :${port}, blue-green)`);
  const stack = await startStack(cleanup, 'strategies', strategyConfig(port, 'blue-green'), [
    RELEASER,
    ROLLER,
  ]);
  const target = createLocalTarget({ home: stack.home });
  /** Replaced in one rename, so the worker never reads a half-written file. */
  const useStrategy = async (strategy: Strategy) => {
    const tmp = `${stack.configFile}.tmp`;
    await writeFile(tmp, stringify(withPeopleKeys(strategyConfig(port, strategy), stack.keys)));
    await rename(tmp, stack.configFile);
    log(`config: strategy ${strategy}`);
  };
  const pidOf = async (version: string) =>
    (await target.status(APP, ENV))?.processes.find((p) => p.version === version && p.alive)?.pid;
  const expectServing = async (version: string, after: string) => {
    const served = await servedVersion(port);
    if (served !== version) throw new Error(`after ${after}, production serves ${served}, not ${version}`);
  };

  let commits = 0;
  const release = async (version: string): Promise<number> => {
    const t0 = performance.now();
    await runRelease(stack, version, `bench${String(commits++).padStart(4, '0')}`);
    const elapsed = performance.now() - t0;
    await expectServing(version, `release ${version}`);
    return elapsed;
  };
  const rollback = async (to: string): Promise<number> => {
    const args = [
      'rollback',
      APP,
      ENV,
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
    const t0 = performance.now();
    const r = await cli(args, cliEnv(stack.home), 60_000);
    const elapsed = performance.now() - t0;
    if (r.code !== 0) throw new Error(`shipgate ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    await expectServing(to, `rolling back to ${to}`);
    return elapsed;
  };

  // Warm-up, not measured: creates the environment workflow and the proxy; leaves 1.0.0 stopped, 1.0.1 warm.
  for (const v of ['1.0.0', '1.0.1']) log(`warm-up release ${v}: ${ms(await release(v))}`);

  const rows: ResultRow[] = [];

  // 1. Under steady load. The previous version must be warm for the rollback to be a pointer switch.
  const bg = await underLoad(cleanup, port, () => release('1.1.0'));
  log(`blue-green deploy 1.1.0 under load: ${describeLoad(bg)}`);
  await useStrategy('canary');
  const canary = await underLoad(cleanup, port, () => release('1.2.0'));
  log(`canary deploy 1.2.0 (${CANARY_STEPS.join(', ')}%, 1 s pause) under load: ${describeLoad(canary)}`);
  // Rollbacks follow the config when they run; back on blue-green, restoring the warm standby is a switch.
  await useStrategy('blue-green');
  const standby = await pidOf('1.1.0');
  if (standby === undefined) throw new Error('1.1.0 is not warm after the canary of 1.2.0');
  const warmUnderLoad = await underLoad(cleanup, port, () => rollback('1.1.0'));
  if ((await pidOf('1.1.0')) !== standby) throw new Error('the rollback to 1.1.0 under load was not warm');
  log(`warm rollback to 1.1.0 under load: ${describeLoad(warmUnderLoad)}`);
  rows.push(
    loadRow('blue-green deploy under load', bg),
    loadRow(`canary deploy, steps ${CANARY_STEPS.join('/')}, under load`, canary),
    loadRow('warm rollback (CLI --wait) under load', warmUnderLoad),
  );

  // 2. Warm and cold rollbacks, interleaved so both see the same machine load. Each round rolls back from
  // 1.1.0 to the oldest good version with no process (cold), then back to 1.1.0, kept warm as the standby.
  // Only the version that served last stays warm, so the cold targets alternate between 1.0.0 and 1.0.1.
  const good = ['1.0.0', '1.0.1', '1.1.0', '1.2.0'];
  const home = '1.1.0';
  const warm: number[] = [];
  const cold: number[] = [];
  const coldTargets: string[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const live = await Promise.all(good.map(pidOf));
    const to = good.find((v, j) => live[j] === undefined);
    if (!to) throw new Error('no version without a process to roll back to');
    cold.push(await rollback(to));
    if ((await pidOf(to)) === undefined) throw new Error(`after the rollback to ${to}, it has no process`);
    coldTargets.push(to);
    const pid = await pidOf(home);
    if (pid === undefined) throw new Error(`${home} is not warm after the rollback to ${to}`);
    warm.push(await rollback(home));
    if ((await pidOf(home)) !== pid) throw new Error(`the rollback to ${home} started a process`);
  }
  log(
    `rollback via CLI: cold (to ${coldTargets.join(', ')}) median ${ms(summarize(cold).median)},` +
      ` warm (to ${home}) median ${ms(summarize(warm).median)}`,
  );

  const w = summarize(warm);
  const c = summarize(cold);
  rows.push(
    timedRow('warm rollback (CLI --wait, start → exit)', w),
    timedRow('cold rollback to an older version (CLI --wait)', c, w, 'warm'),
    {
      bench: BENCH,
      figure: '  cost of the cold start (cold − warm)',
      n: c.n,
      median: ms(c.median - w.median),
      // A difference of two p95s from five samples each says little; only the medians are compared.
      p95: '',
      ratio: '',
    },
  );

  // 3. Recreate: each deploy stops what serves, then starts the new version; requests fail meanwhile.
  await useStrategy('recreate');
  const windows: number[] = [];
  const failures: number[] = [];
  const durations: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const version = `1.3.${i}`;
    const loop = tightLoop(port, '/version', LOOP_INTERVAL_MS, RELEASE_TIMEOUT_MS + 5_000);
    cleanup.add(`stop the request loop of ${version}`, () => loop.stop());
    await sleep(LOAD_MARGIN_MS);
    let elapsed: number;
    try {
      elapsed = await release(version);
      await sleep(LOAD_MARGIN_MS);
    } finally {
      await loop.stop();
    }
    const seen = await loop.stop();
    // From the send time of the first failed request to that of the last; 0 when none failed.
    const window = seen.firstFailedAt === null ? 0 : seen.lastFailedAt! - seen.firstFailedAt;
    windows.push(window);
    failures.push(seen.failed);
    durations.push(elapsed);
    log(
      `recreate ${version}: ${seen.failed} of ${seen.ok + seen.failed} requests failed over ${ms(window)}` +
        ` (${Object.entries(seen.kinds)
          .map(([k, n]) => `${n}× ${k}`)
          .join(', ')}); release ${ms(elapsed)}`,
    );
  }
  const f = summarize(failures);
  rows.push(
    timedRow(
      `recreate downtime (first → last failed request, ${LOOP_INTERVAL_MS} ms loop)`,
      summarize(windows),
    ),
    {
      bench: BENCH,
      figure: '  failed requests per recreate deploy',
      n: f.n,
      median: count(f.median),
      p95: count(f.p95),
      ratio: '',
    },
    timedRow('  recreate release (start → succeeded)', summarize(durations)),
  );
  return rows;
}

/** Starts the steady load, runs op once the load is flowing, and stops the load shortly after op ends. */
async function underLoad(
  cleanup: Cleanup,
  port: number,
  op: () => Promise<number>,
): Promise<LoadResult & { opMs: number }> {
  const load = steadyLoad(port, '/version', LOAD);
  cleanup.add('stop the load generator', () => load.stop());
  let opMs: number;
  try {
    await sleep(LOAD_MARGIN_MS);
    opMs = await op();
    await sleep(LOAD_MARGIN_MS);
  } finally {
    await load.stop();
  }
  return { ...(await load.stop()), opMs };
}

function describeLoad(r: LoadResult & { opMs: number }): string {
  const codes = Object.entries(r.statusCodes)
    .map(([code, n]) => `${n}× ${code}`)
    .join(', ');
  return (
    `operation ${ms(r.opMs)}; ${r.requests} requests over ${r.seconds} s (${codes}), ${r.errors} errors` +
    ` (${r.timeouts} timeouts), ${r.non2xx} non-2xx, latency p50 ${ms(r.p50)} p99 ${ms(r.p99)} max ${ms(r.max)}`
  );
}

/** n is the request count; median and p95 hold latency p50 and p99; the last column, the failures. */
function loadRow(what: string, r: LoadResult & { opMs: number }): ResultRow {
  const failed = r.errors + r.non2xx;
  return {
    bench: BENCH,
    figure: `${what}: requests, latency p50 | p99`,
    n: r.requests,
    median: ms(r.p50),
    p95: `p99 ${ms(r.p99)}`,
    ratio:
      `${r.errors} errors, ${r.non2xx} non-2xx${failed ? ' (target 0: MISSED)' : ''}` +
      ` (${LOAD.connections} conn, ${LOAD.rate} req/s; op ${ms(r.opMs)})`,
    data: {
      requests: r.requests,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      p50Ms: r.p50,
      p99Ms: r.p99,
      maxMs: r.max,
      seconds: r.seconds,
      operationMs: r.opMs,
      ratePerSecond: LOAD.rate,
      connections: LOAD.connections,
    },
  };
}

function timedRow(figure: string, s: Summary, base?: Summary, baseName = ''): ResultRow {
  return {
    bench: BENCH,
    figure,
    n: s.n,
    median: ms(s.median),
    p95: ms(s.p95),
    ratio: base ? `${ratio(s.median, base.median)} (p95 ${ratio(s.p95, base.p95)}) to ${baseName}` : '',
  };
}

const count = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

async function runRelease(stack: Stack, version: string, commit: string): Promise<void> {
  const { sg } = stack;
  await sg.release({ app: APP, version, commit, branch: 'main', prove: stack.prove(RELEASER) });
  const status = await withTimeout(
    releaseOutcome(stack, APP, version),
    RELEASE_TIMEOUT_MS,
    `release ${version} to end`,
  );
  if (status.state !== 'succeeded')
    throw new Error(`release ${version} ended ${status.state}: ${status.reason}`);
}
