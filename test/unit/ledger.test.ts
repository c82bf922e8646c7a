import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  chooseRollbackTarget,
  deployOutcome,
  knownGoodVersions,
  openEntry,
  rolledBackFromIndex,
  settlement,
  trimLedger,
  type Settlement,
  type LedgerAction,
  type LedgerEntry,
  type LedgerOutcome,
} from '../../src/policy/ledger.js';

let n = 0;
function entry(
  version: string,
  outcome: LedgerOutcome,
  opts: { action?: LedgerAction; verified?: boolean; fromVersion?: string } = {},
): LedgerEntry {
  n++;
  const verified = opts.verified ?? (outcome === 'succeeded' || outcome === 'rolled-back');
  return {
    opId: `op-${n}`,
    action: opts.action ?? 'deploy',
    version,
    artifact: `/artifacts/${version}#${n}`,
    commit: null,
    actor: 'alice',
    approvers: [],
    reason: null,
    fromVersion: opts.fromVersion ?? null,
    outcome,
    verifiedAt: verified ? `2025-01-01T00:00:${String(n % 60).padStart(2, '0')}.000Z` : null,
    releaseId: null,
    automatic: false,
    requestedAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    endedAt: null,
    failure: null,
  };
}

describe('chooseRollbackTarget without --to', () => {
  it('picks the newest version that succeeded before the current one', () => {
    const ledger = [entry('1.0.0', 'succeeded'), entry('1.1.0', 'succeeded'), entry('1.2.0', 'succeeded')];
    expect(chooseRollbackTarget(ledger, '1.2.0')).toEqual({
      ok: true,
      to: '1.1.0',
      artifact: ledger[1]!.artifact,
    });
  });

  it('skips failed versions', () => {
    const ledger = [entry('1.0.0', 'succeeded'), entry('1.1.0', 'failed'), entry('1.2.0', 'succeeded')];
    const choice = chooseRollbackTarget(ledger, '1.2.0');
    expect(choice).toMatchObject({ ok: true, to: '1.0.0' });
  });

  it('ignores a failed attempt of a newer version after the current one', () => {
    // 1.2.0 serves; 1.3.0 failed to start and never took over.
    const ledger = [entry('1.1.0', 'succeeded'), entry('1.2.0', 'succeeded'), entry('1.3.0', 'failed')];
    expect(chooseRollbackTarget(ledger, '1.2.0')).toMatchObject({ ok: true, to: '1.1.0' });
  });

  it('skips a version that was rolled back from', () => {
    // 1.1 verified, then rolled back to 1.0 by hand, then 1.2 deployed: 1.1 must not come back by default.
    const ledger = [
      entry('1.0.0', 'succeeded'),
      entry('1.1.0', 'rolled-back'),
      entry('1.0.0', 'succeeded', { action: 'rollback', fromVersion: '1.1.0' }),
      entry('1.2.0', 'succeeded'),
    ];
    const choice = chooseRollbackTarget(ledger, '1.2.0');
    expect(choice).toEqual({ ok: true, to: '1.0.0', artifact: ledger[2]!.artifact });
  });

  it('after an automatic rollback, goes further back rather than to the bad version', () => {
    const ledger = [
      entry('1.0.0', 'succeeded'),
      entry('1.1.0', 'succeeded'),
      entry('1.2.0-bad', 'rolled-back', { verified: false }),
      entry('1.1.0', 'succeeded', { action: 'rollback', fromVersion: '1.2.0-bad' }),
    ];
    expect(chooseRollbackTarget(ledger, '1.1.0')).toMatchObject({ ok: true, to: '1.0.0' });
  });

  it('refuses when nothing older succeeded, listing no candidates', () => {
    const ledger = [entry('1.0.0', 'failed'), entry('1.1.0', 'succeeded')];
    expect(chooseRollbackTarget(ledger, '1.1.0')).toEqual({
      ok: false,
      reason: 'no version older than 1.1.0 succeeded here',
      candidates: [],
    });
  });

  it('refuses on an environment nothing was deployed to', () => {
    expect(chooseRollbackTarget([], null)).toEqual({
      ok: false,
      reason: 'nothing has been deployed here yet',
      candidates: [],
    });
  });

  it('refuses when the only older version was itself rolled back from, but lists it as a --to candidate', () => {
    const ledger = [
      entry('1.0.0', 'succeeded'),
      entry('1.1.0', 'rolled-back'),
      entry('1.0.0', 'succeeded', { action: 'rollback', fromVersion: '1.1.0' }),
    ];
    const choice = chooseRollbackTarget(ledger, '1.0.0');
    expect(choice).toEqual({
      ok: false,
      reason: 'no version older than 1.0.0 succeeded here',
      candidates: ['1.1.0'],
    });
  });
});

describe('chooseRollbackTarget with --to', () => {
  const ledger = [
    entry('1.0.0', 'succeeded'),
    entry('1.1.0', 'succeeded'),
    entry('1.2.0', 'failed'),
    entry('1.3.0', 'rolled-back'), // verified, later rolled back from
    entry('1.1.0', 'succeeded', { action: 'rollback', fromVersion: '1.3.0' }),
    entry('1.4.0', 'succeeded'),
  ];

  it('accepts a version that verified here even though it was later rolled back from', () => {
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.3.0')).toEqual({
      ok: true,
      to: '1.3.0',
      artifact: ledger[3]!.artifact,
    });
  });

  it('accepts an old version and uses the artifact of its newest verified entry', () => {
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.0.0')).toMatchObject({ ok: true, to: '1.0.0' });
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.1.0')).toEqual({
      ok: true,
      to: '1.1.0',
      artifact: ledger[4]!.artifact,
    });
  });

  it('refuses the version already serving, listing the others', () => {
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.4.0')).toEqual({
      ok: false,
      reason: '1.4.0 is already serving',
      candidates: ['1.1.0', '1.3.0', '1.0.0'],
    });
  });

  it('refuses a version never deployed here', () => {
    expect(chooseRollbackTarget(ledger, '1.4.0', '9.9.9')).toEqual({
      ok: false,
      reason: '9.9.9 was never deployed here',
      candidates: ['1.1.0', '1.3.0', '1.0.0'],
    });
  });

  it('refuses a version that only ever failed here', () => {
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.2.0')).toEqual({
      ok: false,
      reason: '1.2.0 never passed verification here, so it cannot be restored',
      candidates: ['1.1.0', '1.3.0', '1.0.0'],
    });
  });

  it('refuses a version that was rolled back automatically before it ever verified', () => {
    const l = [entry('1.0.0', 'succeeded'), entry('1.1.0-bad', 'rolled-back', { verified: false })];
    const choice = chooseRollbackTarget(l, '1.0.0', '1.1.0-bad');
    expect(choice).toMatchObject({ ok: false, candidates: [] });
    if (!choice.ok) expect(choice.reason).toContain('never passed verification');
  });
});

describe('knownGoodVersions', () => {
  it('lists verified versions newest first, each once', () => {
    const ledger = [
      entry('1', 'succeeded'),
      entry('2', 'failed'),
      entry('3', 'rolled-back'),
      entry('1', 'succeeded', { action: 'rollback' }),
      entry('4', 'running', { verified: false }),
    ];
    expect(knownGoodVersions(ledger)).toEqual(['1', '3']);
  });
});

describe('trimLedger', () => {
  it('returns the ledger untouched when it is within size', () => {
    const ledger = [entry('1', 'succeeded'), entry('2', 'succeeded')];
    expect(trimLedger(ledger, 10)).toBe(ledger);
  });

  it('keeps the newest entries', () => {
    const ledger = Array.from({ length: 15 }, (_, i) => entry(String(i), 'succeeded'));
    expect(trimLedger(ledger, 10).map((e) => e.version)).toEqual([
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '11',
      '12',
      '13',
      '14',
    ]);
  });

  it('never drops an entry that is still running, even an old one', () => {
    const ledger = [
      entry('0', 'running', { verified: false }),
      ...Array.from({ length: 12 }, (_, i) => entry(String(i + 1), 'succeeded')),
    ];
    const trimmed = trimLedger(ledger, 10);
    expect(trimmed).toHaveLength(11);
    expect(trimmed[0]!.version).toBe('0');
    expect(trimmed[0]!.outcome).toBe('running');
    expect(trimmed.slice(1).map((e) => e.version)).toEqual([
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '11',
      '12',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '2.0.0', '2.1.0-bad'];

/** A ledger as the environment workflow writes it: succeeded and rolled-back-from entries carry verifiedAt. */
const arbLedger = fc.array(
  fc
    .record({
      version: fc.constantFrom(...VERSIONS),
      outcome: fc.constantFrom<LedgerOutcome>('succeeded', 'failed', 'rolled-back', 'running'),
      action: fc.constantFrom<LedgerAction>('deploy', 'rollback'),
      verifiedBeforeRollback: fc.boolean(),
    })
    .map(({ version, outcome, action, verifiedBeforeRollback }) =>
      entry(version, outcome, {
        action,
        verified: outcome === 'succeeded' || (outcome === 'rolled-back' && verifiedBeforeRollback),
      }),
    ),
  { maxLength: 12 },
);

describe('rollback properties', () => {
  it('a chosen target once verified here, is not the current version, and its artifact is from a verified entry', () => {
    fc.assert(
      fc.property(
        arbLedger,
        fc.option(fc.constantFrom(...VERSIONS), { nil: null }),
        fc.option(fc.constantFrom(...VERSIONS, '9.9.9'), { nil: undefined }),
        (ledger, current, to) => {
          const choice = chooseRollbackTarget(ledger, current, to);
          if (!choice.ok) {
            expect(choice.candidates).not.toContain(current);
            for (const c of choice.candidates) {
              expect(ledger.some((e) => e.version === c && e.verifiedAt !== null)).toBe(true);
            }
            return;
          }
          expect(choice.to).not.toBe(current);
          if (to !== undefined) expect(choice.to).toBe(to);
          const source = ledger.find((e) => e.artifact === choice.artifact);
          expect(source?.version).toBe(choice.to);
          expect(source?.verifiedAt).not.toBeNull();
        },
      ),
    );
  });

  it('without --to, never picks a version whose only entries failed', () => {
    fc.assert(
      fc.property(arbLedger, fc.option(fc.constantFrom(...VERSIONS), { nil: null }), (ledger, current) => {
        const choice = chooseRollbackTarget(ledger, current);
        if (choice.ok)
          expect(ledger.some((e) => e.version === choice.to && e.outcome === 'succeeded')).toBe(true);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

const AT = '2026-02-01T10:00:00.000Z';
const LATER = '2026-02-01T10:05:00.000Z';

describe('openEntry', () => {
  it('opens a running entry that starts from what serves, requested and started now', () => {
    expect(
      openEntry(
        { opId: 'o', action: 'deploy', version: '2.0.0', artifact: '/a/2', actor: 'dave' },
        '1.0.0',
        AT,
      ),
    ).toEqual({
      opId: 'o',
      action: 'deploy',
      version: '2.0.0',
      artifact: '/a/2',
      actor: 'dave',
      commit: null,
      approvers: [],
      reason: null,
      fromVersion: '1.0.0',
      outcome: 'running',
      verifiedAt: null,
      releaseId: null,
      automatic: false,
      requestedAt: AT,
      startedAt: AT,
      endedAt: null,
      failure: null,
    });
  });

  it('lets the caller say otherwise: an automatic rollback from the failed version, or an entry already failed', () => {
    const auto = openEntry(
      {
        opId: 'o#auto-rollback',
        action: 'rollback',
        version: '1.0.0',
        artifact: '/a/1',
        actor: 'shipgate',
        automatic: true,
        fromVersion: '2.0.0',
      },
      '2.0.0',
      AT,
    );
    expect(auto).toMatchObject({ automatic: true, fromVersion: '2.0.0', outcome: 'running' });
    const failed = openEntry(
      {
        opId: 'r',
        action: 'rollback',
        version: '1.0.0',
        artifact: '/a/1',
        actor: 'alice',
        outcome: 'failed',
        failure: 'no config',
        endedAt: AT,
      },
      null,
      AT,
    );
    expect(failed).toMatchObject({ outcome: 'failed', failure: 'no config', endedAt: AT, fromVersion: null });
  });
});

describe('settlement', () => {
  const running = () =>
    openEntry(
      { opId: 'o', action: 'deploy', version: '2.0.0', artifact: '/a/2', actor: 'dave' },
      '1.0.0',
      AT,
    );
  const settle = (s: Settlement, entry: LedgerEntry = running()) => ({
    ...entry,
    ...settlement(entry, s, LATER),
  });

  it('verified: succeeded, verified and ended now', () => {
    expect(settle({ kind: 'verified' })).toMatchObject({
      outcome: 'succeeded',
      verifiedAt: LATER,
      endedAt: LATER,
      failure: null,
    });
  });

  it('failed: with the reason, never verified', () => {
    expect(settle({ kind: 'failed', failure: 'could not start 2.0.0: not ready' })).toMatchObject({
      outcome: 'failed',
      failure: 'could not start 2.0.0: not ready',
      verifiedAt: null,
      endedAt: LATER,
    });
  });

  it('preempted: names the rollback, or says a rollback when it is not known', () => {
    expect(
      settle({ kind: 'preempted', by: 'a rollback to 1.0.0 requested by carol', version: '2.0.0' }).failure,
    ).toBe('preempted: a rollback to 1.0.0 requested by carol cancelled the deploy of 2.0.0');
    expect(settle({ kind: 'preempted', by: null, version: '2.0.0' })).toMatchObject({
      outcome: 'failed',
      failure: 'preempted: a rollback cancelled the deploy of 2.0.0',
      endedAt: LATER,
    });
  });

  it('verification failed, then compensated: rolled back, or failed with why the rollback failed', () => {
    const failed = settle({
      kind: 'verification-failed',
      version: '2.0.0',
      env: 'production',
      detail: 'GET /smoke answered 500',
    });
    expect(failed).toMatchObject({
      outcome: 'failed',
      failure: 'verification of 2.0.0 on production failed: GET /smoke answered 500',
      endedAt: LATER,
    });
    const restored = {
      ...failed,
      ...settlement(failed, { kind: 'compensated', to: '1.0.0', restored: true, failure: null }, 'x'),
    };
    expect(restored).toMatchObject({
      outcome: 'rolled-back',
      failure: 'verification of 2.0.0 on production failed: GET /smoke answered 500; rolled back to 1.0.0',
      endedAt: LATER,
      verifiedAt: null,
    });
    const notRestored = {
      ...failed,
      ...settlement(
        failed,
        { kind: 'compensated', to: '1.0.0', restored: false, failure: 'GET /smoke answered 502' },
        'x',
      ),
    };
    expect(notRestored).toMatchObject({
      outcome: 'failed',
      failure:
        'verification of 2.0.0 on production failed: GET /smoke answered 500; automatic rollback to 1.0.0 failed: GET /smoke answered 502',
    });
    const nothing = { ...failed, ...settlement(failed, { kind: 'nothing-to-restore' }, 'x') };
    expect(nothing).toMatchObject({
      outcome: 'failed',
      failure:
        'verification of 2.0.0 on production failed: GET /smoke answered 500; no earlier version to roll back to',
    });
  });
});

describe('rolledBackFromIndex and deployOutcome', () => {
  it('marks the newest succeeded entry of the version rolled back from', () => {
    const ledger = [
      entry('1.0.0', 'succeeded'),
      entry('1.1.0', 'succeeded'),
      entry('1.1.0', 'failed'),
      entry('1.0.0', 'succeeded'),
    ];
    expect(rolledBackFromIndex(ledger, '1.1.0')).toBe(1);
    expect(rolledBackFromIndex(ledger, '1.0.0')).toBe(3);
    expect(rolledBackFromIndex(ledger, '9.9.9')).toBe(-1);
    expect(rolledBackFromIndex(ledger, null)).toBe(-1);
  });

  it('tells a release succeeded, rolled-back, or failed (also for an entry it cannot find)', () => {
    expect(deployOutcome(entry('1', 'succeeded'))).toEqual({ outcome: 'succeeded', reason: undefined });
    expect(deployOutcome({ ...entry('1', 'rolled-back'), failure: 'bad; rolled back to 0' })).toEqual({
      outcome: 'rolled-back',
      reason: 'bad; rolled back to 0',
    });
    expect(deployOutcome({ ...entry('1', 'failed'), failure: 'not ready' })).toEqual({
      outcome: 'failed',
      reason: 'not ready',
    });
    expect(deployOutcome(undefined)).toEqual({ outcome: 'failed', reason: undefined });
  });

  it('a settled entry always reads as one of the three outcomes a release knows (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Settlement>(
          { kind: 'verified' },
          { kind: 'failed', failure: 'f' },
          { kind: 'preempted', by: null, version: '2' },
          { kind: 'verification-failed', version: '2', env: 'e', detail: 'd' },
        ),
        fc.constantFrom<Settlement | null>(
          null,
          { kind: 'compensated', to: '1', restored: true, failure: null },
          { kind: 'compensated', to: '1', restored: false, failure: 'x' },
          { kind: 'nothing-to-restore' },
        ),
        (first, then) => {
          let e = entry('2', 'running', { verified: false });
          e = { ...e, ...settlement(e, first, AT) };
          if (then && first.kind === 'verification-failed') e = { ...e, ...settlement(e, then, LATER) };
          const told = deployOutcome(e);
          expect(told.outcome).toBe(e.outcome === 'running' ? 'failed' : e.outcome);
          expect(e.outcome).not.toBe('running');
          expect(told.reason === undefined).toBe(e.outcome === 'succeeded');
          expect(e.endedAt).toBe(AT);
        },
      ),
    );
  });
});
