import { AbortError, CanaryFailedError } from '../errors.js';
import { httpProbe } from '../http-probe.js';
import type { ActivateHooks, ActivateResult } from '../types.js';
import type { LocalEnv } from './environment.js';
import { sleep, throwIfAborted } from './processes.js';
import { soleVersion, type RouteEntry } from './route.js';
import type { ProcessRecord } from './state.js';
import type { LocalRequest } from './types.js';

const DEFAULT_CANARY_STEPS = [10, 50, 100];
const DEFAULT_CANARY_PAUSE_MS = 5_000;

export async function activate(
  env: LocalEnv,
  req: LocalRequest,
  hooks: ActivateHooks,
): Promise<ActivateResult> {
  throwIfAborted(hooks.signal, `activating ${env.label} ${req.version}`);
  await env.ensureProxy();
  env.prune();
  const current = env.find(req.version);
  if (current?.ready && soleVersion(env.st.route)?.port === current.port) {
    // A retry whose first attempt switched but died before recording when the previous version may go.
    markPrevious(env, current, req.keepPreviousMs);
    return { serving: req.version, previous: env.st.previous, alreadyServing: true, warm: false };
  }
  switch (req.strategy) {
    case 'blue-green':
      return blueGreen(env, req, hooks);
    case 'canary':
      return canary(env, req, hooks);
    case 'recreate':
      return recreate(env, req, hooks);
    default:
      throw new Error(`unknown strategy "${String(req.strategy)}": expected blue-green, canary or recreate`);
  }
}

function markPrevious(env: LocalEnv, serving: ProcessRecord, keepPreviousMs: number): void {
  const until = new Date(Date.now() + keepPreviousMs).toISOString();
  let changed = false;
  for (const r of env.st.processes) {
    if (r !== serving && r.ready && r.keepUntil === null) {
      r.keepUntil = until;
      changed = true;
    }
  }
  if (changed) env.save();
}

async function blueGreen(env: LocalEnv, req: LocalRequest, hooks: ActivateHooks): Promise<ActivateResult> {
  const { rec, fresh } = await env.start(req, hooks);
  if (hooks.signal?.aborted) {
    if (fresh) await env.stop(rec);
    throw new AbortError(
      `activating ${env.label} ${req.version} was aborted before the switch; nothing changed`,
    );
  }
  return switchTo(env, req, rec, !fresh, true);
}

/** Sends all traffic to rec in one route change; keeps the stable version as a warm standby if asked. */
async function switchTo(
  env: LocalEnv,
  req: LocalRequest,
  rec: ProcessRecord,
  warm: boolean,
  keepStable: boolean,
): Promise<ActivateResult> {
  const stable = keepStable ? env.stable(req.version) : undefined;
  // When the stable version is this one (its process had died), the earlier warm version stays the standby.
  const standby = stable ?? (keepStable ? env.warmPrevious(req.version) : undefined);
  const route: RouteEntry[] = [{ version: req.version, port: rec.port, weight: 100 }];
  // At weight 0 the previous version takes no traffic but is where the proxy retries if the new one refuses.
  if (standby) route.push({ version: standby.version, port: standby.port, weight: 0 });
  await env.setRoute(route);
  rec.keepUntil = null;
  if (stable) stable.keepUntil = new Date(Date.now() + req.keepPreviousMs).toISOString();
  env.save();
  // Only the immediate previous version stays warm; older ones would only hold memory and ports.
  await env.stopAllExcept([rec, standby]);
  return { serving: req.version, previous: env.st.previous, alreadyServing: false, warm };
}

function canarySteps(steps: number[] | undefined): number[] {
  const valid = (steps ?? DEFAULT_CANARY_STEPS).filter((p) => Number.isInteger(p) && p > 0 && p < 100);
  return [...new Set(valid)].sort((a, b) => a - b);
}

/** Waits between canary steps, reporting progress each second so the caller can heartbeat. */
async function pause(ms: number, hooks: ActivateHooks, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (let left = ms; left > 0; left = end - Date.now()) {
    await sleep(Math.min(left, 1000), hooks.signal);
    hooks.progress?.(what);
  }
}

async function canary(env: LocalEnv, req: LocalRequest, hooks: ActivateHooks): Promise<ActivateResult> {
  const stable = env.stable(req.version);
  // With nothing serving there is nothing to compare the canary against.
  if (!stable) return blueGreen(env, req, hooks);
  const before = env.find(req.version);
  // A warm standby of this version survives a failed canary; a process started for it (now, or by an
  // interrupted attempt that left it taking traffic) does not.
  const keepOnFailure = before?.ready === true && env.weightOf(before) === 0;
  const { rec, fresh } = await env.start(req, hooks);
  const label = `${env.label} ${req.version}`;
  let at = 0;
  try {
    for (const percent of canarySteps(req.canarySteps)) {
      throwIfAborted(hooks.signal, `canary of ${label}`);
      at = percent;
      await env.setRoute([
        { version: req.version, port: rec.port, weight: percent },
        { version: stable.version, port: stable.port, weight: 100 - percent },
      ]);
      hooks.progress?.(`canary ${label} takes ${percent}% of traffic`);
      await pause(req.canaryPauseMs ?? DEFAULT_CANARY_PAUSE_MS, hooks, `canary ${label} at ${percent}%`);
      await hooks.checkStep?.(percent, httpProbe(`http://127.0.0.1:${rec.port}`));
    }
    throwIfAborted(hooks.signal, `canary of ${label}`);
  } catch (err) {
    const baseline: RouteEntry[] = [{ version: stable.version, port: stable.port, weight: 100 }];
    if (keepOnFailure) baseline.push({ version: req.version, port: rec.port, weight: 0 });
    await env.setRoute(baseline);
    if (!keepOnFailure) await env.stop(rec);
    const back = `all traffic is back on ${stable.version}`;
    if (err instanceof AbortError || hooks.signal?.aborted) {
      throw new AbortError(`canary of ${label} was aborted at ${at}%; ${back}`);
    }
    throw new CanaryFailedError(`canary of ${label} failed at ${at}%: ${(err as Error).message}; ${back}`, {
      cause: err,
    });
  }
  return switchTo(env, req, rec, !fresh, true);
}

// Recreate never runs two versions at once, at the price of downtime: requests get 503 until the new
// version is ready. An abort or failure after the old version stopped leaves the environment empty.
async function recreate(env: LocalEnv, req: LocalRequest, hooks: ActivateHooks): Promise<ActivateResult> {
  const existing = env.find(req.version);
  if (existing?.ready) return switchTo(env, req, existing, true, false);
  throwIfAborted(hooks.signal, `activating ${env.label} ${req.version}`);
  await env.setRoute([]);
  await env.stopAllExcept([existing]);
  const { rec } = await env.start(req, hooks);
  return switchTo(env, req, rec, false, false);
}
