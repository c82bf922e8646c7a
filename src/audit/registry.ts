/**
 * Every audit store, keyed by kind. Adding a store is its module under src/audit/ plus one entry here (and
 * its config block in src/config/schema.ts); everything else constructs stores through createAuditStore.
 */
import path from 'node:path';
import type { ShipgateConfig } from '../config/schema.js';
import { createJsonlAuditStore } from './jsonl-store.js';
import type { AuditStore } from './types.js';

type AuditSettings = ShipgateConfig['audit'];

/** Each entry gets the config's `audit` block (its own settings live there) and SHIPGATE_HOME. */
export const AUDIT_STORES = {
  /** Append-only lines under SHIPGATE_HOME, shared by the worker and the Slack endpoint on one machine. */
  jsonl: (_settings: AuditSettings, home: string) =>
    createJsonlAuditStore(path.join(home, 'audit', 'audit.jsonl')),
} satisfies Record<AuditSettings['store'], (settings: AuditSettings, home: string) => AuditStore>;

export type AuditStoreKind = keyof typeof AUDIT_STORES;

/** The store the config names (`audit.store`, default jsonl). */
export function createAuditStore(config: ShipgateConfig, home: string): AuditStore {
  const kind: AuditStoreKind = config.audit.store;
  return AUDIT_STORES[kind](config.audit, home);
}
