/**
 * Maintenance-window and freeze evaluation. Pure: no I/O, no clock (the instant is a parameter). The only
 * outside dependency is the time-zone database behind `Intl` (through croner), which is why workflows run
 * this as a local activity and record its verdict in history.
 *
 * ## Semantics
 *
 * - A window *occurrence* starts at each fire time of the window's cron schedule, read in the window's IANA
 *   time zone, and lasts `duration` milliseconds of elapsed (absolute) time, whatever the wall clock does
 *   meanwhile. It is open on the half-open interval `[start, start + duration)`. Occurrences may overlap each
 *   other, and may run past midnight or over several days.
 * - `deny` windows: deploys are blocked while any deny occurrence is open.
 * - `allow` windows: when an environment has at least one allow window, deploys are allowed only while at
 *   least one allow occurrence is open. With no allow windows, every instant counts as "inside".
 * - Freezes block exactly like deny windows, on `[from, until)`; without `from` a freeze has always started.
 * - Deny (and freeze) wins over allow: `allowed = !inAnyDeny && (noAllowWindows || inAnyAllow)`.
 *
 * ## `blockedBy`
 *
 * - A deny window: its `name`.
 * - A freeze: `freeze by <login>` (see {@link freezeLabel}); the freeze's free-text reason is quoted in `reason`.
 * - When several deny windows/freezes are open, the one whose own (merged) coverage lasts longest, so that
 *   `until` is meaningful for it. Ties go to the first, deny windows in config order before freezes.
 * - Outside every allow window (and no deny open): `outside allow window <name>`, or
 *   `outside allow windows <a>, <b>` when there are several.
 * - `null` when allowed.
 *
 * ## `until`
 *
 * The first instant after `at` at which `allowed` changes (a change of `blockedBy` alone does not count), so a
 * chain of back-to-back or overlapping occurrences, of one window or several, is skipped through. `null` when
 * `allowed` does not change within 366 days of `at`.
 *
 * Evaluation is lazy: occurrences are found with croner's `nextRun`/`previousRuns` (croner is the authority
 * on which instants fire). Between two croner answers, on a stretch with one UTC offset, fire times follow
 * from the times of day and the plain day rules croner parsed (`CronPattern`), so runs of occurrences that
 * chain (each fire at most `duration` after the previous one) are jumped over arithmetically; any DST change
 * hands control back to croner. So `* * * * *` with a one-minute duration (always blocked) takes a few
 * milliseconds, not half a million croner calls. As a safety net for pathological combinations (say, allow
 * and deny windows that interleave every minute for a year) the work per evaluation is capped (about 200
 * croner calls' worth, counted deterministically). If the cap is hit, `until` is the furthest instant up to
 * which the verdict was proven unchanged: earlier than the real change, never later, so re-evaluating then
 * is always safe; `reason` says so. `allowed` and `blockedBy` are always exact.
 *
 * ## Daylight-saving time (croner 11 semantics, verified against a minute-by-minute reference in tests)
 *
 * croner follows Vixie cron (and croner-rust) here. It distinguishes:
 * - *Fixed-time* schedules: seconds, minutes and hours each hold exactly one value, written without `*` or
 *   `/` (e.g. `30 2 * * *`, also `0 22 * * 1-5`; a list or range that happens to hold one value, such as `0-0`,
 *   counts as fixed too).
 *   - A local time that does not exist (spring-forward gap) fires once, at the first instant after the gap on
 *     the same day: `30 2 * * *` in America/New_York on 2026-03-08 fires at 03:00 EDT (07:00Z); `15 2 * * *` in
 *     Australia/Lord_Howe on 2026-10-04 (02:00 -> 02:30 shift) fires at 02:30 +11:00. The occurrence then lasts
 *     `duration` from that instant.
 *   - A local time that occurs twice (fall-back) fires once, at its first occurrence: `30 1 * * *` in
 *     America/New_York on 2026-11-01 fires at 01:30 EDT (05:30Z) only.
 * - *Interval* schedules: a wildcard, step, list or range with several values in seconds, minutes or hours
 *   (e.g. `*\/30 1 * * *`, `0 1,2 * * *`).
 *   - Times in a spring-forward gap are skipped (no occurrence).
 *   - Times that occur twice fire on both occurrences: `*\/30 1 * * *` in America/New_York on 2026-11-01 fires
 *     at 01:00 and 01:30 EDT and again at 01:00 and 01:30 EST; in Australia/Lord_Howe on 2026-04-05 (02:00 ->
 *     01:30) a `40 1` fire happens at 01:40 +11:00 and again at 01:40 +10:30.
 * - Day-of-week/day-of-month are matched on the local date. Day-of-month and day-of-week combine with OR
 *   when both are restricted (croner's default, like Vixie cron).
 * - Zones without DST (Asia/Kolkata, UTC) have none of this; fractional offsets (+05:30, Lord Howe's +10:30)
 *   need nothing special.
 * Durations are elapsed time, so an 8 h deny window starting at 22:00 the night before a fall-back ends at
 * 05:00 local, and one starting before a spring-forward ends at 07:00 local.
 */
import { Cron, CronPattern } from 'croner';
import type { WindowConfig } from '../config/schema.js';

export interface Freeze {
  id: string;
  /** ISO-8601 instant: the freeze ends here (exclusive). */
  until: string;
  /** ISO-8601 instant: the freeze starts here (inclusive). Absent: it has always been in force. */
  from?: string;
  by: string;
  reason: string;
}

export interface WindowVerdict {
  allowed: boolean;
  /** Deny window name, `freeze by <login>`, or `outside allow window(s) <names>`; null when allowed. */
  blockedBy: string | null;
  /** ISO instant at which `allowed` next changes; null if nothing changes within 366 days. */
  until: string | null;
  /** A human sentence explaining the verdict. */
  reason: string;
}

const DAY_MS = 86_400_000;
/** How far ahead `until` is searched. */
export const WINDOW_HORIZON_MS = 366 * DAY_MS;
/** Work cap per evaluation (see Context): 200 croner calls' worth, some tens of ms. See "until" above. */
const WORK_BUDGET = 8_000;

/** The `blockedBy` name of a freeze. */
export function freezeLabel(freeze: Pick<Freeze, 'by'>): string {
  return `freeze by ${freeze.by}`;
}

// ---------------------------------------------------------------------------------------------------------
// Time-zone helpers (Intl only)

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The UTC offset (ms) in force in `timeZone` at instant `t`. */
function utcOffset(timeZone: string, t: number): number {
  const fields = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(t)) {
    if (part.type in fields) fields[part.type as keyof typeof fields] = Number(part.value);
  }
  const wholeSeconds = Math.floor(t / 1000) * 1000;
  const wall = Date.UTC(
    fields.year,
    fields.month - 1,
    fields.day,
    fields.hour % 24,
    fields.minute,
    fields.second,
  );
  return wall - wholeSeconds;
}

/**
 * Offsets at every UTC midnight, and the exact instants of the changes found between two of them, cached
 * per zone: `Intl` is the slow part, and the same days get asked about again and again.
 */
const dayOffsets = new Map<string, Map<number, number>>();
const changeInstants = new Map<string, Map<number, number>>();

function offsetAtDay(timeZone: string, dayIndex: number): number {
  let m = dayOffsets.get(timeZone);
  if (!m || m.size > 100_000) dayOffsets.set(timeZone, (m = new Map()));
  let off = m.get(dayIndex);
  if (off === undefined) m.set(dayIndex, (off = utcOffset(timeZone, dayIndex * DAY_MS)));
  return off;
}

/**
 * The first instant after `from` at which the offset of `timeZone` is no longer `off`, if that happens by
 * `to` (or soon after); null if the offset holds throughout (from, to]. Assumes a zone never changes its
 * offset twice within 24 hours (true of tzdb).
 */
function findOffsetChange(
  timeZone: string,
  off: number,
  from: number,
  to: number,
  ctx: Context,
): number | null {
  for (let i = Math.floor(from / DAY_MS) + 1; (i - 1) * DAY_MS <= to; i++) {
    ctx.budget--; // charged whether cached or not, so that results never depend on the cache
    if (offsetAtDay(timeZone, i) === off) continue;
    let m = changeInstants.get(timeZone);
    if (!m || m.size > 10_000) changeInstants.set(timeZone, (m = new Map()));
    let change = m.get(i);
    if (change === undefined) {
      // Bisect between the two midnights; the offset before the change is the one at the earlier midnight.
      const before = offsetAtDay(timeZone, i - 1);
      let a = (i - 1) * DAY_MS;
      let b = i * DAY_MS;
      while (b - a > 1) {
        const mid = Math.floor((a + b) / 2);
        if (utcOffset(timeZone, mid) === before) a = mid;
        else b = mid;
      }
      m.set(i, (change = b));
    }
    ctx.budget -= 30;
    if (change > from) return change;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Schedules

/**
 * Plain day-of-month / month / day-of-week matching, read from croner's parsed pattern. As in croner (and Vixie
 * cron), day-of-month and day-of-week combine with OR when both are restricted, unless `+` asks for AND.
 */
interface DayRule {
  dom: boolean[]; // index 0 = the 1st
  month: boolean[]; // index 0 = January
  dow: boolean[]; // index 0 = Sunday
  and: boolean;
}

function dayMatchesRule(r: DayRule, dayWall: number): boolean {
  const d = new Date(dayWall);
  const dom = r.dom[d.getUTCDate() - 1]!;
  const dow = r.dow[d.getUTCDay()]!;
  return r.month[d.getUTCMonth()]! && (r.and ? dom && dow : dom || dow);
}

interface Schedule {
  cron: Cron;
  /** Sorted times of day (ms after local midnight) at which the schedule fires on a day it matches. */
  tods: number[];
  /** Which local days match, for schedules without `L`, `W`, `#` or a year field; null: only croner knows. */
  days: DayRule | null;
  /** runEnd by duration: runEnd[i] is the last j >= i such that tods[i..j] are each at most `duration` apart. */
  runs: Map<number, Int32Array>;
}

const schedules = new Map<string, Schedule>();

function scheduleFor(expr: string, timeZone: string): Schedule {
  const key = `${timeZone}\u0000${expr}`;
  let s = schedules.get(key);
  if (!s) {
    if (schedules.size > 500) schedules.clear();
    const cron = new Cron(expr, { timezone: timeZone, paused: true });
    const p = new CronPattern(expr, timeZone);
    const tods: number[] = [];
    for (let h = 0; h < 24; h++) {
      if (!p.hour[h]) continue;
      for (let m = 0; m < 60; m++) {
        if (!p.minute[m]) continue;
        for (let sec = 0; sec < 60; sec++) if (p.second[sec]) tods.push(((h * 60 + m) * 60 + sec) * 1000);
      }
    }
    // croner stores a plain day-of-week as 63 ("every occurrence in the month"); other values mean `#`/`L`.
    const ALL_OCCURRENCES = 63;
    const plain =
      p.starYear &&
      !p.lastDayOfMonth &&
      !p.lastWeekday &&
      !p.nearestWeekdays.some((v) => v) &&
      p.day.every((v) => v === 0 || v === 1) &&
      p.dayOfWeek.slice(0, 7).every((v) => v === 0 || v === ALL_OCCURRENCES);
    const days: DayRule | null = plain
      ? {
          dom: p.day.slice(0, 31).map((v) => v === 1),
          month: p.month.slice(0, 12).map((v) => v === 1),
          dow: p.dayOfWeek.slice(0, 7).map((v) => v === ALL_OCCURRENCES),
          and: p.starDOM || p.starDOW || p.useAndLogic,
        }
      : null;
    s = { cron, tods, days, runs: new Map() };
    schedules.set(key, s);
  }
  return s;
}

function runsFor(s: Schedule, duration: number): Int32Array {
  let r = s.runs.get(duration);
  if (!r) {
    if (s.runs.size > 50) s.runs.clear();
    const n = s.tods.length;
    r = new Int32Array(n);
    for (let i = n - 1; i >= 0; i--) {
      r[i] = i < n - 1 && s.tods[i + 1]! - s.tods[i]! <= duration ? r[i + 1]! : i;
    }
    s.runs.set(duration, r);
  }
  return r;
}

/** Largest index with tods[i] <= x, or -1. */
function floorIndex(tods: number[], x: number): number {
  let lo = 0;
  let hi = tods.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (tods[mid]! <= x) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function checkWindow(w: WindowConfig): void {
  if (!Number.isFinite(w.duration) || w.duration <= 0) {
    throw new Error(`window "${w.name}": duration must be a positive number of milliseconds`);
  }
}

function instant(iso: string, what: string): number {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`${what}: invalid ISO-8601 time "${iso}"`);
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Tracks: the open set of one window or freeze, queried lazily and monotonically

/**
 * Work accounting, so pathological schedules stay cheap. Units approximate cost: a croner call (tens of
 * microseconds with a time zone) is {@link CRONER_COST}, an `Intl` offset lookup or a loop step is 1.
 */
interface Context {
  horizon: number;
  budget: number;
}
const CRONER_COST = 40;

interface Track {
  readonly label: string;
  /** If `t` is covered, the end of the maximal covered stretch containing it (Infinity past the horizon). */
  coverEnd(t: number): number | null;
  /** For an uncovered `t`: the next instant that is covered (Infinity if none within the horizon). */
  nextStart(t: number): number;
}

class FreezeTrack implements Track {
  readonly label: string;
  private readonly from: number;
  private readonly until: number;

  constructor(readonly freeze: Freeze) {
    this.label = freezeLabel(freeze);
    this.from = freeze.from === undefined ? -Infinity : instant(freeze.from, `freeze ${freeze.id} from`);
    this.until = instant(freeze.until, `freeze ${freeze.id} until`);
  }

  coverEnd(t: number): number | null {
    return t >= this.from && t < this.until ? this.until : null;
  }

  nextStart(t: number): number {
    return this.from > t && this.from < this.until ? this.from : Infinity;
  }
}

/** How many days ahead the arithmetic looks for the next matching day before leaving it to croner. */
const DAY_SCAN = 62;

/**
 * A stretch of time starting at a fire time `from` (learnt from croner), with one UTC offset throughout,
 * and within `from`'s local day unless the schedule has a {@link DayRule}. On it the schedule
 * fires exactly at the times of day in `tods` of each matching day, so fire times are plain arithmetic.
 * Fixed-time DST exceptions cannot occur inside: a gap or a repeated hour needs an offset change, and a
 * fire time just after an offset change that croner moved out of a gap is `from` itself.
 */
class Segment {
  /** The offset is known constant on [from, verified]. */
  private verified: number;
  /** The first instant after `from` with another offset, once found. */
  private change: number | null = null;
  /** The local midnight after `from` for schedules whose matching days are unknown; else Infinity. */
  private readonly maxEnd: number;
  private readonly fromDay: number;

  constructor(
    readonly from: number,
    readonly off: number,
    private readonly s: Schedule,
    private readonly tz: string,
    private readonly ctx: Context,
  ) {
    this.verified = from;
    this.fromDay = Math.floor((from + off) / DAY_MS) * DAY_MS;
    this.maxEnd = s.days ? Infinity : this.fromDay + DAY_MS - off;
  }

  /** The end (exclusive) of the segment, or `bound` if the segment reaches past it. */
  endBefore(bound: number): number {
    const cap = Math.min(bound, this.maxEnd);
    if (this.change === null && this.verified < cap) {
      this.change = findOffsetChange(this.tz, this.off, this.verified, cap, this.ctx);
      if (this.change === null) this.verified = cap;
    }
    return Math.min(cap, this.change ?? Infinity);
  }

  contains(t: number): boolean {
    return t >= this.from && t < this.endBefore(t + 1);
  }

  /** Whether the local day starting at wall-clock `dayWall` matches (only meaningful inside the segment). */
  dayMatches(dayWall: number): boolean {
    return this.s.days ? dayMatchesRule(this.s.days, dayWall) : dayWall === this.fromDay;
  }

  /** The first scheduled wall time after `wall` on matching days (ignoring the segment's end), or null. */
  nextWall(wall: number): number | null {
    const { tods } = this.s;
    const day = Math.floor(wall / DAY_MS) * DAY_MS;
    const k = floorIndex(tods, wall - day) + 1;
    if (k < tods.length && this.dayMatches(day)) return day + tods[k]!;
    if (!this.s.days) return null;
    for (let i = 1; i <= DAY_SCAN; i++)
      if (this.dayMatches(day + i * DAY_MS)) return day + i * DAY_MS + tods[0]!;
    return null;
  }

  /**
   * The last scheduled wall time in (lowerWall, wall] on matching days, or -Infinity. Looks no further back
   * than `from`'s day (`from` itself is a fire time, so callers fall back on it).
   */
  latestWall(wall: number, lowerWall: number): number {
    const { tods } = this.s;
    const day = Math.floor(wall / DAY_MS) * DAY_MS;
    const k = floorIndex(tods, wall - day);
    let found = -Infinity;
    if (k >= 0 && this.dayMatches(day)) {
      found = day + tods[k]!;
    } else if (this.s.days) {
      for (let d = day - DAY_MS; d >= this.fromDay && d + DAY_MS > lowerWall; d -= DAY_MS) {
        if (this.dayMatches(d)) {
          found = d + tods[tods.length - 1]!;
          break;
        }
      }
    }
    return found > lowerWall ? found : -Infinity;
  }
}

class WindowTrack implements Track {
  readonly label: string;
  private readonly s: Schedule;
  private readonly d: number;
  private readonly runEnd: Int32Array;
  private seg: Segment | null = null;
  /** Memo: [coveredFrom, coveredTo) is known to be covered, and coveredTo ends that stretch. */
  private coveredFrom = NaN;
  private coveredTo = NaN;
  /** Memo: [gapFrom, gapTo) is known to be uncovered, and gapTo starts the next stretch. */
  private gapFrom = NaN;
  private gapTo = NaN;

  constructor(
    readonly window: WindowConfig,
    private readonly ctx: Context,
  ) {
    checkWindow(window);
    this.label = window.name;
    this.s = scheduleFor(window.schedule, window.timezone);
    this.d = window.duration;
    this.runEnd = runsFor(this.s, this.d);
  }

  /** Start a new segment at fire time `f` (from croner) unless the current one already holds it. */
  private enter(f: number): void {
    if (this.seg?.contains(f)) return;
    this.ctx.budget--;
    this.seg = new Segment(f, utcOffset(this.window.timezone, f), this.s, this.window.timezone, this.ctx);
  }

  /** The latest fire time whose occurrence covers `t` (the latest fire in (t - duration, t]), or null. */
  private coveringFire(t: number): number | null {
    const seg = this.seg;
    let f: number | null;
    if (seg?.contains(t)) {
      f = Math.max(seg.from, seg.latestWall(t + seg.off, t - this.d + seg.off) - seg.off);
    } else {
      this.ctx.budget -= CRONER_COST;
      f = latestFire(this.s, t);
      if (f !== null) this.enter(f);
    }
    return f !== null && f + this.d > t ? f : null;
  }

  private nextFireAfter(t: number): number | null {
    const seg = this.seg;
    if (seg && t >= seg.from) {
      const wall = seg.nextWall(t + seg.off);
      if (wall !== null && seg.contains(wall - seg.off)) return wall - seg.off;
    }
    this.ctx.budget -= CRONER_COST;
    const f = this.s.cron.nextRun(new Date(t))?.getTime() ?? null;
    if (f !== null && f <= this.ctx.horizon + this.d) this.enter(f);
    return f;
  }

  coverEnd(t: number): number | null {
    if (t >= this.coveredFrom && t < this.coveredTo) return this.coveredTo;
    if (t >= this.gapFrom && t < this.gapTo) return null;
    const f = this.coveringFire(t);
    if (f === null) {
      // Remember the whole gap up to the next fire. Past the end of its segment (the next offset change),
      // a dormant window (say, March only) would otherwise cost a croner call every time it is asked,
      // typically several times a day of the search, and exhaust the budget months before a real change.
      this.nextStart(t);
      return null;
    }
    const end = this.blockEnd(f);
    this.coveredFrom = t;
    this.coveredTo = end;
    return end;
  }

  nextStart(t: number): number {
    if (t >= this.gapFrom && t < this.gapTo) return this.gapTo;
    const f = this.nextFireAfter(t);
    const start = f === null || f > this.ctx.horizon ? Infinity : f;
    this.gapFrom = t;
    this.gapTo = start;
    return start;
  }

  /** End of the maximal covered stretch that contains the occurrence starting at fire time `fire`. */
  private blockEnd(fire: number): number {
    let last = fire;
    for (;;) {
      if (last + this.d > this.ctx.horizon) return Infinity;
      if (this.ctx.budget <= 0) return last + this.d; // proven covered up to here; see "until" above
      this.ctx.budget--;
      last = this.jump(last);
      if (last + this.d > this.ctx.horizon) return Infinity;
      const next = this.nextFireAfter(last);
      if (next === null || next > last + this.d) return last + this.d;
      last = next;
    }
  }

  /**
   * From fire time `last`, the latest fire time reachable through a chain of fires each at most `duration`
   * after the previous one, without leaving the current segment. Returns `last` when no jump applies.
   */
  private jump(last: number): number {
    const seg = this.seg;
    const { tods, days } = this.s;
    const n = tods.length;
    if (!seg || n === 0 || !seg.contains(last)) return last;
    const off = seg.off;
    let day = Math.floor((last + off) / DAY_MS) * DAY_MS;
    const idx = floorIndex(tods, last + off - day);
    if (idx < 0 || tods[idx] !== last + off - day) return last;
    let endIdx = this.runEnd[idx]!;
    let endWall: number;
    for (;;) {
      endWall = day + tods[endIdx]!;
      if (endIdx < n - 1 || !days || endWall - off > this.ctx.horizon) break;
      // The chain reached the day's last fire: does it carry on into the next matching day, close enough?
      let next = -1;
      for (let d = day + DAY_MS; next < 0 && d + tods[0]! - endWall <= this.d; d += DAY_MS) {
        this.ctx.budget--;
        if (seg.dayMatches(d)) next = d;
      }
      if (next < 0 || !seg.contains(next + tods[0]! - off)) break;
      this.ctx.budget--;
      day = next;
      endIdx = this.runEnd[0]!;
    }
    if (seg.contains(endWall - off)) return Math.max(last, endWall - off);
    // The segment ends first: stop at its last fire (the chain reaches it).
    const end = seg.endBefore(endWall - off);
    return Math.max(last, seg.latestWall(end - 1 + off, last + off - 1) - off);
  }
}

/** Latest fire time <= t (croner's previousRuns is strict and ignores milliseconds). */
function latestFire(s: Schedule, t: number): number | null {
  const ref = Math.floor(t / 1000) * 1000 + 1000;
  const [prev] = s.cron.previousRuns(1, new Date(ref));
  return prev ? prev.getTime() : null;
}

/** While `t` is covered by any track, follow the covered stretches; returns where coverage ends, or null. */
function unionCoverEnd(tracks: Track[], t: number, ctx: Context): number | null {
  let x = t;
  let covered = false;
  for (;;) {
    let best: number | null = null;
    for (const tr of tracks) {
      const e = tr.coverEnd(x);
      if (e !== null && (best === null || e > best)) best = e;
    }
    if (best === null) return covered ? x : null;
    covered = true;
    x = best;
    if (x > ctx.horizon || ctx.budget <= 0) return x;
  }
}

function unionNextStart(tracks: Track[], t: number): number {
  let best = Infinity;
  for (const tr of tracks) best = Math.min(best, tr.nextStart(t));
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// Public API

/**
 * The occurrence of window `w` that covers `at` (the latest-ending one if several overlap, i.e. the one that
 * started last), or null when no occurrence is open at `at`.
 */
export function openOccurrence(w: WindowConfig, at: Date): { start: Date; end: Date } | null {
  checkWindow(w);
  const t = at.getTime();
  if (!Number.isFinite(t)) throw new Error('openOccurrence: invalid instant');
  const f = latestFire(scheduleFor(w.schedule, w.timezone), t);
  if (f === null || f + w.duration <= t) return null;
  return { start: new Date(f), end: new Date(f + w.duration) };
}

/** Whether deploys are allowed at `at`, what blocks them, and when that changes. See the file comment. */
export function evaluateWindows(windows: WindowConfig[], freezes: Freeze[], at: Date): WindowVerdict {
  const t0 = at.getTime();
  if (!Number.isFinite(t0)) throw new Error('evaluateWindows: invalid instant');
  const ctx: Context = { horizon: t0 + WINDOW_HORIZON_MS, budget: WORK_BUDGET };
  const denyTracks: Track[] = [
    ...windows.filter((w) => w.kind === 'deny').map((w) => new WindowTrack(w, ctx)),
    ...freezes.map((f) => new FreezeTrack(f)),
  ];
  const allowWindows = windows.filter((w) => w.kind === 'allow');
  const allowTracks: Track[] = allowWindows.map((w) => new WindowTrack(w, ctx));
  const hasAllow = allowTracks.length > 0;

  // Which deny windows / freezes are open now, and which of them stays open longest.
  let blocker: { track: Track; end: number } | null = null;
  for (const track of denyTracks) {
    const end = track.coverEnd(t0);
    if (end !== null && (blocker === null || end > blocker.end)) blocker = { track, end };
  }
  const openAllows = allowTracks.filter((tr) => tr.coverEnd(t0) !== null);
  const allowed = blocker === null && (!hasAllow || openAllows.length > 0);

  let until: number;
  if (allowed) {
    const allowEnd = hasAllow ? (unionCoverEnd(allowTracks, t0, ctx) ?? t0) : Infinity;
    until = Math.min(allowEnd, unionNextStart(denyTracks, t0));
  } else {
    let t = t0;
    for (;;) {
      if (t > ctx.horizon) break;
      const denyEnd = unionCoverEnd(denyTracks, t, ctx);
      if (denyEnd !== null) {
        t = denyEnd;
      } else if (hasAllow && unionCoverEnd(allowTracks, t, ctx) === null) {
        t = unionNextStart(allowTracks, t);
      } else {
        break;
      }
      if (ctx.budget <= 0) break;
    }
    until = t;
  }
  const truncated = ctx.budget <= 0 && until <= ctx.horizon;
  const untilIso = until <= ctx.horizon ? new Date(until).toISOString() : null;

  const allowNames = (names: string[]) => `allow window${names.length > 1 ? 's' : ''} ${names.join(', ')}`;
  let blockedBy: string | null = null;
  let reason: string;
  if (allowed) {
    reason = 'Deploys are allowed';
    if (hasAllow) reason += ` inside ${allowNames(openAllows.map((tr) => tr.label))}`;
    else if (denyTracks.length > 0) reason += ': no deny window or freeze is open';
    reason += untilIso ? ` until ${untilIso}.` : '; nothing changes that within 366 days.';
  } else {
    const next = untilIso
      ? `Deploys are next allowed at ${untilIso}.`
      : 'Deploys stay blocked for at least 366 days.';
    if (blocker) {
      const tr = blocker.track;
      const endIso = blocker.end <= ctx.horizon ? new Date(blocker.end).toISOString() : null;
      const open = endIso ? `, open until ${endIso}` : ', open for at least 366 days';
      blockedBy = tr.label;
      reason =
        tr instanceof FreezeTrack
          ? `Deploys are blocked by a freeze by ${tr.freeze.by} (${JSON.stringify(tr.freeze.reason)}, id ${tr.freeze.id})${open}. ${next}`
          : `Deploys are blocked by deny window ${tr.label}${open}. ${next}`;
    } else {
      blockedBy = `outside ${allowNames(allowWindows.map((w) => w.name))}`;
      reason = `Deploys are blocked: outside every allow window (${allowWindows.map((w) => w.name).join(', ')}). ${next}`;
    }
  }
  if (truncated) {
    reason += ' (The schedules are too dense to look further ahead: evaluate again at that time.)';
  }
  return { allowed, blockedBy, until: untilIso, reason };
}
