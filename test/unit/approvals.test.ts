import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decideApproval,
  decideRejection,
  eligibleGroups,
  tally,
  type ApprovalChannel,
  type ApprovalPolicy,
  type GivenApproval,
} from '../../src/policy/approvals.js';

const AT = '2025-01-01T00:00:00.000Z';
const counts = (t: ReturnType<typeof tally>) => t.rules.map((r) => `${r.group} ${r.have}/${r.count}`);
const give = (by: string, via: ApprovalChannel = 'cli'): GivenApproval => ({ by, at: AT, via });

/** The Contract's production rule, plus a security rule for multi-rule cases. */
function policy(overrides: Partial<ApprovalPolicy> = {}): ApprovalPolicy {
  return {
    rules: [{ group: 'team-leads', count: 2 }],
    groups: { 'team-leads': ['alice', 'bob', 'carol'] },
    allowSelfApproval: false,
    channels: ['cli', 'slack'],
    ...overrides,
  };
}

const twoRules = (): ApprovalPolicy =>
  policy({
    rules: [
      { group: 'team-leads', count: 2 },
      { group: 'security', count: 1 },
    ],
    groups: { 'team-leads': ['alice', 'bob', 'carol'], security: ['sam', 'carol'] },
  });

describe('decideApproval', () => {
  it('accepts a team lead approving someone else’s release', () => {
    expect(decideApproval(policy(), [], { by: 'alice', via: 'cli', actor: 'erin' })).toEqual({ ok: true });
  });

  it('refuses a non-member and names the groups that can approve', () => {
    const d = decideApproval(twoRules(), [], { by: 'mallory', via: 'cli', actor: 'erin' });
    expect(d).toEqual({
      ok: false,
      code: 'not-eligible',
      reason: 'mallory is not a member of team-leads or security, the groups that can approve',
    });
  });

  it('names each group once even when two rules share it', () => {
    const p = policy({
      rules: [
        { group: 'team-leads', count: 1 },
        { group: 'team-leads', count: 2 },
      ],
    });
    const d = decideApproval(p, [], { by: 'mallory', via: 'cli', actor: 'erin' });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toBe('mallory is not a member of team-leads, the groups that can approve');
  });

  it('refuses self-approval by the release actor', () => {
    const d = decideApproval(policy(), [], { by: 'alice', via: 'cli', actor: 'alice' });
    expect(d).toEqual({
      ok: false,
      code: 'self-approval',
      reason: 'alice started this release and cannot approve it (self-approval is not allowed)',
    });
  });

  it('refuses self-approval whatever the case of the login', () => {
    const d = decideApproval(policy(), [], { by: 'Alice', via: 'slack', actor: 'ALICE' });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.code).toBe('self-approval');
  });

  it('allows self-approval when allowSelfApproval is true', () => {
    const d = decideApproval(policy({ allowSelfApproval: true }), [], {
      by: 'alice',
      via: 'cli',
      actor: 'alice',
    });
    expect(d).toEqual({ ok: true });
  });

  it('refuses a second approval from the same person, whatever the case', () => {
    expect(decideApproval(policy(), [give('bob')], { by: 'bob', via: 'cli', actor: 'erin' })).toEqual({
      ok: false,
      code: 'already-approved',
      reason: 'bob already approved this release',
    });
    const d = decideApproval(policy(), [give('bob')], { by: 'BOB', via: 'slack', actor: 'erin' });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.code).toBe('already-approved');
  });

  it('counts a pre-proof channel name as the proven channels it stands for, in the policy and in the attempt', () => {
    // Snapshots and approvals recorded before proofs say cli (ssh or asserted) and github (github-oidc).
    expect(
      decideApproval(policy({ channels: ['cli'] }), [], { by: 'alice', via: 'ssh', actor: 'e' }),
    ).toEqual({
      ok: true,
    });
    expect(
      decideApproval(policy({ channels: ['ssh'] }), [], { by: 'alice', via: 'cli', actor: 'e' }),
    ).toEqual({
      ok: true,
    });
    expect(
      decideApproval(policy({ channels: ['github'] }), [], { by: 'alice', via: 'github-oidc', actor: 'e' }),
    ).toEqual({ ok: true });
    expect(
      decideApproval(policy({ channels: ['cli'] }), [], { by: 'alice', via: 'slack', actor: 'e' }),
    ).toMatchObject({ ok: false, code: 'channel-not-allowed' });
  });

  it('refuses a channel the environment does not accept, saying which ones it does', () => {
    const p = policy({ channels: ['slack'] });
    expect(decideApproval(p, [], { by: 'alice', via: 'cli', actor: 'erin' })).toEqual({
      ok: false,
      code: 'channel-not-allowed',
      reason: 'approvals through cli are not accepted here; use slack',
    });
    expect(
      decideApproval(policy({ channels: ['slack', 'github'] }), [], { by: 'alice', via: 'cli', actor: 'e' }),
    ).toEqual(
      expect.objectContaining({ reason: 'approvals through cli are not accepted here; use slack or github' }),
    );
    expect(decideApproval(p, [], { by: 'alice', via: 'slack', actor: 'erin' })).toEqual({ ok: true });
  });

  it('matches logins case-insensitively against group members', () => {
    const p = policy({ groups: { 'team-leads': ['Alice', 'bob'] } });
    expect(decideApproval(p, [], { by: 'ALICE', via: 'cli', actor: 'erin' })).toEqual({ ok: true });
    expect(decideApproval(p, [], { by: 'Bob', via: 'cli', actor: 'erin' })).toEqual({ ok: true });
    expect(eligibleGroups(p, 'aLiCe')).toEqual(['team-leads']);
  });

  it('says no approvals are needed when the environment has no rules', () => {
    const d = decideApproval(policy({ rules: [] }), [], { by: 'alice', via: 'cli', actor: 'erin' });
    expect(d).toEqual({
      ok: false,
      code: 'no-approvals-required',
      reason: 'this environment needs no approvals',
    });
  });

  it('does not accept a member of a group that no rule names', () => {
    const p = policy({ groups: { 'team-leads': ['alice'], 'release-managers': ['dave'] } });
    const d = decideApproval(p, [], { by: 'dave', via: 'cli', actor: 'erin' });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.code).toBe('not-eligible');
  });

  it('lists the groups a person can approve for, each once', () => {
    expect(eligibleGroups(twoRules(), 'carol')).toEqual(['team-leads', 'security']);
    expect(eligibleGroups(twoRules(), 'sam')).toEqual(['security']);
    expect(eligibleGroups(twoRules(), 'mallory')).toEqual([]);
  });
});

describe('tally', () => {
  it('needs 2 team leads AND 1 security approver', () => {
    const p = twoRules();
    let t = tally(p, [give('alice'), give('bob')]);
    expect(t.met).toBe(false);
    expect(t.rules).toEqual([
      { group: 'team-leads', count: 2, have: 2, by: ['alice', 'bob'] },
      { group: 'security', count: 1, have: 0, by: [] },
    ]);
    expect(counts(t)).toEqual(['team-leads 2/2', 'security 0/1']);

    t = tally(p, [give('alice'), give('sam')]);
    expect(t.met).toBe(false);
    expect(counts(t)).toEqual(['team-leads 1/2', 'security 1/1']);

    t = tally(p, [give('alice'), give('bob'), give('sam')]);
    expect(t.met).toBe(true);
    expect(counts(t)).toEqual(['team-leads 2/2', 'security 1/1']);
  });

  it('counts a person in both groups once toward each rule', () => {
    const p = twoRules();
    const t = tally(p, [give('carol'), give('alice')]);
    expect(t.met).toBe(true);
    expect(t.rules.map((r) => r.by)).toEqual([['carol', 'alice'], ['carol']]);
    // Carol alone fills one slot of each rule, not both team-lead slots.
    expect(tally(p, [give('carol'), give('CAROL', 'slack')]).met).toBe(false);
    expect(counts(tally(p, [give('carol')]))).toEqual(['team-leads 1/2', 'security 1/1']);
  });

  it('ignores approvals from non-members', () => {
    const t = tally(policy(), [give('alice'), give('mallory'), give('eve')]);
    expect(t.met).toBe(false);
    expect(t.rules[0]).toEqual({ group: 'team-leads', count: 2, have: 1, by: ['alice'] });
  });

  it('counts a person once however many times and cases they appear', () => {
    const t = tally(policy(), [give('alice'), give('Alice'), give('ALICE', 'slack')]);
    expect(t.met).toBe(false);
    expect(t.rules[0]!.by).toEqual(['alice']);
  });

  it('caps `have` at the count but lists everyone who approved', () => {
    const t = tally(policy(), [give('alice'), give('bob'), give('carol')]);
    expect(t.met).toBe(true);
    expect(t.rules[0]!.have).toBe(2);
    expect(t.rules[0]!.by).toEqual(['alice', 'bob', 'carol']);
  });

  it('is met with no rules', () => {
    expect(tally(policy({ rules: [] }), []).met).toBe(true);
  });
});

describe('decideRejection', () => {
  it('lets any member of an approving group reject', () => {
    expect(decideRejection(twoRules(), 'sam')).toEqual({ ok: true });
    expect(decideRejection(twoRules(), 'Bob')).toEqual({ ok: true });
  });

  it('refuses a non-member, naming the groups', () => {
    expect(decideRejection(twoRules(), 'mallory')).toEqual({
      ok: false,
      code: 'not-eligible',
      reason: 'mallory is not a member of team-leads or security, the groups that can reject',
    });
  });

  it('refuses when there are no approval rules', () => {
    expect(decideRejection(policy({ rules: [] }), 'alice')).toEqual({
      ok: false,
      code: 'not-eligible',
      reason: 'this environment has no approval rules, so there is nobody to reject it',
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const OUTSIDERS = ['mallory', 'oscar', 'trent'];
const GROUPS = ['team-leads', 'security', 'sre'];

const arbLogin = fc.constantFrom(...PEOPLE, ...OUTSIDERS);
/** Logins in varying case, as people type them. */
const arbTypedLogin = fc
  .tuple(arbLogin, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .map(([l, caps]) => [...l].map((ch, i) => (caps[i] ? ch.toUpperCase() : ch)).join(''));

const arbPolicy: fc.Arbitrary<ApprovalPolicy> = fc
  .record({
    members: fc.tuple(...GROUPS.map(() => fc.subarray(PEOPLE, { minLength: 1 }))),
    ruleGroups: fc.subarray(GROUPS, { minLength: 1 }),
    counts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
    allowSelfApproval: fc.boolean(),
    channels: fc.subarray<ApprovalChannel>(['cli', 'slack', 'github'], { minLength: 1 }),
  })
  .map(({ members, ruleGroups, counts, allowSelfApproval, channels }) => {
    const groups = Object.fromEntries(GROUPS.map((g, i) => [g, members[i]!]));
    const rules = ruleGroups.map((group, i) => ({
      group,
      count: Math.min(counts[i]!, groups[group]!.length),
    }));
    return { rules, groups, allowSelfApproval, channels };
  });

const arbApproval: fc.Arbitrary<GivenApproval> = fc.record({
  by: arbTypedLogin,
  at: fc.constant(AT),
  via: fc.constantFrom<ApprovalChannel>('cli', 'slack', 'github'),
});

const isMember = (p: ApprovalPolicy, group: string, login: string) =>
  (p.groups[group] ?? []).some((m) => m.toLowerCase() === login.toLowerCase());

describe('approval properties', () => {
  it('met iff every rule has at least `count` distinct eligible approvers', () => {
    fc.assert(
      fc.property(arbPolicy, fc.array(arbApproval, { maxLength: 12 }), (p, given) => {
        const expected = p.rules.every((rule) => {
          const distinct = new Set(
            given.filter((a) => isMember(p, rule.group, a.by)).map((a) => a.by.toLowerCase()),
          );
          return distinct.size >= rule.count;
        });
        const t = tally(p, given);
        expect(t.met).toBe(expected);
        for (const [i, r] of t.rules.entries()) {
          expect(r.have).toBeLessThanOrEqual(p.rules[i]!.count);
          expect(new Set(r.by).size).toBe(r.by.length);
        }
      }),
    );
  });

  it('adding an approval from a non-member never changes the tally', () => {
    fc.assert(
      fc.property(
        arbPolicy,
        fc.array(arbApproval, { maxLength: 10 }),
        fc.constantFrom(...OUTSIDERS),
        fc.nat(),
        (p, given, outsider, pos) => {
          const at = pos % (given.length + 1);
          const more = [...given.slice(0, at), give(outsider), ...given.slice(at)];
          expect(tally(p, more)).toEqual(tally(p, given));
        },
      ),
    );
  });

  it('the order of approvals does not change whether the tally is met or who counts', () => {
    fc.assert(
      fc.property(
        arbPolicy,
        fc
          .array(arbApproval, { maxLength: 10 })
          .chain((given) =>
            fc.tuple(
              fc.constant(given),
              fc.shuffledSubarray(given, { minLength: given.length, maxLength: given.length }),
            ),
          ),
        (p, [given, shuffled]) => {
          const a = tally(p, given);
          const b = tally(p, shuffled);
          expect(b.met).toBe(a.met);
          expect(b.rules.map((r) => r.have)).toEqual(a.rules.map((r) => r.have));
          expect(b.rules.map((r) => [...r.by].sort())).toEqual(a.rules.map((r) => [...r.by].sort()));
        },
      ),
    );
  });

  it('without allowSelfApproval, the actor never counts (only accepted approvals are added)', () => {
    fc.assert(
      fc.property(
        arbPolicy.map((p) => ({ ...p, allowSelfApproval: false })),
        arbTypedLogin,
        fc.array(
          fc.record({ by: arbTypedLogin, via: fc.constantFrom<ApprovalChannel>('cli', 'slack', 'github') }),
          {
            maxLength: 15,
          },
        ),
        (p, actor, attempts) => {
          const given: GivenApproval[] = [];
          for (const attempt of attempts) {
            const d = decideApproval(p, given, { ...attempt, actor });
            if (attempt.by.toLowerCase() === actor.toLowerCase()) expect(d.ok).toBe(false);
            if (d.ok) given.push({ by: attempt.by, via: attempt.via, at: AT });
          }
          const t = tally(p, given);
          for (const r of t.rules) expect(r.by).not.toContain(actor.toLowerCase());
          // Every accepted approval is from a distinct eligible person through an allowed channel.
          expect(new Set(given.map((g) => g.by.toLowerCase())).size).toBe(given.length);
          for (const g of given) {
            expect(p.channels).toContain(g.via);
            expect(p.rules.some((r) => isMember(p, r.group, g.by))).toBe(true);
          }
        },
      ),
    );
  });

  it('with allowSelfApproval, an eligible actor may count toward their own release', () => {
    fc.assert(
      fc.property(
        arbPolicy.map((p) => ({ ...p, allowSelfApproval: true })),
        fc.constantFrom(...PEOPLE),
        (p, actor) => {
          const via = p.channels[0]!;
          const d = decideApproval(p, [], { by: actor, via, actor });
          const eligible = p.rules.some((r) => isMember(p, r.group, actor));
          expect(d.ok).toBe(eligible);
        },
      ),
    );
  });
});
