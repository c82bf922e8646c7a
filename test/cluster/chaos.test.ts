import { expect, it } from 'vitest';
import { startClusterStack } from './cluster-stack.js';
import { processesNaming, runChaos } from './chaos.js';

/**
 * The short chaos run (`npm run bench -- --only chaos` runs the long one): release-approve-deploy-rollback traffic
 * across three apps on Temporal/PostgreSQL with three workers, while workers are SIGKILLed, the Temporal server is
 * restarted or SIGKILLed and PostgreSQL restarts; then every invariant is checked. CHAOS_SEED replays a run.
 */
it('under SIGKILLed workers and restarted Temporal and PostgreSQL, no approval is lost or counted twice, nothing deploys twice, every environment serves its ledger and the audit chain verifies', async () => {
  const stack = await startClusterStack({ workers: 3, apps: ['alpha', 'beta', 'gamma'] });
  let result;
  try {
    result = await runChaos(stack, {
      iterations: 6,
      seed: process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : undefined,
      log: process.env.CHAOS_VERBOSE ? (l) => console.log(l) : undefined,
    });
  } finally {
    await stack.stop();
  }
  const c = result.counts;
  console.log(
    `chaos (seed ${c.seed}): ${c.iterations} iterations, ${c.releases} releases, ${c.approvals} approvals, ${c.rejections} rejections, ` +
      `${c.rollbacks} rollbacks; ${c.workerKills} worker kills, ${c.temporalRestarts} Temporal restarts, ` +
      `${c.temporalKills} Temporal kills, ${c.postgresRestarts} PostgreSQL restarts, ${c.retries} retried calls; ` +
      `${c.invariantChecks} invariant checks, ${result.violations.length} violated`,
  );
  expect(result.violations, `seed ${c.seed}`).toEqual([]);
  expect(c.workerKills + c.temporalRestarts + c.temporalKills + c.postgresRestarts).toBe(c.iterations);
  // Nothing the run started is left: workers, app processes, proxies, the server, PostgreSQL.
  expect(processesNaming(stack.home)).toEqual([]);
  expect(processesNaming(stack.cluster.dir)).toEqual([]);
}, 900_000);
