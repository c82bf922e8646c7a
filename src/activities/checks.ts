import { Context } from '@temporalio/activity';
import type { CheckSpec, VerifySpec } from '../workflows/types.js';
import type { DeploymentTarget } from '../targets/types.js';

/** Replaces {{version}} in expected JSON values, so one check works for every release. */
function expand(value: unknown, version: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{{version}}', version);
  if (Array.isArray(value)) return value.map((v) => expand(v, version));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, version)]));
  return value;
}

function field(body: unknown, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>(
      (acc, key) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[key] : undefined),
      body,
    );
}

/** fetch() reports every network failure as "fetch failed"; the cause says what happened (ECONNREFUSED, ...). */
function fetchError(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}

/** One HTTP probe against the environment's public port. Returns null when it passes, else why not. */
export async function runCheck(port: number, check: CheckSpec, version: string): Promise<string | null> {
  const url = `http://127.0.0.1:${port}${check.path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(check.timeoutMs) });
  } catch (err) {
    return `GET ${check.path}: ${fetchError(err)}`;
  }
  const text = await res.text();
  if (res.status !== check.status)
    return `GET ${check.path} answered ${res.status}, expected ${check.status}`;
  if (check.json) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `GET ${check.path} did not answer JSON`;
    }
    for (const [key, want] of Object.entries(expand(check.json, version) as Record<string, unknown>)) {
      const got = field(body, key);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        return `GET ${check.path}: ${key} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
      }
    }
  }
  return null;
}

/** All checks once, or as a soak: every interval for the duration, failing past failureLimit failed rounds. */
export async function verify(
  port: number,
  version: string,
  spec: VerifySpec,
  heartbeat: (d: string) => void,
  /** Says why the version's process is not alive, or null when it is; a dead process fails at once. */
  alive: () => Promise<string | null> = async () => null,
): Promise<{ ok: boolean; detail: string }> {
  const round = async () => {
    if (spec.checks.length === 0) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
        return res.ok ? null : `GET /health answered ${res.status}`;
      } catch (err) {
        return `GET /health: ${fetchError(err)}`;
      }
    }
    for (const check of spec.checks) {
      const problem = await runCheck(port, check, version);
      if (problem) return problem;
    }
    return null;
  };
  const deadline = Date.now() + spec.durationMs;
  let failures = 0;
  let rounds = 0;
  for (;;) {
    const dead = await alive();
    if (dead) return { ok: false, detail: dead };
    const problem = await round();
    rounds++;
    if (problem) {
      failures++;
      if (failures > spec.failureLimit) return { ok: false, detail: problem };
    }
    heartbeat(`round ${rounds}, ${failures} failed`);
    if (Date.now() >= deadline) return { ok: true, detail: `${rounds} round(s), ${failures} failed` };
    await new Promise((r) => setTimeout(r, Math.min(spec.intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

export function createCheckActivities(target?: DeploymentTarget) {
  const alive = (app: string, env: string, version: string) => async () => {
    const status = await target?.status(app, env);
    if (!status) return null;
    const procs = status.processes.filter((p) => p.version === version);
    if (procs.length === 0 || procs.some((p) => p.alive)) return null;
    return `the process of ${version} exited during verification`;
  };
  return {
    async verifyVersion(input: {
      app: string;
      env: string;
      port: number;
      version: string;
      verify: VerifySpec;
    }) {
      const ctx = Context.current();
      // A rollback that preempts this deploy cancels the activity; stop verifying at once.
      return Promise.race([
        verify(
          input.port,
          input.version,
          input.verify,
          (d) => ctx.heartbeat(d),
          alive(input.app, input.env, input.version),
        ),
        ctx.cancelled,
      ]);
    },
  };
}
