/**
 * Self-healing of one local environment: its proxy must answer on its admin API, and each version the route
 * sends traffic to must run. A pass first looks without the lock (cheap: a state read, a few pid checks and
 * one local HTTP call), and only when something looks wrong takes the environment's lock, without waiting,
 * looks again and repairs: a proxy is restarted on its recorded port with its own persisted route, and a dead
 * version's process from its recorded artifact and command, on the port the route names. The route itself is
 * never changed: which version serves is the ledger's business, not the reconciler's.
 */
import { repairDelayMs } from '../../policy/self-healing.js';
import type { HealthCheck, ReconcileHooks } from '../types.js';
import { LocalEnv, type EnvOptions } from './environment.js';
import { readJson } from './json-file.js';
import { EnvBusyError, withEnvLock } from './mutex.js';
import { isAlive } from './processes.js';
import { soleVersion, type RouteEntry } from './route.js';
import { envDir, routePath, type ProcessRecord } from './state.js';

interface Observation {
  version: string | null;
  /** What is wrong, one phrase each; empty when the environment serves. */
  problems: string[];
  proxyDown: boolean;
  /** Records of versions the route sends traffic to whose process is gone. */
  dead: ProcessRecord[];
}

/** The route the proxy persisted (newer than state's copy when they differ), else state's. */
function currentRoute(env: LocalEnv): RouteEntry[] {
  return readJson<{ route: RouteEntry[] }>(routePath(env.dir))?.route ?? env.st.route;
}

async function observe(env: LocalEnv, tries: number): Promise<Observation> {
  const route = currentRoute(env);
  const version = route.length === 0 ? null : (soleVersion(route)?.version ?? env.st.serving);
  const problems: string[] = [];
  const p = env.st.proxy;
  let proxyDown = false;
  if (!p) {
    proxyDown = route.length > 0;
    if (proxyDown) problems.push('no proxy is running');
  } else if (!isAlive(p.pid, p.startTicks)) {
    proxyDown = true;
    problems.push(`proxy ${p.pid} is gone`);
  } else if (!(await env.proxyAnswers(tries))) {
    proxyDown = true;
    problems.push(`proxy ${p.pid} is not answering`);
  }
  const dead: ProcessRecord[] = [];
  for (const e of route.filter((x) => x.weight > 0)) {
    const recs = env.st.processes.filter((r) => r.port === e.port && r.version === e.version);
    if (recs.some((r) => r.pid !== 0 && isAlive(r.pid, r.startTicks))) continue;
    const rec = recs.find((r) => r.ready) ?? recs[0];
    if (rec) {
      dead.push(rec);
      problems.push(`the process of ${e.version} (pid ${rec.pid}) exited`);
    } else problems.push(`no process of ${e.version} is recorded for 127.0.0.1:${e.port}`);
  }
  return { version, problems, proxyDown, dead };
}

export interface RepairMemory {
  /** Failed repairs in a row, and when the next may be tried (epoch ms). */
  failures: number;
  nextAt: number;
  detail: string;
}

/**
 * One pass over the environment under `home`: null when nothing was ever deployed there, 'busy' when a deploy
 * (or another worker's pass) holds its lock, else whether it serves after what the pass did.
 */
export async function reconcileLocal(
  home: string,
  app: string,
  envName: string,
  opts: EnvOptions,
  memory: Map<string, RepairMemory>,
  hooks: ReconcileHooks = {},
): Promise<HealthCheck | 'busy' | null> {
  const dir = envDir(home, app, envName);
  const quick = LocalEnv.open(home, app, envName, opts);
  if (!quick) return null;
  const first = await observe(quick, 1);
  if (first.problems.length === 0) {
    memory.delete(dir);
    return { state: 'serving', version: first.version, detail: null };
  }
  const failed = memory.get(dir);
  if (failed && Date.now() < failed.nextAt)
    return { state: 'down', version: first.version, detail: failed.detail };
  try {
    return await withEnvLock(
      dir,
      async () => {
        // Read again under the lock: another worker may have repaired it, or a deploy changed it.
        const env = LocalEnv.open(home, app, envName, opts);
        if (!env) return null;
        const seen = await observe(env, 3);
        if (seen.problems.length === 0) {
          memory.delete(dir);
          return { state: 'serving' as const, version: seen.version, detail: null };
        }
        const found = seen.problems.join('; ');
        hooks.down?.({ version: seen.version, detail: `${found}; restarting` });
        const done: string[] = [];
        try {
          if (seen.proxyDown) {
            await env.ensureProxy();
            done.push(`restarted the proxy (pid ${env.st.proxy?.pid}) on 127.0.0.1:${env.st.port}`);
          }
          if (seen.dead.length > 0 && !((await hooks.mayRestartProcesses?.()) ?? true)) {
            const detail = `${found}; not restarted while a deploy or rollback verifies it`;
            return { state: 'down' as const, version: seen.version, detail };
          }
          for (const rec of seen.dead) {
            await env.revive(rec);
            done.push(`restarted ${rec.version} on 127.0.0.1:${rec.port}`);
          }
        } catch (err) {
          const detail = `${found}; could not restart: ${(err as Error).message.split('\n')[0]}`;
          const failures = (memory.get(dir)?.failures ?? 0) + 1;
          memory.set(dir, { failures, nextAt: Date.now() + repairDelayMs(failures), detail });
          opts.log(`${env.label}: ${detail}`);
          return { state: 'down' as const, version: seen.version, detail };
        }
        const after = await observe(env, 3);
        if (after.problems.length > 0) {
          const detail = `${found}; still down after restarting: ${after.problems.join('; ')}`;
          const failures = (memory.get(dir)?.failures ?? 0) + 1;
          memory.set(dir, { failures, nextAt: Date.now() + repairDelayMs(failures), detail });
          return { state: 'down' as const, version: after.version, detail };
        }
        memory.delete(dir);
        return { state: 'serving' as const, version: after.version, detail: `${found}; ${done.join('; ')}` };
      },
      { label: quick.label, tryOnly: true },
    );
  } catch (err) {
    if (err instanceof EnvBusyError) return 'busy';
    throw err;
  }
}
