/**
 * A soak (verify.duration > 0) runs as rounds of checks with durable timers between them, so its progress
 * survives a worker restart and its timing is Temporal's. This decides, after each round, whether the soak
 * failed, passed, or sleeps until the next round.
 */
export interface SoakProgress {
  rounds: number;
  failures: number;
  lastProblem: string;
}

export const SOAK_START: SoakProgress = { rounds: 0, failures: 0, lastProblem: '' };

export type SoakDecision = { done: true; ok: boolean; detail: string } | { done: false; sleepMs: number };

export function soakRound(
  before: SoakProgress,
  /** `dead`: the version's process or pods are gone; the soak fails at once, whatever the failureLimit. */
  round: { ok: boolean; detail: string; dead?: boolean },
  spec: { failureLimit: number; intervalMs: number },
  nowMs: number,
  deadlineMs: number,
): { progress: SoakProgress; decision: SoakDecision } {
  const progress: SoakProgress = {
    rounds: before.rounds + 1,
    failures: before.failures + (round.ok ? 0 : 1),
    lastProblem: round.ok ? before.lastProblem : round.detail,
  };
  const { rounds, failures, lastProblem } = progress;
  if (!round.ok && (round.dead || failures > spec.failureLimit)) {
    const detail = `${round.detail} (soak round ${rounds}, ${failures} failed of ${spec.failureLimit} allowed)`;
    return { progress, decision: { done: true, ok: false, detail } };
  }
  if (nowMs >= deadlineMs) {
    const last = lastProblem ? ` (last: ${lastProblem})` : '';
    return {
      progress,
      decision: { done: true, ok: true, detail: `soak: ${rounds} rounds, ${failures} failed${last}` },
    };
  }
  return {
    progress,
    decision: { done: false, sleepMs: Math.min(spec.intervalMs, Math.max(deadlineMs - nowMs, 1)) },
  };
}
