/**
 * Chaos with an invariant checker, on the cluster tier (Temporal on PostgreSQL, several workers): a bounded loop
 * of release-approve-deploy-rollback traffic across several apps that, at random points, SIGKILLs a worker,
 * restarts or SIGKILLs the Temporal server and restarts PostgreSQL; then checks what must always hold. Used by
 * test/cluster/chaos.test.ts (short) and `npm run bench -- --only chaos` (long). Seeded: a failing seed replays.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { sshProver } from '../../src/client.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';
import { loadState, envDir } from '../../src/targets/local/state.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';
import { cli } from '../helpers/processes.js';
import type { ClusterStack } from './cluster-stack.js';

export interface ChaosOptions {
  iterations: number;
  seed?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface ChaosCounts {
  seed: number;
  iterations: number;
  releases: number;
  approvals: number;
  rejections: number;
  rollbacks: number;
  workerKills: number;
  temporalRestarts: number;
  temporalKills: number;
  postgresRestarts: number;
  /** Client calls that failed during a disruption and were retried (the same request again). */
  retries: number;
  invariantChecks: number;
}

export interface ChaosResult {
  counts: ChaosCounts;
  /** Every broken invariant, as a sentence; empty when all held. */
  violations: string[];
}

/** mulberry32: a small seeded generator, so a run is reproducible from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Disruption = 'kill-worker' | 'restart-temporal' | 'kill-temporal' | 'restart-postgres';
const DISRUPTIONS: Disruption[] = ['kill-worker', 'restart-temporal', 'kill-temporal', 'restart-postgres'];

/** What the traffic driver did to a release, so its end can be judged. */
interface Driven {
  app: string;
  version: string;
  /** approve: both approvals; reject: carol rejects; leave: nobody decides (a later release supersedes it). */
  decision: 'approve' | 'reject' | 'leave';
  /** Logins whose approve returned 0 (counted) or 3 "already approved" (counted by an earlier attempt). */
  approvedBy: Set<string>;
  fullyApproved: boolean;
}

export async function runChaos(stack: ClusterStack, opts: ChaosOptions): Promise<ChaosResult> {
  const seed = opts.seed ?? Date.now() % 2 ** 31;
  const random = rng(seed);
  const log = opts.log ?? (() => {});
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const counts: ChaosCounts = {
    seed,
    iterations: opts.iterations,
    releases: 0,
    approvals: 0,
    rejections: 0,
    rollbacks: 0,
    workerKills: 0,
    temporalRestarts: 0,
    temporalKills: 0,
    postgresRestarts: 0,
    retries: 0,
    invariantChecks: 0,
  };
  const violations: string[] = [];
  const driven: Driven[] = [];
  const apps = Object.keys(stack.apps);
  const shipped = new Map<string, string[]>(apps.map((a) => [a, []]));
  /** Apps whose production was rolled back since their last release: nothing older is left to go back to. */
  const rolledBack = new Set<string>();
  const rollbackRequests: { app: string; requestId: string; opId: string }[] = [];
  let pendingRestart: Promise<void> = Promise.resolve();

  /** The CLI, again and again while the outcome is transient (exit 4: Temporal or a worker did not answer). */
  const persist = async (args: string[], accept: (code: number, stderr: string) => boolean) => {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const r = await stack.run(args);
      if (accept(r.code, r.stderr)) return r;
      if (Date.now() > deadline)
        throw new Error(`shipgate ${args.join(' ')} kept failing: exit ${r.code}\n${r.stderr}${r.stdout}`);
      counts.retries++;
      await sleep(500);
    }
  };

  const disrupt = async (what: Disruption) => {
    log(`  chaos: ${what}`);
    switch (what) {
      case 'kill-worker': {
        const alive = stack.workers.map((w, i) => [w, i] as const).filter(([w]) => w.running());
        if (alive.length <= 1) return; // keep one: a test of recovery, not of an empty fleet
        const [w, i] = pick(alive);
        await w.kill();
        counts.workerKills++;
        // Restarted a little later, as a supervisor would; meanwhile the others carry the work.
        pendingRestart = pendingRestart.then(async () => {
          await sleep(1000 + random() * 3000);
          // As a supervisor would, start it again until it comes up: Temporal may be down for a restart.
          for (let tries = 1; ; tries++) {
            try {
              await stack.restartWorker(i);
              return;
            } catch (err) {
              if (tries >= 30) throw err;
              await sleep(1000);
            }
          }
        });
        return;
      }
      case 'restart-temporal':
        await stack.cluster.restart();
        counts.temporalRestarts++;
        return;
      case 'kill-temporal':
        await stack.cluster.kill();
        await sleep(random() * 2000);
        await stack.cluster.restart();
        counts.temporalKills++;
        return;
      case 'restart-postgres':
        await stack.cluster.restartPostgres();
        counts.postgresRestarts++;
        return;
    }
  };

  for (let it = 0; it < opts.iterations; it++) {
    const app = apps[it % apps.length]!;
    const version = `1.${Math.floor(it / apps.length)}.0`;
    log(`iteration ${it + 1}/${opts.iterations}: ${app} ${version}`);
    // One disruption at a random moment of this iteration's traffic.
    const chaos = (async () => {
      await sleep(random() * 4000);
      await disrupt(pick(DISRUPTIONS));
    })();
    const roll = random();
    const decision = roll < 0.7 ? 'approve' : roll < 0.85 ? 'reject' : 'leave';
    const d: Driven = { app, version, decision, approvedBy: new Set(), fullyApproved: false };
    driven.push(d);
    await persist(
      [
        'release',
        app,
        version,
        '--commit',
        `c-${version}`,
        '--branch',
        'main',
        '--actor',
        'dave',
        '--wait',
        'staging',
      ],
      (code) => code === 0,
    );
    counts.releases++;
    if (decision === 'approve') {
      for (const by of ['alice', 'bob']) {
        await persist(['approve', app, version, '--as', by], (code, stderr) => {
          // 3 "already approved": an earlier attempt landed although its answer was lost in the disruption.
          const ok = code === 0 || (code === 3 && stderr.includes('already approved'));
          if (ok) d.approvedBy.add(by);
          return ok;
        });
        counts.approvals++;
      }
      d.fullyApproved = true;
      await waitEnded(stack, app, version);
      shipped.get(app)!.push(version);
      rolledBack.delete(app);
    } else if (decision === 'reject') {
      await persist(
        ['reject', app, version, '--as', 'carol', '--reason', `chaos iteration ${it + 1}`],
        // 3 "ended rejected": an earlier attempt landed although its answer was lost in the disruption.
        (code, stderr) => code === 0 || (code === 3 && stderr.includes('rejected')),
      );
      counts.rejections++;
      await waitEnded(stack, app, version);
    }
    // Every other iteration rolls back the production of an app that shipped twice, one request id across retries.
    const rollable = apps.filter((a) => shipped.get(a)!.length >= 2 && !rolledBack.has(a));
    if (it % 2 === 1 && rollable.length > 0) {
      const target = pick(rollable);
      const requestId = randomUUID();
      const prove = sshProver({ login: 'carol', keyFile: stack.keys.carol!.privateKeyFile });
      const deadline = Date.now() + 180_000;
      for (;;) {
        try {
          const accepted = await stack.sg.rollback({
            app: target,
            env: 'production',
            reason: `chaos iteration ${it + 1}`,
            requestId,
            prove,
          });
          rollbackRequests.push({ app: target, requestId, opId: accepted.opId });
          break;
        } catch (err) {
          // The Update ran and the workflow refused it: a wrong request, not a disruption to ride out.
          if (err instanceof WorkflowUpdateFailedError || Date.now() > deadline) throw err;
          counts.retries++;
          await sleep(500);
        }
      }
      rolledBack.add(target);
      counts.rollbacks++;
      await waitSettled(stack, target, 'production');
    }
    await chaos;
  }
  await pendingRestart;
  await stack.ensureWorkers();

  // ---- invariants ----
  const check = (ok: boolean, what: string) => {
    counts.invariantChecks++;
    if (!ok) violations.push(what);
  };
  for (const d of driven) {
    const s = await retrying(() => stack.sg.status(d.app, d.version));
    // Each release ends as its decision says, or legitimately waits: approved ones succeed, rejected ones end
    // rejected, undecided ones are superseded by a later release of their app or, the last, wait at the gate.
    const later = driven.some((x) => x.app === d.app && driven.indexOf(x) > driven.indexOf(d));
    const expected =
      d.decision === 'approve'
        ? 'succeeded'
        : d.decision === 'reject'
          ? 'rejected'
          : later
            ? 'superseded'
            : 'running';
    check(
      s.state === expected,
      `${d.app} ${d.version} is ${s.state} (stage ${s.stage}), expected ${expected}`,
    );
    if (expected === 'running')
      check(s.stage === 'awaiting-approval', `${d.app} ${d.version} waits at ${s.stage}, not at the gate`);
    const given = s.approvals.given.map((g) => g.by);
    check(
      new Set(given).size === given.length,
      `${d.app} ${d.version}: an approval counted twice: ${given.join(', ')}`,
    );
    for (const by of d.approvedBy)
      check(
        given.includes(by),
        `${d.app} ${d.version}: ${by}'s approval was lost (given: ${given.join(', ')})`,
      );
  }
  for (const app of apps)
    for (const env of ['staging', 'production']) {
      const state = await retrying(() => stack.sg.environmentState(app, env));
      const ledger: LedgerEntry[] = state?.ledger ?? [];
      const ops = ledger.map((e) => e.opId);
      check(new Set(ops).size === ops.length, `${app}/${env}: an operation appears twice in the ledger`);
      // One request never deploys twice: each release deploys a version here at most once.
      const deploys = ledger
        .filter((e) => e.action === 'deploy')
        .map((e) => `${e.releaseId ?? ''}:${e.version}`);
      check(
        new Set(deploys).size === deploys.length,
        `${app}/${env}: a release deployed twice: ${deploys.join(', ')}`,
      );
      check(!ledger.some((e) => e.outcome === 'running'), `${app}/${env}: an operation never settled`);
      const port = stack.apps[app]![env as 'staging' | 'production'];
      const serving = await servingVersion(port);
      check(
        serving === (state?.current?.version ?? null),
        `${app}/${env} serves ${serving} but its ledger says ${state?.current?.version}`,
      );
      // The data plane: one process per version in an environment, whatever was retried.
      const st = loadState(envDir(stack.home, app, env));
      const live = (st?.processes ?? []).filter((p) => p.pid > 0 && isAlive(p.pid)).map((p) => p.version);
      check(new Set(live).size === live.length, `${app}/${env}: a version runs twice: ${live.join(', ')}`);
    }
  for (const r of rollbackRequests) {
    const state = await retrying(() => stack.sg.environmentState(r.app, 'production'));
    const entries = (state?.ledger ?? []).filter((e) => e.action === 'rollback' && e.opId === r.opId);
    check(
      entries.length === 1,
      `rollback request ${r.requestId} of ${r.app} made ${entries.length} operations`,
    );
  }
  // Every app process under this home belongs to an environment's recorded state (no orphan from a retried start).
  const recorded = new Set(
    apps.flatMap((a) =>
      ['staging', 'production'].flatMap((e) =>
        (loadState(envDir(stack.home, a, e))?.processes ?? []).map((p) => p.pid),
      ),
    ),
  );
  for (const pid of processesUnder(path.join(stack.home, 'artifacts')))
    check(recorded.has(pid), `app process ${pid} runs under ${stack.home} but no environment records it`);
  const verify = await cli(['audit', 'verify', '--config', stack.configFile], { SHIPGATE_HOME: stack.home });
  check(verify.code === 0, `audit verify failed (exit ${verify.code}): ${verify.stdout}${verify.stderr}`);
  return { counts, violations };
}

/** Retries a read across a server restart that the last disruption may still be finishing. */
async function retrying<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

async function waitEnded(stack: ClusterStack, app: string, version: string): Promise<ReleaseStatus> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const s = await retrying(() => stack.sg.status(app, version));
    if (s.state !== 'running') return s;
    if (Date.now() > deadline) throw new Error(`${app} ${version} still running: ${JSON.stringify(s)}`);
    await sleep(250);
  }
}

async function waitSettled(stack: ClusterStack, app: string, env: string): Promise<void> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const st = await retrying(() => stack.sg.environmentState(app, env));
    if (!(st?.ledger ?? []).some((e) => e.outcome === 'running') && !(st?.queue?.length ?? 0)) return;
    if (Date.now() > deadline)
      throw new Error(`${app}/${env} did not settle: ${JSON.stringify(st?.ledger.at(-1))}`);
    await sleep(250);
  }
}

async function servingVersion(port: number): Promise<string | null> {
  for (let i = 0; i < 20; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/version`);
      if (res.ok) return ((await res.json()) as { version: string }).version;
    } catch {
      // the proxy may be coming back (self-healing); ask again
    }
    await sleep(250);
  }
  return null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids whose working directory is under `dir` (the local target starts each app process in its artifact). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readlinkSync(`/proc/${p}/cwd`).startsWith(dir)) out.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Pids whose command line names `dir`: what a stopped stack must not leave behind. */
export function processesNaming(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
