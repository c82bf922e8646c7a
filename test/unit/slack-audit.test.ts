import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import type { AuditInput } from '../../src/audit/types.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shipgate-audit-writers-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const rec = (id: string, actor: string): AuditInput => ({
  id,
  at: '2026-01-01T00:00:00.000Z',
  type: 'approve-refused',
  app: 'hello',
  env: null,
  actor,
  via: 'slack',
  reason: 'test',
});

/**
 * The Slack endpoint records refusals of unknown Slack users in the same audit file the worker writes, from
 * another process: the hash chain must stay whole.
 */
describe('audit store shared by the worker and the Slack endpoint', () => {
  it('keeps one unbroken chain when two writers alternate', async () => {
    const file = path.join(dir, 'alternate', 'audit.jsonl');
    const worker = createJsonlAuditStore(file);
    const slack = createJsonlAuditStore(file);
    await worker.append([rec('w1', 'alice'), rec('w2', 'bob')]);
    await slack.append([rec('s1', 'slack:U0MALLORY')]);
    await worker.append([rec('w3', 'carol')]);
    await slack.append([rec('s2', 'slack:U0EVE')]);
    const all = await worker.read();
    expect(all.map((r) => [r.seq, r.id])).toEqual([
      [1, 'w1'],
      [2, 'w2'],
      [3, 's1'],
      [4, 'w3'],
      [5, 's2'],
    ]);
    expect(await slack.verify()).toEqual({ ok: true, count: 5 });
  });

  it('keeps one unbroken chain when two writers append at the same time', async () => {
    const file = path.join(dir, 'concurrent', 'audit.jsonl');
    const a = createJsonlAuditStore(file);
    const b = createJsonlAuditStore(file);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).append([rec(`r${i}`, i % 2 ? 'alice' : 'slack:U0X')]),
      ),
    );
    const all = await a.read();
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(new Set(all.map((r) => r.id)).size).toBe(40);
    expect(await b.verify()).toEqual({ ok: true, count: 40 });
  });

  it('still deduplicates a retried record written by the other writer', async () => {
    const file = path.join(dir, 'dedupe', 'audit.jsonl');
    const a = createJsonlAuditStore(file);
    const b = createJsonlAuditStore(file);
    await a.append([rec('same', 'alice')]);
    expect((await b.append([rec('same', 'alice')])).written).toBe(0);
    expect((await a.append([rec('same', 'alice'), rec('other', 'bob')])).written).toBe(1);
    expect((await a.verify()).count).toBe(2);
  });
});
