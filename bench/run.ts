/**
 * `npm run bench`: shipgate's benchmarks, on this machine only (every process and request stays on 127.0.0.1).
 *
 *   a. release   orchestration overhead of a release whose deploys and checks are instant
 *   b. rollback  warm rollback round trip, via the CLI and in-process, against the bare traffic switch
 *   c. memory    worker RSS with many releases of many apps waiting for approval at once
 *   w. windows   window evaluation cost in the worst cases a config can produce (pure, in process)
 *   d. strategies failed requests under steady load during a blue-green deploy, a canary and a warm rollback;
 *                cold against warm rollback; `recreate` downtime
 *   e. identity  an approval's round trip signed with an SSH key against an unsigned one, same run (6 × --runs each)
 *   k. kubernetes rollback on a real control plane (seed's kubectl, shipgate CLI rolling and blue-green warm, bare
 *                selector patch, the target in process; --rollbacks samples each); rolling deploy against kubectl
 *   f. audit     JSONL and S3 (versitygw, started here) stores: append throughput, `audit verify` of 10,000 records
 *                (in process and the CLI), CLI rollback p50 with each store interleaved (--rollbacks samples each)
 *   g. dashboard the page in Chromium with --apps (100) apps × 3 environments: first contentful paint and the whole
 *                grid in the DOM over 2 × --runs fresh loads; a CLI approval visible on an open page (--releases
 *                approvals; from the CLI's exit and start)
 *   h. self-healing kill -9 of production's proxy, and of its serving process, to serving again (--runs kills each)
 *   s. scale     --releases (1,000) releases of --apps (100) apps at once, side by side (--setups: dev, cluster,
 *                cluster-cache1000; also cluster2, two workers): starts/s, start and approval latency, releases per
 *                minute end to end, worker memory per waiting release, server memory, where each gives out
 *   x. chaos     the long chaos run on the cluster (--iterations, 30; --seed): workers SIGKILLed, Temporal and
 *                PostgreSQL restarted under release traffic; the counts and every broken invariant (exit 1 if any)
 *
 * Options: --only release,rollback,memory,strategies,windows,identity,kubernetes,audit,self-healing,dashboard,scale,chaos
 *          --releases N (20; scale 1000)  --rollbacks N (10)  --apps N (500; scale and dashboard 100)
 *          --runs N (5, samples of each strategies figure)  --setups LIST  --iterations N (30)  --seed N  --json FILE
 * scale and chaos run only when named in --only: each needs the cluster and minutes of its own.
 * Needs a current build (`npm run build`): the worker and the CLI under test are the compiled ones; kubernetes
 * also needs the control plane built once (`bash scripts/kube-plane.sh build`); audit needs versitygw
 * (`scripts/s3-server.sh build`, which scripts/setup.sh runs).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { memoryBenchmark } from './memory.js';
import { pipelineBenchmarks } from './pipeline.js';
import { strategyBenchmarks } from './strategies.js';
import { windowsBenchmark } from './windows.js';
import { identityBenchmark } from './identity.js';
import { kubernetesBenchmarks } from './kubernetes.js';
import { auditBenchmark } from './audit.js';
import { DEFAULT_SCALE_SETUPS, SCALE_SETUPS, scaleBenchmark } from './scale.js';
import { chaosBenchmark } from './chaos.js';
import { selfHealingBenchmark } from './self-healing.js';
import { dashboardBenchmark } from './dashboard.js';
import { checkBuild, Cleanup } from './lib/stack.js';
import { ms, table, type ResultRow } from './lib/stats.js';

const BENCHES = [
  'release',
  'rollback',
  'memory',
  'strategies',
  'windows',
  'identity',
  'kubernetes',
  'audit',
  'self-healing',
  'dashboard',
  'scale',
  'chaos',
] as const;
/** Benches a plain `npm run bench` leaves out: each needs the cluster and minutes of its own. */
const OPT_IN: readonly string[] = ['scale', 'chaos'];
/** Hard stop for the whole run, cleanup included; a normal run takes seven to eleven minutes on 2 cores. */
const WATCHDOG_MS = 15 * 60_000;
/** Scale and chaos add their own bound on top (each setup or iteration is bounded inside too). */
const OPT_IN_WATCHDOG_MS = 20 * 60_000;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    releases: { type: 'string' },
    rollbacks: { type: 'string', default: '10' },
    apps: { type: 'string' },
    runs: { type: 'string', default: '5' },
    setups: { type: 'string', default: DEFAULT_SCALE_SETUPS.join(',') },
    iterations: { type: 'string', default: '30' },
    seed: { type: 'string' },
    json: { type: 'string' },
  },
});

function count(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`bench: --${name} must be an integer from ${min} to ${max}, got "${text}"\n`);
    process.exit(2);
  }
  return n;
}

const only = values.only
  ? values.only.split(',').map((s) => s.trim())
  : BENCHES.filter((b) => !OPT_IN.includes(b));
const unknown = only.filter((b) => !(BENCHES as readonly string[]).includes(b));
if (unknown.length) {
  process.stderr.write(
    `bench: unknown benchmark ${unknown.join(', ')} (choose from ${BENCHES.join(', ')})\n`,
  );
  process.exit(2);
}
const releases = count('releases', values.releases ?? '20', 2, 200);
const rollbacks = count('rollbacks', values.rollbacks, 1, 100);
const apps = count('apps', values.apps ?? '500', 2, 2000);
const runs = count('runs', values.runs, 1, 50);
const scaleReleases = count('releases', values.releases ?? '1000', 1, 10_000);
const scaleApps = count('apps', values.apps ?? '100', 1, 1000);
const dashboardApps = count('apps', values.apps ?? '100', 2, 2000);
const iterations = count('iterations', values.iterations, 1, 1000);
const seed = values.seed === undefined ? undefined : count('seed', values.seed, 0, 2 ** 31 - 1);
const setups = values.setups.split(',').map((s) => s.trim());
const badSetup = setups.filter((s) => !SCALE_SETUPS.includes(s));
if (badSetup.length) {
  process.stderr.write(
    `bench: unknown setup ${badSetup.join(', ')} (choose from ${SCALE_SETUPS.join(', ')})\n`,
  );
  process.exit(2);
}

const buildProblem = checkBuild();
if (buildProblem) {
  process.stderr.write(`bench: ${buildProblem}\n`);
  process.exit(2);
}

const started = performance.now();
const loadAtStart = os.loadavg()[0]!;
const log = (line: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const cleanups: Cleanup[] = [];
const cleanAll = async () => {
  for (const c of cleanups.splice(0).reverse()) await c.run(log);
};

let stopping = false;
const abort = (why: string, code: number) => {
  if (stopping) return;
  stopping = true;
  log(`${why}; cleaning up`);
  void cleanAll().finally(() => process.exit(code));
};
process.on('SIGINT', () => abort('interrupted', 130));
process.on('SIGTERM', () => abort('terminated', 143));
const watchdogMs = WATCHDOG_MS + only.filter((b) => OPT_IN.includes(b)).length * OPT_IN_WATCHDOG_MS;
setTimeout(() => abort(`still running after ${watchdogMs / 60_000} minutes`, 1), watchdogMs).unref();

const rows: ResultRow[] = [];
let failed = false;
/** Each benchmark gets its own cleanup list, run as soon as it ends, so the next one starts on a quiet machine. */
async function section(name: string, fn: (cleanup: Cleanup) => Promise<ResultRow[]>) {
  const cleanup = new Cleanup();
  cleanups.push(cleanup);
  const t0 = performance.now();
  try {
    rows.push(...(await fn(cleanup)));
    log(`${name}: done in ${ms(performance.now() - t0)}`);
  } catch (err) {
    failed = true;
    log(`${name}: FAILED: ${(err as Error).stack ?? err}`);
  } finally {
    await cleanup.run(log);
    // An interrupt's cleanAll may have taken it off the list already.
    if (cleanups.includes(cleanup)) cleanups.splice(cleanups.indexOf(cleanup), 1);
  }
}

const runReleases = only.includes('release');
const runRollbacks = only.includes('rollback');
if (runReleases || runRollbacks) {
  await section('release/rollback', (c) =>
    pipelineBenchmarks(c, { releases, rollbacks, runReleases, runRollbacks, log }),
  );
}
if (only.includes('windows') && !stopping) {
  await section('windows', async () => windowsBenchmark({ runs }));
}
if (only.includes('memory') && !stopping) {
  await section('memory', (c) => memoryBenchmark(c, { apps, log }));
}
if (only.includes('strategies') && !stopping) {
  await section('strategies', (c) => strategyBenchmarks(c, { runs, log }));
}
if (only.includes('identity') && !stopping) {
  await section('identity', (c) => identityBenchmark(c, { samples: runs * 6, log }));
}
if (only.includes('kubernetes') && !stopping) {
  await section('kubernetes', (c) => kubernetesBenchmarks(c, { samples: rollbacks, log }));
}
if (only.includes('audit') && !stopping) {
  await section('audit', (c) => auditBenchmark(c, { rollbacks, log }));
}
if (only.includes('dashboard') && !stopping) {
  await section('dashboard', (c) =>
    dashboardBenchmark(c, { apps: dashboardApps, loads: runs * 2, approvals: releases, log }),
  );
}
const extraTables: string[] = [];
if (only.includes('scale') && !stopping) {
  const scale = await scaleBenchmark(section, {
    releases: scaleReleases,
    apps: scaleApps,
    setups,
    log,
    stopping: () => stopping,
  });
  rows.push(...scale.rows);
  extraTables.push(scale.table);
}
if (only.includes('chaos') && !stopping) {
  await section('chaos', async (c) => {
    const chaos = await chaosBenchmark(c, { iterations, seed, log });
    extraTables.push(chaos.table);
    if (chaos.violations.length) failed = true;
    return chaos.rows;
  });
}
if (only.includes('self-healing') && !stopping) {
  await section('self-healing', (c) => selfHealingBenchmark(c, { samples: runs * 2, log }));
}

const header = ['bench', 'figure', 'n', 'median', 'p95', 'ratio to baseline (median, p95) / notes'];
// Other work on the machine inflates every figure; say how busy it was (1-minute load average vs cores).
const cores = os.cpus().length;
const load = `load ${loadAtStart.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)} on ${cores} cores`;
process.stdout.write(
  `\nshipgate benchmarks: ${new Date().toISOString()}, node ${process.version}, ${load}, total ${ms(performance.now() - started)}\n`,
);
if (Math.max(loadAtStart, os.loadavg()[0]!) > cores)
  process.stdout.write('note: the machine was busy with other work; figures are inflated\n');
process.stdout.write('\n');
process.stdout.write(
  table([header, ...rows.map((r) => [r.bench, r.figure, String(r.n), r.median, r.p95, r.ratio])]) + '\n',
);
for (const t of extraTables) process.stdout.write(`\n${t}\n`);
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      { at: new Date().toISOString(), node: process.version, cores, loadAtStart, rows },
      null,
      2,
    ) + '\n',
  );
if (failed) process.stdout.write('\nSome benchmarks failed; see the log above.\n');
// Polling loops abandoned by a timeout would otherwise keep the process alive.
process.exit(failed ? 1 : 0);
