import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  chooseRollbackTarget,
  knownGoodVersions,
  trimLedger,
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
    artifactDir: `/artifacts/${version}#${n}`,
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
      artifactDir: ledger[1]!.artifactDir,
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
    expect(choice).toEqual({ ok: true, to: '1.0.0', artifactDir: ledger[2]!.artifactDir });
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
      artifactDir: ledger[3]!.artifactDir,
    });
  });

  it('accepts an old version and uses the artifact of its newest verified entry', () => {
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.0.0')).toMatchObject({ ok: true, to: '1.0.0' });
    expect(chooseRollbackTarget(ledger, '1.4.0', '1.1.0')).toEqual({
      ok: true,
      to: '1.1.0',
      artifactDir: ledger[4]!.artifactDir,
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
          const source = ledger.find((e) => e.artifactDir === choice.artifactDir);
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
