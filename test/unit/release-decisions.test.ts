import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideApproval, type GivenApproval } from '../../src/policy/approvals.js';
import {
  admit,
  approvalResult,
  buildFailed,
  cancelledAfter,
  cancelledBeforeDeploy,
  decideApprove,
  decideCancel,
  decideOverride,
  decideReject,
  deployOutcome,
  endFailure,
  gateSleepMs,
  gateWait,
  heldStage,
  MAX_GATE_SLEEP_MS,
  notWaitingReason,
  promotionRefused,
  rejectRules,
  supersededBy,
  type ReleaseView,
  type Waiting,
} from '../../src/policy/release-decisions.js';
import type { RecordedChannel as Channel } from '../../src/protocol/channels.js';
import type { Stage } from '../../src/protocol/stages.js';
import type { EnvironmentPlan, GateVerdict, ReleasePlan, ReleaseState } from '../../src/workflows/types.js';

const GROUPS = { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'], security: ['sam'] };
const AT = '2025-01-01T00:00:00.000Z';

function envPlan(name: string, fields: Partial<EnvironmentPlan> = {}): EnvironmentPlan {
  return {
    name,
    branches: ['main'],
    approvals: [],
    allowSelfApproval: false,
    approvalTimeoutMs: 86_400_000,
    approvalChannels: ['cli', 'slack'],
    waitTimerMs: 0,
    windowOverrideGroup: null,
    supersede: true,
    deploy: {} as EnvironmentPlan['deploy'],
    ...fields,
  };
}

const production = envPlan('production', {
  approvals: [{ group: 'team-leads', count: 2 }],
  windowOverrideGroup: 'release-managers',
});
const staging = envPlan('staging');

function view(fields: Partial<ReleaseView> = {}): ReleaseView {
  return {
    app: 'hello',
    version: '1.0.0',
    actor: 'erin',
    state: 'running',
    stage: 'awaiting-approval',
    waiting: 'approval',
    gateEnv: production,
    currentEnv: 'production',
    lastEnv: 'production',
    groups: GROUPS,
    blockedBy: null,
    ...fields,
  };
}

const ENDED: ReleaseState[] = [
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'superseded',
  'rolled-back',
  'cancelled',
];
const STAGES: Stage[] = [
  'building',
  'awaiting-approval',
  'wait-timer',
  'awaiting-window',
  'awaiting-gate',
  'deploying-staging',
  'smoke-staging',
  'deploying-production',
  'verifying-production',
  'done',
];
const WAITING: Waiting[] = ['approval', 'wait-timer', 'window', null];
const LOGINS = ['alice', 'bob', 'carol', 'dave', 'sam', 'erin', 'mallory', 'ALICE'];
// Recorded approvals carry the pre-proof names too; the rules count them as what they stand for.
const CHANNELS: Channel[] = ['ssh', 'slack', 'github-oidc', 'asserted', 'cli', 'github'];

const arbView = fc.record({
  state: fc.constantFrom<ReleaseState>('running', ...ENDED),
  stage: fc.constantFrom(...STAGES),
  waiting: fc.constantFrom(...WAITING),
  gateEnv: fc.constantFrom<EnvironmentPlan | null>(production, staging, null),
  currentEnv: fc.constantFrom<string | null>('staging', 'production', null),
  lastEnv: fc.constantFrom<string | undefined>('production', undefined),
  blockedBy: fc.constantFrom<string | null>(null, 'change-freeze', 'gate status-page'),
});

describe('notWaitingReason', () => {
  it('says how the release ended, or where it stands', () => {
    expect(notWaitingReason(view({ state: 'expired' }), 'approval')).toBe(
      'release hello 1.0.0 is not waiting for approval: it ended expired',
    );
    expect(notWaitingReason(view({ stage: 'deploying-staging' }), 'approval')).toBe(
      'release hello 1.0.0 is not waiting for approval (stage: deploying-staging)',
    );
  });
});

describe('decideApprove', () => {
  it('counts only at an approval gate of a running release', () => {
    fc.assert(
      fc.property(arbView, (v) => {
        const r = view(v);
        const d = decideApprove(r, [], { by: 'alice', via: 'cli' });
        const atGate = r.state === 'running' && r.waiting === 'approval' && r.gateEnv !== null;
        if (!atGate) expect(d).toEqual({ ok: false, reason: notWaitingReason(r, 'approval') });
      }),
    );
  });

  it('at the gate, answers exactly as the approval rules do, judging self-approval against the actor', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LOGINS),
        fc.constantFrom(...CHANNELS),
        fc.subarray(LOGINS),
        fc.constantFrom(...LOGINS),
        fc.boolean(),
        (by, via, already, actor, allowSelf) => {
          const env = { ...production, allowSelfApproval: allowSelf };
          const given: GivenApproval[] = already.map((a) => ({ by: a, at: AT, via: 'cli' }));
          const d = decideApprove(view({ gateEnv: env, actor }), given, { by, via });
          const policy = {
            rules: env.approvals,
            groups: GROUPS,
            allowSelfApproval: allowSelf,
            channels: env.approvalChannels,
          };
          const expected = decideApproval(policy, given, { by, via, actor });
          if (expected.ok) expect(d).toEqual({ ok: true, env, policy });
          else expect(d).toEqual({ ok: false, reason: expected.reason });
        },
      ),
    );
  });
});

describe('approvalResult', () => {
  it('shows each rule’s count and how many approvals it has', () => {
    const policy = {
      rules: production.approvals,
      groups: GROUPS,
      allowSelfApproval: false,
      channels: ['cli'] as Channel[],
    };
    expect(approvalResult('production', policy, [{ by: 'alice', at: AT, via: 'cli' }])).toEqual({
      environment: 'production',
      met: false,
      tally: [{ group: 'team-leads', count: 2, have: 1 }],
    });
  });
});

describe('rejections', () => {
  it('use the environment’s approval rules, or one of every group where it has none', () => {
    expect(rejectRules(production, GROUPS)).toEqual(production.approvals);
    expect(rejectRules(staging, GROUPS)).toEqual([
      { group: 'team-leads', count: 1 },
      { group: 'release-managers', count: 1 },
      { group: 'security', count: 1 },
    ]);
  });

  it('are accepted while the release waits at any gate, from members of a deciding group', () => {
    fc.assert(
      fc.property(arbView, fc.constantFrom(...LOGINS), (v, by) => {
        const r = view(v);
        const d = decideReject(r, { by, reason: 'no' });
        if (r.state !== 'running' || r.waiting === null || r.gateEnv === null) {
          expect(d).toEqual({ ok: false, reason: notWaitingReason(r, 'a decision') });
          return;
        }
        const deciders = rejectRules(r.gateEnv, GROUPS).flatMap(
          (rule) => GROUPS[rule.group as keyof typeof GROUPS],
        );
        const member = deciders.some((m) => m.toLowerCase() === by.toLowerCase());
        expect(d.ok).toBe(member);
        if (d.ok) expect(d.ending).toEqual({ state: 'rejected', reason: `rejected by ${by}: no` });
      }),
    );
  });

  it('name the groups that could have rejected', () => {
    expect(decideReject(view(), { by: 'dave', reason: 'x' })).toEqual({
      ok: false,
      reason: 'dave is not a member of team-leads, the groups that can reject',
    });
    expect(
      decideReject(view({ gateEnv: staging, waiting: 'window' }), { by: 'mallory', reason: 'x' }),
    ).toEqual({
      ok: false,
      reason:
        'mallory is not a member of team-leads or release-managers or security, the groups that can reject',
    });
  });
});

describe('decideCancel', () => {
  it('refuses only an ended release, or one whose last environment’s deploy has started', () => {
    fc.assert(
      fc.property(arbView, (v) => {
        const r = view(v);
        const d = decideCancel(r, { by: 'alice', reason: 'stop' });
        const deployingLast = r.currentEnv === r.lastEnv && r.waiting === null && r.stage !== 'building';
        if (r.state !== 'running')
          expect(d).toEqual({ ok: false, reason: notWaitingReason(r, 'cancellation') });
        else if (deployingLast)
          expect(d).toEqual({
            ok: false,
            reason: `the ${r.lastEnv} deploy has already started; roll it back instead`,
          });
        else
          expect(d).toEqual({
            ok: true,
            // Waiting releases stop at once; deploying ones before their next environment.
            stopNow: r.waiting !== null,
            ending: { state: 'cancelled', reason: 'cancelled by alice: stop' },
          });
      }),
    );
  });

  it('with eligibility (since proofs), only someone who may reject where the release stands may cancel', () => {
    fc.assert(
      fc.property(arbView, fc.constantFrom(...LOGINS), (v, by) => {
        const r = view(v);
        const d = decideCancel(r, { by, reason: 'stop' }, { eligibility: true });
        const open = decideCancel(r, { by, reason: 'stop' });
        if (r.state !== 'running') {
          expect(d).toEqual(open);
          return;
        }
        const rules = r.gateEnv
          ? rejectRules(r.gateEnv, r.groups)
          : Object.keys(GROUPS).map((group) => ({ group, count: 1 }));
        const member = rules.some((rule) =>
          (GROUPS[rule.group as keyof typeof GROUPS] ?? []).some((m) => m === by.toLowerCase()),
        );
        if (member) expect(d).toEqual(open);
        else
          expect(d).toEqual({
            ok: false,
            reason: `${by} is not a member of ${[...new Set(rules.map((x) => x.group))].join(' or ')}, the groups that can cancel`,
          });
      }),
    );
  });

  it('at the production gate a release manager may not cancel, a team lead may; with no gate any group member may', () => {
    expect(decideCancel(view(), { by: 'dave', reason: 'x' }, { eligibility: true })).toEqual({
      ok: false,
      reason: 'dave is not a member of team-leads, the groups that can cancel',
    });
    expect(decideCancel(view(), { by: 'bob', reason: 'x' }, { eligibility: true }).ok).toBe(true);
    const building = view({ stage: 'building', waiting: null, gateEnv: null, currentEnv: null });
    expect(decideCancel(building, { by: 'dave', reason: 'x' }, { eligibility: true }).ok).toBe(true);
    expect(decideCancel(building, { by: 'mallory', reason: 'x' }, { eligibility: true })).toEqual({
      ok: false,
      reason:
        'mallory is not a member of team-leads or release-managers or security, the groups that can cancel',
    });
  });

  it('a cancellation accepted mid-deploy stops the release before the next deploy, and after any but the last environment', () => {
    const cancel = { by: 'bob', reason: 'wrong build' };
    const ending = { state: 'cancelled', reason: 'cancelled by bob: wrong build' };
    expect(cancelledBeforeDeploy(cancel)).toEqual(ending);
    expect(cancelledBeforeDeploy(null)).toBeNull();
    expect(cancelledAfter(cancel, false)).toEqual(ending);
    expect(cancelledAfter(cancel, true)).toBeNull();
    expect(cancelledAfter(null, false)).toBeNull();
  });
});

describe('decideOverride', () => {
  const held = (fields: Partial<ReleaseView> = {}) =>
    view({ stage: 'awaiting-window', waiting: 'window', blockedBy: 'change-freeze', ...fields });

  it('lets a windowOverride member (any case) past a window or freeze', () => {
    expect(decideOverride(held(), 'dave')).toEqual({ ok: true, env: production });
    expect(decideOverride(held(), 'DAVE')).toEqual({ ok: true, env: production });
  });

  it('never skips an external gate, an approval or a wait timer', () => {
    expect(decideOverride(held({ stage: 'awaiting-gate', blockedBy: 'gate status-page' }), 'dave')).toEqual({
      ok: false,
      reason:
        'cannot override hello 1.0.0: it waits for gate status-page, an external gate, which an override never skips',
    });
    expect(decideOverride(view(), 'dave')).toEqual({
      ok: false,
      reason: 'cannot override hello 1.0.0: it is waiting for approval, which an override never skips',
    });
    expect(decideOverride(view({ stage: 'wait-timer', waiting: 'wait-timer' }), 'dave')).toEqual({
      ok: false,
      reason: 'cannot override hello 1.0.0: it is in its wait timer',
    });
    expect(decideOverride(view({ stage: 'deploying-production', waiting: null }), 'dave')).toEqual({
      ok: false,
      reason:
        'cannot override hello 1.0.0: it is not waiting for a window or freeze (stage: deploying-production, state: running)',
    });
  });

  it('refuses non-members, and everyone where the environment names no group', () => {
    expect(decideOverride(held(), 'alice')).toEqual({
      ok: false,
      reason: 'alice is not a member of release-managers, the group that may override windows on production',
    });
    expect(decideOverride(held({ gateEnv: staging }), 'dave')).toEqual({
      ok: false,
      reason: 'staging has no windowOverride group, so nobody may override its windows',
    });
  });

  it('is accepted only while held by a window, and only for members of the group', () => {
    fc.assert(
      fc.property(arbView, fc.constantFrom(...LOGINS), (v, by) => {
        const r = view(v);
        const d = decideOverride(r, by);
        const allowed =
          r.stage !== 'awaiting-gate' &&
          r.state === 'running' &&
          r.waiting === 'window' &&
          r.gateEnv?.windowOverrideGroup === 'release-managers' &&
          by.toLowerCase() === 'dave';
        expect(d.ok).toBe(allowed);
      }),
    );
  });
});

describe('supersededBy', () => {
  it('ends a release only while it waits at the same gate and nothing else ended it', () => {
    fc.assert(
      fc.property(arbView, fc.boolean(), fc.constantFrom('staging', 'production'), (v, stopping, env) => {
        const r = view(v);
        const ending = supersededBy(r, stopping, env, '1.1.0');
        const applies = r.state === 'running' && r.waiting !== null && r.gateEnv?.name === env && !stopping;
        expect(ending).toEqual(
          applies
            ? { state: 'superseded', reason: `superseded by hello 1.1.0, a newer release at the ${env} gate` }
            : null,
        );
      }),
    );
  });
});

describe('admission and promotion', () => {
  const plan: ReleasePlan = {
    app: 'hello',
    source: '.',
    groups: GROUPS,
    environments: [staging, production],
  };

  it('a config that does not load is bad input; a branch the first environment refuses is a policy refusal', () => {
    expect(admit({ ok: false, message: 'unknown app "x"' }, 'main')).toEqual({
      ok: false,
      type: 'BadInput',
      message: 'unknown app "x"',
    });
    expect(admit({ ok: true, plan }, 'feature/x')).toEqual({
      ok: false,
      type: 'PolicyRefusal',
      message: 'branch feature/x may not release to staging (allowed: main)',
    });
    expect(admit({ ok: true, plan }, 'main')).toEqual({ ok: true, plan });
  });

  it('every later environment must accept the branch too', () => {
    const strict = envPlan('production', { branches: ['release/*'] });
    expect(promotionRefused(strict, 'main')).toEqual({
      state: 'failed',
      reason: 'branch main may not be promoted to production',
    });
    expect(promotionRefused(strict, 'release/2025')).toBeNull();
    expect(promotionRefused(envPlan('any', { branches: null }), 'anything')).toBeNull();
  });
});

describe('waiting at a closed gate', () => {
  it('sleeps until the gate says it opens, at least a second and at most MAX_GATE_SLEEP_MS', () => {
    fc.assert(
      fc.property(fc.option(fc.integer({ min: -1e9, max: 1e9 })), (offset) => {
        const now = Date.parse(AT);
        const until = offset === null ? null : new Date(now + offset).toISOString();
        const ms = gateSleepMs(until, now);
        expect(ms).toBeGreaterThanOrEqual(1000);
        expect(ms).toBeLessThanOrEqual(MAX_GATE_SLEEP_MS);
        if (offset === null) expect(ms).toBe(MAX_GATE_SLEEP_MS);
        else expect(ms).toBe(Math.min(Math.max(offset, 1000), MAX_GATE_SLEEP_MS));
      }),
    );
  });

  const verdict = (kind: GateVerdict['kind'], gateTimeoutMs?: number): GateVerdict => ({
    allowed: false,
    blockedBy: kind === 'gate' ? 'gate status-page' : 'change-freeze',
    until: null,
    reason: kind === 'gate' ? 'gate status-page: answered 503' : 'in change-freeze',
    kind,
    ...(gateTimeoutMs === undefined ? {} : { gateTimeoutMs }),
  });

  it('gives up on an external gate once its timeout has passed since the gate first held the release', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 1e7 })),
        fc.integer({ min: 0, max: 1e7 }),
        fc.option(fc.integer({ min: 1, max: 1e7 }), { nil: undefined }),
        (since, elapsed, timeout) => {
          const now = (since ?? 0) + elapsed;
          const w = gateWait(verdict('gate', timeout), since, now);
          const start = since ?? now;
          expect(w.since).toBe(start);
          const gaveUp = timeout !== undefined && now - start >= timeout;
          expect(w.giveUp).toBe(
            gaveUp
              ? `gate status-page: answered 503; gave up after waiting ${Math.round(timeout! / 60_000)} min`
              : null,
          );
        },
      ),
    );
  });

  it('a window or freeze restarts the external gate’s clock and never gives up', () => {
    expect(gateWait(verdict('window', 1), 0, 1e9)).toEqual({ since: null, giveUp: null });
  });

  it('holds in awaiting-gate for an external gate, in awaiting-window otherwise', () => {
    expect(heldStage('gate')).toBe('awaiting-gate');
    expect(heldStage('window')).toBe('awaiting-window');
  });
});

describe('deployOutcome', () => {
  const report = (outcome: 'succeeded' | 'failed' | 'rolled-back' | 'blocked', reason?: string) => ({
    opId: 'op',
    env: 'production',
    phase: 'done' as const,
    outcome,
    ...(reason ? { reason } : {}),
  });

  it('checks the gate again when the environment held the deploy, and goes on after a success', () => {
    expect(deployOutcome(report('blocked'), 'production', true)).toEqual({ kind: 'blocked' });
    expect(deployOutcome(report('succeeded'), 'production', true)).toEqual({ kind: 'succeeded' });
  });

  it('an automatic rollback ends the release rolled-back on the last environment, failed before it', () => {
    expect(deployOutcome(report('rolled-back', 'soak round 3 failed'), 'production', true)).toEqual({
      kind: 'rolled-back',
      ending: { state: 'rolled-back', reason: 'soak round 3 failed' },
    });
    expect(deployOutcome(report('rolled-back'), 'staging', false)).toEqual({
      kind: 'rolled-back',
      ending: { state: 'failed', reason: 'staging failed' },
    });
  });

  it('a failed deploy fails the release with the environment’s reason', () => {
    expect(deployOutcome(report('failed', 'never ready'), 'production', true)).toEqual({
      kind: 'failed',
      ending: { state: 'failed', reason: 'never ready' },
    });
  });
});

describe('ending a release', () => {
  it('names the run’s failure after the final state, so clients can tell them apart', () => {
    expect(endFailure('hello', '1.0.0', { state: 'rolled-back', reason: 'soak failed' })).toEqual({
      type: 'ReleaseRolledBack',
      message: 'hello 1.0.0 rolled-back: soak failed',
    });
    // Legitimate ends say so: the Temporal UI shows every release that did not succeed as Failed.
    expect(endFailure('hello', '1.0.0', { state: 'expired', reason: null })).toEqual({
      type: 'ReleaseExpired',
      message: 'hello 1.0.0 expired (not an error)',
    });
  });

  it('a failed build reports the underlying cause when there is one', () => {
    const wrapped = Object.assign(new Error('activity failed'), { cause: new Error('source missing') });
    expect(buildFailed(wrapped)).toEqual({ state: 'failed', reason: 'build failed: source missing' });
    expect(buildFailed(new Error('disk full'))).toEqual({
      state: 'failed',
      reason: 'build failed: disk full',
    });
    expect(buildFailed('odd')).toEqual({ state: 'failed', reason: 'build failed: odd' });
  });
});
