import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  adoptDecision,
  adoptEntry,
  adoptRequestKey,
  boundFindings,
  driftCheckable,
  driftHold,
  driftStep,
  holdsDeploys,
  newDrift,
  nextDriftCheck,
  sameFindings,
  trimDriftLog,
} from '../../src/policy/drift.js';
import { authorise } from '../../src/policy/environment-rules.js';
import { chooseRollbackTarget, type LedgerEntry } from '../../src/policy/ledger.js';
import { historyRows } from '../../src/client.js';
import { driftNotice } from '../../src/integrations/slack/cards.js';
import type { DriftFinding } from '../../src/targets/types.js';
import type { DriftRecord, OnDrift } from '../../src/workflows/types.js';

const cluster = {
  kind: 'kubernetes',
  namespace: 'shop',
  deployment: 'checkout',
  container: 'app',
  strategy: 'rolling',
  trafficRouting: 'replicas',
  replicas: 2,
  progressDeadline: 600_000,
} as const;
const expected = { version: '1.2.0', artifact: 'registry.example.com/checkout:1.2.0' };
const image: DriftFinding = {
  what: 'image',
  object: 'deployment/checkout',
  expected: 'registry.example.com/checkout:1.2.0',
  actual: 'registry.example.com/checkout:hotfix',
};
const replicas: DriftFinding = {
  what: 'replicas',
  object: 'deployment/checkout',
  expected: '2',
  actual: '0',
};
const at = '2030-01-01T00:00:00.000Z';

const finding = fc.record({
  what: fc.constantFrom<DriftFinding['what']>('image', 'replicas', 'selector', 'template', 'missing'),
  object: fc.constantFrom('deployment/checkout', 'service/checkout', 'deployment/checkout-green'),
  expected: fc.string({ maxLength: 8 }),
  actual: fc.string({ maxLength: 8 }),
});

describe('which environments are checked for drift', () => {
  it('clusters are; local processes (and specs from before targets had kinds) are not', () => {
    expect(driftCheckable(cluster)).toBe(true);
    expect(driftCheckable({ kind: 'local', port: 18080 })).toBe(false);
    expect(driftCheckable(undefined)).toBe(false);
  });

  it('schedules the next check one interval on, only with something deployed on a target that can drift', () => {
    const settings = { target: cluster, onDrift: 'block' as const, intervalMs: 60_000 };
    expect(nextDriftCheck(settings, true, 1000)).toBe(61_000);
    expect(nextDriftCheck(settings, false, 1000)).toBeNull();
    expect(nextDriftCheck({ ...settings, target: { kind: 'local', port: 1 } }, true, 1000)).toBeNull();
    expect(nextDriftCheck(null, true, 1000)).toBeNull();
  });
});

describe('a finding is recorded once per distinct drift', () => {
  it('compares findings as sets', () => {
    fc.assert(
      fc.property(fc.array(finding, { maxLength: 6 }), (fs) => {
        expect(sameFindings(fs, [...fs].reverse())).toBe(true);
      }),
    );
    expect(sameFindings([image], [replicas])).toBe(false);
    expect(sameFindings([image], [image, replicas])).toBe(false);
  });

  it('nothing found and nothing in force is nothing; the same drift again is not new; other findings are', () => {
    const open = newDrift(1, expected, [image, replicas], 'block', at);
    expect(driftStep(null, expected, [])).toEqual({ kind: 'none' });
    expect(driftStep(open, expected, [])).toEqual({ kind: 'gone' });
    expect(driftStep(open, expected, [replicas, image])).toEqual({ kind: 'same' });
    expect(driftStep(open, expected, [image])).toEqual({ kind: 'new' });
    expect(driftStep(null, expected, [image])).toEqual({ kind: 'new' });
    // Against another ledger entry (a deploy meanwhile), the same difference is a drift of its own.
    expect(driftStep(open, { ...expected, version: '1.3.0' }, [image, replicas])).toEqual({ kind: 'new' });
  });

  it('the same findings checked again and again, in any order, record one drift', () => {
    const checks = fc
      .uniqueArray(finding, { minLength: 1, maxLength: 5, selector: (f) => JSON.stringify(f) })
      .chain((fs) =>
        fc.array(fc.shuffledSubarray(fs, { minLength: fs.length, maxLength: fs.length }), {
          minLength: 1,
          maxLength: 20,
        }),
      );
    fc.assert(
      fc.property(checks, (seen) => {
        let open: DriftRecord | null = null;
        let recorded = 0;
        for (const findings of seen) {
          if (driftStep(open, expected, findings).kind !== 'new') continue;
          recorded++;
          open = newDrift(recorded, expected, findings, 'warn', at);
        }
        expect(recorded).toBe(1);
      }),
    );
  });

  it('keeps findings bounded in history', () => {
    const long = 'x'.repeat(1000);
    const many = Array.from({ length: 30 }, () => ({ ...image, actual: long }));
    const kept = boundFindings(many);
    expect(kept).toHaveLength(20);
    expect(kept[0]!.actual).toHaveLength(300);
    expect(kept[0]!.actual.endsWith('…')).toBe(true);
    expect(boundFindings([image])).toEqual([image]);
  });

  it('keeps the newest records, and never drops the one in force', () => {
    const log = Array.from({ length: 60 }, (_, i) => ({
      ...newDrift(i + 1, expected, [image], 'block', at),
      resolved: i === 0 ? null : { at, how: 'gone' as const, by: 'shipgate', version: '1.2.0' },
    }));
    const kept = trimDriftLog(log);
    expect(kept).toHaveLength(51);
    expect(kept[0]!.id).toBe('drift-1');
    expect(kept.at(-1)!.id).toBe('drift-60');
  });
});

describe('whether drift holds deploys', () => {
  const open = newDrift(1, expected, [image], 'block', at);

  it('only an unresolved drift under onDrift: block, read live (a config changed to warn lets deploys go)', () => {
    fc.assert(
      fc.property(fc.constantFrom<OnDrift>('block', 'adopt', 'warn'), (onDrift) => {
        expect(holdsDeploys(open, onDrift)).toBe(onDrift === 'block');
        expect(driftHold(open, onDrift, 'checkout', 'production') !== null).toBe(onDrift === 'block');
      }),
    );
    expect(holdsDeploys(null, 'block')).toBe(false);
    expect(
      holdsDeploys({ ...open, resolved: { at, how: 'adopted', by: 'alice', version: 'x' } }, 'block'),
    ).toBe(false);
  });

  it('a held release says why: what changed, and what ends it; it names no end', () => {
    expect(driftHold(open, 'block', 'checkout', 'production')).toEqual({
      allowed: false,
      blockedBy:
        'drift: deployment/checkout image: expected registry.example.com/checkout:1.2.0, found registry.example.com/checkout:hotfix',
      until: null,
      kind: 'drift',
      reason:
        'checkout/production runs something its ledger does not say (changed outside shipgate since 2030-01-01T00:00:00.000Z): ' +
        'deployment/checkout image: expected registry.example.com/checkout:1.2.0, found registry.example.com/checkout:hotfix; ' +
        'deploys to checkout/production are held until someone runs `shipgate adopt checkout production` or a rollback succeeds (onDrift: block)',
    });
  });
});

describe('what adopting records', () => {
  const live = { version: '1.2.0-hotfix', artifact: 'registry.example.com/checkout:hotfix' };

  it('ends the drift in force; without one, adopts a difference not noticed yet, refuses a match', () => {
    const open = newDrift(1, expected, [image], 'block', at);
    expect(adoptDecision(expected, open, live, 'checkout', 'production')).toEqual({
      ok: true,
      resolves: open,
    });
    expect(adoptDecision(expected, null, live, 'checkout', 'production')).toEqual({
      ok: true,
      resolves: null,
    });
    // Nothing deployed by shipgate yet: what runs is taken over.
    expect(adoptDecision(null, null, live, 'checkout', 'production')).toEqual({ ok: true, resolves: null });
    expect(adoptDecision(expected, null, expected, 'checkout', 'production')).toEqual({
      ok: false,
      reason:
        'nothing to adopt: checkout/production runs 1.2.0 (registry.example.com/checkout:1.2.0), as its ledger says',
    });
  });

  it('a settled, succeeded, never verified entry: a plain rollback may return to it, --to does not offer it', () => {
    const entry = adoptEntry(
      { opId: 'adopt:r1', live, from: '1.2.0', actor: 'alice', reason: 'keep it', automatic: false },
      at,
    );
    expect(entry).toMatchObject({
      action: 'adopt',
      version: '1.2.0-hotfix',
      artifact: live.artifact,
      outcome: 'succeeded',
      verifiedAt: null,
      fromVersion: '1.2.0',
      endedAt: at,
    });
    const deployed = (version: string, n: number): LedgerEntry => ({
      ...entry,
      opId: `d${n}`,
      action: 'deploy',
      version,
      artifact: `registry.example.com/checkout:${version}`,
      verifiedAt: at,
    });
    const ledger = [deployed('1.2.0', 1), entry, deployed('1.3.0', 2)];
    expect(chooseRollbackTarget(ledger, '1.3.0')).toEqual({
      ok: true,
      to: '1.2.0-hotfix',
      artifact: live.artifact,
    });
    expect(chooseRollbackTarget(ledger, '1.3.0', '1.2.0-hotfix')).toMatchObject({ ok: false });
    // Rolling back from the adopted state goes to what shipgate deployed before it.
    expect(chooseRollbackTarget([deployed('1.2.0', 1), entry], '1.2.0-hotfix')).toMatchObject({
      ok: true,
      to: '1.2.0',
    });
  });

  it('is for those who may roll back', () => {
    const policy = {
      rollbackers: ['alice'],
      rollbackersDescription: 'only members of team-leads may',
      freezers: ['dave'],
      freezersDescription: 'only members of release-managers may',
    };
    expect(authorise({ ok: true, policy }, 'adopt', 'ALICE', 'checkout', 'production').ok).toBe(true);
    expect(authorise({ ok: true, policy }, 'adopt', 'dave', 'checkout', 'production')).toEqual({
      ok: false,
      reason: 'dave may not adopt the live state of checkout/production: only members of team-leads may',
    });
  });

  it('a retried request finds the first by its key', () => {
    expect(adoptRequestKey('abc')).toBe('adopt:abc');
    expect(adoptRequestKey(undefined)).toBeNull();
  });
});

describe('history shows drift among the ledger', () => {
  it('puts each drift between the entries by time, newest first, keeping the ledger order', () => {
    const entry = (version: string, endedAt: string, action: LedgerEntry['action'] = 'deploy') =>
      ({
        ...adoptEntry(
          {
            opId: version,
            live: { version, artifact: version },
            from: null,
            actor: 'dave',
            reason: '',
            automatic: false,
          },
          endedAt,
        ),
        action,
        reason: null,
      }) as LedgerEntry;
    const drift = newDrift(1, expected, [image], 'block', '2030-01-01T00:00:05.000Z');
    const rows = historyRows(
      [
        entry('1.0.0', '2030-01-01T00:00:01.000Z'),
        entry('1.0.0-hotfix', '2030-01-01T00:00:09.000Z', 'adopt'),
      ],
      [drift],
    );
    expect(rows.map((r) => `${r.action} ${r.version}`)).toEqual([
      'adopt 1.0.0-hotfix',
      'drift 1.2.0',
      'deploy 1.0.0',
    ]);
    expect(rows[1]).toMatchObject({
      outcome: 'detected',
      actor: 'shipgate',
      findings: [image],
      resolved: null,
      reason: `deployment/checkout image: expected ${image.expected}, found ${image.actual} (onDrift: block)`,
    });
  });
});

describe('the drift notification (Slack)', () => {
  it('says what changed and what happens next, escaped, with a rollback button only when deploys are held', () => {
    const hostile = { ...image, actual: 'registry.example.com/checkout:<!channel>' };
    const held = driftNotice(
      'checkout',
      'production',
      newDrift(1, expected, [hostile], 'block', at),
      '1.1.0',
    );
    const text = JSON.stringify(held.blocks);
    expect(held.text).toContain('Drift on checkout/production');
    expect(text).toContain('deployment/checkout');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('shipgate adopt checkout production');
    expect(held.blocks.some((b) => b.type === 'actions')).toBe(true);
    const warned = driftNotice('checkout', 'production', newDrift(1, expected, [image], 'warn', at), '1.1.0');
    expect(JSON.stringify(warned.blocks)).toContain('deploys go ahead (onDrift: warn)');
    expect(warned.blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});
