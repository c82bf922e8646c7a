/**
 * (s) Scale: many releases of many apps at once, the dev server against Temporal on PostgreSQL, side by side in
 * one run.
 *
 * Each setup gets its own temp home, its Temporal (the embedded dev server, or scripts/temporal-cluster.sh via
 * startTemporalCluster), one or two `shipgate worker` processes (the compiled CLI) and a config of --apps apps
 * (100). Each app has one environment, `production`: the entry environment, two approvals from team-leads,
 * `supersede: false` (so ten versions of one app all wait at once instead of the newest superseding the rest),
 * readiness only (no smoke checks, no wait timer, no verify), `keepPrevious: 0s`.
 *
 * "Instant deploy", honestly: the build is a directory copy of examples/hello-service and the deploy is the local
 * target starting that app (a real node process, readiness probed, the previous version stopped). No release
 * waits on anything but orchestration and that process start. The releases of one app deploy one after another
 * (the environment workflow serialises its deploys), a hundred apps at once.
 *
 * Phases, each timed: --releases (1,000) starts at once (START_CONCURRENCY in flight over CLIENTS connections),
 * until all wait at the gate; worker RSS idle and with all waiting; one approval each (the Update at N waiting
 * releases); the second approval each, until every release has deployed. Proofs are SSH-signed as the CLI signs
 * them (sshProver: in process for an unencrypted ed25519 key file, else ssh-keygen), but ahead of each phase
 * (bench/lib/presign.ts), so the figures are the server's and the worker's; the signing rate is reported apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { ShipgateClient, type ReleaseStarted } from '../src/client.js';
import { detailsDigest } from '../src/identity/statement.js';
import { startDevServer } from '../src/temporal/dev-server.js';
import { freePort } from '../src/temporal/ports.js';
import { startTemporalCluster } from '../test/helpers/temporal-cluster.js';
import { startWorker, type WorkerProcess } from '../test/helpers/processes.js';
import { PreSigned } from './lib/presign.js';
import {
  HELLO_SOURCE,
  makeKeys,
  pool,
  rssOf,
  sleep,
  tempHome,
  until,
  withPeopleKeys,
  type Cleanup,
} from './lib/stack.js';
import { mb, ms, percentile, table, type ResultRow } from './lib/stats.js';

const RELEASER = 'dave';
const FIRST = 'alice';
const SECOND = 'bob';
/** Release starts in flight at once, spread over CLIENTS connections (one gRPC channel each). */
const START_CONCURRENCY = 24;
/**
 * The first approvals are what one person's approval takes while N releases wait, so only a few are in flight;
 * with many at once the figure would be the queue in front of each, which the start phase already shows.
 */
const APPROVE_CONCURRENCY = 4;
/** The second approvals only start the deploys. */
const DEPLOY_APPROVE_CONCURRENCY = 24;
const CLIENTS = 4;
/** Bounds on the waits, so a setup at its limit shows as a figure instead of hanging the run. */
const ALL_WAITING_MS = 240_000;
const DEPLOY_PHASE_MS = 60_000;

export interface ScaleOptions {
  releases: number;
  apps: number;
  /** Setups to run: dev (one worker), cluster (one worker), cluster2 (two workers). */
  setups: string[];
  log: (line: string) => void;
}

interface Setup {
  key: string;
  label: string;
  backend: 'dev' | 'cluster';
  workers: number;
  /** SHIPGATE_WORKFLOW_CACHE for the workers; default: the worker's own default. */
  cache?: string;
}

const SETUPS: Setup[] = [
  { key: 'dev', label: 'dev server, 1 worker', backend: 'dev', workers: 1 },
  { key: 'cluster', label: 'cluster (PostgreSQL), 1 worker', backend: 'cluster', workers: 1 },
  {
    key: 'cluster-cache1000',
    label: 'cluster, 1 worker, cache 1000',
    backend: 'cluster',
    workers: 1,
    cache: '1000',
  },
  { key: 'cluster2', label: 'cluster (PostgreSQL), 2 workers', backend: 'cluster', workers: 2 },
];
export const SCALE_SETUPS = SETUPS.map((s) => s.key);
/** The sticky-cache trade-off beside the two backends; cluster2 (two workers) only when asked for. */
export const DEFAULT_SCALE_SETUPS = ['dev', 'cluster', 'cluster-cache1000'];

const appName = (i: number) => `svc-${String(i).padStart(3, '0')}`;

function scaleConfig(ports: number[]) {
  return {
    groups: { 'team-leads': [FIRST, SECOND, 'carol'] },
    apps: Object.fromEntries(
      ports.map((port, i) => [
        appName(i),
        {
          build: { kind: 'local', source: HELLO_SOURCE },
          environments: {
            production: {
              branches: ['main'],
              target: { kind: 'local', port },
              approvals: [{ group: 'team-leads', count: 2 }],
              supersede: false,
              keepPrevious: '0s',
            },
          },
        },
      ]),
    ),
  };
}

/** Proportional set size (KiB) of a process: shared pages split among their users, so a sum over processes adds up. */
function pssOf(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)\s+kB/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The processes whose command line names `dir`, and all their descendants (PostgreSQL's backends name no dir). */
function processTree(dir: string): number[] {
  const parent = new Map<number, number>();
  const roots: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) roots.push(pid);
    } catch {
      // gone
    }
  }
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parent)
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
  }
  return [...out];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Median of a few samples over `overMs` of the workers' summed RSS (KiB). */
async function settledRss(pids: number[], overMs = 2000, samples = 5): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(sum(pids.map((p) => rssOf(p).rssKiB)));
    await sleep(overMs / samples);
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

interface Figures {
  label: string;
  starts: number;
  failedStarts: number;
  startErrors: string[];
  startWallMs: number;
  startP50: number;
  startP99: number;
  allWaitingMs: number;
  waiting: number;
  idleKiB: number;
  waitingKiB: number;
  afterApprovalKiB: number;
  serverKiB: number;
  approveP50: number;
  approveP99: number;
  approveMax: number;
  queryP50: number;
  queryP99: number;
  failedApprovals: number;
  approveWallMs: number;
  deployed: number;
  deployPhaseMs: number;
  endToEndMs: number;
  signPerSecond: number;
  limit: string[];
}

async function runSetup(cleanup: Cleanup, setup: Setup, opts: ScaleOptions): Promise<Figures> {
  const { log, releases, apps } = opts;
  const home = await tempHome(cleanup, `scale-${setup.key}`);
  const keys = await makeKeys(path.join(home, 'keys'), [RELEASER, FIRST, SECOND]);
  // freePort can hand out a port again once it is closed; each app needs its own.
  const ports = new Set<number>();
  while (ports.size < apps) ports.add(await freePort());
  const configFile = path.join(home, 'shipgate.yaml');
  await writeFile(configFile, stringify(withPeopleKeys(scaleConfig([...ports]), keys)));

  let address: string;
  let namespace: string;
  let serverPids: () => number[];
  if (setup.backend === 'dev') {
    const server = await startDevServer({ home });
    cleanup.add('stop the dev server', () => server.stop());
    address = server.address;
    namespace = 'default';
    serverPids = () => [server.process.pid!];
  } else {
    const cluster = await startTemporalCluster();
    cleanup.add('stop the cluster', () => cluster.down());
    address = cluster.address;
    namespace = cluster.namespace;
    serverPids = () => processTree(cluster.dir);
  }
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < setup.workers; i++) {
    const w = await startWorker({
      config: configFile,
      address,
      home,
      env: { TEMPORAL_NAMESPACE: namespace },
    });
    cleanup.add('stop a worker', () => w.stop());
    workers.push(w);
  }
  const workerPids = workers.map((w) => w.child.pid!);
  const clients: ShipgateClient[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const connection = await Connection.connect({ address });
    cleanup.add('close a client connection', () => connection.close());
    clients.push(new ShipgateClient(new Client({ connection, namespace })));
  }
  const raw = clients[0]!.client;
  const count = async (query: string) => (await raw.workflow.count(query)).count;
  const releasesWhere = (cond: string) => `WorkflowType = 'releaseWorkflow' AND ${cond}`;
  const waitingQuery = releasesWhere(`ExecutionStatus = 'Running' AND ShipgateStage = 'awaiting-approval'`);

  // Version v of app a: release i = v * apps + a, so every app has its share and they interleave.
  const items = Array.from({ length: releases }, (_, i) => ({
    app: appName(i % apps),
    version: `1.0.${Math.floor(i / apps)}`,
    commit: `c${i}`,
  }));
  const signer = new PreSigned();
  await signer.sign(
    RELEASER,
    keys[RELEASER]!.file,
    items.map((it) => ({
      action: 'release' as const,
      app: it.app,
      env: null,
      version: it.version,
      run: null,
      details: detailsDigest({ commit: it.commit, branch: 'main' }),
    })),
  );
  const signPerSecond = (signer.signed / signer.signMs) * 1000;
  log(`${setup.label}: ${signer.signed} start proofs signed in ${ms(signer.signMs)}`);

  await sleep(1000);
  const idleKiB = await settledRss(workerPids);
  const limit: string[] = [];

  // ---- starts ----
  const started = new Array<ReleaseStarted | undefined>(releases);
  const startMs: number[] = [];
  const startErrors: string[] = [];
  const t0 = performance.now();
  await pool(items, START_CONCURRENCY, async (it, i) => {
    const s = performance.now();
    try {
      started[i] = await clients[i % CLIENTS]!.release({
        ...it,
        branch: 'main',
        prove: signer.prover(RELEASER),
      });
      startMs.push(performance.now() - s);
    } catch (err) {
      startErrors.push(`${it.app} ${it.version}: ${(err as Error).message.split('\n')[0]}`);
    }
  });
  const startWallMs = performance.now() - t0;
  const okStarts = releases - startErrors.length;
  log(
    `${setup.label}: ${okStarts}/${releases} started in ${ms(startWallMs)} ` +
      `(${((okStarts / startWallMs) * 1000).toFixed(1)}/s, p50 ${ms(percentile(startMs, 50))}, p99 ${ms(percentile(startMs, 99))})`,
  );
  if (startErrors.length) {
    log(`${setup.label}: ${startErrors.length} failed starts, e.g. ${startErrors.slice(0, 3).join('; ')}`);
    limit.push(`${startErrors.length} failed starts`);
  }

  let waiting = 0;
  let allWaitingMs = NaN;
  try {
    await until(
      `${okStarts} releases to wait for approval`,
      async () => (waiting = await count(waitingQuery)) >= okStarts,
      ALL_WAITING_MS,
      500,
    );
    allWaitingMs = performance.now() - t0;
  } catch {
    limit.push(`only ${waiting}/${okStarts} waiting after ${ms(ALL_WAITING_MS)}`);
  }
  log(`${setup.label}: ${waiting} waiting after ${ms(performance.now() - t0)}`);
  await sleep(2000);
  const waitingKiB = await settledRss(workerPids, 3000, 7);
  const serverKiB = sum(serverPids().map(pssOf));
  log(
    `${setup.label}: worker RSS ${mb(idleKiB)} idle, ${mb(waitingKiB)} with ${waiting} waiting; server ${mb(serverKiB)}`,
  );

  // ---- one approval each ----
  const live = items
    .map((it, i) => ({ ...it, run: started[i]?.runId }))
    .filter((it): it is typeof it & { run: string } => !!it.run);
  const approvalRequests = (login: string) =>
    live.map((it) => ({
      action: 'approve' as const,
      app: it.app,
      env: 'production',
      version: it.version,
      run: it.run,
      details: detailsDigest({ comment: `by ${login}` }),
    }));
  await signer.sign(FIRST, keys[FIRST]!.file, approvalRequests(FIRST));
  const approveMs: number[] = [];
  const queryMs: number[] = [];
  let failedApprovals = 0;
  const approveErrors: string[] = [];
  const a0 = performance.now();
  await pool(live, APPROVE_CONCURRENCY, async (it, i) => {
    const s = performance.now();
    let proved = s;
    const firstProver = signer.prover(FIRST);
    try {
      const r = await clients[i % CLIENTS]!.approve({
        app: it.app,
        version: it.version,
        comment: `by ${FIRST}`,
        // Called between the status query and the Update: splits the two.
        prove: (req) => ((proved = performance.now()), firstProver(req)),
      });
      if (r.met || r.tally[0]?.have !== 1)
        throw new Error(`tally ${JSON.stringify(r.tally)}, expected 1 of 2`);
      queryMs.push(proved - s);
      approveMs.push(performance.now() - proved);
    } catch (err) {
      failedApprovals++;
      approveErrors.push(`${it.app} ${it.version}: ${(err as Error).message.split('\n')[0]}`);
    }
  });
  const approveWallMs = performance.now() - a0;
  log(
    `${setup.label}: ${approveMs.length} first approvals in ${ms(approveWallMs)}: Update p50 ${ms(percentile(approveMs, 50))}, ` +
      `p99 ${ms(percentile(approveMs, 99))} (status query p50 ${ms(percentile(queryMs, 50))})`,
  );
  if (failedApprovals) {
    log(`${setup.label}: ${failedApprovals} failed approvals, e.g. ${approveErrors.slice(0, 3).join('; ')}`);
    limit.push(`${failedApprovals} failed approvals`);
  }
  await sleep(1000);
  const afterApprovalKiB = await settledRss(workerPids);

  // ---- second approval for the first release of each app: a hundred deploys at once, one per app ----
  // All 1,000 would take 1,000 app processes started one after another per app: minutes of process starts on a
  // small machine, which measures node's start-up more than shipgate. The rest stay waiting (ended at cleanup).
  const deploying = live.slice(0, apps);
  const secondRequests = approvalRequests(SECOND).slice(0, apps);
  await signer.sign(SECOND, keys[SECOND]!.file, secondRequests);
  const d0 = performance.now();
  await pool(deploying, DEPLOY_APPROVE_CONCURRENCY, async (it, i) => {
    await clients[i % CLIENTS]!.approve({
      app: it.app,
      version: it.version,
      comment: `by ${SECOND}`,
      prove: signer.prover(SECOND),
    }).catch((err: Error) => {
      approveErrors.push(`${it.app} ${it.version}: ${err.message.split('\n')[0]}`);
    });
  });
  let deployed = 0;
  let running = deploying.length;
  const stillWaiting = live.length - deploying.length;
  await until(
    'the approved releases to end',
    async () => {
      running = (await count(releasesWhere(`ExecutionStatus = 'Running'`))) - stillWaiting;
      return running <= 0;
    },
    DEPLOY_PHASE_MS,
    1000,
  ).catch(() =>
    limit.push(`${running} releases still running ${ms(DEPLOY_PHASE_MS)} after the second approvals`),
  );
  const deployPhaseMs = performance.now() - d0;
  deployed = await count(releasesWhere(`ExecutionStatus = 'Completed'`));
  const endToEndMs = performance.now() - t0;
  log(`${setup.label}: ${deployed} releases succeeded; deploy phase ${ms(deployPhaseMs)}`);

  return {
    label: setup.label,
    starts: releases,
    failedStarts: startErrors.length,
    startErrors,
    startWallMs,
    startP50: percentile(startMs, 50),
    startP99: percentile(startMs, 99),
    allWaitingMs,
    waiting,
    idleKiB,
    waitingKiB,
    afterApprovalKiB,
    serverKiB,
    approveP50: percentile(approveMs, 50),
    approveP99: percentile(approveMs, 99),
    approveMax: Math.max(...approveMs),
    queryP50: percentile(queryMs, 50),
    queryP99: percentile(queryMs, 99),
    failedApprovals,
    approveWallMs,
    deployed,
    deployPhaseMs,
    endToEndMs,
    signPerSecond,
    limit,
  };
}

/** Runs each setup in its own section (its own cleanup, so the next starts on a quiet machine); returns the rows. */
export async function scaleBenchmark(
  section: (name: string, fn: (c: Cleanup) => Promise<ResultRow[]>) => Promise<void>,
  opts: ScaleOptions & { stopping: () => boolean },
): Promise<{ rows: ResultRow[]; table: string }> {
  const results: Figures[] = [];
  for (const key of opts.setups) {
    if (opts.stopping()) break;
    const setup = SETUPS.find((s) => s.key === key)!;
    await section(`scale: ${setup.label}`, async (c) => {
      results.push(await runSetup(c, setup, opts));
      return [];
    });
  }
  return scaleRows(results, opts);
}

function scaleRows(results: Figures[], opts: ScaleOptions): { rows: ResultRow[]; table: string } {
  const n = opts.releases;
  const perMin = (count: number, msTaken: number) => `${((count / msTaken) * 60_000).toFixed(0)}/min`;
  const figures: [string, (f: Figures) => string][] = [
    [
      `starts/s (${n} at once, ${START_CONCURRENCY} in flight)`,
      (f) => (((f.starts - f.failedStarts) / f.startWallMs) * 1000).toFixed(1),
    ],
    ['start latency p50 / p99', (f) => `${ms(f.startP50)} / ${ms(f.startP99)}`],
    ['failed starts', (f) => String(f.failedStarts)],
    ['until all wait at the gate', (f) => ms(f.allWaitingMs)],
    [
      `approval Update p50 / p99 at ${n} waiting (${APPROVE_CONCURRENCY} at once)`,
      (f) => `${ms(f.approveP50)} / ${ms(f.approveP99)}`,
    ],
    ['approval status query p50 / p99', (f) => `${ms(f.queryP50)} / ${ms(f.queryP99)}`],
    ['failed approvals', (f) => String(f.failedApprovals)],
    ['releases succeeded (one per app deployed)', (f) => `${f.deployed}/${opts.apps}`],
    [
      `deploy phase: ${opts.apps} 2nd approvals → all ended`,
      (f) => `${ms(f.deployPhaseMs)} (${perMin(f.deployed, f.deployPhaseMs)})`,
    ],
    [
      'end to end: first start → all ended',
      (f) => `${ms(f.endToEndMs)} (${perMin(f.deployed, f.endToEndMs)})`,
    ],
    ['worker RSS idle', (f) => mb(f.idleKiB)],
    [`worker RSS, ${n} waiting`, (f) => mb(f.waitingKiB)],
    ['worker RSS after the first approvals', (f) => mb(f.afterApprovalKiB)],
    [
      'MB per waiting release',
      (f) => `${((f.waitingKiB - f.idleKiB) / 1024 / Math.max(1, f.waiting)).toFixed(3)}`,
    ],
    ['Temporal (+ PostgreSQL) PSS, all waiting', (f) => mb(f.serverKiB)],
    ['proofs signed/s (client, before each phase)', (f) => f.signPerSecond.toFixed(0)],
    ['limit reached', (f) => (f.limit.length ? f.limit.join('; ') : 'none')],
  ];
  const rows = figures.map(([figure, value]) => ({
    bench: 's. scale',
    figure,
    n: 1,
    median: results.map(value).join(' | '),
    p95: '',
    ratio: results.map((f) => f.label).join(' | '),
    data: Object.fromEntries(results.map((f) => [f.label, value(f)])),
  }));
  // Side by side: one column per setup.
  const text = table([
    [`scale: ${n} releases, ${opts.apps} apps`, '', ...results.map((f) => f.label)],
    ...figures.map(([figure, value]) => [figure, '', ...results.map(value)]),
  ]);
  return { rows, table: text };
}
