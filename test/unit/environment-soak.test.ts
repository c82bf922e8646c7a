import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SOAK_START,
  soakRound,
  type SoakDecision,
  type SoakProgress,
} from '../../src/policy/environment-soak.js';

const ok = { ok: true, detail: '' };
const bad = (detail = 'GET /smoke answered 500, expected 200') => ({ ok: false, detail });
const spec = { failureLimit: 1, intervalMs: 600_000 };

describe('soakRound', () => {
  it('sleeps an interval between rounds, and only until the deadline', () => {
    expect(soakRound(SOAK_START, ok, spec, 0, 3_600_000).decision).toEqual({ done: false, sleepMs: 600_000 });
    expect(soakRound(SOAK_START, ok, spec, 3_500_000, 3_600_000).decision).toEqual({
      done: false,
      sleepMs: 100_000,
    });
  });

  it('passes at the deadline, counting rounds and failures and naming the last problem', () => {
    const after = { rounds: 5, failures: 1, lastProblem: 'GET /smoke: timed out' };
    expect(soakRound(after, ok, spec, 3_600_000, 3_600_000).decision).toEqual({
      done: true,
      ok: true,
      detail: 'soak: 6 rounds, 1 failed (last: GET /smoke: timed out)',
    });
    expect(soakRound(SOAK_START, ok, spec, 10, 0).decision).toEqual({
      done: true,
      ok: true,
      detail: 'soak: 1 rounds, 0 failed',
    });
  });

  it('fails as soon as failures pass the limit, even at the deadline', () => {
    const once = soakRound(SOAK_START, bad(), spec, 0, 3_600_000);
    expect(once.decision.done).toBe(false);
    expect(soakRound(once.progress, bad('GET /smoke: refused'), spec, 3_600_000, 3_600_000).decision).toEqual(
      {
        done: true,
        ok: false,
        detail: 'GET /smoke: refused (soak round 2, 2 failed of 1 allowed)',
      },
    );
  });

  it('agrees with a plain simulation of rounds on a clock (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 20 }).map((m) => m * 60_000),
        fc.integer({ min: 0, max: 240 }).map((m) => m * 60_000),
        (outcomes, failureLimit, intervalMs, durationMs) => {
          const s = { failureLimit, intervalMs };
          let clock = 0;
          let progress: SoakProgress = SOAK_START;
          let decision: SoakDecision | undefined;
          let failures = 0;
          let i = 0;
          for (; i < outcomes.length; i++) {
            const round = soakRound(progress, outcomes[i] ? ok : bad(`p${i}`), s, clock, durationMs);
            if (!outcomes[i]) failures++;
            expect(round.progress).toMatchObject({ rounds: i + 1, failures });
            decision = round.decision;
            if (decision.done) break;
            expect(decision.sleepMs).toBeGreaterThanOrEqual(1);
            expect(decision.sleepMs).toBeLessThanOrEqual(intervalMs);
            clock += decision.sleepMs;
            progress = round.progress;
          }
          if (!decision!.done) return;
          if (failures > failureLimit) {
            expect(decision).toMatchObject({ ok: false });
            expect(outcomes[i]).toBe(false);
          } else {
            expect(decision).toMatchObject({ ok: true });
            expect(clock).toBeGreaterThanOrEqual(durationMs);
          }
        },
      ),
    );
  });
});
