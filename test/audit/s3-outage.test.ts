/**
 * An S3 outage on a real stack: the dev server, a worker process whose trail goes to versitygw
 * (scripts/s3-server.sh, COMPLIANCE Object Lock, real HTTP), and the CLI. The S3 server is stopped before a
 * release and started again after a rollback: both complete meanwhile, and every record arrives afterwards,
 * in order, once, the chain intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3AuditStore, type AuditS3Config, type S3AuditStore } from '../../src/audit/s3-store.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { environmentWorkflowId, releaseWorkflowId } from '../../src/protocol/ids.js';
import { eventually, startStack, type App, type Stack } from '../helpers/fixture.js';
import { startS3Server, useCredentials, type S3Server } from '../helpers/s3-server.js';

const writtenBy = (records: AuditRecord[], workflowId: string) =>
  records.filter((r) => r.id.startsWith(`${workflowId}@`)).map((r) => `${r.type} ${r.version}`);

describe('the S3 audit store goes down mid-release (versitygw over real HTTP, dev server, worker process)', () => {
  let server: S3Server;
  let restoreEnv: () => void;
  let stack: Stack;
  let app: App;
  let store: S3AuditStore;
  let s3: AuditS3Config;

  beforeAll(async () => {
    server = await startS3Server();
    restoreEnv = useCredentials(server);
    s3 = {
      bucket: 'outage-audit',
      prefix: 'trail/',
      region: server.region,
      endpoint: server.endpoint,
      forcePathStyle: true,
      objectLock: { mode: 'COMPLIANCE', days: 1 },
    };
    await server.createBucket(s3.bucket, { objectLock: true });
    stack = await startStack((c) => {
      (c as Record<string, unknown>).audit = { store: 's3', s3 };
    });
    app = await stack.addApp('outage', (c) => {
      c.apps.hello.environments.production.approvals = [];
    });
    store = createS3AuditStore(s3);
  }, 300_000);

  afterAll(async () => {
    store?.close();
    await stack?.stop();
    restoreEnv?.();
    await server?.stop();
  });

  it('a release and a rollback complete while S3 is down; afterwards every record arrives, in order, once, chain intact', async () => {
    const envId = environmentWorkflowId(app.name, 'production');
    await app.ship('1.0.0');
    await eventually('1.0.0 written to S3', async () =>
      writtenBy(await store.read({ app: app.name }), envId).includes('deploy-succeeded 1.0.0')
        ? true
        : undefined,
    );

    await server.down();
    let up = false;
    try {
      const released = await app.run(...app.releaseArgs('1.1.0', '--wait', 'production', '--json'));
      expect(released.code, released.stderr).toBe(0);
      expect(released.json).toMatchObject({ state: 'succeeded' });
      expect(await app.serving()).toBe('1.1.0');
      const rb = await app.run(
        ...['rollback', app.name, 'production', '--as', 'carol', '--reason', 'S3 is down, roll back anyway'],
        ...['--wait', '--json'],
      );
      expect(rb.code, rb.stderr).toBe(0);
      expect(rb.json).toMatchObject({ from: '1.1.0', to: '1.0.0', outcome: 'succeeded' });
      expect(await app.serving()).toBe('1.0.0');
      // Once its bounded retries are spent, the environment says its records wait.
      const degraded = await eventually('the environment says audit degraded', async () => {
        const env = await app.environment();
        return env?.auditDegraded ? env.auditDegraded : undefined;
      });
      expect(degraded.waiting).toBeGreaterThan(0);
      await server.up();
      up = true;
    } finally {
      if (!up) await server.up();
    }

    const all = await eventually(
      'every record delivered',
      async () => {
        const rs = await store.read({ app: app.name });
        return writtenBy(rs, envId).includes('rollback-succeeded 1.0.0') &&
          writtenBy(rs, releaseWorkflowId(app.name, '1.1.0')).includes('release-ended 1.1.0')
          ? rs
          : undefined;
      },
      180_000,
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
    const ids = (await store.read()).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(await store.verify()).toMatchObject({ ok: true });
    await eventually('the environment recovered', async () =>
      (await app.environment())?.auditDegraded == null ? true : undefined,
    );
    // And the trail as an auditor checks it: hashes, links, checkpoints and Temporal's anchors all hold.
    const verified = await stack.run(['audit', 'verify', '--config', stack.configFile]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
  });
});
