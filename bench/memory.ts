/**
 * (c) Worker resident memory with many releases of many apps waiting for approval at once.
 *
 * Each app has one environment, `production`, which needs two approvals. It is the entry environment, so a
 * release builds (a directory copy), reaches the gate and waits there: no app process starts. The worker is a
 * separate `shipgate worker` process; its RSS comes from /proc/<pid>/status. Each start is signed with an
 * ssh-keygen key and verified by the worker (the default `identity: proven`).
 */
import { ShipgateClient } from '../src/client.js';
import { HELLO_SOURCE, pool, rssOf, sleep, startStack, until, type Cleanup } from './lib/stack.js';
import { mb, ms, type ResultRow } from './lib/stats.js';

/** Target ports are never bound here (no deploy happens), but must be distinct for the config to be valid. */
const FIRST_PORT = 41_000;
const START_CONCURRENCY = 25;
const RELEASER = 'dave';

export function manyAppsConfig(apps: number) {
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'] },
    apps: Object.fromEntries(
      Array.from({ length: apps }, (_, i) => [
        appName(i),
        {
          build: { kind: 'local', source: HELLO_SOURCE },
          environments: {
            production: {
              branches: ['main'],
              target: { kind: 'local', port: FIRST_PORT + i },
              approvals: [{ group: 'team-leads', count: 2 }],
            },
          },
        },
      ]),
    ),
  };
}

const appName = (i: number) => `svc-${String(i).padStart(3, '0')}`;

export interface MemoryOptions {
  apps: number;
  log: (line: string) => void;
}

/** Median of a few RSS samples over `overMs`, so one allocation burst does not decide the figure. */
async function settledRss(
  pid: number,
  overMs = 2000,
  samples = 5,
): Promise<{ rssKiB: number; hwmKiB: number }> {
  const values: number[] = [];
  let hwm = 0;
  for (let i = 0; i < samples; i++) {
    const r = rssOf(pid);
    values.push(r.rssKiB);
    hwm = r.hwmKiB;
    await sleep(overMs / samples);
  }
  values.sort((a, b) => a - b);
  return { rssKiB: values[Math.floor(values.length / 2)]!, hwmKiB: hwm };
}

export async function memoryBenchmark(cleanup: Cleanup, opts: MemoryOptions): Promise<ResultRow[]> {
  const { log, apps } = opts;
  log(`starting dev server and worker with ${apps} apps`);
  const stack = await startStack(cleanup, 'memory', manyAppsConfig(apps), [RELEASER]);
  const pid = stack.worker.child.pid!;
  const sg: ShipgateClient = stack.sg;
  const waitingQuery = `WorkflowType = 'releaseWorkflow' AND ExecutionStatus = 'Running' AND ShipgateStage = 'awaiting-approval'`;
  const countWaiting = async () => (await stack.client.workflow.count(waitingQuery)).count;
  const prove = stack.prove(RELEASER);
  const start = (i: number) =>
    sg.release({ app: appName(i), version: '1.0.0', commit: `mem${i}`, branch: 'main', prove });

  const ids: string[] = [];
  cleanup.add(`terminate the waiting releases`, () =>
    pool(ids, 50, (id) =>
      stack.client.workflow
        .getHandle(id)
        .terminate('bench cleanup')
        .catch(() => undefined),
    ),
  );

  await sleep(2000);
  const idle = await settledRss(pid);
  log(`idle worker: ${mb(idle.rssKiB)}`);

  // The first release also pays one-off costs (the workflow sandbox, activity code paths); measured apart.
  ids.push((await start(0)).workflowId);
  await until(
    'the first release to wait for approval',
    async () => (await sg.status(appName(0), '1.0.0')).stage === 'awaiting-approval',
    60_000,
    50,
  );
  const one = await settledRss(pid);
  log(`one waiting release: ${mb(one.rssKiB)}`);

  const t0 = performance.now();
  const rest = Array.from({ length: apps - 1 }, (_, k) => k + 1);
  await pool(rest, START_CONCURRENCY, async (i) => {
    ids.push((await start(i)).workflowId);
  });
  const startedMs = performance.now() - t0;
  let seen = 0;
  await until(
    `${apps} releases to wait for approval`,
    async () => {
      seen = await countWaiting();
      return seen >= apps;
    },
    180_000,
    250,
  );
  const allWaitingMs = performance.now() - t0;
  // Visibility can lag the workflows; ask a sample of them directly too.
  for (const i of [0, Math.floor(apps / 2), apps - 1]) {
    const s = await sg.status(appName(i), '1.0.0');
    if (s.stage !== 'awaiting-approval' || s.state !== 'running')
      throw new Error(`${appName(i)} is ${s.state} ${s.stage}, not waiting`);
  }
  log(`${apps} releases waiting after ${ms(allWaitingMs)} (all started in ${ms(startedMs)})`);
  await sleep(1000);
  const all = await settledRss(pid, 3000, 7);
  log(`${apps} waiting releases: ${mb(all.rssKiB)} (peak so far ${mb(all.hwmKiB)})`);

  const t1 = performance.now();
  await pool(ids, 50, (id) => stack.client.workflow.getHandle(id).terminate('bench cleanup'));
  ids.length = 0;
  await until('no release to be running', async () => (await countWaiting()) === 0, 60_000, 250);
  log(`terminated ${apps} releases in ${ms(performance.now() - t1)}`);
  await sleep(1000);
  const after = await settledRss(pid);

  const perRelease = (all.rssKiB - one.rssKiB) / (apps - 1);
  const perReleaseNaive = (all.rssKiB - idle.rssKiB) / apps;
  const text = (figure: string, value: string): ResultRow => ({
    bench: 'c. memory',
    figure,
    n: 1,
    median: value,
    p95: '',
    ratio: '',
  });
  return [
    text('worker RSS, idle (baseline)', mb(idle.rssKiB)),
    text('worker RSS, 1 release waiting', mb(one.rssKiB)),
    {
      ...text(`worker RSS, ${apps} releases waiting`, mb(all.rssKiB)),
      ratio: `${(all.rssKiB / idle.rssKiB).toFixed(2)}× idle`,
    },
    text('per waiting release, marginal ((N − 1) after the first)', `${(perRelease / 1024).toFixed(3)} MB`),
    text('per waiting release, incl. one-off (vs idle)', `${(perReleaseNaive / 1024).toFixed(3)} MB`),
    text('worker peak RSS (VmHWM)', mb(all.hwmKiB)),
    text('worker RSS after terminating them', mb(after.rssKiB)),
    text(`time to start ${apps} releases (${START_CONCURRENCY} at a time)`, ms(startedMs)),
    text(`time until all ${apps} wait for approval`, ms(allWaitingMs)),
  ];
}
