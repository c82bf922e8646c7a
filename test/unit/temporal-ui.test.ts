import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  activationSummary,
  approvalLine,
  approvalTimeoutSummary,
  duration,
  endFailureMessage,
  environmentCurrentDetails,
  holdSummary,
  inline,
  releaseCurrentDetails,
  releaseStaticDetails,
  releaseStaticSummary,
  soakRounds,
  soakTimerSummary,
  verifySummary,
  type ReleaseNow,
} from '../../src/policy/temporal-ui.js';

const start = {
  app: 'hello',
  version: '1.2.0',
  commit: 'abc1234def5678abc1234def5678abc1234def56',
  branch: 'main',
  claimedActor: 'dave',
  proofKind: 'ssh',
};

const groups = { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] };

const waiting: ReleaseNow = {
  app: 'hello',
  version: '1.2.0',
  commit: 'abc1234',
  branch: 'main',
  actor: 'dave',
  via: 'ssh',
  state: 'running',
  stage: 'awaiting-approval',
  reason: null,
  environments: [
    { name: 'staging', state: 'succeeded' },
    { name: 'production', state: 'waiting' },
  ],
  approval: {
    env: 'production',
    rules: [{ group: 'team-leads', count: 2 }],
    given: [{ by: 'alice', at: '2026-12-02T10:00:00Z', via: 'ssh' }],
    groups,
    allowSelfApproval: false,
    timesOutAt: Date.parse('2026-12-03T10:00:00Z'),
  },
  blockedBy: null,
  blockedUntil: null,
  auditDegraded: false,
};

describe('what the Temporal UI shows of a release', () => {
  it('lists each run by app, version, commit and branch, and labels the starter a claim', () => {
    expect(releaseStaticSummary(start)).toBe('hello 1.2.0 from abc1234 on main, claimed by dave');
    const details = releaseStaticDetails(start);
    expect(details).toContain('- Claimed actor: dave (ssh proof; a claim until the worker verifies it)');
    expect(details).toContain(`- Commit: ${start.commit}`);
  });

  it('says where a waiting release stands: the tally, who else may approve and when it times out', () => {
    const text = releaseCurrentDetails(waiting, Date.parse('2026-12-02T11:00:00Z'));
    expect(text.split('\n')[0]).toBe(
      'awaiting approval at production: 1/2 team-leads (alice); eligible: bob, carol; times out 2026-12-03 10:00 UTC',
    );
    expect(text).toContain('- Started by: dave (verified, ssh)');
    expect(text).toContain('- Environments: staging: deployed → production: at its gates');
  });

  it('never lists the starter as eligible unless self-approval is allowed', () => {
    const a = { ...waiting.approval!, given: [], groups: { 'team-leads': ['dave', 'erin'] } };
    expect(approvalLine(a, 'dave')).toBe('0/2 team-leads; eligible: erin');
    expect(approvalLine({ ...a, allowSelfApproval: true }, 'dave')).toBe(
      '0/2 team-leads; eligible: dave, erin',
    );
  });

  it('names holds with who holds the release and until when', () => {
    expect(
      holdSummary({
        env: 'production',
        kind: 'window',
        blockedBy: 'weeknight-maintenance',
        until: '2026-12-03T11:00:00.000Z',
        sleepMs: 900_000,
      }),
    ).toBe('held by weeknight-maintenance at production until 2026-12-03 11:00 UTC (look again in 15m)');
  });

  it('names timers and activities as the pipeline does', () => {
    expect(approvalTimeoutSummary('production', 86_400_000)).toBe('approval timeout for production (24h)');
    expect(soakTimerSummary('1.2.0', 'production', 3, 5, 60_000)).toBe(
      'soak round 3 of 5 for 1.2.0 on production in 1m',
    );
    expect(
      activationSummary({ action: 'deploy', version: '1.2.0', env: 'production', strategy: 'blue-green' }),
    ).toBe('deploy 1.2.0 to production (blue-green)');
    expect(
      activationSummary({
        action: 'rollback',
        version: '1.1.0',
        env: 'production',
        strategy: 'canary',
        automatic: true,
      }),
    ).toBe('automatic rollback of production to 1.1.0 (canary)');
    expect(verifySummary('1.2.0', 'production', 2)).toBe('verify 1.2.0 on production (2 checks)');
    expect(verifySummary('1.2.0', 'production', 2, [3, 5])).toBe(
      'verify 1.2.0 on production (soak round 3 of 5)',
    );
  });

  it('counts a soak’s rounds as it runs them: one at once, then one per interval', () => {
    expect(soakRounds(4 * 60_000, 60_000)).toBe(5);
    expect(soakRounds(20_000, 1000)).toBe(21);
    expect(soakRounds(0, 1000)).toBe(1);
  });

  it('reads durations as a config writes them', () => {
    expect(duration(86_400_000)).toBe('24h');
    expect(duration(15 * 60_000)).toBe('15m');
    expect(duration(7 * 86_400_000)).toBe('7d');
    expect(duration(25 * 3_600_000 + 30 * 60_000)).toBe('25h30m');
    expect(duration(1499)).toBe('1s');
  });

  it('tells a legitimate end from a broken pipeline under Temporal’s red Failed', () => {
    expect(
      endFailureMessage('hello', '1.2.0', 'superseded', 'superseded by hello 1.3.0, a newer release'),
    ).toBe('hello 1.2.0 superseded (not an error): superseded by hello 1.3.0, a newer release');
    for (const state of ['rejected', 'expired', 'cancelled'] as const)
      expect(endFailureMessage('hello', '1.2.0', state, null)).toContain('(not an error)');
    expect(endFailureMessage('hello', '1.2.0', 'failed', 'never ready')).toBe(
      'hello 1.2.0 failed: never ready',
    );
    const ended = releaseCurrentDetails(
      { ...waiting, state: 'rejected', stage: 'done', reason: 'rejected by carol: no' },
      0,
    );
    expect(ended.split('\n')[0]).toBe('**Rejected**: rejected by carol: no');
    expect(ended).toContain('Not an error');
  });

  it('keeps every free text on one line and out of markup', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const one = inline(text);
        expect(one).not.toMatch(/[\r\n`*_[\]<>|#]/);
      }),
    );
    const hostile = releaseStaticSummary({
      ...start,
      version: '1.0.0\n# <script>alert(1)</script>',
      branch: '[x](javascript:y)',
    });
    expect(hostile).not.toMatch(/[\n<>[\]#]/);
  });
});

describe('what the Temporal UI shows of an environment', () => {
  it('says what serves, what runs, what is queued and what holds', () => {
    const text = environmentCurrentDetails({
      app: 'hello',
      env: 'production',
      current: { version: '1.2.0', since: '2026-12-02T10:00:00Z' },
      running: { action: 'rollback', version: '1.1.0', actor: 'alice' },
      queue: [{ kind: 'deploy', version: '1.3.0' }],
      freezes: [{ by: 'dave', until: '2026-12-04T00:00:00Z', reason: 'holidays' }],
      drift: null,
      health: { state: 'serving', since: '2026-12-02T10:00:00Z' },
      tornDown: null,
      auditDegraded: false,
    });
    expect(text.split('\n')).toEqual([
      '**serving 1.2.0** since 2026-12-02 10:00 UTC',
      '',
      '- Environment: hello/production',
      '- Running: rollback to 1.1.0 by alice',
      '- Queued: deploy of 1.3.0',
      '- Frozen by dave until 2026-12-04 00:00 UTC: holidays',
    ]);
  });
});
