import { describe, expect, it } from 'vitest';
import path from 'node:path';
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
        const again = { kind: 'deploy', opId: 'op-2', releaseId: 'release/x/1.1.0', version: '1.1.0' };
        expect(await h.enqueueRaw(again as never)).toEqual({ opId: 'op-2', position: -1 });

        // A release deploying after the switch: the environment takes the artifact from the build's record.
        expect((await h.ship('2.0.0')).state).toBe('succeeded');
        const deployed = await h.waitFor((x) => x.running === null && x.ledger.length === 4);
        expect(deployed.ledger.at(-1)).toMatchObject({
          version: '2.0.0',
          artifact: path.join(h.sandbox.home, 'artifacts', h.app, '2.0.0'),
          outcome: 'succeeded',
        });
        expect(h.target.activations.at(-1)).toMatchObject({ version: '2.0.0' });
        expect(h.target.activations.filter((a) => a.version === '1.1.0')).toHaveLength(0);
      },
    );
  });
});
