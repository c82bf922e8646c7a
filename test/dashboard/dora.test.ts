import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { doraKeys, incidents, leadTime, median, parsePeriod, type DoraEntry } from '../../src/policy/dora.js';

const H = 3_600_000;
const DAY = 24 * H;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

let seq = 0;
/** A ledger entry at hour `at` (from T0), settled `took` hours later. */
function entry(
  action: DoraEntry['action'],
  version: string,
  at: number,
  outcome: DoraEntry['outcome'],
  more: Partial<DoraEntry> & { took?: number } = {},
): DoraEntry {
  const { took = 0.1, ...rest } = more;
  const end = T0 + (at + took) * H;
  return {
    opId: `op-${++seq}`,
    action,
    version,
    commit: `c-${version}`,
    outcome,
    verifiedAt:
      outcome === 'succeeded' || (outcome === 'rolled-back' && action !== 'deploy') ? iso(end) : null,
    releaseId: action === 'deploy' ? `release/hello/${version}` : null,
    automatic: false,
    fromVersion: null,
    requestedAt: iso(T0 + at * H),
    endedAt: outcome === 'running' ? null : iso(end),
    ...rest,
  };
}

/**
 * The known ledger the integration test also produces: 1.0.0 ok, 1.1.0 ok then rolled back by hand to 1.0.0,
 * 1.2.0 fails verification and rolls back automatically, 1.3.0 ok.
 */
function knownLedger(): DoraEntry[] {
  return [
    entry('deploy', '1.0.0', 0, 'succeeded', { took: 1 }),
    // 1.1.0 served (verified at hour 11), then someone rolled back from it at hour 20.
    { ...entry('deploy', '1.1.0', 10, 'rolled-back', { took: 1 }), verifiedAt: iso(T0 + 11 * H) },
    entry('rollback', '1.0.0', 20, 'succeeded', { took: 0.5, fromVersion: '1.1.0', actor: 'alice' } as never),
    // 1.2.0 failed verification at hour 31; the automatic rollback restored 1.0.0 at hour 31.25.
    entry('deploy', '1.2.0', 30, 'rolled-back', { took: 1 }),
    entry('rollback', '1.0.0', 31, 'succeeded', { took: 0.25, fromVersion: '1.2.0', automatic: true }),
    entry('deploy', '1.3.0', 40, 'succeeded', { took: 2 }),
  ];
}

describe('DORA keys on a known ledger', () => {
  const ledger = knownLedger();
  const period = { from: T0, to: T0 + 2 * DAY };

  it('counts deploys that served, per day', () => {
    const k = doraKeys(ledger, period);
    // 1.0.0, 1.1.0 and 1.3.0 served; 1.2.0 never did.
    expect(k.deployments).toBe(3);
    expect(k.deploymentsPerDay).toBeCloseTo(1.5);
  });

  it('change failure rate: failed or rolled-back deploys over all deploys that settled', () => {
    const k = doraKeys(ledger, period);
    expect(k.changes).toBe(4);
    expect(k.failures).toBe(2);
    expect(k.changeFailureRate).toBe(0.5);
  });

  it('time to restore: from the failure to the next version that passed verification', () => {
    const found = incidents(ledger);
    expect(found).toEqual([
      // Rolled back by hand: known at the rollback's request (hour 20), restored at hour 20.5.
      { version: '1.1.0', at: T0 + 20 * H, restoredAt: T0 + 20.5 * H, kind: 'manual' },
      // Failed verification at hour 31, restored automatically at hour 31.25.
      { version: '1.2.0', at: T0 + 31 * H, restoredAt: T0 + 31.25 * H, kind: 'automatic' },
    ]);
    const k = doraKeys(ledger, period);
    expect(k.timeToRestoreMs).toBe((0.5 * H + 0.25 * H) / 2);
    expect(k.openIncidents).toBe(0);
  });

  it('lead time from the deploy request when nothing better is known, and says so', () => {
    const k = doraKeys(ledger, period);
    // 1 h, 1 h and 2 h from request to serving: the median is 1 h.
    expect(k.leadTimeMs).toBe(H);
    expect(k.leadTimeBasis).toBe('deploy-request');
  });

  it('lead time from the release start, then from the commit when its time is known', () => {
    const releaseStarts = new Map([
      ['release/hello/1.0.0', [T0 - 3 * H]],
      ['release/hello/1.1.0', [T0 + 9 * H]],
      ['release/hello/1.3.0', [T0 + 30 * H, T0 + 38 * H, T0 + 45 * H]],
    ]);
    const k = doraKeys(ledger, period, { releaseStarts });
    // 1.0.0: 4 h; 1.1.0: 2 h; 1.3.0: from the run that started before its request (hour 38): 4 h.
    expect(k.leadTimeMs).toBe(4 * H);
    expect(k.leadTimeBasis).toBe('release-start');
    const commitTimes = new Map(['1.0.0', '1.1.0', '1.3.0'].map((v) => [`c-${v}`, T0 - DAY] as const));
    const byCommit = doraKeys(ledger, period, { releaseStarts, commitTimes });
    expect(byCommit.leadTimeBasis).toBe('commit');
    expect(leadTime(ledger[0]!, { commitTimes })).toEqual({ ms: DAY + H, basis: 'commit' });
  });

  it('an incident with no good version since stays open', () => {
    const broken = [...ledger, entry('deploy', '1.4.0', 44, 'failed', { took: 1 })];
    const k = doraKeys(broken, period);
    expect(k.openIncidents).toBe(1);
    expect(k.incidents.at(-1)).toMatchObject({ version: '1.4.0', restoredAt: null, kind: 'failed' });
  });

  it('buckets split the period and add up to its totals', () => {
    const k = doraKeys(ledger, period, {}, 8);
    expect(k.buckets).toHaveLength(8);
    expect(k.buckets[0]!.from).toBe(period.from);
    expect(k.buckets.at(-1)!.to).toBe(period.to);
    expect(k.buckets.reduce((n, b) => n + b.deployments, 0)).toBe(k.deployments);
    expect(k.buckets.reduce((n, b) => n + b.failures, 0)).toBe(k.failures);
  });

  it('an empty ledger or period has no rates', () => {
    const k = doraKeys([], period);
    expect(k).toMatchObject({
      deployments: 0,
      changeFailureRate: null,
      leadTimeMs: null,
      timeToRestoreMs: null,
    });
    expect(doraKeys(ledger, { from: T0, to: T0 }).deploymentsPerDay).toBe(0);
  });

  it('ignores running entries and adoptions', () => {
    const k = doraKeys(
      [entry('deploy', '2.0.0', 1, 'running'), entry('adopt', '2.0.1', 2, 'succeeded')],
      period,
    );
    expect(k).toMatchObject({ deployments: 0, changes: 0 });
  });
});

describe('helpers', () => {
  it('median', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('parsePeriod', () => {
    expect(parsePeriod('30d')).toBe(30 * DAY);
    expect(parsePeriod('12h')).toBe(12 * H);
    expect(parsePeriod('2w')).toBe(14 * DAY);
    for (const bad of ['', '0d', '-1d', '1y', '30', 'd', '1e3d']) expect(parsePeriod(bad)).toBeNull();
  });
});

// ---- properties over arbitrary ledgers ----

const outcomes = ['succeeded', 'failed', 'rolled-back', 'running'] as const;
const arbEntry = fc
  .record({
    action: fc.constantFrom('deploy', 'deploy', 'rollback', 'adopt') as fc.Arbitrary<DoraEntry['action']>,
    version: fc.constantFrom('1.0.0', '1.1.0', '1.2.0'),
    at: fc.integer({ min: 0, max: 24 * 20 }),
    outcome: fc.constantFrom(...outcomes),
    took: fc.integer({ min: 0, max: 48 }),
    automatic: fc.boolean(),
    from: fc.option(fc.constantFrom('1.0.0', '1.1.0', '1.2.0'), { nil: null }),
  })
  .map((r) =>
    entry(r.action, r.version, r.at, r.outcome, {
      took: r.took,
      automatic: r.automatic,
      fromVersion: r.from,
    }),
  );
// The ledger is in request order, as the environment appends it.
const arbLedger = fc
  .array(arbEntry, { maxLength: 30 })
  .map((es) => [...es].sort((a, b) => Date.parse(a.requestedAt) - Date.parse(b.requestedAt)));
const arbPeriod = fc
  .tuple(fc.integer({ min: -48, max: 24 * 22 }), fc.integer({ min: 0, max: 24 * 22 }))
  .map(([start, len]) => ({ from: T0 + start * H, to: T0 + (start + len) * H }));

describe('properties', () => {
  it('rates are in [0, 1], counts are consistent, durations are not negative', () => {
    fc.assert(
      fc.property(arbLedger, arbPeriod, (ledger, period) => {
        const k = doraKeys(ledger, period, {}, 7);
        if (k.changeFailureRate !== null) {
          expect(k.changeFailureRate).toBeGreaterThanOrEqual(0);
          expect(k.changeFailureRate).toBeLessThanOrEqual(1);
        }
        expect(k.failures).toBeLessThanOrEqual(k.changes);
        expect(k.changeFailureRate === null).toBe(k.changes === 0);
        expect(k.leadTimeMs === null || k.leadTimeMs >= 0).toBe(true);
        expect(k.timeToRestoreMs === null || k.timeToRestoreMs >= 0).toBe(true);
        expect(k.deploymentsPerDay).toBeGreaterThanOrEqual(0);
        expect(k.openIncidents).toBeLessThanOrEqual(k.incidents.length);
        for (const i of k.incidents) expect(i.restoredAt === null || i.restoredAt >= i.at).toBe(true);
      }),
    );
  });

  it('counts only grow as the period widens', () => {
    fc.assert(
      fc.property(arbLedger, arbPeriod, fc.nat(500), fc.nat(500), (ledger, p, before, after) => {
        const narrow = doraKeys(ledger, p);
        const wide = doraKeys(ledger, { from: p.from - before * H, to: p.to + after * H });
        expect(wide.deployments).toBeGreaterThanOrEqual(narrow.deployments);
        expect(wide.changes).toBeGreaterThanOrEqual(narrow.changes);
        expect(wide.failures).toBeGreaterThanOrEqual(narrow.failures);
        expect(wide.incidents.length).toBeGreaterThanOrEqual(narrow.incidents.length);
      }),
    );
  });

  it('two adjacent periods count each event once: their sums are the whole', () => {
    fc.assert(
      fc.property(arbLedger, arbPeriod, fc.nat(1000), (ledger, p, cutAt) => {
        const cut = p.from + Math.min(cutAt * H, p.to - p.from);
        const a = doraKeys(ledger, { from: p.from, to: cut });
        const b = doraKeys(ledger, { from: cut, to: p.to });
        const all = doraKeys(ledger, p);
        expect(a.deployments + b.deployments).toBe(all.deployments);
        expect(a.changes + b.changes).toBe(all.changes);
        expect(a.failures + b.failures).toBe(all.failures);
        expect(a.incidents.length + b.incidents.length).toBe(all.incidents.length);
      }),
    );
  });

  it('the buckets always add up to the period totals', () => {
    fc.assert(
      fc.property(arbLedger, arbPeriod, fc.integer({ min: 1, max: 40 }), (ledger, p, n) => {
        const k = doraKeys(ledger, p, {}, n);
        expect(k.buckets).toHaveLength(n);
        expect(k.buckets.reduce((s, b) => s + b.deployments, 0)).toBe(k.deployments);
        expect(k.buckets.reduce((s, b) => s + b.changes, 0)).toBe(k.changes);
        expect(k.buckets.reduce((s, b) => s + b.failures, 0)).toBe(k.failures);
      }),
    );
  });

  it('a failure never raises the deployment count, and a success never raises the failure rate', () => {
    fc.assert(
      fc.property(arbLedger, (ledger) => {
        const period = { from: T0 - DAY, to: T0 + 30 * DAY };
        const base = doraKeys(ledger, period);
        const last = ledger.at(-1);
        const at = last ? (Date.parse(last.requestedAt) - T0) / H + 1 : 1;
        const failed = doraKeys([...ledger, entry('deploy', '9.9.9', at, 'failed')], period);
        const ok = doraKeys([...ledger, entry('deploy', '9.9.9', at, 'succeeded')], period);
        expect(failed.deployments).toBe(base.deployments);
        expect(ok.changeFailureRate ?? 0).toBeLessThanOrEqual(base.changeFailureRate ?? 0);
      }),
    );
  });
});
