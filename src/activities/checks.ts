import { Context } from '@temporalio/activity';
import type { CheckSpec, VerifySpec } from '../workflows/types.js';
import type { Probe, ProbeAnswer, TargetProvider } from '../targets/types.js';
import { placementOf, type PlacementInput } from '../targets/placement.js';
import { httpProbe } from '../targets/http-probe.js';

const urlProbe = (url: string, timeoutMs: number) => httpProbe(url)('', timeoutMs);

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

/** One check, through the target's probe. Returns null when it passes, else why not. */
export async function runCheck(probe: Probe, check: CheckSpec, version: string): Promise<string | null> {
  let res: ProbeAnswer;
  // A check with a URL of its own goes there; a path goes through the target's entry point.
  const where = check.url ?? check.path;
  try {
    res = check.url ? await urlProbe(check.url, check.timeoutMs) : await probe(check.path, check.timeoutMs);
  } catch (err) {
    return `GET ${where}: ${(err as Error).message}`;
  }
  if (res.status !== check.status) return `GET ${where} answered ${res.status}, expected ${check.status}`;
  if (check.json) {
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return `GET ${where} did not answer JSON`;
    }
    for (const [key, want] of Object.entries(expand(check.json, version) as Record<string, unknown>)) {
      const got = field(body, key);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        return `GET ${where}: ${key} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
      }
    }
  }
  return null;
}

/** All checks once, or as a soak: every interval for the duration, failing past failureLimit failed rounds. */
export async function verify(
  probe: Probe,
  version: string,
  spec: VerifySpec,
  heartbeat: (d: string) => void,
  /** Says why the version is no longer running, or null when it is; a dead version fails at once. */
  liveness: () => Promise<string | null> = async () => null,
): Promise<{ ok: boolean; detail: string; dead?: true }> {
  const round = async () => {
    if (spec.checks.length === 0) {
      try {
        const res = await probe('/health', 5000);
        return res.status >= 200 && res.status < 300 ? null : `GET /health answered ${res.status}`;
      } catch (err) {
        return `GET /health: ${(err as Error).message}`;
      }
    }
    for (const check of spec.checks) {
      const problem = await runCheck(probe, check, version);
      if (problem) return problem;
    }
    return null;
  };
  const deadline = Date.now() + spec.durationMs;
  let failures = 0;
  let rounds = 0;
  for (;;) {
    const dead = await liveness();
    // `dead` tells a workflow-driven soak to stop at once: no failureLimit excuses a version that is not running.
    if (dead) return { ok: false, detail: `${dead} during verification`, dead: true };
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

export interface VerifyVersionInput extends PlacementInput {
  version: string;
  verify: VerifySpec;
}

export function createCheckActivities(targets: TargetProvider) {
  return {
    async verifyVersion(input: VerifyVersionInput) {
      const ctx = Context.current();
      const target = targets.open(placementOf(input));
      // A rollback that preempts this deploy cancels the activity; stop verifying at once.
      return Promise.race([
        verify(
          target.probe,
          input.version,
          input.verify,
          (d) => ctx.heartbeat(d),
          () => target.liveness(input.version),
        ),
        ctx.cancelled,
      ]);
    },
  };
}
