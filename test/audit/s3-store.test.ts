/**
 * The S3 audit store against a real S3-compatible server: versitygw (scripts/s3-server.sh) over real HTTP on
 * loopback, which checks SigV4 credentials and enforces Object Lock retention and `If-None-Match: *` itself.
 * The store takes its credentials from the standard AWS chain (this process's environment), as a worker would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3AuditStore, type AuditS3Config, type S3AuditStore } from '../../src/audit/s3-store.js';
import { hashRecord } from '../../src/audit/chain.js';
import type { AuditInput, AuditRecord } from '../../src/audit/types.js';
import { startS3Server, useCredentials, type S3Server } from '../helpers/s3-server.js';

let server: S3Server;
let raw: S3Client;
let restoreEnv: () => void;
const stores: S3AuditStore[] = [];
let n = 0;

beforeAll(async () => {
  server = await startS3Server();
  restoreEnv = useCredentials(server);
  raw = server.client();
}, 600_000);

afterAll(async () => {
  for (const s of stores) s.close();
  restoreEnv?.();
  await server?.stop();
});

/** A fresh bucket and a store on it; `lock` sets the store's objectLock (and the bucket's Object Lock). */
async function freshStore(
  opts: { lock?: 'COMPLIANCE' | 'GOVERNANCE'; bucketLock?: boolean; prefix?: string } = {},
): Promise<{ store: S3AuditStore; config: AuditS3Config; bucket: string; open: () => S3AuditStore }> {
  const bucket = `audit-${++n}-${Date.now()}`;
  await server.createBucket(bucket, { objectLock: opts.bucketLock ?? !!opts.lock });
  const config: AuditS3Config = {
    bucket,
    prefix: opts.prefix ?? 'shipgate/',
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    ...(opts.lock ? { objectLock: { mode: opts.lock, days: 1 } } : {}),
  };
  const open = () => {
    const s = createS3AuditStore(config);
    stores.push(s);
    return s;
  };
  return { store: open(), config, bucket, open };
}

let ids = 0;
const rec = (over: Partial<AuditInput> = {}): AuditInput => ({
  id: `r-${++ids}`,
  at: new Date(Date.UTC(2026, 11, 2, 10, 0, ids % 60, ids % 1000)).toISOString(),
  type: 'approval',
  app: 'hello',
  env: 'production',
  version: '1.1.0',
  actor: 'alice',
  ...over,
});

const listKeys = async (bucket: string, prefix: string) =>
  ((await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
    (o) => o.Key as string,
  );
const getText = async (bucket: string, key: string, versionId?: string) =>
  (await (
    await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))
  ).Body?.transformToString()) ?? '';

describe('S3 audit store on versitygw (real HTTP)', () => {
  it('writes one object per record, keyed by sequence number, each chained to the one before', async () => {
    const { store, bucket } = await freshStore();
    const first = await store.append([rec(), rec()]);
    const second = await store.append([rec({ type: 'deploy-started' })]);
    expect(first.written).toBe(2);
    expect(second).toMatchObject({ written: 1, head: { seq: 3 } });
    expect(await listKeys(bucket, 'shipgate/chain/')).toEqual([
      'shipgate/chain/000000000001.json',
      'shipgate/chain/000000000002.json',
      'shipgate/chain/000000000003.json',
    ]);
    const records = await Promise.all(
      [1, 2, 3].map(
        async (i) => JSON.parse(await getText(bucket, `shipgate/chain/00000000000${i}.json`)) as AuditRecord,
      ),
    );
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[1]?.prevHash).toBe(records[0]?.hash);
    expect(records[2]?.prevHash).toBe(records[1]?.hash);
    for (const r of records) {
      const { hash, ...rest } = r;
      expect(hashRecord(rest)).toBe(hash);
    }
    expect(second.head.hash).toBe(records[2]?.hash);
    expect(await store.verify()).toEqual({ ok: true, count: 3 });
    expect((await store.read({ limit: 2 })).map((r) => r.seq)).toEqual([2, 3]);
  });

  it('locks every record, checkpoint and deployment record it writes until now + objectLock.days', async () => {
    const { store, bucket } = await freshStore({ lock: 'COMPLIANCE' });
    const before = Date.now();
    await store.append([rec(), rec({ type: 'deploy-succeeded', approvers: ['alice', 'bob'] })]);
    const keys = [
      ...(await listKeys(bucket, 'shipgate/chain/')),
      ...(await listKeys(bucket, 'shipgate/checkpoints/')),
      ...(await listKeys(bucket, 'shipgate/deployments/')),
    ];
    expect(keys).toHaveLength(4);
    for (const key of keys) {
      const { Retention } = await raw.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
      expect(Retention?.Mode, key).toBe('COMPLIANCE');
      const until = Retention?.RetainUntilDate?.getTime() ?? 0;
      expect(until, key).toBeGreaterThan(before + 86_400_000 - 60_000);
      expect(until, key).toBeLessThan(Date.now() + 86_400_000 + 60_000);
    }
  });

  it('a COMPLIANCE-locked record cannot be deleted or replaced with the store’s own credentials', async () => {
    const { store, bucket, open } = await freshStore({ lock: 'COMPLIANCE' });
    await store.append([rec(), rec(), rec()]);
    const key = 'shipgate/chain/000000000002.json';
    const original = await getText(bucket, key);
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    const versionId = versions.Versions?.[0]?.VersionId;
    expect(versionId).toBeTruthy();

    // `raw` signs with the very credentials the store uses.
    await expect(
      raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(
      raw.send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: key,
          VersionId: versionId,
          BypassGovernanceRetention: true,
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    // Nor can the retention be shortened, to delete it later.
    await expect(
      raw.send(
        new PutObjectRetentionCommand({
          Bucket: bucket,
          Key: key,
          VersionId: versionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 1000) },
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    // A conditional write, as the store makes, is refused outright.
    await expect(
      raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{}', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });

    // An unconditional overwrite and a plain delete only stack a new version and a delete marker on top.
    const forged = { ...(JSON.parse(original) as AuditRecord), actor: 'mallory' };
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(forged) }));
    await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'shipgate/chain/000000000003.json' }));
    expect(await getText(bucket, key, versionId)).toBe(original);

    // The bucket as anyone now reads it shows the tampering; the locked originals are still there to compare.
    expect(await store.verify()).toMatchObject({ ok: false, brokenAt: 2 });
    // A writer that opens now chains after the records as first written, not after the forgery or the marker.
    const next = await open().append([rec()]);
    expect(next.head.seq).toBe(4);
    const fourth = JSON.parse(await getText(bucket, 'shipgate/chain/000000000004.json')) as AuditRecord;
    const third = await raw.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'shipgate/chain/000000000003.json' }),
    );
    const thirdOriginal = JSON.parse(
      await getText(bucket, 'shipgate/chain/000000000003.json', third.Versions?.[0]?.VersionId),
    ) as AuditRecord;
    expect(fourth.prevHash).toBe(thirdOriginal.hash);
  });

  it('a GOVERNANCE-locked record refuses a delete of its version that does not claim the bypass', async () => {
    const { store, bucket } = await freshStore({ lock: 'GOVERNANCE' });
    await store.append([rec()]);
    const key = 'shipgate/chain/000000000001.json';
    const { Retention } = await raw.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }));
    expect(Retention?.Mode).toBe('GOVERNANCE');
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    await expect(
      raw.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versions.Versions?.[0]?.VersionId }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('three stores appending at once never fork the chain: every record once, one sequence number each', async () => {
    const { config, bucket } = await freshStore({ lock: 'COMPLIANCE' });
    const writers = [0, 1, 2].map(() => {
      const s = createS3AuditStore(config);
      stores.push(s);
      return s;
    });
    const sent: string[] = [];
    await Promise.all(
      writers.map(async (w, wi) => {
        for (let batch = 0; batch < 12; batch++) {
          const inputs = Array.from({ length: 1 + (batch % 3) }, () => rec({ actor: `writer-${wi}` }));
          sent.push(...inputs.map((i) => i.id));
          await w.append(inputs);
        }
      }),
    );
    const reader = createS3AuditStore(config);
    stores.push(reader);
    const records = await reader.read();
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(records.map((r) => r.id).sort()).toEqual([...sent].sort());
    expect(await reader.verify()).toEqual({ ok: true, count: sent.length });
    // Each writer's checkpoints name heads of the one chain.
    const byHash = new Map(records.map((r) => [r.seq, r.hash]));
    const cps = await reader.checkpoints();
    expect(cps.length).toBeGreaterThanOrEqual(12);
    for (const cp of cps) expect(byHash.get(cp.seq)).toBe(cp.hash);
    expect(await listKeys(bucket, 'shipgate/chain/')).toHaveLength(sent.length);
  });

  it('a retried append is written once: by the same store, by a restarted one, and by two at once', async () => {
    const { store, config, open } = await freshStore();
    const batch = [rec(), rec(), rec({ type: 'deploy-succeeded', approvers: ['alice', 'bob'] })];
    const first = await store.append(batch);
    expect(first).toMatchObject({ written: 3, head: { seq: 3 } });
    expect(await store.append(batch)).toEqual({ written: 0, head: first.head });
    // A worker restarted after the write but before the activity completed retries from a fresh store.
    expect(await open().append(batch)).toEqual({ written: 0, head: first.head });
    // Two workers retrying one batch, plus one new record, at the same time.
    const more = [...batch, rec()];
    const [a, b] = await Promise.all([open().append(more), open().append(more)]);
    expect(a.written + b.written).toBe(1);
    const reader = createS3AuditStore(config);
    stores.push(reader);
    const records = await reader.read();
    expect(records.map((r) => r.id)).toEqual(more.map((r) => r.id));
    expect(await reader.verify()).toEqual({ ok: true, count: 4 });
    expect(await reader.deployments('hello', 'production')).toHaveLength(1);
  });

  it('writes a deployment record per deploy and rollback outcome, with approvers, proofs and its place in the chain', async () => {
    const { store, bucket } = await freshStore({ lock: 'COMPLIANCE' });
    const proof = {
      login: 'carol',
      via: 'ssh' as const,
      digest: 'c'.repeat(64),
      at: '2026-12-02T09:59:00.000Z',
    };
    await store.append([
      rec({ type: 'deploy-started', version: '1.1.0', approvers: ['alice', 'bob'] }),
      rec({
        type: 'deploy-succeeded',
        version: '1.1.0',
        actor: 'carol',
        approvers: ['alice', 'bob'],
        fromVersion: '1.0.0',
        outcome: 'succeeded',
        releaseId: 'release-hello-1.1.0',
      }),
      rec({ type: 'deploy-failed', version: '1.2.0', reason: 'never ready', outcome: 'failed' }),
      rec({
        type: 'rollback-succeeded',
        version: '1.1.0',
        actor: 'carol',
        fromVersion: '1.2.0',
        reason: 'error rate',
        outcome: 'succeeded',
        proof,
      }),
    ]);
    const keys = await listKeys(bucket, 'shipgate/deployments/hello/production/');
    expect(keys).toHaveLength(3);
    for (const key of keys)
      expect(key).toMatch(
        /^shipgate\/deployments\/hello\/production\/\d{8}T\d{6}\.\d{3}Z-1\.[12]\.0-\d{12}\.json$/,
      );
    const chain = await store.read();
    const deployed = (await store.deployments('hello', 'production')).sort(
      (x, y) => x.chain.seq - y.chain.seq,
    );
    expect(deployed.map((d) => [d.action, d.version, d.outcome])).toEqual([
      ['deploy', '1.1.0', 'succeeded'],
      ['deploy', '1.2.0', 'failed'],
      ['rollback', '1.1.0', 'succeeded'],
    ]);
    expect(deployed[0]).toMatchObject({
      app: 'hello',
      env: 'production',
      actor: 'carol',
      approvers: ['alice', 'bob'],
      fromVersion: '1.0.0',
      releaseId: 'release-hello-1.1.0',
      chain: { seq: 2, hash: chain[1]?.hash },
    });
    expect(deployed[2]).toMatchObject({
      reason: 'error rate',
      fromVersion: '1.2.0',
      proofs: [{ login: 'carol', via: 'ssh', digest: 'c'.repeat(64) }],
    });
    for (const d of deployed) expect(d.chain.hash).toBe(chain[d.chain.seq - 1]?.hash);
  });

  it('takes approvers from approval proofs when the record names none, so they are never empty', async () => {
    const { store } = await freshStore();
    const approval = (login: string) => ({
      login,
      via: 'slack' as const,
      digest: login.repeat(64).slice(0, 64),
      at: '2026-12-02T09:00:00.000Z',
    });
    await store.append([
      {
        ...rec({ type: 'deploy-succeeded', approvers: [] }),
        proofs: [approval('alice'), approval('bob')],
      } as AuditInput,
    ]);
    const [d] = await store.deployments('hello', 'production');
    expect(d?.approvers).toEqual(['alice', 'bob']);
    expect(d?.proofs.map((p) => p.login)).toEqual(['alice', 'bob']);
  });

  it('records a locked checkpoint of the head after each append; checkpoints() lists them by sequence number', async () => {
    const { store, bucket } = await freshStore({ lock: 'COMPLIANCE' });
    const heads = [];
    for (const size of [2, 1, 3])
      heads.push((await store.append(Array.from({ length: size }, () => rec()))).head);
    expect(await store.checkpoints()).toEqual(heads);
    const keys = await listKeys(bucket, 'shipgate/checkpoints/');
    expect(keys).toHaveLength(3);
    const body = JSON.parse(await getText(bucket, keys[2] as string)) as {
      seq: number;
      hash: string;
      at: string;
    };
    expect(body).toMatchObject(heads[2] as object);
    expect(Date.parse(body.at)).not.toBeNaN();
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: keys[0] }));
    await expect(
      raw.send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: keys[0],
          VersionId: versions.Versions?.[0]?.VersionId,
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  describe('on a bucket without Object Lock, verify() catches what a careless operator does', () => {
    const chainOf = async (count: number) => {
      const f = await freshStore({ bucketLock: false });
      for (let i = 0; i < count; i++) await f.store.append([rec()]);
      return f;
    };
    const key = (seq: number) => `shipgate/chain/${String(seq).padStart(12, '0')}.json`;
    const put = (bucket: string, seq: number, body: unknown) =>
      raw.send(new PutObjectCommand({ Bucket: bucket, Key: key(seq), Body: JSON.stringify(body) }));
    const read = async (bucket: string, seq: number) =>
      JSON.parse(await getText(bucket, key(seq))) as AuditRecord;

    it('an edited record', async () => {
      const { store, bucket } = await chainOf(5);
      await put(bucket, 3, { ...(await read(bucket, 3)), actor: 'mallory' });
      expect(await store.verify()).toEqual({ ok: false, count: 5, brokenAt: 3 });
    });

    it('a deleted record', async () => {
      const { store, bucket } = await chainOf(5);
      await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(2) }));
      expect(await store.verify()).toMatchObject({ ok: false, brokenAt: 2 });
    });

    it('an inserted record', async () => {
      const { store, bucket } = await chainOf(3);
      await raw.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'shipgate/chain/000000000002a.json',
          Body: '{"id":"x"}',
        }),
      );
      expect(await store.verify()).toMatchObject({ ok: false, brokenAt: 3 });
    });

    it('a truncated tail: the checkpoints still name the lost head', async () => {
      const { store, bucket } = await chainOf(5);
      for (const seq of [4, 5]) await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(seq) }));
      expect(await store.verify()).toEqual({ ok: false, count: 3, brokenAt: 4 });
    });

    it('an edit with every later hash recomputed: the chain holds, the checkpoints do not', async () => {
      const { store, bucket } = await chainOf(4);
      let prev = (await read(bucket, 1)).hash;
      for (let seq = 2; seq <= 4; seq++) {
        const { hash: _old, ...rest } = await read(bucket, seq);
        const body = { ...rest, prevHash: prev, ...(seq === 2 ? { actor: 'mallory' } : {}) };
        const hash = hashRecord(body);
        await put(bucket, seq, { ...body, hash });
        prev = hash;
      }
      expect(await store.verify()).toMatchObject({ ok: false, count: 4, brokenAt: 2 });
    });

    it('the whole chain emptied', async () => {
      const { store, bucket } = await chainOf(3);
      for (const seq of [1, 2, 3]) await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(seq) }));
      expect(await store.verify()).toEqual({ ok: false, count: 0, brokenAt: 1 });
    });
  });

  it('keeps records at the bucket root when the prefix is empty', async () => {
    const { store, bucket } = await freshStore({ prefix: '' });
    await store.append([rec()]);
    expect(await listKeys(bucket, '')).toEqual([
      'chain/000000000001.json',
      expect.stringMatching(/^checkpoints\/000000000001-[0-9a-f]{64}\.json$/),
    ]);
  });
});
