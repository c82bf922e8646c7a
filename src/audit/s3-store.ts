/**
 * The audit chain on S3 (or any S3-compatible server): one object per record, keyed by its sequence number, so
 * the bucket's key order is the chain's order.
 *
 * - Every record is written with `If-None-Match: *`: two writers can never both write one sequence number. The
 *   loser reloads the chain's tail and chains after it; a record whose id is already there is not written twice.
 * - With `objectLock` configured every object gets its own retention (mode, now + days), so neither the store's
 *   writer nor anyone holding its credentials can delete or replace it (COMPLIANCE) until then.
 * - After each append a checkpoint object records the head (seq, hash), locked likewise: truncating the chain and
 *   re-chaining it no longer matches the checkpoints.
 * - Deploy and rollback outcomes also get a deployment record per app and environment, as the seed's jobs wrote.
 *
 * Credentials come from the standard AWS chain only; the config names where, never who.
 */
import http from 'node:http';
import https from 'node:https';
import {
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  type ObjectLockMode,
} from '@aws-sdk/client-s3';
import { EMPTY_CHAIN, extend, unseen, verify as verifyChain } from './chain.js';
import type { ShipgateConfig } from '../config/schema.js';
import type { AuditType } from '../protocol/audit-types.js';
import type { AuditInput, AuditRecord, AuditStore, ChainHead, StoredEntry } from './types.js';
import { describeS3Error, isConditionFailed, isNotFound, S3AuditError, type S3Where } from './s3/errors.js';
import {
  chainKey,
  checkpointKey,
  deploymentKey,
  headOfCheckpointKey,
  layout,
  MAX_SEQ,
  pad,
  seqOfChainKey,
} from './s3/keys.js';
import { createFastGetter } from './s3/fast-get.js';
import { mapLimit } from './s3/pool.js';

export type AuditS3Config = NonNullable<ShipgateConfig['audit']['s3']>;

/** Outcomes that also get a deployment record: what the seed's deploy and rollback jobs wrote. */
export const DEPLOYMENT_TYPES = [
  'deploy-succeeded',
  'deploy-failed',
  'rollback-succeeded',
  'rollback-failed',
] as const satisfies readonly AuditType[];
const isDeploymentType = (t: AuditType): boolean => (DEPLOYMENT_TYPES as readonly AuditType[]).includes(t);

/** A deployment record as stored under `deployments/<app>/<env>/`. */
export interface DeploymentRecord {
  app: string;
  env: string | null;
  action: 'deploy' | 'rollback';
  type: AuditType;
  version: string | null;
  commit: string | null;
  actor: string;
  approvers: string[];
  outcome: string | null;
  fromVersion: string | null;
  reason: string | null;
  releaseId: string | null;
  /** sha256 digests of the proofs the record carries (who started, who approved), re-checkable in the chain. */
  proofs: { login: string; via: string; digest: string }[];
  at: string;
  /** Where the full record sits in the hash chain. */
  chain: { seq: number; hash: string };
}

export interface S3AuditStoreOptions {
  /** How many of the chain's last records are read when the store opens, to skip retried appends (default 1000). */
  dedupeWindow?: number;
  /** GETs in flight while reading the chain (default 48). */
  concurrency?: number;
  /** The clock retention dates and checkpoint times are taken from. */
  now?: () => Date;
}

export interface S3AuditStore extends AuditStore {
  readonly kind: 's3';
  /**
   * Checks, before anything is written, that the bucket is there and readable with the chain's credentials and,
   * when `objectLock` is configured, that it has versioning and Object Lock. Throws an S3AuditError naming the
   * config field at fault.
   */
  check(): Promise<void>;
  /** The deployment records of one app and environment, oldest first. */
  deployments(app: string, env: string): Promise<DeploymentRecord[]>;
  /** Closes the client's connections. */
  close(): void;
}

interface Known {
  seq: number;
  hash: string;
  record: AuditRecord;
}

/** The record an object holds, when it is one: the writer refuses to chain after anything else. */
function asRecord(body: unknown): AuditRecord | null {
  if (!body || typeof body !== 'object') return null;
  const r = body as Partial<AuditRecord>;
  return typeof r.id === 'string' && typeof r.seq === 'number' && typeof r.hash === 'string'
    ? (body as AuditRecord)
    : null;
}

/** Proof digests a record carries: its own proof and any list of proofs it was given (approvals). */
function proofsOf(r: AuditRecord): { login: string; via: string; digest: string }[] {
  const extra = r.proofs;
  return [...(r.proof ? [r.proof] : []), ...(Array.isArray(extra) ? extra : [])].map((p) => ({
    login: p.login,
    via: p.via,
    digest: p.digest,
  }));
}

export function deploymentRecordOf(r: AuditRecord): DeploymentRecord {
  const proofs = proofsOf(r);
  const extra = r;
  // Approvers from the record, else from the approval proofs it carries: never empty when there were approvals.
  const approvers = r.approvers?.length
    ? [...r.approvers]
    : [...new Set((Array.isArray(extra.proofs) ? extra.proofs : []).map((p) => p.login))];
  return {
    app: r.app,
    env: r.env,
    action: r.type.startsWith('rollback') ? 'rollback' : 'deploy',
    type: r.type,
    version: r.version ?? null,
    commit: typeof extra.commit === 'string' ? extra.commit : null,
    actor: r.actor,
    approvers,
    outcome: r.outcome ?? null,
    fromVersion: r.fromVersion ?? null,
    reason: r.reason ?? null,
    releaseId: r.releaseId ?? null,
    proofs,
    at: r.at,
    chain: { seq: r.seq, hash: r.hash },
  };
}

export function createS3AuditStore(config: AuditS3Config, opts: S3AuditStoreOptions = {}): S3AuditStore {
  const window = opts.dedupeWindow ?? 1000;
  const concurrency = opts.concurrency ?? 48;
  const now = opts.now ?? (() => new Date());
  const { bucket } = config;
  const keys = layout(config.prefix);
  const where: S3Where = {
    bucket,
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
  };
  const agent = { keepAlive: true, maxSockets: Math.max(concurrency, 8) };
  const client = new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? false,
    maxAttempts: 3,
    // The chain's own hashes check what is read; the SDK's response checksums would only cost time.
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new http.Agent(agent),
      httpsAgent: new https.Agent(agent),
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
    },
  });

  let accessKeyId: string | undefined;
  /** Every S3 call goes through here, so every failure names its config field and no secret. */
  const call = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (accessKeyId === undefined)
        accessKeyId = await client.config
          .credentials()
          .then((c) => c.accessKeyId)
          .catch(() => undefined);
      throw describeS3Error(err, action, where, accessKeyId);
    }
  };
  const url = (key: string) => `s3://${bucket}/${key}`;

  const lock = (): { ObjectLockMode?: ObjectLockMode; ObjectLockRetainUntilDate?: Date } =>
    config.objectLock
      ? {
          ObjectLockMode: config.objectLock.mode,
          ObjectLockRetainUntilDate: new Date(now().getTime() + config.objectLock.days * 86_400_000),
        }
      : {};

  /** Writes `body` at `key` only if no object is there yet; false when one is (412 or a concurrent 409). */
  const putNew = (key: string, body: unknown): Promise<boolean> =>
    call(`write ${url(key)}`, async () => {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: JSON.stringify(body),
            ContentType: 'application/json',
            IfNoneMatch: '*',
            ...lock(),
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailed(err)) return false;
        throw err;
      }
    });

  // A server named in the config is usually near: there the SDK's own per-request work is what limits reads.
  const fast = config.endpoint
    ? createFastGetter(client, {
        endpoint: config.endpoint,
        bucket,
        region: config.region,
        forcePathStyle: config.forcePathStyle ?? false,
        sockets: agent.maxSockets,
      })
    : undefined;
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return null;
    }
  };

  /** The parsed JSON at `key` (a given version, or the current one); null when it is gone or not JSON. */
  const getJson = async (key: string, versionId?: string): Promise<unknown> => {
    const text = await fast?.get(key, versionId);
    return text !== undefined ? parse(text) : sdkGetJson(key, versionId);
  };
  const sdkGetJson = (key: string, versionId?: string): Promise<unknown> =>
    call(`read ${url(key)}`, async () => {
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            ...(versionId && versionId !== 'null' ? { VersionId: versionId } : {}),
          }),
        );
        return parse((await res.Body?.transformToString('utf8')) ?? '');
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });

  /** Every key under `prefix` (current objects), in key order. */
  const listKeys = async (prefix: string, startAfter?: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await call(`list ${url(prefix)}`, () =>
        client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
          }),
        ),
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  };

  /**
   * The first version ever written of each chain key after `afterSeq`, delete-marked or overwritten ones
   * included: the writer chains after what was written first, and never reuses a sequence number.
   */
  const firstVersionsAfter = async (
    afterSeq: number,
  ): Promise<{ seq: number; key: string; versionId?: string }[]> => {
    const first = new Map<string, string | undefined>();
    const marked = new Set<string>();
    const after = afterSeq > 0 ? chainKey(keys, afterSeq) : '';
    let keyMarker = after || undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const page = await call(`list versions ${url(keys.chain)}`, () =>
        client.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            Prefix: keys.chain,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
          }),
        ),
      );
      // Versions of one key come newest first: the last one seen is the first written.
      for (const v of page.Versions ?? []) if (v.Key && v.Key > after) first.set(v.Key, v.VersionId);
      for (const m of page.DeleteMarkers ?? []) if (m.Key && m.Key > after) marked.add(m.Key);
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
      if (!keyMarker) break;
    }
    const out: { seq: number; key: string; versionId?: string }[] = [];
    for (const key of new Set([...first.keys(), ...marked])) {
      const seq = seqOfChainKey(keys, key);
      if (seq !== null) out.push({ seq, key, versionId: first.get(key) });
    }
    return out.sort((a, b) => a.seq - b.seq);
  };

  /** Is there a record after `seq` (current objects)? One small listing: the search for the head uses it. */
  const anyAfter = async (seq: number): Promise<boolean> => {
    const page = await call(`list ${url(keys.chain)}`, () =>
      client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: keys.chain,
          StartAfter: chainKey(keys, seq),
          MaxKeys: 20,
        }),
      ),
    );
    return (page.Contents ?? []).some((o) => o.Key && seqOfChainKey(keys, o.Key) !== null);
  };

  /** The highest sequence number among current objects, in O(log n) listings instead of listing the chain. */
  const lastSeq = async (): Promise<number> => {
    if (!(await anyAfter(0))) return 0;
    let lo = 1; // a record exists after lo - 1
    let hi = 1024;
    while (hi < MAX_SEQ && (await anyAfter(hi))) {
      lo = hi + 1;
      hi = Math.min(hi * 8, MAX_SEQ);
    }
    // The last seq is in [lo, hi]: the smallest s with nothing after it.
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await anyAfter(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  let state: { head: ChainHead; known: Map<string, Known>; checkpointed: number } | undefined;

  const remember = (s: NonNullable<typeof state>, r: AuditRecord) => {
    s.known.delete(r.id);
    s.known.set(r.id, { seq: r.seq, hash: r.hash, record: r });
    // Bounded: the ids of the last records, well past any retry of a recent append.
    const cap = Math.max(window * 5, 5000);
    while (s.known.size > cap) s.known.delete(s.known.keys().next().value as string);
  };

  const readTail = async (from: number) => {
    const tail = await firstVersionsAfter(from);
    return mapLimit(tail, concurrency, async (t) => ({
      ...t,
      record: asRecord(await getJson(t.key, t.versionId)),
    }));
  };

  /** Chains what another writer wrote after our head; anything else there means the chain was tampered with. */
  const catchUp = async (s: NonNullable<typeof state>) => {
    for (const t of await readTail(s.head.seq)) {
      const r = t.record;
      if (!r || r.seq !== t.seq || r.prevHash !== s.head.hash || r.seq !== s.head.seq + 1)
        throw new S3AuditError(
          `audit.s3: ${url(t.key)} does not hold a record that follows record ${s.head.seq} (edited, deleted or inserted?); not appending after it — run shipgate audit verify`,
          'audit.s3.bucket',
          'ChainBroken',
        );
      s.head = { seq: r.seq, hash: r.hash };
      remember(s, r);
    }
  };

  const load = async () => {
    if (state) return state;
    const last = await lastSeq();
    const s = { head: EMPTY_CHAIN, known: new Map<string, Known>(), checkpointed: 0 };
    // The last `window` records: their ids catch retried appends, and the last one is the head. A broken record
    // among them is audit verify's to report; only the head must be sound to chain after.
    const tail = await readTail(Math.max(0, last - window));
    for (const t of tail) if (t.record && t.record.seq === t.seq) remember(s, t.record);
    const top = tail[tail.length - 1];
    if (top) {
      if (!top.record || top.record.seq !== top.seq)
        throw new S3AuditError(
          `audit.s3: the chain's last object ${url(top.key)} holds no record ${top.seq} (edited or deleted?); not appending after it — run shipgate audit verify`,
          'audit.s3.bucket',
          'ChainBroken',
        );
      s.head = { seq: top.record.seq, hash: top.record.hash };
    }
    s.checkpointed = s.head.seq;
    state = s;
    return s;
  };

  const writeCheckpoint = async (head: ChainHead) => {
    await putNew(checkpointKey(keys, head), { seq: head.seq, hash: head.hash, at: now().toISOString() });
  };

  const writeDeployment = async (r: AuditRecord) => {
    await putNew(deploymentKey(keys, r), deploymentRecordOf(r));
  };

  const readChainEntries = async (): Promise<StoredEntry[]> => {
    const all = await listKeys(keys.chain);
    return mapLimit(all, concurrency, async (key) => ({ where: url(key), record: await getJson(key) }));
  };

  const checkpoints = async (): Promise<ChainHead[]> => {
    const all = await listKeys(keys.checkpoints);
    const heads = await mapLimit(all, concurrency, async (key) => {
      const fromKey = headOfCheckpointKey(keys, key);
      if (fromKey) return fromKey;
      // Written by hand or by another tool: believe the body if it is a checkpoint at all.
      const body = (await getJson(key)) as Partial<ChainHead> | null;
      return body && typeof body.seq === 'number' && typeof body.hash === 'string'
        ? { seq: body.seq, hash: body.hash }
        : null;
    });
    return heads.filter((h): h is ChainHead => h !== null).sort((a, b) => a.seq - b.seq);
  };

  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };

  const append = async (inputs: AuditInput[]) => {
    const s = await load();
    // A retried append whose records are all in: their deployment records may be what the last try missed.
    const again = inputs
      .map((i) => s.known.get(i.id)?.record)
      .filter((r): r is AuditRecord => r !== undefined && isDeploymentType(r.type));
    let pending = unseen(inputs, new Set(s.known.keys()));
    const written: AuditRecord[] = [];
    let conflicts = 0;
    while (pending.length > 0) {
      const [input] = pending;
      if (!input) break;
      const record = extend(s.head, [input]).records[0] as AuditRecord;
      if (await putNew(chainKey(keys, record.seq), record)) {
        s.head = { seq: record.seq, hash: record.hash };
        remember(s, record);
        written.push(record);
        pending = pending.slice(1);
        continue;
      }
      // Another writer took this sequence number: chain after what it wrote, skipping what it already holds.
      if (++conflicts > 1000)
        throw new S3AuditError(
          `audit.s3: gave up after ${conflicts - 1} conflicting writes to ${url(keys.chain)}`,
          'audit.s3.bucket',
          'Contention',
        );
      const before = s.head.seq;
      await catchUp(s);
      if (s.head.seq === before)
        throw new S3AuditError(
          `audit.s3: ${url(chainKey(keys, record.seq))} exists but holds no readable record; not appending after it — run shipgate audit verify`,
          'audit.s3.bucket',
          'ChainBroken',
        );
      pending = unseen(pending, new Set(s.known.keys()));
    }
    if (s.head.seq > s.checkpointed) {
      await writeCheckpoint(s.head);
      s.checkpointed = s.head.seq;
    }
    const deployments = [...again, ...written.filter((r) => isDeploymentType(r.type))];
    await mapLimit(deployments, 8, writeDeployment);
    return { written: written.length, head: { ...s.head } };
  };

  return {
    kind: 's3',
    append: (inputs) => serial(() => append(inputs)),

    async read(filter = {}) {
      const all = (await listKeys(keys.chain)).filter((k) => seqOfChainKey(keys, k) !== null);
      const match = (r: AuditRecord) =>
        (!filter.app || r.app === filter.app) && (!filter.env || r.env === filter.env);
      const hits: AuditRecord[] = [];
      // Newest first in chunks, so a limited read fetches only the tail it needs.
      for (let end = all.length; end > 0; end -= 256) {
        const chunk = all.slice(Math.max(0, end - 256), end);
        const records = await mapLimit(chunk, concurrency, async (k) => asRecord(await getJson(k)));
        hits.unshift(...records.filter((r): r is AuditRecord => r !== null && match(r)));
        if (filter.limit && hits.length >= filter.limit) break;
      }
      return filter.limit ? hits.slice(-filter.limit) : hits;
    },

    async verify() {
      const entries = await readChainEntries();
      const verdict = verifyChain(entries.map((e) => e.record));
      // The locked checkpoints catch what the chain alone cannot: a truncated or re-chained tail.
      let brokenAt = verdict.brokenAt;
      for (const cp of await checkpoints()) {
        const r = entries[cp.seq - 1]?.record as AuditRecord | null | undefined;
        if (r?.hash !== cp.hash) {
          brokenAt = Math.min(brokenAt ?? Infinity, Math.min(cp.seq, entries.length + 1));
          break;
        }
      }
      return brokenAt === undefined
        ? { ok: true, count: entries.length }
        : { ok: false, count: entries.length, brokenAt };
    },

    entries: readChainEntries,
    checkpoints,

    async check() {
      await call(`list ${url(keys.chain)}`, () =>
        client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keys.chain, MaxKeys: 1 })),
      );
      if (!config.objectLock) return;
      const fix =
        'create the bucket with Object Lock enabled (which turns versioning on), or remove audit.s3.objectLock';
      const lockCheck = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
        try {
          return await call(what, fn);
        } catch (err) {
          const code = err instanceof S3AuditError ? err.code : 'Error';
          if (code === 'ObjectLockConfigurationNotFoundError')
            throw new S3AuditError(
              `audit.s3.objectLock: bucket "${bucket}" does not have Object Lock enabled, so audit records could be deleted or overwritten; ${fix}`,
              'audit.s3.objectLock',
              code,
              { cause: err },
            );
          if (code === 'AccessDenied')
            throw new S3AuditError(
              `audit.s3.objectLock: cannot check Object Lock on bucket "${bucket}" (${what}: access denied); grant s3:GetBucketVersioning and s3:GetBucketObjectLockConfiguration`,
              'audit.s3.objectLock',
              code,
              { cause: err },
            );
          throw err;
        }
      };
      const versioning = await lockCheck('get versioning', () =>
        client.send(new GetBucketVersioningCommand({ Bucket: bucket })),
      );
      if (versioning.Status !== 'Enabled')
        throw new S3AuditError(
          `audit.s3.objectLock: bucket "${bucket}" has versioning ${
            versioning.Status ? versioning.Status.toLowerCase() : 'off'
          } and no Object Lock; ${fix}`,
          'audit.s3.objectLock',
          'VersioningNotEnabled',
        );
      const lockConfig = await lockCheck('get Object Lock configuration', () =>
        client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })),
      );
      if (lockConfig.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled')
        throw new S3AuditError(
          `audit.s3.objectLock: bucket "${bucket}" does not have Object Lock enabled; ${fix}`,
          'audit.s3.objectLock',
          'ObjectLockNotEnabled',
        );
    },

    async deployments(app, env) {
      const prefix = `${keys.deployments}${app}/${env}/`;
      const all = await listKeys(prefix);
      const bodies = await mapLimit(all, concurrency, (k) => getJson(k));
      return bodies.filter((b): b is DeploymentRecord => !!b && typeof b === 'object');
    },

    close() {
      fast?.close();
      client.destroy();
    },
  };
}

/** The key a record of `seq` is stored under, for tools and tests that look at the bucket directly. */
export const s3ChainKey = (config: AuditS3Config, seq: number): string =>
  chainKey(layout(config.prefix), seq);
export const s3CheckpointPrefix = (config: AuditS3Config): string => layout(config.prefix).checkpoints;
export const s3DeploymentPrefix = (config: AuditS3Config, app: string, env: string): string =>
  `${layout(config.prefix).deployments}${app}/${env}/`;
export { pad as padSeq };
