import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { DEFAULT_TASK_QUEUE, environmentWorkflowId } from '../protocol/ids.js';
import { environmentStaticDetails, environmentStaticSummary } from '../policy/temporal-ui.js';
import { enqueueDeployUpdate, environmentQuery } from '../workflows/messages.js';
import type { DeployRequest, EnvironmentSnapshot } from '../workflows/types.js';

/** Workflow code cannot start a workflow or send it an Update, so releases reach environments through here. */
export function createEnvironmentClientActivities(client: Client, taskQueue = DEFAULT_TASK_QUEUE) {
  return {
    async submitDeploy({ app, env, op }: { app: string; env: string; op: DeployRequest }) {
      const startWorkflowOperation = new WithStartWorkflowOperation('environmentWorkflow', {
        workflowId: environmentWorkflowId(app, env),
        taskQueue,
        args: [{ app, env }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        memo: { app, env },
        // What the Temporal UI shows of the environment (docs/temporal-ui.md).
        staticSummary: environmentStaticSummary(app, env),
        staticDetails: environmentStaticDetails(
          app,
          env,
          `the first deploy (${op.version}, release ${op.releaseId})`,
        ),
      });
      return client.workflow.executeUpdateWithStart(enqueueDeployUpdate, {
        args: [op],
        updateId: op.opId,
        startWorkflowOperation,
      });
    },
  };
}

/** Reads an environment's state; null when no environment workflow exists yet. */
export async function readEnvironment(
  client: Client,
  app: string,
  env: string,
): Promise<EnvironmentSnapshot | null> {
  try {
    return await client.workflow.getHandle(environmentWorkflowId(app, env)).query(environmentQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
