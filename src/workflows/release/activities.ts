/** The activities a release calls, with their timeouts and retries. */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';

export const { loadReleasePlan, submitDeploy, recordAudit, supersedeOlderReleases, notify } =
  proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  });

export const { buildArtifact } = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
});

// Window evaluation needs time-zone data, so it runs as a local activity and its verdict lands in history.
// So do proof verification and the environment's word on a deploy report: quick reads whose answer is kept.
export const { evaluateDeployGate, verifyProof, confirmDeployReport } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
});
