import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/common';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import { startStack, type Stack } from '../helpers/fixture.js';

/** Polls `read` every 250 ms until `pred` holds; fails naming `what` and the last value after `ms`. */
async function until<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean, ms = 180_000) {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out: ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

/** The records a workflow wrote (their ids start with its workflow id), as `type version`. */
const writtenBy = (records: AuditRecord[], workflowId: string) =>
  records.filter((r) => r.id.startsWith(`${workflowId}@`)).map((r) => `${r.type} ${r.version}`);

describe('an audit store that cannot be written, on a real dev server and worker process (JSONL store)', () => {
  let stack: Stack;
  let auditFile: string;

  beforeAll(async () => {
    stack = await startStack();
    auditFile = path.join(stack.home, 'audit', 'audit.jsonl');
  });
  beforeEach(async () => {
    await stack.ensureWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a release and a rollback complete while audit.jsonl cannot be written; status and history say "audit degraded"; afterwards every record arrives, in order, the chain intact', async () => {
    const app = await stack.addApp('outage', (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    const store = createJsonlAuditStore(auditFile);
    const records = () => store.read({ app: app.name });
    const envId = environmentWorkflowId(app.name, 'production');
    await app.ship('1.0.0');
    await until(
      '1.0.0 written',
      records,
      (rs) =>
        writtenBy(rs, envId).includes('deploy-succeeded 1.0.0') && rs.some((r) => r.type === 'release-ended'),
    );

    // A directory where the file was: every append fails (a chmod would not stop a worker running as root).
    await rename(auditFile, `${auditFile}.aside`);
    await mkdir(auditFile);
    let restored = false;
    try {
      const released = await app.run(...app.releaseArgs('1.1.0', '--wait', 'production', '--json'));
      expect(released.code, released.stderr).toBe(0);
      expect(released.json).toMatchObject({ state: 'succeeded' });
      expect(await app.serving()).toBe('1.1.0');

      // The release has ended for the people waiting on it; its records wait in the workflow, and it says so.
      const degraded = await until(
        'status --json shows audit degraded',
        () => app.run('status', app.name, '1.1.0', '--json'),
        (r) => (r.json as { audit?: { degraded: unknown } } | undefined)?.audit?.degraded != null,
      );
      expect(degraded.json).toMatchObject({
        state: 'succeeded',
        audit: {
          degraded: { waiting: expect.any(Number), lastError: expect.stringContaining('EISDIR') },
        },
      });
      const statusText = await app.run('status', app.name, '1.1.0');
      expect(statusText.stdout).toMatch(/audit degraded since \S+: \d+ records? waiting/);
      const historyText = await until(
        'history shows audit degraded',
        () => app.run('history', app.name, 'production'),
        (r) => r.stdout.includes('audit degraded'),
      );
      expect(historyText.code).toBe(0);

      // A rollback while the store is still down: accepted, run and verified.
      const rb = await app.run(
        ...['rollback', app.name, 'production', '--as', 'carol', '--reason', 'audit store down'],
        ...['--wait', '--json'],
      );
      expect(rb.code, rb.stderr).toBe(0);
      expect(rb.json).toMatchObject({ from: '1.1.0', to: '1.0.0', outcome: 'succeeded' });
      expect(await app.serving()).toBe('1.0.0');
      // Nothing was written meanwhile: the file set aside still ends where the outage began.
      const aside = await createJsonlAuditStore(`${auditFile}.aside`).read({ app: app.name });
      expect(writtenBy(aside, envId)).toEqual(['deploy-started 1.0.0', 'deploy-succeeded 1.0.0']);
      const stillDegraded = await app.environment();
      expect(stillDegraded?.auditDegraded?.waiting).toBeGreaterThanOrEqual(5);

      await rm(auditFile, { recursive: true });
      await rename(`${auditFile}.aside`, auditFile);
      restored = true;
    } finally {
      if (!restored) {
        await rm(auditFile, { recursive: true, force: true });
        await rename(`${auditFile}.aside`, auditFile);
      }
    }

    // The store is back: each workflow writes what waited, in order, once, and the chain holds.
    const all = await until(
      'every record written',
      records,
      (rs) =>
        writtenBy(rs, envId).includes('rollback-succeeded 1.0.0') &&
        writtenBy(rs, releaseWorkflowId(app.name, '1.1.0')).includes('release-ended 1.1.0'),
    );
    expect(writtenBy(all, envId)).toEqual([
      'deploy-started 1.0.0',
      'deploy-succeeded 1.0.0',
      'deploy-started 1.1.0',
      'deploy-succeeded 1.1.0',
      'rollback-requested 1.0.0',
      'rollback-started 1.0.0',
      'rollback-succeeded 1.0.0',
    ]);
    const releaseRecords = all.filter((r) => r.id.startsWith(`${releaseWorkflowId(app.name, '1.1.0')}@`));
    expect(releaseRecords.map((r) => `${r.type} ${r.env ?? '-'}`)).toEqual([
      'release-started -',
      'deployed staging',
      'deployed production',
      'release-ended production',
    ]);
    const ids = (await store.read()).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(await store.verify()).toMatchObject({ ok: true });

    // Degraded no more; each workflow's anchor is the head its last write returned.
    const env = await until(
      'the environment recovered',
      () => app.environment(),
      (x) => x?.auditDegraded == null && x?.auditAnchor != null,
    );
    const head = (await store.read()).find((r) => r.hash === env!.auditAnchor!.hash);
    expect(head).toMatchObject({ seq: env!.auditAnchor!.seq, type: 'rollback-succeeded', app: app.name });
    const after = await app.run('status', app.name, '1.1.0', '--json');
    expect(after.json).toMatchObject({ audit: { degraded: null, anchor: { seq: expect.any(Number) } } });
    expect((await app.run('history', app.name, 'production')).stdout).not.toContain('audit degraded');
  });

  it('a version that succeeded is refused again after its release workflow was deleted: the environment remembers it', async () => {
    const app = await stack.addApp('rerelease', (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    await app.ship('2.0.0');
    const again = await app.run(...app.releaseArgs('2.0.0'));
    expect(again.code).toBe(3);

    // What retention does to a closed release: its workflow and history are gone.
    const workflowId = releaseWorkflowId(app.name, '2.0.0');
    const { client } = stack.sg;
    await client.workflowService.deleteWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId },
    });
    await until(
      'the release workflow is deleted',
      () =>
        client.workflow
          .getHandle(workflowId)
          .describe()
          .then(
            () => false,
            (err: unknown) => err instanceof WorkflowNotFoundError,
          ),
      (gone) => gone,
    );

    const refused = await app.run(...app.releaseArgs('2.0.0'));
    expect(refused.code, refused.stdout).toBe(3);
    expect(refused.stderr).toContain(`${app.name} 2.0.0 was already released successfully`);
    const ledger = await app.ledger();
    expect(ledger.filter((e) => e.version === '2.0.0')).toHaveLength(1);
    const status = await app.status('2.0.0');
    expect(status).toMatchObject({ state: 'failed' });
    expect(status.reason).toContain('already released successfully (deployed to production');
  });
});
