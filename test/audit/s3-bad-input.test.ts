/**
 * What an operator gets wrong with the S3 audit store, against a real S3-compatible server: versitygw
 * (scripts/s3-server.sh) over real HTTP on loopback, which checks SigV4 signatures and Object Lock itself. Each
 * mistake is refused when the worker opens the store, with a message naming the config field and no secret.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditStore } from '../../src/audit/registry.js';
import { createS3AuditStore, type AuditS3Config, type S3AuditStore } from '../../src/audit/s3-store.js';
import { S3AuditError } from '../../src/audit/s3/errors.js';
import type { ShipgateConfig } from '../../src/config/schema.js';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import type { AuditInput } from '../../src/audit/types.js';
import { ROOT } from '../helpers/processes.js';
import { startS3Server, useCredentials, type S3Server } from '../helpers/s3-server.js';

let server: S3Server;
let restoreEnv: () => void;
const opened: S3AuditStore[] = [];
let n = 0;

beforeAll(async () => {
  server = await startS3Server();
  restoreEnv = useCredentials(server);
}, 600_000);

afterAll(async () => {
  for (const s of opened) s.close();
  restoreEnv?.();
  await server?.stop();
});

/** A whole shipgate config whose audit block is `audit`, validated as the worker loads it. */
function configWith(audit: unknown): ShipgateConfig {
  return validateConfig(
    {
      apps: {
        hello: {
          build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
          environments: { staging: { branches: ['main'], target: { kind: 'local', port: 18081 } } },
        },
      },
      audit,
    },
    '/etc/shipgate/shipgate.yaml',
  ).config;
}

const s3Block = (over: Partial<AuditS3Config> = {}) => ({
  bucket: `bad-${++n}-${Date.now()}`,
  prefix: 'shipgate/',
  region: server.region,
  endpoint: server.endpoint,
  forcePathStyle: true,
  ...over,
});

/** openAuditStore's refusal, for a config whose audit block is `s3`. */
async function refusal(s3: ReturnType<typeof s3Block>): Promise<S3AuditError> {
  const err: unknown = await openAuditStore(configWith({ store: 's3', s3 }), '/nonexistent').then(
    (s) => {
      opened.push(s as S3AuditStore);
      return new Error('the store opened');
    },
    (e: unknown) => e,
  );
  if (!(err instanceof S3AuditError)) throw err;
  return err;
}

const record = (i: number): AuditInput => ({
  id: `bad-${i}`,
  at: '2026-12-02T10:00:00.000Z',
  type: 'approval',
  app: 'hello',
  env: 'staging',
  actor: 'alice',
});

/** Runs `fn` with the AWS chain's environment set to `creds`, then puts the server's back. */
async function withCredentials<T>(
  creds: { accessKeyId?: string; secretAccessKey?: string } | null,
  fn: () => Promise<T>,
): Promise<T> {
  const restore = useCredentials(creds);
  try {
    return await fn();
  } finally {
    restore();
    restoreEnv = useCredentials(server);
  }
}

describe('S3 audit store: bad input refused at worker start, on versitygw (real HTTP)', () => {
  it('opens a good bucket, and the jsonl default needs no check', async () => {
    const s3 = s3Block({ objectLock: { mode: 'COMPLIANCE', days: 1 } });
    await server.createBucket(s3.bucket, { objectLock: true });
    const store = await openAuditStore(configWith({ store: 's3', s3 }), '/nonexistent');
    opened.push(store as S3AuditStore);
    expect(store.kind).toBe('s3');
    expect((await openAuditStore(configWith(undefined), '/tmp/shipgate-unused')).kind).toBe('jsonl');
  });

  it('a bucket that does not exist names audit.s3.bucket', async () => {
    const s3 = s3Block();
    const err = await refusal(s3);
    expect(err.field).toBe('audit.s3.bucket');
    expect(err.message).toBe(
      `audit.s3.bucket: bucket "${s3.bucket}" does not exist on ${server.endpoint} (create it, or correct audit.s3.bucket)`,
    );
  });

  it('objectLock on a bucket without versioning or Object Lock names audit.s3.objectLock', async () => {
    const s3 = s3Block({ objectLock: { mode: 'COMPLIANCE', days: 30 } });
    await server.createBucket(s3.bucket);
    const err = await refusal(s3);
    expect(err.field).toBe('audit.s3.objectLock');
    expect(err.message).toMatch(
      new RegExp(
        `^audit\\.s3\\.objectLock: bucket "${s3.bucket}" has versioning off and no Object Lock; create the bucket with Object Lock enabled`,
      ),
    );
  });

  it('objectLock on a versioned bucket without Object Lock names audit.s3.objectLock', async () => {
    const s3 = s3Block({ objectLock: { mode: 'GOVERNANCE', days: 7 } });
    await server.createBucket(s3.bucket, { versioning: true });
    const err = await refusal(s3);
    expect(err.field).toBe('audit.s3.objectLock');
    expect(err.message).toContain(`bucket "${s3.bucket}" does not have Object Lock enabled`);
    expect(err.message).toContain('records could be deleted or overwritten');
  });

  it('a wrong secret key is refused by the server; the message names the chain, never a secret', async () => {
    const s3 = s3Block();
    await server.createBucket(s3.bucket);
    const wrong = 'wrongSecretKey0123456789wrongSecretKey01';
    const err = await withCredentials({ accessKeyId: server.accessKeyId, secretAccessKey: wrong }, () =>
      refusal(s3),
    );
    expect(err.field).toBe('audit.s3');
    expect(err.message).toContain(`${server.endpoint} refused the request signature`);
    expect(err.message).toContain('standard AWS chain');
    expect(err.message).toContain(`access key ${server.accessKeyId.slice(0, 4)}…`);
    for (const secret of [wrong, server.secretAccessKey, server.accessKeyId])
      expect(err.message).not.toContain(secret);
    // An append with those credentials fails the same way and writes nothing.
    const appendErr: unknown = await withCredentials(
      { accessKeyId: server.accessKeyId, secretAccessKey: wrong },
      async () => {
        const store = createS3AuditStore(s3);
        opened.push(store);
        return store.append([record(1)]).catch((e: unknown) => e);
      },
    );
    expect((appendErr as Error).message).toContain('refused the request signature');
    const good = createS3AuditStore(s3);
    opened.push(good);
    expect(await good.verify()).toEqual({ ok: true, count: 0 });
  });

  it('an access key the server does not know is refused, naming the chain', async () => {
    const s3 = s3Block();
    await server.createBucket(s3.bucket);
    const err = await withCredentials(
      { accessKeyId: 'AKIANOTAKEY0000', secretAccessKey: 'x'.repeat(40) },
      () => refusal(s3),
    );
    expect(err.message).toMatch(
      /^audit\.s3: http:\/\/127\.0\.0\.1:\d+ does not know the access key from the AWS credential chain \(access key AKIA…\)/,
    );
    expect(err.message).not.toContain('x'.repeat(40));
  });

  it('no credentials anywhere in the chain says so', async () => {
    const s3 = s3Block();
    const err = await withCredentials(null, () => refusal(s3));
    expect(err.field).toBe('audit.s3');
    expect(err.message).toMatch(/^audit\.s3: no AWS credentials were found for list s3:\/\//);
  });

  it('an endpoint that is down names audit.s3.endpoint; once it is back, a retried append writes every record once, in order', async () => {
    const s3 = s3Block();
    await server.createBucket(s3.bucket);
    const store = createS3AuditStore(s3);
    opened.push(store);
    await store.append([record(1), record(2)]);
    await server.down();
    try {
      const err = await refusal(s3);
      expect(err.field).toBe('audit.s3.endpoint');
      expect(err.message).toMatch(
        new RegExp(
          `^audit\\.s3\\.endpoint: cannot reach ${server.endpoint.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`,
        ),
      );
      const batch = [record(2), record(3), record(4)];
      await expect(store.append(batch)).rejects.toThrow(/audit\.s3\.endpoint: cannot reach/);
      await server.up();
      expect(await store.append(batch)).toMatchObject({ written: 2, head: { seq: 4 } });
    } finally {
      await server.up().catch(() => undefined);
    }
    const records = await store.read();
    expect(records.map((r) => r.id)).toEqual(['bad-1', 'bad-2', 'bad-3', 'bad-4']);
    expect(await store.verify()).toEqual({ ok: true, count: 4 });
  });

  it('an S3-compatible endpoint by host name without forcePathStyle suggests it', async () => {
    const s3 = s3Block({
      forcePathStyle: false,
      endpoint: server.endpoint.replace('127.0.0.1', 'localhost'),
    });
    await server.createBucket(s3.bucket);
    const err = await refusal(s3);
    expect(err.field).toBe('audit.s3.endpoint');
    expect(err.message).toContain('audit.s3.forcePathStyle: true');
  });
});

describe('audit config block', () => {
  const problems = (audit: unknown): string[] => {
    try {
      configWith(audit);
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('accepts the s3 store and normalises the prefix to end in /', () => {
    const config = configWith({
      store: 's3',
      s3: {
        bucket: 'acme-audit',
        prefix: 'shipgate',
        region: 'eu-west-1',
        objectLock: { mode: 'COMPLIANCE', days: 365 },
      },
    });
    expect(config.audit).toEqual({
      store: 's3',
      s3: {
        bucket: 'acme-audit',
        prefix: 'shipgate/',
        region: 'eu-west-1',
        objectLock: { mode: 'COMPLIANCE', days: 365 },
      },
    });
    expect(configWith(undefined).audit).toEqual({ store: 'jsonl' });
  });

  it('refuses store: s3 without its block, and each bad field by name', () => {
    expect(problems({ store: 's3' })).toEqual([
      'audit.s3: store: s3 needs an s3 block: { bucket, prefix, region }',
    ]);
    expect(problems({ store: 'dynamo' })).toEqual(['audit.store: expected jsonl or s3']);
    const base = { bucket: 'acme-audit', prefix: '', region: 'eu-west-1' };
    expect(problems({ store: 's3', s3: { ...base, bucket: 'Acme_Audit' } })).toEqual([
      'audit.s3.bucket: expected an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens',
    ]);
    expect(problems({ store: 's3', s3: { ...base, endpoint: 'http://10.0.0.5:9000' } })).toEqual([
      'audit.s3.endpoint: expected https: (plain http is allowed only on loopback), got http://10.0.0.5:9000',
    ]);
    expect(problems({ store: 's3', s3: { ...base, objectLock: { mode: 'STRICT', days: 0 } } })).toEqual([
      'audit.s3.objectLock.mode: expected COMPLIANCE or GOVERNANCE',
      'audit.s3.objectLock.days: expected a positive integer',
    ]);
    expect(problems({ store: 's3', s3: { bucket: 'acme-audit', prefix: '' } })).toEqual([
      'audit.s3.region: expected an AWS region such as eu-west-1',
    ]);
  });

  it('refuses credentials in the config: they come from the AWS chain only', () => {
    const got = problems({
      store: 's3',
      s3: { bucket: 'acme-audit', prefix: '', region: 'eu-west-1', secretAccessKey: 'hunter2hunter2' },
    });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(
      /^audit\.s3\.secretAccessKey: credentials do not belong in the config: shipgate reads them from the standard AWS chain/,
    );
    expect(got[0]).not.toContain('hunter2');
  });
});
