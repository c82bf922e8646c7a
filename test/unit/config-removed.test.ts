import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  authoriseUnconfigured,
  DEFAULT_CONFIG_REMOVED_GRACE_MS,
  removedHold,
  removedVerdict,
  stillConfiguredRefusal,
  type KnownConfig,
} from '../../src/policy/config-removed.js';
import { heldStage, MAX_GATE_SLEEP_MS } from '../../src/policy/release-decisions.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const where = { app: 'hello', env: 'production' };

describe('a release whose app or environment was removed from the config', () => {
  it('is held with blockedBy config, at the gate stage, saying what is gone and for how long it waits', () => {
    const env = removedVerdict('hello', 'production', false, HOUR);
    expect(env).toMatchObject({ allowed: false, blockedBy: 'config', kind: 'removed', removedGraceMs: HOUR });
    expect(env.reason).toBe(
      'hello/production is no longer in the config; a waiting release ends unless it comes back within 1h',
    );
    expect(removedVerdict('hello', 'production', true, HOUR).reason).toMatch(/^app hello is no longer/);
    expect(heldStage('removed')).toBe('awaiting-gate');
  });

  it('waits the grace from when it was first seen missing, then ends cancelled with when and how long', () => {
    const v = removedVerdict('hello', 'production', false, HOUR);
    const first = removedHold(v, null, T0, where);
    expect(first).toEqual({ since: T0, giveUp: null, sleepMs: 15 * 60_000 });
    // The last sleep ends exactly at the end of the grace, not at the next 15-minute look.
    expect(removedHold(v, T0, T0 + 50 * 60_000, where).sleepMs).toBe(10 * 60_000);
    const end = removedHold(v, T0, T0 + HOUR, where);
    expect(end.giveUp).toEqual({
      state: 'cancelled',
      reason:
        'hello/production was removed from the config (first seen missing at 2026-03-01T10:00:00.000Z) and did not come back within 1h',
    });
  });

  it('starts over once the config names it again (any other verdict resets the clock)', () => {
    const other = { allowed: false, blockedBy: 'w', until: null, reason: 'window', kind: 'window' as const };
    expect(removedHold(other, T0, T0 + 2 * HOUR, where)).toEqual({
      since: null,
      giveUp: null,
      sleepMs: null,
    });
  });

  it('defaults to an hour for verdicts that carry no grace', () => {
    const { removedGraceMs: _g, ...bare } = removedVerdict('hello', 'production', false, 5000);
    expect(removedHold(bare, T0, T0 + DEFAULT_CONFIG_REMOVED_GRACE_MS - 1, where).giveUp).toBeNull();
    expect(removedHold(bare, T0, T0 + DEFAULT_CONFIG_REMOVED_GRACE_MS, where).giveUp).not.toBeNull();
  });

  it('never ends before the grace, always after it, and never sleeps past it or longer than 15 minutes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 7 * 24 * HOUR }),
        fc.integer({ min: 0, max: 8 * 24 * HOUR }),
        (grace, elapsed) => {
          const h = removedHold(removedVerdict('a', 'b', false, grace), T0, T0 + elapsed, where);
          if (elapsed >= grace) return h.giveUp?.state === 'cancelled' && h.sleepMs === null;
          return (
            h.giveUp === null &&
            h.sleepMs !== null &&
            h.sleepMs <= grace - elapsed &&
            h.sleepMs <= MAX_GATE_SLEEP_MS &&
            h.sleepMs > 0
          );
        },
      ),
    );
  });
});

describe('who may act on an environment the config no longer names', () => {
  const known: KnownConfig = {
    rollbackGroups: ['team-leads', 'sre'],
    spec: null,
    at: '2026-03-01T09:00:00Z',
  };
  const groups = { 'team-leads': ['alice', 'Bob'], sre: [], 'release-managers': ['dave'] };

  it('a member of a group that could roll it back, still in that group now', () => {
    expect(authoriseUnconfigured(known, groups, 'teardown', 'bob', 'hello', 'production')).toEqual({
      ok: true,
      group: 'team-leads',
    });
  });

  it('refuses someone who left the group, someone only in another group, and everyone without a record', () => {
    const left = authoriseUnconfigured(
      known,
      { ...groups, 'team-leads': ['alice'] },
      'teardown',
      'bob',
      'hello',
      'production',
    );
    expect(left).toEqual({
      ok: false,
      reason:
        'bob may not tear down hello/production: it is no longer in the config, so only members of the groups that could roll it back when it was last configured (team-leads, sre) who are still in that group may',
    });
    expect(authoriseUnconfigured(known, groups, 'rollback', 'dave', 'hello', 'production').ok).toBe(false);
    const none = authoriseUnconfigured(null, groups, 'rollback', 'alice', 'hello', 'production');
    expect(none.ok).toBe(false);
    expect(!none.ok && none.reason).toMatch(/recorded no config of its own/);
  });

  it('a teardown of a configured environment is refused with what to do first', () => {
    expect(stillConfiguredRefusal('hello', 'staging')).toBe(
      'cannot tear down hello/staging: it is still configured; remove it from the config first',
    );
  });
});
