import { describe, expect, it } from 'vitest';
import { evaluateWindows, freezeLabel, openOccurrence, type Freeze } from '../../src/policy/windows.js';
import type { WindowConfig } from '../../src/config/schema.js';
import { refVerdict, transitions } from './windows-reference.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const win = (
  name: string,
  kind: 'deny' | 'allow',
  schedule: string,
  duration: number,
  timezone: string,
): WindowConfig => ({ name, kind, schedule, duration, timezone });

const at = (iso: string) => new Date(iso);
const evalAt = (windows: WindowConfig[], iso: string, freezes: Freeze[] = []) =>
  evaluateWindows(windows, freezes, at(iso));
const occ = (w: WindowConfig, iso: string) => {
  const o = openOccurrence(w, at(iso));
  return o && { start: o.start.toISOString(), end: o.end.toISOString() };
};
const iso = (s: string) => new Date(s).toISOString();

// 2026-01-05 is a Monday. New York is UTC-5 in winter, Berlin UTC+1, Kolkata UTC+5:30.
const weeknight = win('weeknight-maintenance', 'deny', '0 22 * * 1-5', 8 * HOUR, 'America/New_York');
const business = win('business-hours', 'allow', '0 9 * * 1-5', 8 * HOUR, 'Europe/Berlin');

describe('weeknight deny window (0 22 * * 1-5, 8h, America/New_York)', () => {
  it('blocks inside the window, until it closes', () => {
    const v = evalAt([weeknight], '2026-01-06T04:30:00Z'); // Monday 23:30 EST
    expect(v).toMatchObject({
      allowed: false,
      blockedBy: 'weeknight-maintenance',
      until: iso('2026-01-06T11:00:00Z'), // Tuesday 06:00 EST
    });
    expect(v.reason).toContain('weeknight-maintenance');
  });

  it('spills past midnight into the next day', () => {
    expect(evalAt([weeknight], '2026-01-06T08:00:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'weeknight-maintenance',
      until: iso('2026-01-06T11:00:00Z'),
    });
    expect(occ(weeknight, '2026-01-06T08:00:00Z')).toEqual({
      start: iso('2026-01-06T03:00:00Z'),
      end: iso('2026-01-06T11:00:00Z'),
    });
  });

  it('allows outside the window, until it next opens', () => {
    const v = evalAt([weeknight], '2026-01-06T17:00:00Z'); // Tuesday 12:00 EST
    expect(v).toMatchObject({ allowed: true, blockedBy: null, until: iso('2026-01-07T03:00:00Z') });
    expect(occ(weeknight, '2026-01-06T17:00:00Z')).toBeNull();
  });

  it('is open on [start, start + duration)', () => {
    expect(evalAt([weeknight], '2026-01-06T03:00:00Z').allowed).toBe(false); // Monday 22:00:00 EST
    expect(evalAt([weeknight], '2026-01-06T02:59:59.999Z')).toMatchObject({
      allowed: true,
      until: iso('2026-01-06T03:00:00Z'),
    });
    expect(evalAt([weeknight], '2026-01-06T10:59:59.999Z').allowed).toBe(false);
    expect(evalAt([weeknight], '2026-01-06T11:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-01-07T03:00:00Z'),
    });
  });

  it('Friday night spills into Saturday morning; the weekend is free until Monday night', () => {
    expect(evalAt([weeknight], '2026-01-10T08:00:00Z')).toMatchObject({
      allowed: false, // Saturday 03:00 EST
      until: iso('2026-01-10T11:00:00Z'), // Saturday 06:00 EST
    });
    expect(evalAt([weeknight], '2026-01-10T17:00:00Z')).toMatchObject({
      allowed: true, // Saturday noon
      until: iso('2026-01-13T03:00:00Z'), // Monday 22:00 EST
    });
    // No Sunday-night occurrence.
    expect(evalAt([weeknight], '2026-01-12T04:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-01-13T03:00:00Z'),
    });
  });
});

describe('business-hours allow window (0 9 * * 1-5, 8h, Europe/Berlin)', () => {
  it('allows inside, until the window closes', () => {
    const v = evalAt([business], '2026-01-07T09:00:00Z'); // Wednesday 10:00 CET
    expect(v).toMatchObject({ allowed: true, blockedBy: null, until: iso('2026-01-07T16:00:00Z') });
    expect(v.reason).toContain('business-hours');
  });

  it('blocks outside every allow window, until the next one opens', () => {
    expect(evalAt([business], '2026-01-07T17:00:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'outside allow window business-hours',
      until: iso('2026-01-08T08:00:00Z'),
    });
    expect(evalAt([business], '2026-01-10T11:00:00Z')).toMatchObject({
      allowed: false, // Saturday
      until: iso('2026-01-12T08:00:00Z'), // Monday 09:00 CET
    });
  });

  it('follows local time in summer (CEST)', () => {
    expect(evalAt([business], '2026-07-01T08:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-07-01T15:00:00Z'),
    });
  });

  it('names every allow window when outside all of them', () => {
    const weekend = win('weekend-morning', 'allow', '0 10 * * 0,6', 2 * HOUR, 'Europe/Berlin');
    expect(evalAt([business, weekend], '2026-01-10T08:00:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'outside allow windows business-hours, weekend-morning',
      until: iso('2026-01-10T09:00:00Z'),
    });
  });
});

describe('deny overlapping allow', () => {
  const lunch = win('wednesday-lunch', 'deny', '0 12 * * 3', HOUR, 'Europe/Berlin');
  const fridayFreeze = win('friday-afternoon', 'deny', '0 16 * * 5', 3 * HOUR, 'Europe/Berlin');

  it('deny wins inside an allow window', () => {
    expect(evalAt([business, lunch], '2026-01-07T11:30:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'wednesday-lunch',
      until: iso('2026-01-07T12:00:00Z'),
    });
    expect(evalAt([business, lunch], '2026-01-07T10:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-01-07T11:00:00Z'),
    });
  });

  it('when the deny outlasts the allow window, until is the next allow window', () => {
    expect(evalAt([business, fridayFreeze], '2026-01-09T15:30:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'friday-afternoon',
      until: iso('2026-01-12T08:00:00Z'),
    });
  });
});

describe('chained and overlapping occurrences', () => {
  const night = win('night', 'deny', '0 22 * * *', 8 * HOUR, 'America/New_York');
  const morning = win('morning', 'deny', '0 6 * * *', 4 * HOUR, 'America/New_York');

  it('until skips through back-to-back deny windows', () => {
    expect(evalAt([night, morning], '2026-01-07T04:00:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'night',
      until: iso('2026-01-07T15:00:00Z'), // 10:00 EST, when "morning" closes
    });
    expect(evalAt([night, morning], '2026-01-07T01:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-01-07T03:00:00Z'),
    });
  });

  it('blockedBy is the open deny window that stays open longest', () => {
    const long = win('long', 'deny', '0 23 * * *', 10 * HOUR, 'America/New_York');
    expect(evalAt([night, long], '2026-01-07T04:30:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'long',
      until: iso('2026-01-07T14:00:00Z'),
    });
  });

  it('a window chaining into itself never opens', () => {
    expect(
      evalAt([win('every-4h', 'deny', '0 */4 * * *', 4 * HOUR, 'UTC')], '2026-05-05T05:05:00Z'),
    ).toMatchObject({
      allowed: false,
      until: null,
    });
    expect(
      evalAt([win('shifts', 'deny', '0 0,8,16 * * *', 8 * HOUR, 'Asia/Kolkata')], '2026-05-05T05:05:00Z')
        .until,
    ).toBeNull();
  });

  it('overlapping occurrences of one window merge; openOccurrence returns the latest-ending', () => {
    const w = win('overlap', 'deny', '0 9-12 * * *', 90 * MINUTE, 'UTC');
    expect(evalAt([w], '2026-02-02T09:15:00Z').until).toBe(iso('2026-02-02T13:30:00Z'));
    expect(occ(w, '2026-02-02T10:20:00Z')).toEqual({
      start: iso('2026-02-02T10:00:00Z'),
      end: iso('2026-02-02T11:30:00Z'),
    });
    expect(occ(w, '2026-02-02T13:29:59Z')).toEqual({
      start: iso('2026-02-02T12:00:00Z'),
      end: iso('2026-02-02T13:30:00Z'),
    });
    expect(occ(w, '2026-02-02T13:30:00Z')).toBeNull();
  });

  it('back-to-back allow windows chain too', () => {
    const early = win('early', 'allow', '0 6 * * *', 4 * HOUR, 'UTC');
    const late = win('late', 'allow', '0 10 * * *', 4 * HOUR, 'UTC');
    expect(evalAt([early, late], '2026-02-02T07:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-02-02T14:00:00Z'),
    });
  });

  it('a deny ending exactly when an allow window opens', () => {
    const deny = win('overnight', 'deny', '0 22 * * *', 11 * HOUR, 'UTC');
    const allow = win('day', 'allow', '0 9 * * *', 8 * HOUR, 'UTC');
    expect(evalAt([deny, allow], '2026-02-02T08:00:00Z')).toMatchObject({
      allowed: false,
      blockedBy: 'overnight',
      until: iso('2026-02-02T09:00:00Z'),
    });
  });

  it('until marks a change of allowed, not of blockedBy', () => {
    const overlap = win('early-deploy-freeze', 'deny', '0 5 * * *', 3 * HOUR, 'America/New_York');
    expect(evalAt([night, overlap], '2026-01-07T04:00:00Z')).toMatchObject({
      blockedBy: 'night', // "early-deploy-freeze" is not open yet
      until: iso('2026-01-07T13:00:00Z'), // 08:00 EST
    });
  });
});

describe('freezes', () => {
  const freeze = (over: Partial<Freeze> = {}): Freeze => ({
    id: 'fz-1',
    by: 'alice',
    reason: 'release week',
    until: '2026-02-01T00:00:00Z',
    ...over,
  });

  it('an active freeze blocks until it ends', () => {
    const v = evalAt([], '2026-01-10T00:00:00Z', [freeze()]);
    expect(v).toMatchObject({
      allowed: false,
      blockedBy: 'freeze by alice',
      until: iso('2026-02-01T00:00:00Z'),
    });
    expect(freezeLabel(freeze())).toBe('freeze by alice');
    expect(v.reason).toContain('release week');
  });

  it('an expired freeze does nothing', () => {
    expect(evalAt([], '2026-03-01T00:00:00Z', [freeze()])).toEqual({
      allowed: true,
      blockedBy: null,
      until: null,
      reason: expect.any(String),
    });
  });

  it('a future freeze allows until it starts; [from, until) is half-open', () => {
    const f = freeze({ from: '2026-01-20T00:00:00Z' });
    expect(evalAt([], '2026-01-10T00:00:00Z', [f])).toMatchObject({
      allowed: true,
      until: iso('2026-01-20T00:00:00Z'),
    });
    expect(evalAt([], '2026-01-20T00:00:00Z', [f])).toMatchObject({
      allowed: false,
      until: iso('2026-02-01T00:00:00Z'),
    });
    expect(evalAt([], '2026-02-01T00:00:00Z', [f])).toMatchObject({ allowed: true, until: null });
  });

  it('with a deny window open too, blockedBy is whichever stays open longer', () => {
    const night = win('night', 'deny', '0 22 * * *', 8 * HOUR, 'America/New_York'); // until 11:00Z
    expect(
      evalAt([night], '2026-01-07T04:00:00Z', [freeze({ until: '2026-01-07T09:00:00Z' })]),
    ).toMatchObject({
      blockedBy: 'night',
      until: iso('2026-01-07T11:00:00Z'),
    });
    expect(
      evalAt([night], '2026-01-07T04:00:00Z', [freeze({ until: '2026-01-07T12:00:00Z' })]),
    ).toMatchObject({
      blockedBy: 'freeze by alice',
      until: iso('2026-01-07T12:00:00Z'),
    });
  });

  it('a freeze starting when a window closes extends the block', () => {
    const night = win('night', 'deny', '0 22 * * *', 8 * HOUR, 'America/New_York');
    const f = freeze({ from: '2026-01-07T11:00:00Z', until: '2026-01-07T13:00:00Z' });
    expect(evalAt([night], '2026-01-07T04:00:00Z', [f])).toMatchObject({
      blockedBy: 'night',
      until: iso('2026-01-07T13:00:00Z'),
    });
  });

  it('a freeze inside an allow window; once it ends, the allow window decides', () => {
    const f = freeze({ until: '2026-01-07T18:00:00Z' }); // past business hours (16:00Z)
    expect(evalAt([business], '2026-01-07T10:00:00Z', [f])).toMatchObject({
      blockedBy: 'freeze by alice',
      until: iso('2026-01-08T08:00:00Z'),
    });
  });

  it('rejects freezes with invalid times instead of ignoring them', () => {
    expect(() => evalAt([], '2026-01-07T10:00:00Z', [freeze({ until: 'next tuesday' })])).toThrow(
      /invalid ISO/,
    );
  });
});

describe('DST: America/New_York (2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST)', () => {
  it('durations are elapsed time across the change', () => {
    const sat = win('saturday-night', 'deny', '0 22 * * 6', 8 * HOUR, 'America/New_York');
    // Sat 2026-03-07 22:00 EST (03:00Z) + 8h = 11:00Z = 07:00 EDT.
    expect(evalAt([sat], '2026-03-08T10:30:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-03-08T11:00:00Z'),
    });
    // Sat 2026-10-31 22:00 EDT (02:00Z) + 8h = 10:00Z = 05:00 EST.
    expect(evalAt([sat], '2026-11-01T09:30:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-11-01T10:00:00Z'),
    });
  });

  it('a fixed time in the spring-forward gap fires at 03:00 EDT, the first instant after the gap', () => {
    const w = win('two-thirty', 'deny', '30 2 * * *', HOUR, 'America/New_York');
    expect(occ(w, '2026-03-08T07:30:00Z')).toEqual({
      start: iso('2026-03-08T07:00:00Z'),
      end: iso('2026-03-08T08:00:00Z'),
    });
    expect(evalAt([w], '2026-03-08T06:45:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-03-08T07:00:00Z'),
    });
    expect(evalAt([w], '2026-03-08T07:30:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-03-08T08:00:00Z'),
    });
    expect(occ(w, '2026-03-07T07:45:00Z')?.start).toBe(iso('2026-03-07T07:30:00Z')); // 02:30 EST the day before
  });

  it('an interval schedule skips times in the gap', () => {
    const w = win('half-hourly-at-two', 'deny', '*/30 2 * * *', 30 * MINUTE, 'America/New_York');
    expect(evalAt([w], '2026-03-08T07:15:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-03-09T06:00:00Z'),
    });
  });

  it('a fixed time that occurs twice fires only the first time', () => {
    const w = win('one-thirty', 'deny', '30 1 * * *', 30 * MINUTE, 'America/New_York');
    expect(evalAt([w], '2026-11-01T05:45:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-11-01T06:00:00Z'),
    });
    expect(evalAt([w], '2026-11-01T06:45:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-11-02T06:30:00Z'),
    });
  });

  it('an interval schedule fires on both passes through the repeated hour', () => {
    const w = win('half-hourly-at-one', 'deny', '*/30 1 * * *', 30 * MINUTE, 'America/New_York');
    expect(evalAt([w], '2026-11-01T06:15:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-11-01T07:00:00Z'),
    });
    expect(occ(w, '2026-11-01T06:15:00Z')?.start).toBe(iso('2026-11-01T06:00:00Z')); // 01:00 EST
  });

  it('a run of occurrences crossing the change is followed in real time', () => {
    const w = win('early-hours', 'deny', '*/15 1-3 * * *', 15 * MINUTE, 'America/New_York');
    // 01:00-01:45 EST, then 03:00-03:45 EDT: continuous, closes at 04:00 EDT.
    expect(evalAt([w], '2026-03-08T06:10:00Z').until).toBe(iso('2026-03-08T08:00:00Z'));
    // 01:00-01:45 EDT, 01:00-01:45 EST, then 02:00-03:45 EST: closes at 04:00 EST.
    expect(evalAt([w], '2026-11-01T05:10:00Z').until).toBe(iso('2026-11-01T09:00:00Z'));
  });

  it('a daily 24h window leaves the extra hour of the fall-back day open', () => {
    const w = win('all-day', 'deny', '0 0 * * *', 24 * HOUR, 'America/New_York');
    expect(evalAt([w], '2026-06-01T12:00:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-11-02T04:00:00Z'), // Nov 1 00:00 EDT + 24h = Nov 1 23:00 EST
    });
  });
});

describe('DST: Europe/Berlin (2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET)', () => {
  it('gap and repeated hour', () => {
    const fixed = win('two-thirty', 'deny', '30 2 * * *', HOUR, 'Europe/Berlin');
    expect(occ(fixed, '2026-03-29T01:30:00Z')).toEqual({
      start: iso('2026-03-29T01:00:00Z'),
      end: iso('2026-03-29T02:00:00Z'),
    });
    expect(occ(fixed, '2026-03-28T01:45:00Z')?.start).toBe(iso('2026-03-28T01:30:00Z'));
    const short = win('two-thirty-short', 'deny', '30 2 * * *', 30 * MINUTE, 'Europe/Berlin');
    expect(evalAt([short], '2026-10-25T01:45:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-10-26T01:30:00Z'),
    });
    const interval = win('half-hourly-at-two', 'deny', '*/30 2 * * *', 30 * MINUTE, 'Europe/Berlin');
    expect(evalAt([interval], '2026-10-25T01:10:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-10-25T02:00:00Z'),
    });
  });

  it('business hours move with the clocks', () => {
    expect(evalAt([business], '2026-03-27T17:00:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-03-30T07:00:00Z'),
    });
    expect(evalAt([business], '2026-10-23T17:00:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-10-26T08:00:00Z'),
    });
  });
});

describe('DST: Australia/Lord_Howe (30-minute shift)', () => {
  // 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (15:30Z); 2026-04-05 02:00 +11:00 -> 01:30 +10:30 (15:00Z).
  it('spring forward by 30 minutes', () => {
    const fixed = win('two-fifteen', 'deny', '15 2 * * *', HOUR, 'Australia/Lord_Howe');
    expect(occ(fixed, '2026-10-03T16:00:00Z')).toEqual({
      start: iso('2026-10-03T15:30:00Z'),
      end: iso('2026-10-03T16:30:00Z'),
    });
    const interval = win('quarter-hourly-at-two', 'deny', '*/15 2 * * *', 15 * MINUTE, 'Australia/Lord_Howe');
    expect(evalAt([interval], '2026-10-03T15:20:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-10-03T15:30:00Z'),
    });
    expect(evalAt([interval], '2026-10-03T15:35:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-10-03T16:00:00Z'),
    });
  });

  it('fall back by 30 minutes', () => {
    const fixed = win('one-forty-five', 'deny', '45 1 * * *', 10 * MINUTE, 'Australia/Lord_Howe');
    expect(evalAt([fixed], '2026-04-04T14:50:00Z').allowed).toBe(false);
    expect(evalAt([fixed], '2026-04-04T15:20:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-04-05T15:15:00Z'),
    });
    const interval = win('every-20-at-one', 'deny', '*/20 1 * * *', 10 * MINUTE, 'Australia/Lord_Howe');
    // 01:40 happens twice: 14:40Z (+11:00) and 15:10Z (+10:30).
    expect(evalAt([interval], '2026-04-04T15:15:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-04-04T15:20:00Z'),
    });
    const night = win('night', 'deny', '0 22 * * *', 8 * HOUR, 'Australia/Lord_Howe');
    expect(evalAt([night], '2026-04-04T18:00:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-04-04T19:00:00Z'),
    });
  });
});

describe('Asia/Kolkata (+05:30, no DST)', () => {
  it('same UTC times all year', () => {
    const w = win('weeknight', 'deny', '0 22 * * 1-5', 8 * HOUR, 'Asia/Kolkata');
    expect(evalAt([w], '2026-01-05T20:00:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-01-06T00:30:00Z'),
    });
    expect(evalAt([w], '2026-07-06T18:00:00Z')).toMatchObject({
      allowed: false,
      until: iso('2026-07-07T00:30:00Z'),
    });
    expect(evalAt([w], '2026-07-06T12:00:00Z')).toMatchObject({
      allowed: true,
      until: iso('2026-07-06T16:30:00Z'),
    });
  });
});

describe('nothing changes within 366 days', () => {
  it('no windows, no freezes', () => {
    expect(evalAt([], '2026-01-01T00:00:00Z')).toMatchObject({ allowed: true, blockedBy: null, until: null });
  });

  it('always open allow or deny windows', () => {
    const day = (kind: 'deny' | 'allow') => win(`daily-${kind}`, kind, '0 0 * * *', 24 * HOUR, 'UTC');
    expect(evalAt([day('allow')], '2026-04-01T12:00:00Z')).toMatchObject({ allowed: true, until: null });
    expect(evalAt([day('deny')], '2026-04-01T12:00:00Z')).toMatchObject({ allowed: false, until: null });
  });

  it('a yearly window within the horizon, a leap-day one beyond it', () => {
    const yearly = win('new-year', 'deny', '0 0 1 1 *', HOUR, 'UTC');
    expect(evalAt([yearly], '2026-02-01T00:00:00Z').until).toBe(iso('2027-01-01T00:00:00Z'));
    const leap = win('leap-day', 'deny', '0 0 29 2 *', HOUR, 'UTC');
    expect(evalAt([leap], '2026-03-01T00:00:00Z')).toMatchObject({ allowed: true, until: null });
    expect(evalAt([leap], '2027-03-01T00:00:00Z').until).toBe(iso('2028-02-29T00:00:00Z'));
  });
});

describe('worst-case windows (their cost is measured in bench/windows.ts, never timed here)', () => {
  it('an always-open every-minute window blocks with no end in sight, in every time zone', () => {
    for (const tz of ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
      const w = win('every-minute', 'deny', '* * * * *', MINUTE, tz);
      expect(evalAt([w], '2026-05-05T12:34:56Z')).toMatchObject({
        allowed: false,
        blockedBy: 'every-minute',
        until: null,
      });
    }
  });

  it('long chains over weekdays only stay blocked with no end in sight', () => {
    const w = win('weekdays', 'deny', '* * * * 1-5', 3 * DAY, 'America/New_York');
    expect(evalAt([w], '2026-05-05T12:34:56Z')).toMatchObject({ allowed: false, until: null });
  });

  it('pathological allow/deny interleaving is capped, with a safe (early) until', () => {
    const windows = [
      win('odd-minutes', 'allow', '*/2 * * * *', MINUTE, 'UTC'),
      win('also-odd', 'deny', '*/2 * * * *', MINUTE, 'UTC'),
    ];
    const t0 = Date.parse('2026-05-05T12:00:30Z');
    const v = evaluateWindows(windows, [], new Date(t0));
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/evaluate again/);
    const until = Date.parse(v.until!);
    expect(until).toBeGreaterThan(t0);
    // Never later than the real change (there is none): still blocked just before and at `until`.
    expect(refVerdict(windows, [], until - 1).allowed).toBe(false);
    expect(refVerdict(windows, [], until).allowed).toBe(false);
  });
});

describe('regressions (property-test counterexamples)', () => {
  // fast-check seed 1686935768: a March-only deny window sat dormant past its last offset change, and
  // every question about it went back to croner, so the work cap ran out in February and `until` came
  // back early (and "too dense") instead of being the real change in April.
  it('a dormant March-only window does not exhaust the work cap: until is the real change months later', () => {
    const windows = [
      win('deny-0', 'deny', '* 0-1/2 * 3 1-5', 30 * MINUTE, 'America/New_York'),
      win('deny-1', 'deny', '* 0,12 * * *', 122 * MINUTE, 'Europe/Berlin'),
      win('allow-2', 'allow', '0 0 * * 0,1,2,3', MINUTE, 'Australia/Lord_Howe'),
    ];
    // Until Lord Howe leaves DST (2028-04-02), its midnight (13:00Z) falls inside Berlin's 12:00 deny run;
    // after it, midnight is 13:30Z, half an hour after that run (CEST, 10:00Z-13:01Z) has ended.
    const v = evalAt(windows, '2027-10-02T15:30:00Z');
    expect(v).toMatchObject({
      allowed: false,
      blockedBy: 'outside allow window allow-2',
      until: iso('2028-04-02T13:30:00Z'),
    });
    expect(v.reason).not.toMatch(/evaluate again/);
    expect(refVerdict(windows, [], Date.parse('2028-04-02T13:30:00Z') - 1).allowed).toBe(false);
    expect(refVerdict(windows, [], Date.parse('2028-04-02T13:30:00Z')).allowed).toBe(true);
  });
});

describe('input checks', () => {
  it('rejects a non-positive duration', () => {
    expect(() => evalAt([win('bad', 'deny', '0 0 * * *', 0, 'UTC')], '2026-01-01T00:00:00Z')).toThrow(
      /duration/,
    );
    expect(() =>
      openOccurrence(win('bad', 'deny', '0 0 * * *', -1, 'UTC'), at('2026-01-01T00:00:00Z')),
    ).toThrow(/duration/);
  });
});

describe('reference sanity', () => {
  it('finds the DST transitions used above', () => {
    const y2026 = [Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)] as const;
    const list = (tz: string) => transitions(tz, ...y2026).map((t) => new Date(t).toISOString());
    expect(list('America/New_York')).toEqual([iso('2026-03-08T07:00:00Z'), iso('2026-11-01T06:00:00Z')]);
    expect(list('Europe/Berlin')).toEqual([iso('2026-03-29T01:00:00Z'), iso('2026-10-25T01:00:00Z')]);
    expect(list('Australia/Lord_Howe')).toEqual([iso('2026-04-04T15:00:00Z'), iso('2026-10-03T15:30:00Z')]);
    expect(list('Asia/Kolkata')).toEqual([]);
  });
});
