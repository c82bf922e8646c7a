/**
 * Records real workflow histories for the replay tests: runs releases on a real dev server, worker and local
 * target, then saves each history as JSON under test/replay/histories/. Run with `npx tsx scripts/record-histories.ts`
 * after `npm run build`, and commit the files when a workflow change ships.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { startStack } from '../test/helpers/fixture.js';
import { environmentWorkflowId, releaseWorkflowId } from '../src/workflows/messages.js';

const out = path.resolve('test/replay/histories');
const stack = await startStack();
const run = (...args: string[]) => stack.run(args);
const waitStage = async (version: string, stage: string) => {
  for (let i = 0; i < 600; i++) {
    const s = await stack.sg.status('hello', version).catch(() => null);
    if (s?.stage === stage) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${version} never reached ${stage}`);
};
try {
  const ship = async (version: string, approvers: string[]) => {
    await run('release', 'hello', version, '--commit', `c-${version}`, '--branch', 'main', '--actor', 'dave');
    await waitStage(version, 'awaiting-approval');
    await run('approve', 'hello', version, '--as', 'mallory');
    await run('approve', 'hello', version, '--as', 'dave');
    for (const by of approvers) await run('approve', 'hello', version, '--as', by, '--comment', 'lgtm');
    await waitStage(version, 'done');
  };
  await ship('1.0.0', ['alice', 'bob']);
  await ship('1.1.0', ['alice', 'carol']);
  await ship('1.2.0-bad', ['bob', 'carol']);
  await run('release', 'hello', '1.3.0', '--commit', 'c-1.3.0', '--branch', 'main', '--actor', 'dave');
  await waitStage('1.3.0', 'awaiting-approval');
  await run('reject', 'hello', '1.3.0', '--as', 'alice', '--reason', 'not today');
  await waitStage('1.3.0', 'done');
  await run('rollback', 'hello', 'production', '--as', 'bob', '--reason', 'replay recording', '--wait');
  await mkdir(out, { recursive: true });
  const ids = {
    'release-succeeded': releaseWorkflowId('hello', '1.0.0'),
    'release-rolled-back': releaseWorkflowId('hello', '1.2.0-bad'),
    'release-rejected': releaseWorkflowId('hello', '1.3.0'),
    'environment-production': environmentWorkflowId('hello', 'production'),
    'environment-staging': environmentWorkflowId('hello', 'staging'),
  };
  for (const [name, workflowId] of Object.entries(ids)) {
    const history = await stack.sg.client.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(
      path.join(out, `${name}.json`),
      JSON.stringify({ workflowId, history: JSON.parse(historyToJSON(history)) }),
    );
    console.log(`recorded ${name} (${history.events?.length} events)`);
  }
} finally {
  await stack.stop();
}
