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
const dead = { ok: false, detail: 'the process of 1.1.0 exited during verification', dead: true };

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

  it('fails at once when the version is dead, though failed rounds are allowed and time is left', () => {
    const allowing = { failureLimit: 100, intervalMs: 1_000 };
    expect(soakRound(SOAK_START, dead, allowing, 0, 3_600_000)).toEqual({
      progress: { rounds: 1, failures: 1, lastProblem: dead.detail },
      decision: {
        done: true,
        ok: false,
        detail: 'the process of 1.1.0 exited during verification (soak round 1, 1 failed of 100 allowed)',
      },
    });
  });

  it('a dead round always ends the soak as failed, whatever the failureLimit and progress (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.string(),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.integer({ min: 0, max: 7_200_000 }),
        fc.integer({ min: 0, max: 7_200_000 }),
        fc.string({ minLength: 1 }),
        (failureLimit, rounds, failuresSeed, lastProblem, intervalMs, nowMs, deadlineMs, detail) => {
          // Any progress a soak can have made so far: at most `rounds` failures, none past the limit.
          const failures = Math.min(failuresSeed, rounds, failureLimit);
          const before = { rounds, failures, lastProblem };
          const { progress, decision } = soakRound(
            before,
            { ok: false, detail, dead: true },
            { failureLimit, intervalMs },
            nowMs,
            deadlineMs,
          );
          expect(decision).toEqual({
            done: true,
            ok: false,
            detail: `${detail} (soak round ${rounds + 1}, ${failures + 1} failed of ${failureLimit} allowed)`,
          });
          expect(progress).toEqual({ rounds: rounds + 1, failures: failures + 1, lastProblem: detail });
        },
      ),
    );
  });

  it('without a dead round, a soak within its failureLimit runs on: a round is dead only when it says so', () => {
    const allowing = { failureLimit: 100, intervalMs: 1_000 };
    for (const round of [bad(dead.detail), { ...bad(dead.detail), dead: false }])
      expect(soakRound(SOAK_START, round, allowing, 0, 3_600_000).decision).toEqual({
        done: false,
        sleepMs: 1_000,
      });
  });

  it('agrees with a plain simulation of rounds on a clock, some of them finding the version dead (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('ok', 'bad', 'dead'), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 20 }).map((m) => m * 60_000),
        fc.integer({ min: 0, max: 240 }).map((m) => m * 60_000),
        (outcomes, failureLimit, intervalMs, durationMs) => {
          const s = { failureLimit, intervalMs };
          const roundOf = (o: string, i: number) =>
            o === 'ok' ? ok : o === 'bad' ? bad(`p${i}`) : { ...dead, detail: `p${i}` };
          let clock = 0;
          let progress: SoakProgress = SOAK_START;
          let decision: SoakDecision | undefined;
          let failures = 0;
          let i = 0;
          for (; i < outcomes.length; i++) {
            const round = soakRound(progress, roundOf(outcomes[i]!, i), s, clock, durationMs);
            if (outcomes[i] !== 'ok') failures++;
            expect(round.progress).toMatchObject({ rounds: i + 1, failures });
            decision = round.decision;
            if (decision.done) break;
            expect(outcomes[i]).not.toBe('dead');
            expect(decision.sleepMs).toBeGreaterThanOrEqual(1);
            expect(decision.sleepMs).toBeLessThanOrEqual(intervalMs);
            clock += decision.sleepMs;
            progress = round.progress;
          }
          if (!decision!.done) return;
          if (failures > failureLimit || outcomes[i] === 'dead') {
            expect(decision).toMatchObject({ ok: false, detail: expect.stringMatching(`^p${i} `) });
            expect(outcomes[i]).not.toBe('ok');
          } else {
            expect(decision).toMatchObject({ ok: true });
            expect(clock).toBeGreaterThanOrEqual(durationMs);
          }
        },
      ),
    );
  });
});
