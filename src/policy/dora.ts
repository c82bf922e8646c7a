/**
 * DORA's four keys for one environment, from its ledger. Pure: the period and every time are parameters.
 *
 * - Deployment frequency: deploys that reached serving (passed verification) within the period, per day.
 * - Lead time: from the commit (when its time is known) to serving; otherwise from the release's start, and
 *   failing that from the deploy's request at this environment. `basis` says which was used, since the
 *   ledger records commit hashes, not commit times.
 * - Change failure rate: deploys that settled within the period and failed or were rolled back, over all
 *   deploys that settled within it (rollbacks and adoptions are not changes of their own).
 * - Time to restore: from when a failure was known (a failed deploy's end, or the request of the rollback
 *   that ended a version that had served) to the next version passing verification here. A failure with no
 *   good version since is `open`.
 *
 * A period is half-open, [from, to): each event counts in exactly one of two adjacent periods.
 */
import type { LedgerEntry } from './ledger.js';

export type DoraEntry = Pick<
  LedgerEntry,
  | 'opId'
  | 'action'
  | 'version'
  | 'commit'
  | 'outcome'
  | 'verifiedAt'
  | 'releaseId'
  | 'automatic'
  | 'fromVersion'
  | 'requestedAt'
  | 'endedAt'
>;

export interface DoraPeriod {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

export interface DoraContext {
  /** When each commit was made (epoch ms), where known. */
  commitTimes?: ReadonlyMap<string, number>;
  /** When each run of each release started (epoch ms), by release id: a version may be released again. */
  releaseStarts?: ReadonlyMap<string, readonly number[]>;
}

export type LeadTimeBasis = 'commit' | 'release-start' | 'deploy-request';

export interface Incident {
  /** The version that failed or was rolled back. */
  version: string;
  /** When the failure was known (epoch ms). */
  at: number;
  /** When the next good version served (epoch ms); null while none has. */
  restoredAt: number | null;
  /** automatic: a failed verification rolled back on its own; manual: someone rolled back; failed: it never served. */
  kind: 'automatic' | 'manual' | 'failed';
}

export interface DoraBucket {
  from: number;
  to: number;
  deployments: number;
  changes: number;
  failures: number;
  /** Median lead time of the deploys that served within the bucket (ms); null when none did. */
  leadTimeMs: number | null;
  /** Median time to restore of the incidents that began within the bucket and ended (ms); null when none. */
  restoreMs: number | null;
}

export interface DoraKeys {
  period: DoraPeriod;
  deployments: number;
  /** Deployments per day over the period. */
  deploymentsPerDay: number;
  /** Median lead time (ms), null without a deployment. */
  leadTimeMs: number | null;
  /** Which starting point the lead times used: the weakest one any of them needed. */
  leadTimeBasis: LeadTimeBasis | null;
  /** Deploys that settled in the period (the change failure rate's denominator) and those that failed. */
  changes: number;
  failures: number;
  /** failures / changes, in [0, 1]; null without a change. */
  changeFailureRate: number | null;
  /** Median time to restore (ms) of the incidents that began in the period and ended; null when none did. */
  timeToRestoreMs: number | null;
  incidents: Incident[];
  /** Incidents that began in the period and have no good version serving since. */
  openIncidents: number;
  buckets: DoraBucket[];
}

const DAY_MS = 86_400_000;
const BASIS_ORDER: LeadTimeBasis[] = ['commit', 'release-start', 'deploy-request'];

const ms = (iso: string | null): number | null => {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};
const inPeriod = (p: DoraPeriod, t: number | null): t is number => t !== null && t >= p.from && t < p.to;

/** The median of the values (the mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A deploy's lead time and the starting point it used, or null when it never served. */
export function leadTime(e: DoraEntry, ctx: DoraContext = {}): { ms: number; basis: LeadTimeBasis } | null {
  const served = ms(e.verifiedAt);
  if (e.action !== 'deploy' || served === null) return null;
  const commitAt = e.commit ? ctx.commitTimes?.get(e.commit) : undefined;
  const requested = ms(e.requestedAt);
  // The run that asked for this deploy: the latest one that started before the request.
  const runs = e.releaseId ? (ctx.releaseStarts?.get(e.releaseId) ?? []) : [];
  const before = runs.filter((t) => requested === null || t <= requested);
  const releaseAt = before.length ? Math.max(...before) : undefined;
  const [start, basis]: [number | undefined | null, LeadTimeBasis] =
    commitAt !== undefined
      ? [commitAt, 'commit']
      : releaseAt !== undefined
        ? [releaseAt, 'release-start']
        : [requested, 'deploy-request'];
  if (start === null || start === undefined) return null;
  return { ms: Math.max(0, served - start), basis };
}

/**
 * Every failure the ledger shows, oldest first: deploys that failed, and versions that served and were then
 * rolled back (their rollback's request is when the failure was known). Each ends at the first later entry
 * whose version passed verification.
 */
export function incidents(ledger: readonly DoraEntry[]): Incident[] {
  const found: { index: number; incident: Omit<Incident, 'restoredAt'> }[] = [];
  ledger.forEach((e, index) => {
    if (e.action !== 'deploy' || (e.outcome !== 'failed' && e.outcome !== 'rolled-back')) return;
    if (e.verifiedAt === null) {
      // Never served: a failed start or verification (automatic rollback, if any, follows it).
      const at = ms(e.endedAt);
      if (at === null) return;
      const auto = ledger
        .slice(index + 1)
        .some((r) => r.automatic && r.action === 'rollback' && r.fromVersion === e.version);
      found.push({ index, incident: { version: e.version, at, kind: auto ? 'automatic' : 'failed' } });
      return;
    }
    // It served, then someone rolled back from it: the first later rollback away from its version.
    const j = ledger.findIndex((r, k) => k > index && r.action === 'rollback' && r.fromVersion === e.version);
    const at = j >= 0 ? ms(ledger[j]!.requestedAt) : null;
    if (at === null) return;
    found.push({
      index: j - 1,
      incident: { version: e.version, at, kind: ledger[j]!.automatic ? 'automatic' : 'manual' },
    });
  });
  return found
    .map(({ index, incident }) => {
      let restoredAt: number | null = null;
      for (let k = index + 1; k < ledger.length; k++) {
        const v = ms(ledger[k]!.verifiedAt);
        if (v !== null && v >= incident.at) {
          restoredAt = v;
          break;
        }
      }
      return { ...incident, restoredAt };
    })
    .sort((a, b) => a.at - b.at);
}

interface Counted {
  deployments: number[];
  leadTimes: { at: number; ms: number; basis: LeadTimeBasis }[];
  changes: { at: number; failed: boolean }[];
}

function count(ledger: readonly DoraEntry[], ctx: DoraContext): Counted {
  const c: Counted = { deployments: [], leadTimes: [], changes: [] };
  for (const e of ledger) {
    if (e.action !== 'deploy') continue;
    const served = ms(e.verifiedAt);
    if (served !== null) {
      c.deployments.push(served);
      const lt = leadTime(e, ctx);
      if (lt) c.leadTimes.push({ at: served, ...lt });
    }
    const ended = ms(e.endedAt);
    if (e.outcome !== 'running' && ended !== null)
      c.changes.push({ at: ended, failed: e.outcome === 'failed' || e.outcome === 'rolled-back' });
  }
  return c;
}

/** The four keys over `period`, with `buckets` equal slices of it for plots (at least one). */
export function doraKeys(
  ledger: readonly DoraEntry[],
  period: DoraPeriod,
  ctx: DoraContext = {},
  bucketCount = 30,
): DoraKeys {
  const c = count(ledger, ctx);
  const all = incidents(ledger);
  const within = <T extends { at: number }>(xs: readonly T[], p: DoraPeriod) =>
    xs.filter((x) => inPeriod(p, x.at));
  const summary = (p: DoraPeriod) => {
    const deployments = c.deployments.filter((t) => inPeriod(p, t)).length;
    const leads = within(c.leadTimes, p);
    const changes = within(c.changes, p);
    const failures = changes.filter((x) => x.failed).length;
    const inc = within(all, p);
    const restored = inc.filter((i) => i.restoredAt !== null).map((i) => i.restoredAt! - i.at);
    return { deployments, leads, changes: changes.length, failures, inc, restored };
  };
  const s = summary(period);
  const days = Math.max(period.to - period.from, 0) / DAY_MS;
  const n = Math.max(1, Math.floor(bucketCount));
  const width = (period.to - period.from) / n;
  const buckets: DoraBucket[] = [];
  for (let i = 0; i < n; i++) {
    const from = period.from + Math.round(i * width);
    const to = i === n - 1 ? period.to : period.from + Math.round((i + 1) * width);
    const b = summary({ from, to });
    buckets.push({
      from,
      to,
      deployments: b.deployments,
      changes: b.changes,
      failures: b.failures,
      leadTimeMs: median(b.leads.map((l) => l.ms)),
      restoreMs: median(b.restored),
    });
  }
  const bases = new Set(s.leads.map((l) => l.basis));
  return {
    period,
    deployments: s.deployments,
    deploymentsPerDay: days > 0 ? s.deployments / days : 0,
    leadTimeMs: median(s.leads.map((l) => l.ms)),
    leadTimeBasis: BASIS_ORDER.filter((b) => bases.has(b)).pop() ?? null,
    changes: s.changes,
    failures: s.failures,
    changeFailureRate: s.changes > 0 ? s.failures / s.changes : null,
    timeToRestoreMs: median(s.restored),
    incidents: s.inc,
    openIncidents: s.inc.filter((i) => i.restoredAt === null).length,
    buckets,
  };
}

/** "30d", "12h", "90m": a period length for the dashboard's period picker; null when not one. */
export function parsePeriod(text: string): number | null {
  const m = /^(\d{1,4})([mhdw])$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return n > 0 ? n * unit : null;
}
