/**
 * Every audit store, keyed by kind. Adding a store is its module under src/audit/ plus one entry here (and
 * its config block in src/config/schema.ts); everything else constructs stores through createAuditStore.
 */
import path from 'node:path';
import type { ShipgateConfig } from '../config/schema.js';
import { createJsonlAuditStore } from './jsonl-store.js';
import { createS3AuditStore } from './s3-store.js';
import type { AuditStore } from './types.js';

type AuditSettings = ShipgateConfig['audit'];

/** Each entry gets the config's `audit` block (its own settings live there) and SHIPGATE_HOME. */
export const AUDIT_STORES = {
  /** Append-only lines under SHIPGATE_HOME, shared by the worker and the Slack endpoint on one machine. */
  jsonl: (_settings: AuditSettings, home: string) =>
    createJsonlAuditStore(path.join(home, 'audit', 'audit.jsonl')),
  /** One object per record in a bucket, conditional writes, Object Lock retention when configured. */
  s3: (settings: AuditSettings) => {
    // The schema requires the block with store: s3; this guards a config built in code.
    if (!settings.s3) throw new Error('audit.s3: store: s3 needs an s3 block: { bucket, prefix, region }');
    return createS3AuditStore(settings.s3);
  },
} satisfies Record<AuditSettings['store'], (settings: AuditSettings, home: string) => AuditStore>;

export type AuditStoreKind = keyof typeof AUDIT_STORES;

/** The store the config names (`audit.store`, default jsonl). */
export function createAuditStore(config: ShipgateConfig, home: string): AuditStore {
  const kind: AuditStoreKind = config.audit.store;
  return AUDIT_STORES[kind](config.audit, home);
}

/**
 * The store the config names, checked before a worker relies on it: for S3, the bucket exists and answers to
 * the AWS chain's credentials, and has versioning and Object Lock when `audit.s3.objectLock` asks for them.
 * Throws an error naming the config field at fault.
 */
export async function openAuditStore(config: ShipgateConfig, home: string): Promise<AuditStore> {
  const store = createAuditStore(config, home) as AuditStore & { check?(): Promise<void>; close?(): void };
  try {
    await store.check?.();
  } catch (err) {
    store.close?.();
    throw err;
  }
  return store;
}
