import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { releasedHere, type Released } from '../policy/release-once.js';
import { environmentWorkflowId } from '../protocol/ids.js';
import { environmentQuery, releasedQuery } from '../workflows/messages.js';

/** The re-release check's read: an environment's own durable answer, through a query. */
export function createReleaseOnceActivities(client: Client) {
  return {
    /** Whether a release deployed `version` to `env` successfully; null when never (or nothing ran there). */
    async releasedVersion({
      app,
      env,
      version,
    }: {
      app: string;
      env: string;
      version: string;
    }): Promise<Released | null> {
      const handle = client.workflow.getHandle(environmentWorkflowId(app, env));
      try {
        return await handle.query(releasedQuery, version);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        // A worker from before the query (mid-upgrade) answers the snapshot: its ledger says as much.
        const snapshot = await handle.query(environmentQuery);
        return releasedHere([], snapshot.ledger, version);
      }
    },
  };
}
