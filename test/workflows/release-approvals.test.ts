import { describe, expect, it } from 'vitest';
import { refusal, useTimeSkippingServer, withReleases } from './release-harness.js';

useTimeSkippingServer();

const fromRelease = (records: { type: string; env: string | null }[]) =>
  records.map((r) => `${r.type}${r.env ? ` ${r.env}` : ''}`);

describe('release approvals on the time-skipping server (memory target and audit store)', () => {
  it('two team leads approve through the Update path; the release deploys production and records who approved', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        const gate = await r.waitStage('awaiting-approval');
        expect(gate.approvals).toMatchObject({
          environment: 'production',
          required: [{ group: 'team-leads', count: 2 }],
        });
        expect(gate.environments).toMatchObject({
          staging: { state: 'succeeded' },
          production: { state: 'waiting' },
        });

        expect(await r.approve('alice', 'lgtm')).toEqual({
          environment: 'production',
          met: false,
          tally: [{ group: 'team-leads', count: 2, have: 1 }],
        });
        expect(await r.approve('bob')).toEqual({
          environment: 'production',
          met: true,
          tally: [{ group: 'team-leads', count: 2, have: 2 }],
        });

        const { status, failure } = await r.ended();
        expect(failure).toBeNull();
        expect(status).toMatchObject({ state: 'succeeded', stage: 'done', reason: null });
        expect(status.approvals.given.map((a) => [a.by, a.via, a.comment])).toEqual([
          ['alice', 'ssh', 'lgtm'],
          ['bob', 'ssh', undefined],
        ]);
        // Each approval keeps its proof: the statement as signed and the signature, checkable offline.
        const [first] = status.approvals.given;
        expect(first!.proof).toMatchObject({
          login: 'alice',
          via: 'ssh',
          statement: { action: 'approve', login: 'alice', env: 'production', version: '1.0.0' },
          signature: expect.stringContaining('BEGIN SSH SIGNATURE'),
        });
        expect(status.startProof).toMatchObject({ login: 'dave', via: 'ssh' });
        expect(status.environments).toMatchObject({
          staging: { state: 'succeeded' },
          production: { state: 'succeeded' },
        });
        expect(fromRelease(r.audit().filter((a) => a.id.startsWith(r.handle.workflowId)))).toEqual([
          'release-started',
          'deployed staging',
          'approval production',
          'approval production',
          'approved production',
          'deployed production',
          'release-ended production',
        ]);
        expect(r.audit().find((a) => a.type === 'approved')?.approvers).toEqual(['alice', 'bob']);
        const production = await h.environment('production');
        expect(production.ledger.at(-1)).toMatchObject({
          version: '1.0.0',
          outcome: 'succeeded',
          approvers: ['alice', 'bob'],
        });
        // Slack saw the gate, each approval as a card update, and the end.
        const kinds = h.notifications.map((n) => n.kind);
        expect(kinds[0]).toBe('awaiting-approval');
        expect(kinds.at(-1)).toBe('release-ended');
        expect(kinds).toContain('release-progress');
      },
    );
  });

  it('approvals through the Update path start the wait timer, which holds production for its full duration', async () => {
    await withReleases(
      (c) => {
        c.apps.hello.environments.production.waitTimer = '6h';
      },
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        await r.approve('alice');
        // The first approval is on record before the second arrives, as when two people approve minutes apart.
        await r.waitFor(() => r.audit().some((a) => a.type === 'approval'), 'the first approval on record');
        expect((await r.approve('carol')).met).toBe(true);
        const waiting = await r.waitStage('wait-timer');
        expect(waiting.approvals.given.map((a) => a.by)).toEqual(['alice', 'carol']);
        const approvedAt = Date.parse(waiting.approvals.given[1]!.at);
        const { status } = await r.ended();
        expect(status.state).toBe('succeeded');
        expect(Date.parse(status.environments.production!.at!) - approvedAt).toBeGreaterThanOrEqual(
          6 * 3_600_000,
        );
        expect(r.audit().map((a) => a.type)).toEqual([
          'release-started',
          'deployed',
          'approval',
          'approval',
          'approved',
          'deployed',
          'release-ended',
        ]);
      },
    );
  });

  it('refuses a non-member, self-approval by whoever signed the start, and a second approval', async () => {
    await withReleases(
      (c) => {
        c.groups['team-leads'].push('erin');
      },
      async (h) => {
        const r = await h.start('1.0.0', { as: 'erin' });
        await r.waitStage('awaiting-approval');
        const refused = async (p: Promise<unknown>) => {
          const { type, message } = await refusal(p);
          expect(type).toBe('PolicyRefusal');
          return message;
        };
        expect(await refused(r.approve('dave'))).toBe(
          'dave is not a member of team-leads, the groups that can approve',
        );
        expect(await refused(r.approve('erin'))).toBe(
          'erin started this release and cannot approve it (self-approval is not allowed)',
        );
        await r.approve('alice');
        expect(await refused(r.approve('alice'))).toBe('alice already approved this release');

        const s = await r.status();
        expect(s).toMatchObject({ state: 'running', stage: 'awaiting-approval' });
        expect(s.approvals.given.map((a) => a.by)).toEqual(['alice']);
        expect(s.approvals.refused.map((a) => [a.by, a.via, a.action])).toEqual([
          ['dave', 'ssh', 'approve'],
          ['erin', 'ssh', 'approve'],
          ['alice', 'ssh', 'approve'],
        ]);
        await r.waitFor(
          () => r.audit().filter((a) => a.type === 'approve-refused').length === 3,
          'three audited refusals',
        );
        expect(
          r
            .audit()
            .filter((a) => a.type === 'approve-refused')
            .map((a) => a.reason),
        ).toEqual(s.approvals.refused.map((a) => a.reason));
      },
    );
  });

  it('approvalChannels lists proven channels: a signed CLI approval is refused where only Slack counts', async () => {
    await withReleases(
      (c) => {
        c.apps.hello.environments.production.approvalChannels = ['slack'];
      },
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        expect(await refusal(r.approve('alice'))).toEqual({
          type: 'PolicyRefusal',
          message: 'approvals through ssh are not accepted here; use slack',
        });
        expect((await r.status()).approvals.given).toEqual([]);
      },
    );
  });

  it('a release nobody approves ends expired when approvalTimeout passes, and takes no approval after', async () => {
    await withReleases(
      (c) => {
        c.apps.hello.environments.production.approvalTimeout = '24h';
      },
      async (h) => {
        const r = await h.start('1.0.0');
        const gate = await r.waitStage('awaiting-approval');
        const { status, failure } = await r.ended();
        expect(failure).toBe('ReleaseExpired');
        expect(status).toMatchObject({
          state: 'expired',
          stage: 'done',
          reason: 'no decision within the approval timeout on production',
        });
        expect(
          Date.parse(status.endedAt!) - Date.parse(gate.environments.production!.at!),
        ).toBeGreaterThanOrEqual(24 * 3_600_000);
        // An ended run takes no Update at all: the server refuses it, and nothing changes.
        await expect(r.approve('alice')).rejects.toThrow();
        expect((await r.status()).approvals.given).toEqual([]);
        expect((await h.environment('production').catch(() => null))?.ledger ?? []).toEqual([]);
      },
    );
  });

  it('a team lead rejects at the gate: the release ends rejected before production; a non-member cannot', async () => {
    await withReleases(
      () => {},
      async (h) => {
        const r = await h.start('1.0.0');
        await r.waitStage('awaiting-approval');
        expect((await refusal(r.reject('dave', 'not a lead'))).message).toBe(
          'dave is not a member of team-leads, the groups that can reject',
        );
        await r.reject('carol', 'customer freeze');
        const { status, failure } = await r.ended();
        expect(failure).toBe('ReleaseRejected');
        expect(status).toMatchObject({ state: 'rejected', reason: 'rejected by carol: customer freeze' });
        expect(status.environments).toMatchObject({
          staging: { state: 'succeeded' },
          production: { state: 'waiting' },
        });
        const types = r.audit().map((a) => a.type);
        expect(types).toContain('reject-refused');
        expect(r.audit().find((a) => a.type === 'rejection')).toMatchObject({
          actor: 'carol',
          env: 'production',
        });
        expect(r.audit().at(-1)).toMatchObject({ type: 'release-ended', outcome: 'rejected' });
      },
    );
  });

  it('where an environment has no approval rules, any group member may reject a held release', async () => {
    await withReleases(
      (c) => {
        c.apps.hello.environments.staging.windows = [
          { name: 'always', kind: 'deny', schedule: '* * * * *', duration: '1h', timezone: 'UTC' },
        ];
      },
      async (h) => {
        const r = await h.start('1.0.0');
        const held = await r.waitStage('awaiting-window');
        expect(held.blockedBy).toBe('always');
        expect((await refusal(r.reject('mallory', 'no'))).message).toBe(
          'mallory is not a member of team-leads or release-managers, the groups that can reject',
        );
        await r.reject('dave', 'not this week');
        const { status } = await r.ended();
        expect(status).toMatchObject({ state: 'rejected', reason: 'rejected by dave: not this week' });
        expect(status.environments.staging!.state).toBe('waiting');
      },
    );
  });
});
