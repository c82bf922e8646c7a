import { describe, expect, it } from 'vitest';
import { FAILURE } from '../../src/protocol/failures.js';
import { refusal, useTimeSkippingServer, withCluster, type ClusterHarness } from './drift-harness.js';
import { releaseEnded } from './time-skipping-harness.js';

useTimeSkippingServer();

const HOTFIX = 'registry.example.com/hello:hotfix';

const rows = (ledger: { action: string; version: string; outcome: string }[]) =>
  ledger.map((e) => `${e.action} ${e.version} ${e.outcome}`);

/** Ships 1.0.0, then someone runs `kubectl set image` to a hotfix build; returns 1.0.0's artifact. */
async function shipThenHandEdit(h: ClusterHarness): Promise<string> {
  expect((await h.ship('1.0.0')).state).toBe('succeeded');
  const artifact = (await h.snapshot()).current!.artifact;
  h.target.setImage(h.app, 'production', '1.0.0-hotfix', HOTFIX);
  return artifact;
}

/** What the cluster reports after `kubectl set image` to the hotfix. */
const imageFinding = (app: string, expected: string) => ({
  what: 'image',
  object: `deployment/${app}`,
  expected,
  actual: HOTFIX,
});

describe('drift on a cluster target (time-skipping server, memory target standing in for a cluster)', () => {
  it('block: drift found before a deploy holds the release, which says why and goes on after an adopt', async () => {
    await withCluster(
      () => {},
      async (h) => {
        const artifact = await shipThenHandEdit(h);
        const release = await h.startShip('1.1.0');
        const held = await h.statusWhen(release, (s) => s.blockedBy?.startsWith('drift') ?? false);
        expect(held.state).toBe('running');
        expect(held.blockedBy).toBe(
          `drift: deployment/${h.app} image: expected ${artifact}, found ${HOTFIX}`,
        );
        const drifted = await h.snapshot();
        expect(drifted.drift).toMatchObject({
          expected: { version: '1.0.0', artifact },
          findings: [imageFinding(h.app, artifact)],
          onDrift: 'block',
          resolved: null,
        });
        // Nothing was deployed over the hand-made change while it was held.
        expect(h.target.activations.map((a) => a.version)).toEqual(['1.0.0']);

        const adopted = await h.adopt('alice', 'the hotfix stays until 1.1.0');
        expect(adopted).toMatchObject({
          from: '1.0.0',
          version: '1.0.0-hotfix',
          artifact: HOTFIX,
          resolved: { id: drifted.drift!.id, resolved: { how: 'adopted', by: 'alice' } },
        });
        const { status } = await releaseEnded(release);
        expect(status.state).toBe('succeeded');

        const done = await h.snapshot();
        expect(done.drift).toBeNull();
        expect(rows(done.ledger)).toEqual([
          'deploy 1.0.0 succeeded',
          'adopt 1.0.0-hotfix succeeded',
          'deploy 1.1.0 succeeded',
        ]);
        expect(done.ledger[1]).toMatchObject({
          actor: 'alice',
          reason: 'the hotfix stays until 1.1.0',
          fromVersion: '1.0.0',
          artifact: HOTFIX,
          automatic: false,
          verifiedAt: null,
        });
        expect(done.ledger[1]!.proofs?.[0]?.login).toBe('alice');
        expect(done.ledger[2]!.fromVersion).toBe('1.0.0-hotfix');

        const audit = await h.auditWhen((r) =>
          r.some((x) => x.type === 'deploy-succeeded' && x.version === '1.1.0'),
        );
        const drift = audit.filter((r) => r.type === 'drift');
        expect(drift).toHaveLength(1);
        expect(drift[0]).toMatchObject({
          actor: 'shipgate',
          version: '1.0.0',
          outcome: 'block',
          findings: [imageFinding(h.app, artifact)],
        });
        expect(audit.find((r) => r.type === 'adopt')).toMatchObject({
          actor: 'alice',
          via: 'ssh',
          version: '1.0.0-hotfix',
          fromVersion: '1.0.0',
          reason: 'the hotfix stays until 1.1.0',
        });
        expect(audit.find((r) => r.type === 'held')?.reason).toContain('shipgate adopt');
        expect(h.notifications.filter((n) => n.kind === 'drift')).toHaveLength(1);
      },
    );
  });

  it('warn: the deploy goes ahead, the drift is recorded and notified, and the deploy clears it', async () => {
    await withCluster(
      (p) => void (p.onDrift = 'warn'),
      async (h) => {
        const artifact = await shipThenHandEdit(h);
        expect((await h.ship('1.1.0')).state).toBe('succeeded');
        const s = await h.snapshot();
        expect(s.drift).toBeNull();
        expect(s.drifts).toHaveLength(1);
        expect(s.drifts![0]).toMatchObject({
          onDrift: 'warn',
          findings: [{ what: 'image', expected: artifact, actual: HOTFIX }],
          resolved: { how: 'deployed', version: '1.1.0', by: 'dave' },
        });
        expect(rows(s.ledger)).toEqual(['deploy 1.0.0 succeeded', 'deploy 1.1.0 succeeded']);
        const audit = await h.auditWhen((r) => r.some((x) => x.type === 'drift-cleared'));
        expect(audit.filter((r) => r.type === 'drift').map((r) => r.outcome)).toEqual(['warn']);
        expect(audit.find((r) => r.type === 'drift-cleared')).toMatchObject({ outcome: 'deployed' });
        expect(h.notifications.filter((n) => n.kind === 'drift')).toMatchObject([
          { kind: 'drift', env: 'production', drift: { onDrift: 'warn' } },
        ]);
      },
    );
  });

  it('adopt: what runs becomes current on its own, and the deploy goes on from it', async () => {
    await withCluster(
      (p) => void (p.onDrift = 'adopt'),
      async (h) => {
        await shipThenHandEdit(h);
        expect((await h.ship('1.1.0')).state).toBe('succeeded');
        const s = await h.snapshot();
        expect(rows(s.ledger)).toEqual([
          'deploy 1.0.0 succeeded',
          'adopt 1.0.0-hotfix succeeded',
          'deploy 1.1.0 succeeded',
        ]);
        expect(s.ledger[1]).toMatchObject({ actor: 'shipgate', automatic: true, artifact: HOTFIX });
        expect(s.ledger[1]!.reason).toMatch(/^automatic \(onDrift: adopt\): /);
        expect(s.ledger[2]!.fromVersion).toBe('1.0.0-hotfix');
        expect(s.drifts![0]!.resolved).toMatchObject({
          how: 'adopted',
          by: 'shipgate',
          version: '1.0.0-hotfix',
        });
        const audit = await h.auditWhen((r) =>
          r.some((x) => x.type === 'deploy-succeeded' && x.version === '1.1.0'),
        );
        expect(audit.map((r) => r.type).filter((t) => t.startsWith('drift'))).toEqual([
          'drift',
          'drift-adopted',
        ]);
      },
    );
  });

  it('the periodic check finds drift with no deploy, records it once, and sees it go when undone by hand', async () => {
    await withCluster(
      (p) => void (p.driftInterval = '1m'),
      async (h) => {
        const artifact = await shipThenHandEdit(h);
        expect((await h.snapshot()).drift).toBeNull();
        await h.env.sleep('90s');
        const found = await h.waitFor((s) => s.drift != null);
        expect(found.drift!.findings).toEqual([imageFinding(h.app, artifact)]);
        // Five more checks find the same drift: it stays one record, one notification.
        await h.env.sleep('5m');
        const audit = await h.auditWhen((r) => r.some((x) => x.type === 'drift'));
        expect(audit.filter((r) => r.type === 'drift')).toHaveLength(1);
        expect(h.notifications.filter((n) => n.kind === 'drift')).toHaveLength(1);
        expect((await h.snapshot()).drifts).toHaveLength(1);

        // Scaled to zero as well: other findings, so a new record.
        h.target.scale(h.app, 'production', 0);
        await h.env.sleep('90s');
        const changed = await h.waitFor((s) => (s.drifts?.length ?? 0) >= 2);
        expect(changed.drifts![0]!.resolved).toMatchObject({ how: 'changed' });
        expect(changed.drift!.findings.map((f) => f.what)).toEqual(['image', 'replicas']);

        // Someone puts 1.0.0 back by hand: the next check clears it.
        h.target.setImage(h.app, 'production', '1.0.0', artifact);
        h.target.scale(h.app, 'production', 2);
        await h.env.sleep('90s');
        const cleared = await h.waitFor((s) => s.drift === null && (s.drifts?.length ?? 0) === 2);
        expect(cleared.drifts![1]!.resolved).toMatchObject({ how: 'gone' });
        await h.auditWhen((r) => r.some((x) => x.type === 'drift-cleared' && x.outcome === 'gone'));
      },
    );
  });

  it('a rollback records the drift it finds, never waits on it, and clears it; the next release goes ahead', async () => {
    await withCluster(
      () => {},
      async (h) => {
        expect((await h.ship('1.0.0')).state).toBe('succeeded');
        expect((await h.ship('1.1.0')).state).toBe('succeeded');
        h.target.setImage(h.app, 'production', '1.1.0-hotfix', HOTFIX);
        const accepted = await h.rollback('bob', { reason: 'back to a version we know' });
        expect(accepted).toMatchObject({ from: '1.1.0', to: '1.0.0' });
        const s = await h.waitFor((x) =>
          x.ledger.some((e) => e.opId === accepted.opId && e.outcome !== 'running'),
        );
        expect(s.ledger.at(-1)).toMatchObject({ action: 'rollback', version: '1.0.0', outcome: 'succeeded' });
        expect(s.drift).toBeNull();
        expect(s.drifts).toMatchObject([
          { expected: { version: '1.1.0' }, resolved: { how: 'rolled-back', by: 'bob', version: '1.0.0' } },
        ]);
        expect((await h.ship('1.2.0')).state).toBe('succeeded');
        const audit = await h.audit();
        expect(audit.filter((r) => r.type === 'drift')).toHaveLength(1);
        expect(audit.find((r) => r.type === 'drift-cleared')).toMatchObject({
          actor: 'bob',
          outcome: 'rolled-back',
        });
      },
    );
  });

  it('refuses an adopt from someone who may not roll back, and one with nothing to adopt, recording both', async () => {
    await withCluster(
      () => {},
      async (h) => {
        expect((await h.ship('1.0.0')).state).toBe('succeeded');
        const nothing = await refusal(h.adopt('carol', 'just in case'));
        expect(nothing.type).toBe(FAILURE.policy);
        expect(nothing.message).toMatch(/^nothing to adopt: .* runs 1\.0\.0 /);

        h.target.setImage(h.app, 'production', '1.0.0-hotfix', HOTFIX);
        const denied = await refusal(h.adopt('mallory', 'mine now'));
        expect(denied.type).toBe(FAILURE.policy);
        expect(denied.message).toContain('mallory may not adopt the live state of');
        const s = await h.snapshot();
        expect(rows(s.ledger)).toEqual(['deploy 1.0.0 succeeded']);
        expect(s.current!.version).toBe('1.0.0');

        // Drift not noticed yet (no check ran since) may still be adopted by someone who may.
        const adopted = await h.adopt('bob', 'keep the hotfix', 'req-1');
        expect(adopted).toMatchObject({ version: '1.0.0-hotfix', from: '1.0.0', resolved: null });
        // A retry of the same request is answered with the first adoption; nothing is recorded twice.
        expect(await h.adopt('bob', 'keep the hotfix', 'req-1')).toEqual(adopted);
        expect(rows((await h.snapshot()).ledger)).toEqual([
          'deploy 1.0.0 succeeded',
          'adopt 1.0.0-hotfix succeeded',
        ]);
        const audit = await h.auditWhen((r) => r.filter((x) => x.type === 'adopt-refused').length === 2);
        expect(audit.filter((r) => r.type === 'adopt-refused').map((r) => r.actor)).toEqual([
          'carol',
          'mallory',
        ]);
        expect(audit.filter((r) => r.type === 'adopt')).toHaveLength(1);
      },
    );
  });

  it('a local target has nothing to adopt: bad input naming the target kind, and no drift check', async () => {
    await withCluster(
      () => {},
      async (h) => {
        expect((await h.ship('1.0.0')).state).toBe('succeeded');
        h.target.setImage(h.app, 'production', '1.0.0-hotfix', HOTFIX);
        const refused = await refusal(h.adopt('alice', 'try'));
        expect(refused.type).toBe(FAILURE.badInput);
        expect(refused.message).toContain('local target, which runs only what shipgate starts');
        await h.env.sleep('10m');
        expect((await h.snapshot()).drifts).toEqual([]);
      },
      { cluster: false },
    );
  });
});
