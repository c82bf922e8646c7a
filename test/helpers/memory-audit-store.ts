/**
 * An in-memory audit store for the fast workflow-test tier. It numbers, chains and deduplicates records with
 * the same pure chain module the JSONL store uses, so `verify()` means the same thing; tests read what the
 * workflows recorded without touching a file:
 *
 *   const audit = createMemoryAuditStore();
 *   createActivities({ ...deps, targets: createMemoryTarget(), audit });
 *   ...
 *   expect(audit.types({ env: 'production' })).toEqual(['deploy-started', 'deploy-succeeded']);
 *   expect(audit.records.find((r) => r.type === 'approval')?.actor).toBe('alice');
 *
 *   audit.fail('disk full');   // every append throws this until...
 *   audit.recover();           // ...appends work again; audit.failedAppends counts the refused ones
 */
import { extend, EMPTY_CHAIN, unseen, verify } from '../../src/audit/chain.js';
import type { AuditRecord, AuditStore } from '../../src/audit/types.js';
import type { AuditType } from '../../src/protocol/audit-types.js';

export interface MemoryAuditStore extends AuditStore {
  /** Every record written so far, in order. */
  readonly records: readonly AuditRecord[];
  /** The types of the records written so far, in order, optionally for one app and/or environment. */
  types(filter?: { app?: string; env?: string }): AuditType[];
  /** Makes every append throw `message` (the store is unwritable) until recover(). */
  fail(message?: string): void;
  recover(): void;
  /** How many appends were refused while failing. */
  readonly failedAppends: number;
}

export function createMemoryAuditStore(): MemoryAuditStore {
  const records: AuditRecord[] = [];
  const ids = new Set<string>();
  let tip = EMPTY_CHAIN;
  let failing: string | null = null;
  let failedAppends = 0;
  const pick = (filter: { app?: string; env?: string }) =>
    records.filter((r) => (!filter.app || r.app === filter.app) && (!filter.env || r.env === filter.env));
  return {
    kind: 'jsonl',
    records,
    get failedAppends() {
      return failedAppends;
    },
    fail(message = 'the audit store is unwritable') {
      failing = message;
    },
    recover() {
      failing = null;
    },
    async append(inputs) {
      if (failing !== null) {
        failedAppends++;
        throw new Error(failing);
      }
      const added = extend(tip, unseen(inputs, ids));
      records.push(...added.records);
      for (const r of added.records) ids.add(r.id);
      tip = added.tip;
      return { written: added.records.length, head: { seq: tip.seq, hash: tip.hash } };
    },
    async read(filter = {}) {
      const hits = pick(filter);
      return filter.limit ? hits.slice(-filter.limit) : hits;
    },
    async verify() {
      return verify(records);
    },
    async entries() {
      return records.map((record, i) => ({ where: `#${i + 1}`, record }));
    },
    async checkpoints() {
      return [];
    },
    types: (filter = {}) => pick(filter).map((r) => r.type),
  };
}
