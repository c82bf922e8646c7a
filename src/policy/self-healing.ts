/**
 * Decisions of the worker's self-healing loop (src/self-healing.ts), kept pure so they are tested without
 * processes: when to tell the environment workflow, when to notify people and how long to wait before a repair
 * that failed is tried again.
 */

/** Pause before the next try after `failures` failed repairs in a row: 1 s, 2 s, 4 s ... at most 30 s. */
export function repairDelayMs(failures: number): number {
  if (!Number.isFinite(failures) || failures <= 1) return 1000;
  return Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 15));
}

/** What one environment's loop remembers between passes. */
export interface Watch {
  /** What the last pass (or the workflow) said: unknown until the first pass that looked. */
  state: 'unknown' | 'serving' | 'down';
  /** The outage in progress, or null. */
  outage: Outage | null;
}

export interface Outage {
  version: string | null;
  /** When it was found (ISO). */
  since: string;
  detail: string;
  /** Whether `environment-down` went out (it does only when a pass ends with the environment still down). */
  announced: boolean;
}

/** A health report for the environment workflow (the payload of its health signal). */
export interface HealthReport {
  state: 'down' | 'serving';
  version: string;
  /** When the worker saw it (ISO). */
  at: string;
  detail: string | null;
  /** For `serving` after an outage: when the outage began. */
  since?: string;
}

export type Notice =
  | { kind: 'environment-down'; outage: Outage }
  | { kind: 'environment-restored'; outage: Outage; at: string; detail: string | null };

export interface Step {
  watch: Watch;
  /** Reports to signal, in order. */
  signals: HealthReport[];
  notices: Notice[];
  /** A line for the worker's log, with its level, when something changed. */
  log: { level: 'warn' | 'info' | 'error'; message: string } | null;
}

export const initialWatch = (): Watch => ({ state: 'unknown', outage: null });

/** A pass found the environment down and is about to repair it: the workflow hears it at once. */
export function foundDown(w: Watch, found: { version: string | null; detail: string }, at: string): Step {
  if (w.outage) return { watch: w, signals: [], notices: [], log: null };
  const outage: Outage = { version: found.version, since: at, detail: found.detail, announced: false };
  return {
    watch: { state: 'down', outage },
    signals: found.version ? [{ state: 'down', version: found.version, at, detail: found.detail }] : [],
    notices: [],
    log: { level: 'warn', message: `down: ${found.detail}` },
  };
}

/**
 * A pass ended. Serving after an outage: the workflow hears it and people get one `environment-restored`
 * (which says what happened, so a blip healed within one pass is one message). Still down: the first pass that
 * ends down announces it once; later passes say nothing more until it serves again.
 */
export function passEnded(
  w: Watch,
  check: { state: 'serving' | 'down'; version: string | null; detail: string | null },
  at: string,
): Step {
  if (check.state === 'serving') {
    const o = w.outage;
    if (!o) return { watch: { state: 'serving', outage: null }, signals: [], notices: [], log: null };
    const version = check.version ?? o.version;
    return {
      watch: { state: 'serving', outage: null },
      signals: version ? [{ state: 'serving', version, at, detail: check.detail, since: o.since }] : [],
      notices: [{ kind: 'environment-restored', outage: o, at, detail: check.detail }],
      log: {
        level: 'info',
        message: `serving again (down since ${o.since}, ${seconds(Date.parse(at) - Date.parse(o.since))})${check.detail ? `: ${check.detail}` : ''}`,
      },
    };
  }
  const detail = check.detail ?? 'not serving';
  const o: Outage = w.outage ?? { version: check.version, since: at, detail, announced: false };
  const signals: HealthReport[] =
    !w.outage && check.version ? [{ state: 'down', version: check.version, at, detail }] : [];
  if (o.announced) return { watch: { state: 'down', outage: o }, signals, notices: [], log: null };
  const announced: Outage = { ...o, detail, announced: true };
  return {
    watch: { state: 'down', outage: announced },
    signals,
    notices: [{ kind: 'environment-down', outage: announced }],
    log: { level: 'error', message: `still down: ${detail}` },
  };
}

/**
 * What to tell a workflow whose view may be stale (a new worker, a lost report, a forged one): serving again
 * when it still shows an outage the pass no longer sees, DOWN when it misses one; nothing when it agrees.
 */
export function reconcileWorkflowView(
  shown: { state: 'down' | 'serving'; version: string; since: string } | null,
  check: { state: 'serving' | 'down'; version: string | null; detail?: string | null },
  at: string,
): HealthReport | null {
  if (check.version === null) return null;
  if (check.state === 'down') {
    if (shown?.state === 'down' && shown.version === check.version) return null;
    return { state: 'down', version: check.version, at, detail: check.detail ?? null };
  }
  if (!shown || shown.state !== 'down' || check.version !== shown.version) return null;
  return { state: 'serving', version: shown.version, at, detail: null, since: shown.since };
}

function seconds(ms: number): string {
  return Number.isFinite(ms) && ms >= 0 ? `${(ms / 1000).toFixed(1)} s` : '?';
}

/** What an environment workflow keeps of its health: what the last report said, and the last outage that ended. */
export interface EnvironmentHealth {
  state: 'down' | 'serving';
  version: string;
  /** When it got to this state (ISO, the reporting worker's clock). */
  since: string;
  detail: string | null;
  /** The last outage of this version that ended, or null. */
  lastOutage: { since: string; until: string; detail: string | null } | null;
}

const MAX_DETAIL = 500;
const ISO = /^\d{4}-\d{2}-\d{2}T[0-9:.]+Z$/;

/** A report as a signal delivers it, checked field by field (anyone who can signal may send anything). */
export function parseHealthReport(value: unknown): HealthReport | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.state !== 'down' && r.state !== 'serving') return null;
  if (typeof r.version !== 'string' || r.version === '' || r.version.length > 128) return null;
  if (typeof r.at !== 'string' || !ISO.test(r.at)) return null;
  if (r.detail !== null && r.detail !== undefined && typeof r.detail !== 'string') return null;
  if (r.since !== undefined && (typeof r.since !== 'string' || !ISO.test(r.since))) return null;
  return {
    state: r.state,
    version: r.version,
    at: r.at,
    detail: typeof r.detail === 'string' ? r.detail.slice(0, MAX_DETAIL) : null,
    ...(typeof r.since === 'string' ? { since: r.since } : {}),
  };
}

/**
 * The workflow's health after a report. Only a report about the version the ledger says serves counts (one
 * about any other version, or before anything was deployed, changes nothing): a report is a worker's
 * observation, never a reason to change what runs.
 */
export function applyHealthReport(
  prev: EnvironmentHealth | null,
  raw: unknown,
  serving: string | null,
): EnvironmentHealth | null {
  const r = parseHealthReport(raw);
  if (!r || serving === null || r.version !== serving) return prev;
  const same = prev?.version === r.version ? prev : null;
  if (r.state === 'down') {
    if (same?.state === 'down') return { ...same, detail: r.detail ?? same.detail };
    return {
      state: 'down',
      version: r.version,
      since: r.at,
      detail: r.detail,
      lastOutage: same?.lastOutage ?? null,
    };
  }
  if (same?.state === 'down')
    return {
      state: 'serving',
      version: r.version,
      since: r.at,
      detail: null,
      lastOutage: { since: same.since, until: r.at, detail: r.detail ?? same.detail },
    };
  if (same) return same;
  // Serving, with no outage this workflow saw: one healed within a pass whose down report it did not get.
  return {
    state: 'serving',
    version: r.version,
    since: r.at,
    detail: null,
    lastOutage: r.since ? { since: r.since, until: r.at, detail: r.detail } : null,
  };
}

/** The health to show: only while it is about the version that serves now. */
export function shownHealth(h: EnvironmentHealth | null, serving: string | null): EnvironmentHealth | null {
  return h && serving !== null && h.version === serving ? h : null;
}
