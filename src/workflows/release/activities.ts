/** The activities a release calls, with their timeouts and retries. */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { AUDIT_DELIVERY } from '../audit-outbox.js';

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
// So does proof verification: a quick check whose verdict is kept.
export const { evaluateDeployGate, verifyProof } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
});

// Asking the environment which reports it sent is a query to another workflow: a regular activity, so this
// workflow holds no task open meanwhile (the environment may be asking this release about a request).
export const { confirmDeployReport } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

/** The append with a bounded retry: the release's audit outbox tries again later itself (audit-never-blocks). */
export const { recordAudit: deliverAudit } = proxyActivities<Activities>(AUDIT_DELIVERY);

/**
 * Whether a release already deployed this version successfully to an environment: the environment's durable
 * answer (a query, so a regular activity like the other cross-workflow reads).
 */
export const { releasedVersion } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});
