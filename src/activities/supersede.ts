import type { Client } from '@temporalio/client';
import { parseReleaseWorkflowId } from '../protocol/ids.js';
import { SEARCH_ATTRIBUTES } from '../protocol/search-attributes.js';
import { supersedeSignal } from '../workflows/messages.js';

/**
 * When a release reaches an approval gate, older releases of the same app still waiting there end superseded,
 * and this release ends superseded itself if a newer one already got there first.
 */
export function createSupersedeActivities(client: Client) {
  return {
    async supersedeOlderReleases(input: { app: string; env: string; version: string; releaseId: string }) {
      try {
        return await supersede(client, input);
      } catch (err) {
        // Superseding is a safeguard, not a gate: a visibility outage must not hold the release.
        return { superseded: [], newer: null, error: (err as Error).message };
      }
    },
  };
}

async function supersede(
  client: Client,
  input: { app: string; env: string; version: string; releaseId: string },
) {
  const me = await client.workflow.getHandle(input.releaseId).describe();
  const { app: appKey, env: envKey } = SEARCH_ATTRIBUTES;
  const query = `WorkflowType = 'releaseWorkflow' AND ExecutionStatus = 'Running' AND ${appKey.name} = '${input.app}'`;
  const superseded: string[] = [];
  let newer: string | null = null;
  for await (const wf of client.workflow.list({ query })) {
    const version = parseReleaseWorkflowId(wf.workflowId)?.version;
    if (wf.workflowId === input.releaseId || version === undefined) continue;
    if (wf.startTime < me.startTime) {
      await client.workflow
        .getHandle(wf.workflowId)
        .signal(supersedeSignal, { by: 'shipgate', version: input.version, env: input.env });
      superseded.push(version);
    } else if (wf.typedSearchAttributes.get(envKey) === input.env) {
      newer = version;
    }
  }
  return { superseded, newer, error: null as string | null };
}
