import { describe, expect, it } from 'vitest';
import { environmentWorkflowId } from '../../src/protocol/ids.js';
import type { EnvironmentWorkflowInput } from '../../src/workflows/types.js';
import { useTimeSkippingServer, withEnvironment } from './environment-harness.js';

useTimeSkippingServer();

const T = '2026-01-01T00:00:00.000Z';

/** A succeeded ledger entry as runs before opaque artifacts wrote it: the artifact is `artifactDir`. */
const olderEntry = (opId: string, version: string) => ({
  opId,
  action: 'deploy' as const,
  version,
  artifactDir: `/older/${version}`,
  commit: `c-${version}`,
  actor: 'dave',
  approvers: [],
  reason: null,
  fromVersion: null,
  outcome: 'succeeded' as const,
  verifiedAt: T,
  releaseId: null,
  automatic: false,
  requestedAt: T,
  startedAt: T,
  endedAt: T,
  failure: null,
});

describe('state and requests from before artifacts were opaque references (time-skipping server)', () => {
  it('a run continued from an older one reads its artifactDir state, runs its queue and remembers its op ids', async () => {
    await withEnvironment(
      () => {},
      async (h) => {
        const carried: EnvironmentWorkflowInput['carried'] = {
          current: { version: '1.1.0', since: T, artifactDir: '/older/1.1.0' },
          ledger: [olderEntry('op-1', '1.0.0'), olderEntry('op-2', '1.1.0')],
          queue: [
            {
              kind: 'rollback',
              opId: 'rollback:carried',
              to: '1.0.0',
              artifactDir: '/older/1.0.0',
              actor: 'alice',
              via: 'cli',
              reason: 'queued before the switch',
              requestedAt: T,
            },
          ],
          freezes: [],
          ledgerSize: 200,
          reapAt: null,
        };
        await h.env.client.workflow.start('environmentWorkflow', {
          workflowId: environmentWorkflowId(h.app, 'production'),
          taskQueue: h.taskQueue,
          args: [{ app: h.app, env: 'production', carried }],
        });
        const restored = await h.settled('rollback:carried');
        expect(h.target.activations.map((a) => [a.version, a.artifact])).toEqual([['1.0.0', '/older/1.0.0']]);
        expect(restored.current).toMatchObject({ version: '1.0.0', artifact: '/older/1.0.0' });
        expect(restored.ledger.map((e) => e.artifact)).toEqual([
          '/older/1.0.0',
          '/older/1.1.0',
          '/older/1.0.0',
        ]);
        expect(JSON.stringify(restored)).not.toContain('artifactDir');

        // An op id from the older run is answered, not deployed again.
        const again = h.deployOp('1.1.0', { opId: 'op-2' });
        expect(await h.enqueue(again)).toEqual({ opId: 'op-2', position: -1 });

        // A release started before the switch sends its artifact as artifactDir.
        const { artifact: _new, ...older } = h.deployOp('2.0.0');
        await h.enqueue({ ...older, artifactDir: '/older/2.0.0' });
        const deployed = await h.settled(older.opId);
        expect(deployed.ledger.at(-1)).toMatchObject({
          version: '2.0.0',
          artifact: '/older/2.0.0',
          outcome: 'succeeded',
        });
        expect(h.target.activations.at(-1)).toMatchObject({ version: '2.0.0', artifact: '/older/2.0.0' });
        expect(h.target.activations.filter((a) => a.version === '1.1.0')).toHaveLength(0);
      },
    );
  });
});
