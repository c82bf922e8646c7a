import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  activeFreezes,
  authorise,
  deployDedupe,
  freezeUntilProblem,
  preemptionCause,
  rollbackBaseline,
  rollbackHeldRefusal,
  rollbackPosition,
  rollbackRefusal,
  rollbackRequestKey,
  unfreezeProblem,
  type EnvironmentAction,
  type QueuedOp,
} from '../../src/policy/environment-rules.js';
import type { Freeze } from '../../src/policy/windows.js';

const policy = {
  rollbackers: ['alice', 'Bob'],
  rollbackersDescription: 'only members of team-leads may',
  freezers: ['dave'],
  freezersDescription: 'only members of release-managers may',
};
const loaded = { ok: true as const, policy };

describe('authorise', () => {
  it('lets a rollbacker roll back, comparing logins without case', () => {
    expect(authorise(loaded, 'rollback', 'alice', 'hello', 'production')).toEqual({ ok: true, policy });
    expect(authorise(loaded, 'rollback', 'BOB', 'hello', 'production')).toEqual({ ok: true, policy });
  });

  it('refuses others with who may, per action', () => {
    expect(authorise(loaded, 'rollback', 'dave', 'hello', 'production')).toEqual({
      ok: false,
      reason: 'dave may not roll back hello/production: only members of team-leads may',
    });
    expect(authorise(loaded, 'freeze', 'alice', 'hello', 'production')).toEqual({
      ok: false,
      reason: 'alice may not freeze hello/production: only members of release-managers may',
    });
    expect(authorise(loaded, 'unfreeze', 'alice', 'hello', 'staging')).toEqual({
      ok: false,
      reason: 'alice may not unfreeze hello/staging: only members of release-managers may',
    });
    expect(authorise(loaded, 'freeze', 'Dave', 'hello', 'production').ok).toBe(true);
    expect(authorise(loaded, 'unfreeze', 'dave', 'hello', 'production').ok).toBe(true);
  });

  it('refuses everyone with the loader’s message when the policy cannot be read', () => {
    const unreadable = { ok: false as const, message: 'unknown environment "qa" for app hello' };
    for (const action of ['rollback', 'freeze', 'unfreeze'] as const) {
      expect(authorise(unreadable, action, 'alice', 'hello', 'qa')).toEqual({
        ok: false,
        reason: 'unknown environment "qa" for app hello',
      });
    }
  });

  it('allows exactly the members of the list the action names (property)', () => {
    const login = fc.constantFrom('alice', 'ALICE', 'bob', 'carol', 'dave', 'Eve');
    fc.assert(
      fc.property(
        fc.array(login, { maxLength: 4 }),
        fc.array(login, { maxLength: 4 }),
        fc.constantFrom<EnvironmentAction>('rollback', 'freeze', 'unfreeze'),
        login,
        (rollbackers, freezers, action, by) => {
          const p = { rollbackers, freezers, rollbackersDescription: 'r', freezersDescription: 'f' };
          const list = action === 'rollback' ? rollbackers : freezers;
          const member = list.some((m) => m.toLowerCase() === by.toLowerCase());
          expect(authorise({ ok: true, policy: p }, action, by, 'a', 'e').ok).toBe(member);
        },
      ),
    );
  });
});

describe('freezes', () => {
  const at = Date.parse('2026-03-01T12:00:00Z');

  it('refuses a freeze that ends now or earlier', () => {
    expect(freezeUntilProblem('2026-03-01T12:00:00Z', at)).toBe(
      '--until 2026-03-01T12:00:00Z is in the past',
    );
    expect(freezeUntilProblem('2026-03-01T11:00:00Z', at)).toBe(
      '--until 2026-03-01T11:00:00Z is in the past',
    );
    expect(freezeUntilProblem('2026-03-01T12:00:01Z', at)).toBeNull();
  });

  it('counts only freezes that have not ended, in order (property)', () => {
    const freeze = fc
      .record({ hours: fc.integer({ min: -5, max: 5 }), id: fc.nat() })
      .map(({ hours, id }): Freeze => ({
        id: `f${id}`,
        from: '2026-03-01T00:00:00Z',
        until: new Date(at + hours * 3_600_000).toISOString(),
        by: 'dave',
        reason: 'x',
      }));
    fc.assert(
      fc.property(fc.array(freeze, { maxLength: 8 }), (freezes) => {
        const active = activeFreezes(freezes, at);
        expect(active).toEqual(freezes.filter((f) => Date.parse(f.until) > at));
      }),
    );
  });

  it('refuses an unfreeze when nothing is frozen', () => {
    expect(unfreezeProblem(0, 'hello', 'production')).toBe('hello/production is not frozen');
    expect(unfreezeProblem(2, 'hello', 'production')).toBeNull();
  });
});

describe('rollback baseline and queue position', () => {
  const deploy = (version: string): QueuedOp => ({ kind: 'deploy', version });
  const rollback = (to: string): QueuedOp => ({ kind: 'rollback', to });

  it('starts from what the last queued rollback leaves serving', () => {
    expect(
      rollbackBaseline([rollback('1.0.0'), rollback('1.1.0'), deploy('2.0.0')], deploy('1.9.0'), '1.2.0'),
    ).toBe('1.1.0');
  });

  it('otherwise from the deploy in flight, since rolling back means getting off it', () => {
    expect(rollbackBaseline([deploy('2.0.0')], deploy('1.9.0'), '1.2.0')).toBe('1.9.0');
  });

  it('otherwise from what serves; a rollback in flight does not count', () => {
    expect(rollbackBaseline([deploy('2.0.0')], rollback('1.0.0'), '1.2.0')).toBe('1.2.0');
    expect(rollbackBaseline([], null, null)).toBeNull();
  });

  it('goes behind queued rollbacks and ahead of queued deploys', () => {
    expect(rollbackPosition([])).toBe(0);
    expect(rollbackPosition([deploy('2'), deploy('3')])).toBe(0);
    expect(rollbackPosition([rollback('1'), deploy('2')])).toBe(1);
    expect(rollbackPosition([rollback('1'), rollback('0')])).toBe(2);
  });

  it('keeps rollbacks ahead of deploys and in the order they were requested (property)', () => {
    const op = fc.oneof(
      fc.constantFrom('1', '2', '3').map(deploy),
      fc.constantFrom('1', '2', '3').map(rollback),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 10 }),
        fc.array(fc.boolean(), { maxLength: 10 }),
        (arrivals, kinds) => {
          // Build a queue as the workflow does: deploys appended, rollbacks inserted at rollbackPosition.
          const queue: (QueuedOp & { n: number })[] = [];
          arrivals.forEach((o, n) => {
            const item = { ...(kinds[n] ? rollback(`r${n}`) : o), n };
            if (item.kind === 'rollback') queue.splice(rollbackPosition(queue), 0, item);
            else queue.push(item);
          });
          const firstDeploy = queue.findIndex((o) => o.kind === 'deploy');
          if (firstDeploy >= 0) expect(queue.slice(firstDeploy).every((o) => o.kind === 'deploy')).toBe(true);
          const order = (k: QueuedOp['kind']) => queue.filter((o) => o.kind === k).map((o) => o.n);
          expect(order('rollback')).toEqual([...order('rollback')].sort((a, b) => a - b));
          expect(order('deploy')).toEqual([...order('deploy')].sort((a, b) => a - b));
        },
      ),
    );
  });

  it('the baseline is the last queued rollback, else the deploy in flight, else what serves (property)', () => {
    const op = fc.oneof(
      fc.constantFrom('1', '2', '3').map(deploy),
      fc.constantFrom('1', '2', '3').map(rollback),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 6 }),
        fc.option(op, { nil: null }),
        fc.option(fc.constantFrom('0', '9'), { nil: null }),
        (queue, running, serving) => {
          const rollbacks = queue.filter((o) => o.kind === 'rollback');
          const expected =
            rollbacks.length > 0
              ? (rollbacks.at(-1) as { to: string }).to
              : running?.kind === 'deploy'
                ? running.version
                : serving;
          expect(rollbackBaseline(queue, running, serving)).toBe(expected);
        },
      ),
    );
  });
});

describe('refusal messages', () => {
  it('lists what a rollback could go to instead, or says there is nothing', () => {
    expect(
      rollbackRefusal(
        { ok: false, reason: '9.9.9 was never deployed here', candidates: ['1.1.0', '1.0.0'] },
        'hello',
        'production',
      ),
    ).toBe(
      'cannot roll back hello/production: 9.9.9 was never deployed here. Versions it could roll back to: 1.1.0, 1.0.0.',
    );
    expect(
      rollbackRefusal(
        { ok: false, reason: 'nothing has been deployed here yet', candidates: [] },
        'hello',
        'qa',
      ),
    ).toBe(
      'cannot roll back hello/qa: nothing has been deployed here yet. There is no version it could roll back to.',
    );
  });

  it('says what holds a rollback under rollbackDuringWindows deny', () => {
    expect(rollbackHeldRefusal('change-freeze', 'hello', 'production')).toBe(
      'rollbacks of hello/production are held while change-freeze blocks deploys (rollbackDuringWindows: deny)',
    );
  });

  it('names the rollback that preempts a deploy', () => {
    expect(preemptionCause('1.1.0', 'carol')).toBe('a rollback to 1.1.0 requested by carol');
  });
});

describe('deployDedupe and rollback request keys', () => {
  const ledger = [
    { opId: 'done', outcome: 'succeeded' as const },
    { opId: 'failed', outcome: 'failed' as const },
    { opId: 'running', outcome: 'running' as const },
  ];
  const queue = [{ opId: 'q0' }, { opId: 'q1' }];
  const known = new Set(['done', 'failed', 'running', 'q0', 'q1']);

  it('queues an op id never seen', () => {
    expect(deployDedupe('new', known, ledger, queue)).toEqual({ seen: false });
  });

  it('answers a queued op with its position and a running one with -1, sending nothing again', () => {
    expect(deployDedupe('q1', known, ledger, queue)).toEqual({
      seen: true,
      position: 1,
      resendOutcome: false,
    });
    expect(deployDedupe('running', known, ledger, queue)).toEqual({
      seen: true,
      position: -1,
      resendOutcome: false,
    });
  });

  it('sends a settled op’s outcome again, whatever it was', () => {
    expect(deployDedupe('done', known, ledger, queue)).toEqual({
      seen: true,
      position: -1,
      resendOutcome: true,
    });
    expect(deployDedupe('failed', known, ledger, queue)).toEqual({
      seen: true,
      position: -1,
      resendOutcome: true,
    });
  });

  it('remembers op ids no longer in the ledger (trimmed) as seen', () => {
    expect(deployDedupe('trimmed', new Set(['trimmed']), [], [])).toEqual({
      seen: true,
      position: -1,
      resendOutcome: false,
    });
  });

  it('keys rollbacks by the client’s request id, and not at all without one', () => {
    expect(rollbackRequestKey('view-123')).toBe('rollback:view-123');
    expect(rollbackRequestKey(undefined)).toBeNull();
    expect(rollbackRequestKey('')).toBeNull();
  });
});
