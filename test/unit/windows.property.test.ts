import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { evaluateWindows, freezeLabel, openOccurrence, type Freeze } from '../../src/policy/windows.js';
import type { WindowConfig } from '../../src/config/schema.js';
import {
  refFirstChange,
  refOpenOccurrence,
  refVerdict,
  transitions,
  wallAt,
  type RefFreeze,
  type RefWindow,
} from './windows-reference.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const ZONES = ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'] as const;
const START = Date.UTC(2026, 0, 1);
const END = Date.UTC(2028, 0, 1);
/** Every DST transition of the zones above in 2026-2027, so instants can be drawn close to them. */
const TRANSITIONS = ZONES.flatMap((z) => transitions(z, START - DAY, END + DAY));

const int = (min: number, max: number) => fc.integer({ min, max });

/**
 * DST-focused cases: a transition, windows in its zone whose hours are the local hours around it (so fixed
 * times land in the gap or in the repeated hour), and instants shortly around it.
 */
const DST_CASES = ZONES.flatMap((zone) =>
  transitions(zone, START - DAY, END + DAY).map((t) => {
    const hours = new Set<number>();
    for (const d of [-HOUR, -MINUTE, 0, HOUR]) {
      const h = wallAt(zone, t + d).hour;
      hours.add(h).add((h + 1) % 24);
    }
    return { zone, t, hours: [...hours].sort((a, b) => a - b) };
  }),
);
const dstScenario = fc.constantFrom(...DST_CASES).chain(({ zone, t, hours }) => {
  const hour = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...hours).map(String) },
    { weight: 2, arbitrary: fc.subarray(hours, { minLength: 2 }).map((hs) => hs.join(',')) },
    { weight: 2, arbitrary: fc.constant(`${hours[0]}-${hours[hours.length - 1]}`) },
    { weight: 1, arbitrary: fc.constant('*') },
  );
  const minute = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0, 10, 15, 29, 30, 40, 45, 59).map(String) },
    { weight: 2, arbitrary: fc.constantFrom('*/10', '*/15', '0,30', '20-40', '*', '*/20') },
  );
  const win = fc.record({
    kind: fc.constantFrom('deny' as const, 'allow' as const),
    schedule: fc.tuple(minute, hour).map(([m, h]) => `${m} ${h} * * *`),
    duration: fc.oneof(
      int(1, 180).map((m) => m * MINUTE),
      int(MINUTE, 26 * HOUR),
    ),
    timezone: fc.constant(zone),
  });
  return fc.record({
    windows: fc
      .array(win, { minLength: 1, maxLength: 3 })
      .map((ws): WindowConfig[] => ws.map((w, i) => ({ name: `${w.kind}-${i}`, ...w }))),
    at: fc.oneof(
      int(t - 3 * HOUR, t + 6 * HOUR),
      int(-180, 360).map((m) => t + m * MINUTE),
      int(t - 2 * HOUR, t),
    ),
  });
});

/** A cron field: `*`, a value, a range, a list, `*\/step` or `a-b/step`. */
function field(min: number, max: number, steps: number[], favourite: number[]): fc.Arbitrary<string> {
  const value = fc.oneof(int(min, max), fc.constantFrom(...favourite));
  const pair = fc.tuple(value, value).filter(([a, b]) => a !== b);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('*') },
    { weight: 4, arbitrary: value.map(String) },
    { weight: 2, arbitrary: pair.map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`) },
    {
      weight: 2,
      arbitrary: fc
        .uniqueArray(value, { minLength: 2, maxLength: 4 })
        .map((v) => v.sort((a, b) => a - b).join(',')),
    },
    { weight: 1, arbitrary: fc.constantFrom(...steps).map((s) => `*/${s}`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(pair, fc.constantFrom(...steps))
        .map(([[a, b], s]) => `${Math.min(a, b)}-${Math.max(a, b)}/${s}`),
    },
  );
}

// Hours around DST changes (0-3) and late evening are favoured, as are round minutes.
const minuteField = field(0, 59, [2, 5, 10, 15, 20, 30], [0, 15, 30, 45]);
const hourField = field(0, 23, [2, 3, 4, 6, 8, 12], [0, 1, 2, 3, 22, 23]);
const dowField = fc.oneof(
  { weight: 3, arbitrary: fc.constant('*') },
  { weight: 2, arbitrary: int(0, 7).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('1-5', '0,6', '6', '0', '5') },
  {
    weight: 1,
    arbitrary: fc
      .uniqueArray(int(0, 6), { minLength: 2, maxLength: 4 })
      .map((v) => v.sort((a, b) => a - b).join(',')),
  },
);
const domField = fc.oneof(
  { weight: 6, arbitrary: fc.constant('*') },
  { weight: 1, arbitrary: fc.constantFrom('1', '13', '1-15', '28-31', '1,15', '31', '29', '*/2') },
);
const monthField = fc.oneof(
  { weight: 6, arbitrary: fc.constant('*') },
  { weight: 1, arbitrary: fc.constantFrom('3', '10-12', '1,4,7,10', '2', '3,11') },
);
const schedule = fc
  .tuple(minuteField, hourField, domField, monthField, dowField)
  .map(([m, h, dom, month, dow]) => `${m} ${h} ${dom} ${month} ${dow}`);
const duration = fc.oneof(
  int(1, 30 * 60).map((m) => m * MINUTE),
  int(MINUTE, 30 * HOUR),
  fc.constantFrom(30 * MINUTE, HOUR, 8 * HOUR, DAY),
);
const zone = fc.constantFrom(...ZONES);
const windowArb = fc.record({
  kind: fc.constantFrom('deny' as const, 'allow' as const),
  schedule,
  duration,
  timezone: zone,
});
const windowsArb = (max: number) =>
  fc
    .array(windowArb, { minLength: 1, maxLength: max })
    .map((ws): WindowConfig[] => ws.map((w, i) => ({ name: `${w.kind}-${i}`, ...w })));

const instant = fc.oneof(
  { weight: 2, arbitrary: int(START, END - 1) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...TRANSITIONS), int(-36 * HOUR, 36 * HOUR)).map(([t, d]) => t + d),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...TRANSITIONS), int(-240, 240)).map(([t, m]) => t + m * MINUTE),
  },
);

/** Freezes relative to `at`: active, expired, future, open-ended in the past. */
const freezesArb = fc.array(fc.tuple(fc.option(int(-2 * DAY, 2 * DAY)), int(-DAY, 3 * DAY)), {
  maxLength: 2,
});
function makeFreezes(at: number, specs: [number | null, number][]): Freeze[] {
  return specs.map(([from, length], i) => {
    const start = from === null ? at : at + from;
    return {
      id: `f${i}`,
      by: `user${i}`,
      reason: `reason ${i}`,
      ...(from === null ? {} : { from: new Date(start).toISOString() }),
      until: new Date(start + length).toISOString(),
    };
  });
}

const ref = (ws: WindowConfig[]): RefWindow[] => ws;
const refFreezes = (fs: Freeze[]): RefFreeze[] => fs;

describe('windows (property-based, against a croner-free reference)', () => {
  it('openOccurrence finds the occurrence the minute-by-minute reference finds', () => {
    fc.assert(
      fc.property(windowArb, instant, (w, at) => {
        const win: WindowConfig = { name: 'w', ...w };
        const got = openOccurrence(win, new Date(at));
        const want = refOpenOccurrence(win, at);
        expect(got && { start: got.start.getTime(), end: got.end.getTime() }).toEqual(want);
      }),
      { numRuns: 800 },
    );
  });

  it('openOccurrence agrees with the reference around DST transitions (gaps and repeated hours)', () => {
    fc.assert(
      fc.property(dstScenario, ({ windows, at }) => {
        for (const win of windows) {
          const got = openOccurrence(win, new Date(at));
          const want = refOpenOccurrence(win, at);
          expect(got && { start: got.start.getTime(), end: got.end.getTime() }).toEqual(want);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('allowed and blockedBy agree with the reference', () => {
    fc.assert(
      fc.property(windowsArb(4), freezesArb, instant, (ws, specs, at) => {
        const freezes = makeFreezes(at, specs);
        const v = evaluateWindows(ws, freezes, new Date(at));
        const r = refVerdict(ref(ws), refFreezes(freezes), at);
        expect(v.allowed).toBe(r.allowed);
        if (v.allowed) {
          expect(v.blockedBy).toBeNull();
        } else if (r.openDeny.length > 0 || r.openFreezes.length > 0) {
          const names = [...r.openDeny, ...r.openFreezes.map((i) => freezeLabel(freezes[i]!))];
          expect(names).toContain(v.blockedBy);
        } else {
          expect(v.blockedBy).toMatch(/^outside allow windows? /);
        }
        expect(v.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('until is the first change of allowed (exact within 4 days, and a real change when later)', () => {
    const span = 4 * DAY;
    fc.assert(
      fc.property(windowsArb(3), freezesArb, instant, (ws, specs, at) => {
        const freezes = makeFreezes(at, specs);
        const v = evaluateWindows(ws, freezes, new Date(at));
        const first = refFirstChange(ref(ws), refFreezes(freezes), at, span);
        if (first !== null) {
          expect(v.until).toBe(new Date(first).toISOString());
        } else {
          expect(v.until === null || Date.parse(v.until) > at + span).toBe(true);
        }
        if (v.until !== null) {
          const u = Date.parse(v.until);
          expect(u).toBeGreaterThan(at);
          expect(u - at).toBeLessThanOrEqual(366 * DAY);
          // Just before `until` the verdict is still the current one; at `until` it has changed.
          expect(refVerdict(ref(ws), refFreezes(freezes), u - 1).allowed).toBe(v.allowed);
          expect(refVerdict(ref(ws), refFreezes(freezes), u).allowed).toBe(!v.allowed);
        }
      }),
      { numRuns: 250 },
    );
  });

  it('until is exact around DST transitions', () => {
    const span = 2 * DAY;
    fc.assert(
      fc.property(dstScenario, ({ windows, at }) => {
        const v = evaluateWindows(windows, [], new Date(at));
        expect(v.allowed).toBe(refVerdict(windows, [], at).allowed);
        const first = refFirstChange(windows, [], at, span);
        if (first !== null) expect(v.until).toBe(new Date(first).toISOString());
        else expect(v.until === null || Date.parse(v.until) > at + span).toBe(true);
      }),
      { numRuns: 250 },
    );
  });
});
