/**
 * (x) The long chaos run: test/cluster/chaos.ts's engine (runChaos) on a cluster stack (Temporal on PostgreSQL,
 * three `shipgate worker` processes, three apps), for --iterations disruptions (30; `make test` runs 6). Each
 * iteration SIGKILLs a worker, restarts or SIGKILLs the Temporal server, or restarts PostgreSQL, under
 * release-approve-deploy-rollback traffic; then every invariant is checked. Prints the counts and each broken
 * invariant; the run fails (exit 1) on any. --seed replays a run.
 */
import { startClusterStack } from '../test/cluster/cluster-stack.js';
import { processesNaming, runChaos, type ChaosCounts } from '../test/cluster/chaos.js';
import { ms, table, type ResultRow } from './lib/stats.js';
import type { Cleanup } from './lib/stack.js';

export interface ChaosBenchOptions {
  iterations: number;
  seed?: number;
  log: (line: string) => void;
}

const LABELS: [keyof ChaosCounts, string][] = [
  ['seed', 'seed'],
  ['iterations', 'iterations (disruptions)'],
  ['workerKills', 'worker SIGKILLs (restarted)'],
  ['temporalRestarts', 'Temporal server restarts'],
  ['temporalKills', 'Temporal server SIGKILLs (restarted)'],
  ['postgresRestarts', 'PostgreSQL restarts'],
  ['releases', 'releases'],
  ['approvals', 'approvals'],
  ['rollbacks', 'rollbacks'],
  ['retries', 'client calls retried'],
  ['invariantChecks', 'invariant checks'],
];

export async function chaosBenchmark(
  cleanup: Cleanup,
  opts: ChaosBenchOptions,
): Promise<{ rows: ResultRow[]; table: string; violations: string[] }> {
  const { log } = opts;
  log(`chaos: starting the cluster and three workers`);
  const stack = await startClusterStack({ workers: 3, apps: ['alpha', 'beta', 'gamma'] });
  let stopped = false;
  cleanup.add('stop the chaos stack', async () => {
    if (!stopped) await stack.stop();
  });
  // Chosen here and logged first, so a run that throws part-way can still be replayed with --seed.
  const seed = opts.seed ?? Date.now() % 2 ** 31;
  log(`chaos: seed ${seed} (replay with --seed ${seed})`);
  const t0 = performance.now();
  const result = await runChaos(stack, {
    iterations: opts.iterations,
    seed,
    log: (l) => log(`chaos: ${l}`),
  });
  const tookMs = performance.now() - t0;
  await stack.stop();
  stopped = true;
  const leftovers = [...processesNaming(stack.home), ...processesNaming(stack.cluster.dir)];
  const violations = [...result.violations];
  if (leftovers.length)
    violations.push(`processes left behind after the stack stopped: ${leftovers.join(', ')}`);
  const c = result.counts;
  const lines: string[][] = [
    ['chaos', 'count'],
    ...LABELS.map(([k, label]) => [label, String(c[k])]),
    ['invariants violated', String(violations.length)],
    ['run time', ms(tookMs)],
  ];
  const text =
    table(lines) +
    (violations.length
      ? `\n\nviolated (seed ${c.seed}):\n${violations.map((v) => `  - ${v}`).join('\n')}`
      : '');
  const row = (figure: string, value: string): ResultRow => ({
    bench: 'x. chaos',
    figure,
    n: c.iterations,
    median: value,
    p95: '',
    ratio: '',
  });
  return {
    rows: [
      row(
        `${c.iterations} disruptions (seed ${c.seed})`,
        `${c.workerKills} worker kills, ${c.temporalRestarts + c.temporalKills} Temporal restarts/kills, ${c.postgresRestarts} PostgreSQL restarts`,
      ),
      row('traffic', `${c.releases} releases, ${c.approvals} approvals, ${c.rollbacks} rollbacks`),
      row('invariant checks / violated', `${c.invariantChecks} / ${violations.length}`),
      row('run time', ms(tookMs)),
    ],
    table: text,
    violations,
  };
}
