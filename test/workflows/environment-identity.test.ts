/**
 * Proven identity on an environment's requests (rollback, freeze, unfreeze), on the time-skipping server: each
 * is believed only as far as its signed statement goes, a proof counts once (also across continue-as-new), and
 * an unsigned --as counts only where the config says identity: asserted.
 */
import { describe, expect, it } from 'vitest';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Proof } from '../../src/identity/types.js';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import { freezeUpdate, rollbackUpdate } from '../../src/workflows/messages.js';
import type { ExampleConfig } from '../helpers/fixture.js';
import { refusal, useTimeSkippingServer, withEnvironment, type Harness } from './environment-harness.js';
import { detailsOf, type Scope } from './proofs.js';
import { testKeys } from './time-skipping-harness.js';

useTimeSkippingServer();

const policy = (message: string | RegExp) => ({
  type: 'PolicyRefusal',
  message: typeof message === 'string' ? message : expect.stringMatching(message),
});

/** A freeze as the CLI sends it, starting the environment's workflow if need be. */
const freezeWith = (h: Harness, proof: Proof, input: { until: string; reason: string }) =>
  h.env.client.workflow.executeUpdateWithStart(freezeUpdate, {
    args: [{ proof, ...input }],
    startWorkflowOperation: new WithStartWorkflowOperation('environmentWorkflow', {
      workflowId: environmentWorkflowId(h.app, 'production'),
      taskQueue: h.taskQueue,
      args: [{ app: h.app, env: 'production' }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });

const rollbackWith = (h: Harness, proof: Proof, input: { to?: string; reason: string; requestId?: string }) =>
  h.env.client.workflow
    .getHandle(environmentWorkflowId(h.app, 'production'))
    .executeUpdate(rollbackUpdate, { args: [{ proof, ...input }] });

describe('environment requests need proofs (time-skipping server, memory target)', () => {
  it('a rollback whose statement does not fit it is refused with what failed, recorded, and nothing is rolled back', async () => {
    await withEnvironment(
      () => {},
      async (h) => {
        for (const v of ['1.0.0', '1.1.0']) expect((await h.ship(v)).state).toBe('succeeded');
        const input = { to: '1.0.0', reason: 'bad build' };
        const scope: Scope = {
          action: 'rollback',
          app: h.app,
          env: 'production',
          version: '1.0.0',
          run: null,
          details: detailsOf.rollback(input),
        };
        const sign = h.sandbox.sign;
        const now = await h.env.currentTimeMs();
        const cases: [string, Promise<Proof>, string | RegExp][] = [
          [
            'another environment',
            sign('alice', { ...scope, env: 'staging' }),
            'the statement is for environment "staging", this request is for "production"',
          ],
          [
            'another target',
            sign('alice', { ...scope, version: '1.1.0' }),
            'the statement is for version "1.1.0", this request is for "1.0.0"',
          ],
          [
            'another reason',
            sign('alice', { ...scope, details: detailsOf.rollback({ to: '1.0.0', reason: 'x' }) }),
            /signed over other details/,
          ],
          ['another action', sign('alice', { ...scope, action: 'freeze' }), /^the statement is for freeze/],
          [
            'a release run',
            sign('alice', { ...scope, run: 'f0e1d2c3-0000-4000-8000-000000000000' }),
            /^the statement is for run /,
          ],
          [
            'expired',
            sign('alice', scope, { at: new Date(now - 10 * 60_000) }),
            /^the statement is 10 min( \d+ s)? old/,
          ],
          [
            'wrong key',
            sign('alice', scope, { key: testKeys().of.carol }),
            /^the signature is by a key not listed for alice/,
          ],
          ['unknown login', sign('zed', scope), 'unknown login "zed": not listed under people in the config'],
        ];
        for (const [what, proof, reason] of cases)
          expect(await refusal(rollbackWith(h, await proof, input)), what).toEqual(policy(reason));
        const s = await h.snapshot();
        expect(s.ledger.map((e) => e.action)).toEqual(['deploy', 'deploy']);
        expect(s.current?.version).toBe('1.1.0');
        expect(s.queue).toEqual([]);
        const refused = (
          await h.auditWhen((r) => r.filter((x) => x.type === 'rollback-refused').length === cases.length)
        ).filter((r) => r.type === 'rollback-refused');
        expect(refused.map((r) => r.actor)).toEqual(cases.map(() => '(unverified)'));
      },
    );
  });

  it('a proof counts once: a signed rollback sent again under another request id is a replay', async () => {
    await withEnvironment(
      () => {},
      async (h) => {
        for (const v of ['1.0.0', '1.1.0']) expect((await h.ship(v)).state).toBe('succeeded');
        const input = { reason: 'bad build' };
        const proof = await h.sandbox.sign('alice', {
          action: 'rollback',
          app: h.app,
          env: 'production',
          version: null,
          run: null,
          details: detailsOf.rollback(input),
        });
        const accepted = await rollbackWith(h, proof, { ...input, requestId: 'r-1' });
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
        // The client's own retry (same request id) is answered with what was accepted.
        expect(await rollbackWith(h, proof, { ...input, requestId: 'r-1' })).toMatchObject({
          opId: accepted.opId,
        });
        // The same proof as a new request, once 1.0.0 serves: it would roll back again, and is refused.
        await h.settled(accepted.opId);
        expect(await refusal(rollbackWith(h, proof, { ...input, requestId: 'r-2' }))).toEqual(
          policy('this proof was used before (a replay); sign the request again'),
        );
        const s = await h.snapshot();
        expect(s.ledger.filter((e) => e.action === 'rollback')).toHaveLength(1);
        expect(s.current?.version).toBe('1.0.0');
      },
    );
  });

  it('under identity: asserted an unsigned --as counts, recorded as asserted; under proven it is refused', async () => {
    const asserted = { kind: 'asserted', login: 'carol' } as const;
    await withEnvironment(
      (c: ExampleConfig) => {
        (c as ExampleConfig & { identity?: string }).identity = 'asserted';
      },
      async (h) => {
        const until = new Date((await h.env.currentTimeMs()) + 3_600_000).toISOString();
        const freeze = await freezeWith(h, asserted, { until, reason: 'local trial' });
        expect(freeze).toMatchObject({ by: 'carol', reason: 'local trial' });
        const audit = await h.auditWhen((r) => r.some((x) => x.type === 'freeze'));
        expect(audit.find((r) => r.type === 'freeze')).toMatchObject({ actor: 'carol', via: 'asserted' });
      },
    );
    await withEnvironment(
      () => {},
      async (h) => {
        const until = new Date((await h.env.currentTimeMs()) + 3_600_000).toISOString();
        expect(await refusal(freezeWith(h, asserted, { until, reason: 'hold' }))).toEqual(
          policy(
            /^an unsigned \(asserted\) identity is refused: the config says identity: proven; sign with an SSH key/,
          ),
        );
        expect((await h.snapshot()).freezes).toEqual([]);
      },
    );
  });
});
