import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/policy/ledger.js';
import {
  alreadyReleasedRefusal,
  isAlreadyReleased,
  KEPT_RELEASED,
  releasedHere,
  rememberReleased,
} from '../../src/policy/release-once.js';

const AT = '2026-12-02T10:00:00.000Z';

const entry = (version: string, fields: Partial<LedgerEntry> = {}): LedgerEntry => ({
  opId: `op-${version}`,
  action: 'deploy',
  version,
  artifact: `/a/${version}`,
  commit: null,
  actor: 'dave',
  approvers: [],
  reason: null,
  fromVersion: null,
  outcome: 'succeeded',
  verifiedAt: AT,
  releaseId: `release/hello/${version}`,
  automatic: false,
  requestedAt: AT,
  startedAt: AT,
  endedAt: AT,
  failure: null,
  ...fields,
});

describe('a version is released once', () => {
  it('answers from the kept list first, then from deploys that passed verification in the ledger', () => {
    const kept = [{ version: '0.9.0', releaseId: 'release/hello/0.9.0', at: AT }];
    const ledger = [
      entry('1.0.0'),
      // Rolled back from later: it was released all the same.
      entry('1.1.0', { outcome: 'rolled-back' }),
      entry('1.2.0-bad', { outcome: 'rolled-back', verifiedAt: null }),
      entry('1.3.0', { outcome: 'failed', verifiedAt: null }),
      // A rollback to a version is not its release.
      entry('2.0.0', { action: 'rollback' }),
    ];
    expect(releasedHere(kept, ledger, '0.9.0')).toEqual(kept[0]);
    expect(releasedHere(kept, ledger, '1.0.0')).toEqual({
      version: '1.0.0',
      releaseId: 'release/hello/1.0.0',
      at: AT,
    });
    expect(releasedHere(kept, ledger, '1.1.0')).not.toBeNull();
    for (const v of ['1.2.0-bad', '1.3.0', '2.0.0', '3.0.0'])
      expect(releasedHere(kept, ledger, v)).toBeNull();
  });

  it('remembers each version once, the newest KEPT_RELEASED', () => {
    let list = rememberReleased([], { version: '1.0.0', releaseId: 'r1', at: AT });
    list = rememberReleased(list, { version: '1.0.0', releaseId: 'r2', at: AT });
    expect(list).toEqual([{ version: '1.0.0', releaseId: 'r1', at: AT }]);
    const many = Array.from({ length: KEPT_RELEASED }, (_, i) => ({
      version: `v${i}`,
      releaseId: null,
      at: AT,
    }));
    const trimmed = rememberReleased(many, { version: 'new', releaseId: null, at: AT });
    expect(trimmed).toHaveLength(KEPT_RELEASED);
    expect(trimmed[0]!.version).toBe('v1');
    expect(trimmed.at(-1)!.version).toBe('new');
  });

  it('says where and when it was released, and how to deploy it again; clients tell it by its details', () => {
    const prior = { version: '1.0.0', releaseId: 'release/hello/1.0.0', at: AT };
    expect(alreadyReleasedRefusal('hello', '1.0.0', 'production', prior)).toBe(
      `hello 1.0.0 was already released successfully (deployed to production by release/hello/1.0.0 at ${AT}); ` +
        'to deploy it again use: shipgate rollback hello <env> --to 1.0.0',
    );
    expect(isAlreadyReleased({ alreadyReleased: { env: 'production', ...prior } })).toBe(true);
    for (const other of [null, 'x', {}, { alreadyReleased: {} }, { state: 'failed' }])
      expect(isAlreadyReleased(other)).toBe(false);
  });
});
