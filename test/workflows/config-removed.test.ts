/**
 * A release whose environment is removed from the config while it waits (the time-skipping server): it holds for
 * configRemovedGrace, re-checking on its gate timer, then ends cancelled saying what was removed and when; back
 * in time, it goes on; an unreadable config holds it for ever (fails closed). The config the gate reads is
 * swapped under the running workers, as a worker's live config is when the file changes.
 */
import { describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/load.js';
import type { ConfigSource } from '../../src/config/source.js';
import { createGateActivities } from '../../src/activities/gate.js';
import { exampleConfig } from '../helpers/fixture.js';
import { createMemoryAuditStore } from '../helpers/memory-audit-store.js';
import { createMemoryTarget } from '../helpers/memory-target.js';
import {
  poll,
  releaseEnded,
  sandboxActivities,
  useTimeSkippingServer,
  withSandbox,
  type Sandbox,
} from './time-skipping-harness.js';
import { statusQuery } from '../../src/workflows/messages.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';

useTimeSkippingServer();

type Live = { mode: 'as-loaded' | 'without-production' | 'unreadable' };

/** The example app with production behind two approvals, and a gate that reads `live`'s view of the config. */
async function withLiveConfig<T>(body: (s: Sandbox, live: Live) => Promise<T>): Promise<T> {
  const live: Live = { mode: 'as-loaded' };
  const target = createMemoryTarget();
  const audit = createMemoryAuditStore();
  return withSandbox(
    {
      name: 'removed',
      config: () => ({
        ...exampleConfig({ staging: 18001, production: 18002 }),
        configRemovedGrace: '30m',
      }),
      activities: (s) => {
        const withoutProduction = (): LoadedConfig => {
          const app = s.loaded.config.apps[s.app]!;
          const { production: _gone, ...environments } = app.environments;
          return {
            ...s.loaded,
            config: { ...s.loaded.config, apps: { [s.app]: { ...app, environments } } },
          };
        };
        const source: ConfigSource = {
          file: s.loaded.file,
          get: () => {
            if (live.mode === 'unreadable') throw new Error('shipgate.yaml: apps: expected a mapping');
            return live.mode === 'without-production' ? withoutProduction() : s.loaded;
          },
        };
        return {
          ...sandboxActivities(s, { targets: target, audit }),
          ...createGateActivities(source, s.env.client),
        };
      },
    },
    (s) => body(s, live),
  );
}

const status = (h: { query: (q: typeof statusQuery) => Promise<ReleaseStatus> }) => h.query(statusQuery);

async function heldAtRemovedProduction(s: Sandbox, live: Live, mode: Live['mode']) {
  const handle = await s.startRelease('1.0.0');
  await poll(
    () => status(handle),
    (x) => x.stage === 'awaiting-approval',
    (last) => `never reached production's approval gate: ${last?.stage}`,
  );
  live.mode = mode;
  await s.approve(handle, 'alice');
  await s.approve(handle, 'bob');
  const held = await poll(
    () => status(handle),
    (x) => x.stage === 'awaiting-gate',
    (last) => `never held at the gate: ${JSON.stringify(last)}`,
  );
  return { handle, held };
}

describe('configuration removed under a waiting release', () => {
  it('holds for the grace, then ends cancelled saying what was removed, when, and for how long it waited', async () => {
    await withLiveConfig(async (s, live) => {
      const { handle, held } = await heldAtRemovedProduction(s, live, 'without-production');
      expect(held.state).toBe('running');
      expect(held.blockedBy).toBe('config');
      const { status: end, failure } = await releaseEnded(handle);
      expect(end.state).toBe('cancelled');
      expect(failure).toBe('ReleaseCancelled');
      expect(end.reason).toMatch(
        new RegExp(
          `^${s.app}/production was removed from the config \\(first seen missing at \\S+Z\\) and did not come back within 30m$`,
        ),
      );
      // The grace runs from when it was first seen missing: the end comes right after 30 minutes of workflow
      // time (its last look is timed to the end of the grace, not to the next 15-minute look).
      const first = /at (\S+Z)\)/.exec(end.reason!)![1]!;
      const waited = Date.parse(end.endedAt!) - Date.parse(first);
      expect(waited).toBeGreaterThanOrEqual(30 * 60_000);
      expect(waited).toBeLessThan(31 * 60_000);
      expect(end.environments.production?.state).not.toBe('succeeded');
    });
  });

  it('goes on and deploys when the environment comes back within the grace', async () => {
    await withLiveConfig(async (s, live) => {
      const { handle } = await heldAtRemovedProduction(s, live, 'without-production');
      live.mode = 'as-loaded';
      const { status: end } = await releaseEnded(handle);
      expect(end.state).toBe('succeeded');
      expect(end.environments.production?.state).toBe('succeeded');
    });
  });

  it('keeps holding while the config is unreadable, long past the grace (fails closed, never "removed")', async () => {
    await withLiveConfig(async (s, live) => {
      const { handle, held } = await heldAtRemovedProduction(s, live, 'unreadable');
      expect(held.blockedBy).toBe('config');
      await s.env.sleep('3h');
      const still = await status(handle);
      expect(still.state).toBe('running');
      expect(still.stage).toBe('awaiting-gate');
      expect(still.blockedBy).toBe('config');
    });
  });
});
