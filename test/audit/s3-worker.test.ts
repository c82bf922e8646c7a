/**
 * A real trail on S3: the dev server and a worker process configured with `audit: { store: s3 }`, writing to
 * versitygw (scripts/s3-server.sh) over real HTTP with COMPLIANCE Object Lock; credentials reach the worker and
 * the CLI through the standard AWS chain (their environment), never the config. Two releases are approved with
 * SSH-signed approvals and one is rolled back; the bucket then holds the chain, its checkpoints and one
 * deployment record per outcome, and `shipgate audit verify` reads it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  GetObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3AuditStore, type AuditS3Config, type S3AuditStore } from '../../src/audit/s3-store.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { startStack, type App, type Stack } from '../helpers/fixture.js';
import { startS3Server, useCredentials, type S3Server } from '../helpers/s3-server.js';

describe('a worker writing its trail to S3 (versitygw over real HTTP, dev server, worker process)', () => {
  let server: S3Server;
  let restoreEnv: () => void;
  let stack: Stack;
  let app: App;
  let store: S3AuditStore;
  let raw: S3Client;
  let s3: AuditS3Config;
  let records: AuditRecord[];

  beforeAll(async () => {
    server = await startS3Server();
    // The worker and the CLI inherit this process's environment: that is their AWS credential chain.
    restoreEnv = useCredentials(server);
    raw = server.client();
    s3 = {
      bucket: 'shipgate-audit',
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
    app = await stack.addApp('trail');
    for (const v of ['1.0.0', '1.1.0']) {
      await app.toGate(v);
      await app.approve(v, 'alice', 'bob');
      expect((await app.ended(v)).state).toBe('succeeded');
    }
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.0.0', '--as', 'carol'],
      ...['--reason', 'checkout is slow on 1.1.0', '--wait'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    store = createS3AuditStore(s3);
    // The environment delivers its records after it settles: wait for the rollback's outcome to arrive.
    const deadline = Date.now() + 60_000;
    for (;;) {
      records = await store.read({ app: app.name });
      if (records.some((r) => r.type === 'rollback-succeeded')) break;
      if (Date.now() > deadline) throw new Error('the rollback-succeeded record never reached the bucket');
      await new Promise((r) => setTimeout(r, 250));
    }
    records = await store.read();
  }, 400_000);

  afterAll(async () => {
    store?.close();
    await stack?.stop();
    restoreEnv?.();
    await server?.stop();
  });

  it('every record is an object of its own, chained in sequence and COMPLIANCE-locked', async () => {
    expect(await store.verify()).toEqual({ ok: true, count: records.length });
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    const types = records.filter((r) => r.app === app.name).map((r) => r.type);
    for (const t of [
      'release-started',
      'approval',
      'deploy-succeeded',
      'rollback-requested',
      'rollback-succeeded',
    ])
      expect(types).toContain(t);
    const first = await raw.send(
      new GetObjectRetentionCommand({ Bucket: s3.bucket, Key: 'trail/chain/000000000001.json' }),
    );
    expect(first.Retention?.Mode).toBe('COMPLIANCE');
    const cps = await store.checkpoints();
    expect(cps.at(-1)).toEqual({ seq: records.length, hash: records.at(-1)?.hash });
  });

  it('each production deploy and the rollback have a deployment record naming who approved and why', async () => {
    const deployed = (await store.deployments(app.name, 'production')).sort(
      (a, b) => a.chain.seq - b.chain.seq,
    );
    expect(deployed.map((d) => [d.action, d.version, d.outcome])).toEqual([
      ['deploy', '1.0.0', 'succeeded'],
      ['deploy', '1.1.0', 'succeeded'],
      ['rollback', '1.0.0', 'succeeded'],
    ]);
    expect(deployed[0]).toMatchObject({ actor: 'dave', approvers: ['alice', 'bob'] });
    expect(deployed[1]).toMatchObject({ actor: 'dave', approvers: ['alice', 'bob'], fromVersion: '1.0.0' });
    expect(deployed[2]).toMatchObject({
      actor: 'carol',
      fromVersion: '1.1.0',
      reason: 'checkout is slow on 1.1.0',
    });
    for (const d of deployed) expect(d.chain.hash).toBe(records[d.chain.seq - 1]?.hash);
    const keys = (
      await raw.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `trail/deployments/${app.name}/` }),
      )
    ).Contents?.map((o) => o.Key);
    expect(keys?.filter((k) => k?.startsWith(`trail/deployments/${app.name}/production/`))).toHaveLength(3);
  });

  it('shipgate audit verify reads the S3 trail; a record replaced on top of its locked original fails it', async () => {
    const ok = await stack.run(['audit', 'verify', '--config', stack.configFile]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^audit verify \\(s3\\): ok, ${records.length} records`));

    const k = records.find((r) => r.type === 'approval' && r.actor === 'bob')?.seq as number;
    const key = `trail/chain/${String(k).padStart(12, '0')}.json`;
    const original = await (
      await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))
    ).Body?.transformToString();
    // The lock lets a new version stack on top (same credentials as the worker's); the original stays.
    await raw.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: key,
        Body: original?.replace('"actor":"bob"', '"actor":"mallory"'),
      }),
    );
    const bad = await stack.run(['audit', 'verify', '--config', stack.configFile]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`audit verify (s3): FAILED: edited at seq ${k} (s3://${s3.bucket}/${key})`);
  });
});
