import { beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker.js';

// Replay workers log every state change at INFO; a failure still reports the differing command.
Runtime.install({ logger: new DefaultLogger('WARN') });

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, 'histories');
const src = path.join(here, '..', '..', 'src');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

/** `<scenario>.<before|after>-<patch>.json`, written by scripts/record-histories.ts. */
const SIDED = /^[a-z0-9-]+\.(before|after)-([a-z0-9-]+)\.json$/;

/**
 * How many recorded histories take each side of each patched() change: `before` ones were recorded from the
 * code just before the patch and prove its guard keeps old runs replaying; `after` ones prove the guarded code
 * still writes the commands it wrote then. Adding a patch means recording both (the script's header says how).
 */
const PER_PATCH: Record<string, { before: number; after: number }> = {
  'slack-card-updates': { before: 1, after: 1 },
  'notify-override': { before: 1, after: 1 },
  'workflow-driven-soak': { before: 1, after: 1 },
  'reap-warm-versions': { before: 1, after: 1 },
  'soak-fails-on-dead-version': { before: 1, after: 1 },
  // A release and its environment: proofs on starts and decisions, confirmed deploy requests and reports.
  'proven-identity': { before: 2, after: 2 },
  // Drift detection: the live policy read before each deploy, and adopt refused on a local target.
  'drift-detection': { before: 1, after: 1 },
  // A release and its environment while the audit store refuses appends: the bounded delivery beside the
  // pipeline, a rollback run meanwhile, and the re-release check asked of the last environment.
  'audit-never-blocks': { before: 2, after: 2 },
  // A release held by an environment removed from the config (ends after the grace, or holds), and that
  // environment (rolled back under its last known settings after the patch).
  'config-removed-ends': { before: 2, after: 2 },
  // A requested rollback: proof and policy read at once, switch and verification in one activity, the audit
  // appends held while it runs.
  'rollback-critical-path': { before: 1, after: 1 },
  // An environment's deploys: GitHub transitions sent beside the main loop (no github block: none shown).
  'github-deployments': { before: 1, after: 1 },
};
/** The first recordings (a whole pipeline: approvals, rejection, rollbacks), older than every patch. */
const BASELINE = 5;

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** patched()/deprecatePatch() calls in src/, comments left out; a call whose id is not a literal is listed as such. */
function patchesInSource(): { ids: Set<string>; nonLiteral: string[] } {
  const ids = new Set<string>();
  const nonLiteral: string[] = [];
  for (const file of sourceFiles(src)) {
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    for (const m of code.matchAll(/\b(?:patched|deprecatePatch)\(\s*([^)]*)\)/g)) {
      const literal = /^(['"`])([^'"`]+)\1$/.exec(m[1]!.trim());
      if (literal) ids.add(literal[2]!);
      else nonLiteral.push(`${path.relative(src, file)}: ${m[0]}`);
    }
  }
  return { ids, nonLiteral };
}

function sides(): Record<string, { before: number; after: number }> {
  const counts: Record<string, { before: number; after: number }> = {};
  for (const f of files) {
    const m = SIDED.exec(f);
    if (!m) continue;
    const side = m[1] as 'before' | 'after';
    (counts[m[2]!] ??= { before: 0, after: 0 })[side]++;
  }
  return counts;
}

/**
 * Histories recorded from real runs (scripts/record-histories.ts) must replay against today's workflow code.
 * A failure here means a change would break running releases: guard it with patched().
 */
describe('replay of recorded histories', () => {
  let bundle: WorkflowBundle;
  beforeAll(async () => {
    bundle = await bundleWorkflowCode({
      workflowsPath: workflowsPath(),
      logger: new DefaultLogger('WARN'),
    });
  });

  it('has histories of both sides of every patched() change, and the baseline pipeline', () => {
    expect(sides()).toEqual(PER_PATCH);
    expect(files.filter((f) => !SIDED.test(f))).toHaveLength(BASELINE);
  });

  it('has recorded histories for every patch id used in src/', () => {
    const { ids, nonLiteral } = patchesInSource();
    // Ids are written as literals so this test can see them.
    expect(nonLiteral).toEqual([]);
    expect([...ids].sort()).toEqual(Object.keys(PER_PATCH).sort());
  });

  it.each(files)('replays %s without nondeterminism', async (file) => {
    const { workflowId, history } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
      workflowId: string;
      history: unknown;
    };
    // Rejects with a DeterminismViolationError naming the first command that differs from the history.
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: bundle, replayName: 'shipgate-replay' },
        historyFromJSON(history),
        workflowId,
      ),
    ).resolves.toBeUndefined();
  });
});
