/**
 * A deliberately naive, independent model of window evaluation, used to check src/policy/windows.ts.
 *
 * It does not use croner or any code from src/: it parses simple cron fields itself (numbers, ranges, lists,
 * steps, `*`; 5 fields; day-of-month and month may only be `*` or plain values), reads wall-clock time with
 * `Intl.DateTimeFormat#formatToParts`, and decides whether an instant is a fire time minute by minute.
 *
 * DST rules modelled (croner 11's documented behaviour, after Vixie cron):
 * - fixed-time schedules (minute and hour each a single value, written without `*` or `/`):
 *   - a wall time inside a spring-forward gap fires at the first instant after the gap, that same day;
 *   - a wall time that occurs twice fires only at its first occurrence;
 * - interval schedules (anything else): a wall time inside a gap never fires; one that occurs twice fires twice.
 * Every zone used in the tests changes offset on whole minutes, so fire times are whole minutes.
 */

export interface RefWindow {
  name: string;
  kind: 'deny' | 'allow';
  schedule: string;
  duration: number;
  timezone: string;
}

export interface RefFreeze {
  from?: string;
  until: string;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Field {
  values: Set<number>;
  star: boolean;
}

interface RefCron {
  minute: Field;
  hour: Field;
  dom: Field;
  month: Field;
  dow: Field;
  fixed: boolean;
  onlyMinute: number;
  onlyHour: number;
}

function parseField(raw: string, min: number, max: number, isDow = false): Field {
  const values = new Set<number>();
  for (const item of raw.split(',')) {
    const [range, stepText] = item.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = Number(a);
      hi = Number(b);
    } else {
      lo = Number(range);
      hi = stepText === undefined ? lo : max;
    }
    if (![lo, hi, step].every(Number.isInteger) || step < 1 || lo < min || hi > max || lo > hi) {
      throw new Error(`reference cron: cannot parse field "${raw}"`);
    }
    for (let v = lo; v <= hi; v += step) values.add(isDow && v === 7 ? 0 : v);
  }
  return { values, star: raw === '*' };
}

const cronCache = new Map<string, RefCron>();

export function parseRefCron(expr: string): RefCron {
  let c = cronCache.get(expr);
  if (!c) {
    const parts = expr.trim().split(/\s+/);
    if (parts.length !== 5) throw new Error(`reference cron: expected 5 fields in "${expr}"`);
    const [mi, h, dom, mo, dow] = parts as [string, string, string, string, string];
    const minute = parseField(mi, 0, 59);
    const hour = parseField(h, 0, 23);
    const single = (raw: string, f: Field) => !/[*/]/.test(raw) && f.values.size === 1;
    const fixed = single(mi, minute) && single(h, hour);
    c = {
      minute,
      hour,
      dom: parseField(dom, 1, 31),
      month: parseField(mo, 1, 12),
      dow: parseField(dow, 0, 7, true),
      fixed,
      onlyMinute: [...minute.values][0]!,
      onlyHour: [...hour.values][0]!,
    };
    cronCache.set(expr, c);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------
// Wall-clock time through Intl

export interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
  /** The wall-clock reading as if it were UTC, in ms. */
  wallMs: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset at instant t (ms), read directly from Intl. */
function intlOffset(timeZone: string, t: number): number {
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, fmt);
  }
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(new Date(t)))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - Math.floor(t / 1000) * 1000;
}

const offsetCache = new Map<string, number>();

/**
 * The zone's UTC offset at instant t. To keep the brute force affordable, Intl is asked once per UTC hour
 * when the offset is the same at both ends of that hour (a zone never changes offset twice within an hour),
 * and once per minute otherwise.
 */
export function offsetAt(timeZone: string, t: number): number {
  if (offsetCache.size > 1_000_000) offsetCache.clear();
  const hour = Math.floor(t / HOUR) * HOUR;
  const hourKey = `${timeZone} h${hour}`;
  let off = offsetCache.get(hourKey);
  if (off === undefined) {
    const a = intlOffset(timeZone, hour);
    off = a === intlOffset(timeZone, hour + HOUR) ? a : NaN;
    offsetCache.set(hourKey, off);
  }
  if (!Number.isNaN(off)) return off;
  const minute = Math.floor(t / MINUTE) * MINUTE;
  const minuteKey = `${timeZone} m${minute}`;
  off = offsetCache.get(minuteKey);
  if (off === undefined) {
    off = intlOffset(timeZone, minute);
    offsetCache.set(minuteKey, off);
  }
  return off;
}

export function wallAt(timeZone: string, t: number): Wall {
  const wallMs = t + offsetAt(timeZone, t);
  const d = new Date(wallMs);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    weekday: d.getUTCDay(),
    wallMs,
  };
}

/** Offset changes (instants, whole minutes) of a zone in [from, to), found by daily sampling and bisection. */
export function transitions(timeZone: string, from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += DAY) {
    if (offsetAt(timeZone, t) === offsetAt(timeZone, t + DAY)) continue;
    let a = t;
    let b = t + DAY;
    while (b - a > MINUTE) {
      const mid = a + Math.floor((b - a) / 2 / MINUTE) * MINUTE;
      if (offsetAt(timeZone, mid) === offsetAt(timeZone, a)) a = mid;
      else b = mid;
    }
    out.push(b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Fire times

function dayMatches(c: RefCron, w: Wall): boolean {
  if (!c.month.values.has(w.month)) return false;
  const dom = c.dom.values.has(w.day);
  const dow = c.dow.values.has(w.weekday);
  // Vixie cron: with either field a wildcard both must match (the wildcard always does); else either may.
  return c.dom.star || c.dow.star ? dom && dow : dom || dow;
}

/** Whether minute-aligned instant m reads a wall time that already occurred earlier (DST fall-back). */
function isSecondOccurrence(timeZone: string, m: number): boolean {
  const shift = offsetAt(timeZone, m - 3 * HOUR) - offsetAt(timeZone, m);
  return shift > 0 && wallAt(timeZone, m - shift).wallMs === wallAt(timeZone, m).wallMs;
}

/** Is the minute-aligned instant `m` a fire time of `schedule` in `timeZone`? */
export function isFireTime(schedule: string, timeZone: string, m: number): boolean {
  const c = parseRefCron(schedule);
  const w = wallAt(timeZone, m);
  const timeMatches = c.minute.values.has(w.minute) && c.hour.values.has(w.hour);
  if (!c.fixed) return timeMatches && dayMatches(c, w);
  if (timeMatches && dayMatches(c, w) && !isSecondOccurrence(timeZone, m)) return true;
  // Fixed time inside a spring-forward gap: fires at the first instant after the gap (this one, if so).
  const jump = offsetAt(timeZone, m) - offsetAt(timeZone, m - MINUTE);
  if (jump > 0) {
    const target = Date.UTC(w.year, w.month - 1, w.day, c.onlyHour, c.onlyMinute);
    if (target >= w.wallMs - jump && target < w.wallMs && dayMatches(c, w)) return true;
  }
  return false;
}

/** Brute force: scan minute by minute backwards over the duration for the latest occurrence covering `at`. */
export function refOpenOccurrence(w: RefWindow, at: number): { start: number; end: number } | null {
  for (let m = Math.floor(at / MINUTE) * MINUTE; m > at - w.duration; m -= MINUTE) {
    if (isFireTime(w.schedule, w.timezone, m)) return { start: m, end: m + w.duration };
  }
  return null;
}

function freezeOpen(f: RefFreeze, t: number): boolean {
  return (f.from === undefined || t >= Date.parse(f.from)) && t < Date.parse(f.until);
}

export interface RefVerdict {
  allowed: boolean;
  openDeny: string[];
  openFreezes: number[];
  openAllow: string[];
}

export function refVerdict(windows: RefWindow[], freezes: RefFreeze[], at: number): RefVerdict {
  const open = windows.filter((w) => refOpenOccurrence(w, at) !== null);
  const openDeny = open.filter((w) => w.kind === 'deny').map((w) => w.name);
  const openAllow = open.filter((w) => w.kind === 'allow').map((w) => w.name);
  const openFreezes = freezes.flatMap((f, i) => (freezeOpen(f, at) ? [i] : []));
  const hasAllow = windows.some((w) => w.kind === 'allow');
  return {
    allowed: openDeny.length === 0 && openFreezes.length === 0 && (!hasAllow || openAllow.length > 0),
    openDeny,
    openFreezes,
    openAllow,
  };
}

/**
 * The first instant in (at, at + span] at which `allowed` changes, or null if it doesn't. Lists every fire time
 * in [at - longest duration, at + span] minute by minute; between the starts and ends of occurrences and
 * freezes nothing changes, so only those instants need checking.
 */
export function refFirstChange(
  windows: RefWindow[],
  freezes: RefFreeze[],
  at: number,
  span: number,
): number | null {
  const maxDuration = Math.max(0, ...windows.map((w) => w.duration));
  const from = Math.floor((at - maxDuration) / MINUTE) * MINUTE;
  const intervals: { kind: 'deny' | 'allow'; start: number; end: number }[] = [];
  for (const w of windows) {
    for (let m = from; m <= at + span; m += MINUTE) {
      if (isFireTime(w.schedule, w.timezone, m))
        intervals.push({ kind: w.kind, start: m, end: m + w.duration });
    }
  }
  for (const f of freezes) {
    intervals.push({
      kind: 'deny',
      start: f.from === undefined ? -Infinity : Date.parse(f.from),
      end: Date.parse(f.until),
    });
  }
  const hasAllow = windows.some((w) => w.kind === 'allow');
  // Sweep: count open deny and allow intervals at `at`, then apply starts/ends in time order.
  let deny = 0;
  let allow = 0;
  const events: { t: number; kind: 'deny' | 'allow'; delta: number }[] = [];
  for (const i of intervals) {
    if (i.end <= i.start) continue;
    if (i.start <= at && at < i.end) {
      if (i.kind === 'deny') deny++;
      else allow++;
    }
    if (i.start > at) events.push({ t: i.start, kind: i.kind, delta: 1 });
    if (i.end > at) events.push({ t: i.end, kind: i.kind, delta: -1 });
  }
  events.sort((a, b) => a.t - b.t);
  const allowed = () => deny === 0 && (!hasAllow || allow > 0);
  const now = allowed();
  for (let k = 0; k < events.length;) {
    const t = events[k]!.t;
    if (t > at + span) break;
    for (; k < events.length && events[k]!.t === t; k++) {
      if (events[k]!.kind === 'deny') deny += events[k]!.delta;
      else allow += events[k]!.delta;
    }
    if (allowed() !== now) return t;
  }
  return null;
}
