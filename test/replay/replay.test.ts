import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

/**
 * Histories recorded from real runs (scripts/record-histories.ts) must replay against today's workflow code.
 * A failure here means a change would break running releases: guard it with patched().
 */
describe('replay of recorded histories', () => {
  it('has recorded histories of releases and environments', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });

  it('replays every recorded history without nondeterminism', async () => {
    const histories = files.map((f) => {
      const { workflowId, history } = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
        workflowId: string;
        history: unknown;
      };
      return { workflowId, history: historyFromJSON(history) };
    });
    const results = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: workflowsPath(), replayName: 'shipgate-replay' },
      histories,
    )) {
      results.push({ workflowId: r.workflowId, error: r.error ? String(r.error) : null });
    }
    expect(results).toHaveLength(files.length);
    expect(results.filter((r) => r.error)).toEqual([]);
  });
});
