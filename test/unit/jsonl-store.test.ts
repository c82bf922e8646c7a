import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashRecord } from '../../src/audit/chain.js';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import type { AuditInput, AuditRecord } from '../../src/audit/types.js';
import { verifyTrail } from '../../src/audit/verify.js';

const GENESIS = '0'.repeat(64);

let dir: string;
let counter = 0;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shipgate-audit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh file in a folder that does not exist yet: the store must create it. */
const freshFile = () => path.join(dir, `case-${++counter}`, 'audit', 'audit.jsonl');

const rec = (id: string, over: Partial<AuditInput> = {}): AuditInput => ({
  id,
  at: '2025-01-01T00:00:00.000Z',
  type: 'deploy-succeeded',
  app: 'hello',
  env: 'production',
  version: '1.0.0',
  actor: 'alice',
  reason: null,
  ...over,
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
const records = (file: string) => lines(file).map((l) => JSON.parse(l) as AuditRecord);

describe('JSONL audit store', () => {
  it('writes one JSON line per record, numbered and chained from 64 zeros', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    expect(
      (await store.append([rec('a'), rec('b', { type: 'approval', actor: 'bob', via: 'slack' })])).written,
    ).toBe(2);
    expect(
      (await store.append([rec('c', { reason: 'a "quoted"\nmulti-line reason; $(not run)' })])).written,
    ).toBe(1);

    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const rs = records(file);
    expect(rs).toHaveLength(3);
    expect(rs.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rs[0]!.prevHash).toBe(GENESIS);
    expect(rs[1]!.prevHash).toBe(rs[0]!.hash);
    expect(rs[2]!.prevHash).toBe(rs[1]!.hash);
    for (const r of rs) {
      expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
      const { hash, ...rest } = r;
      expect(hashRecord(rest)).toBe(hash);
    }
    expect(rs[1]).toMatchObject({ id: 'b', type: 'approval', actor: 'bob', via: 'slack' });
    // Free text is stored verbatim.
    expect(rs[2]!.reason).toBe('a "quoted"\nmulti-line reason; $(not run)');
  });

  it('skips a record whose id was already written (a retried activity)', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b')]);
    expect((await store.append([rec('b'), rec('c')])).written).toBe(1);
    expect((await store.append([rec('a'), rec('b'), rec('c')])).written).toBe(0);
    expect((await store.append([rec('d'), rec('d')])).written).toBe(1);
    expect(records(file).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(await store.verify()).toEqual({ ok: true, count: 4 });
  });

  it('writes nothing, not even the file, for an empty or all-duplicate batch', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    expect((await store.append([])).written).toBe(0);
    expect(() => readFileSync(file)).toThrow();
    expect(await store.read()).toEqual([]);
    expect(await store.verify()).toEqual({ ok: true, count: 0 });
  });

  it('verifies an untouched file', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b'), rec('c')]);
    expect(await store.verify()).toEqual({ ok: true, count: 3 });
    expect(await createJsonlAuditStore(file).verify()).toEqual({ ok: true, count: 3 });
  });

  it('reports the edited line when a record is changed', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b', { actor: 'bob' }), rec('c')]);
    const ls = lines(file);
    ls[1] = ls[1]!.replace('"actor":"bob"', '"actor":"mallory"');
    writeFileSync(file, ls.join('\n') + '\n');
    expect(await store.verify()).toEqual({ ok: false, count: 3, brokenAt: 2 });
  });

  it('reports an edit even when the editor recomputes that record’s own hash', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b'), rec('c')]);
    const rs = records(file);
    const { hash: _hash, ...rest } = { ...rs[0]!, actor: 'mallory' };
    rs[0] = { ...rest, hash: hashRecord(rest) };
    writeFileSync(file, rs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    expect(await store.verify()).toEqual({ ok: false, count: 3, brokenAt: 2 });
  });

  it('reports where a deleted line was', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b'), rec('c'), rec('d')]);
    const ls = lines(file);
    ls.splice(1, 1);
    writeFileSync(file, ls.join('\n') + '\n');
    expect(await store.verify()).toEqual({ ok: false, count: 3, brokenAt: 2 });

    const first = freshFile();
    const s2 = createJsonlAuditStore(first);
    await s2.append([rec('a'), rec('b')]);
    writeFileSync(first, lines(first).slice(1).join('\n') + '\n');
    expect(await s2.verify()).toEqual({ ok: false, count: 1, brokenAt: 1 });
  });

  it('reports swapped lines', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b'), rec('c')]);
    const ls = lines(file);
    writeFileSync(file, [ls[0], ls[2], ls[1]].join('\n') + '\n');
    expect(await store.verify()).toMatchObject({ ok: false, brokenAt: 2 });
  });

  it('reports a line that is no longer JSON instead of throwing (tampering or a torn write)', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b'), rec('c')]);
    const ls = lines(file);
    ls[1] = ls[1]!.slice(0, 20);
    writeFileSync(file, ls.join('\n') + '\n');
    expect(await store.verify()).toEqual({ ok: false, count: 3, brokenAt: 2 });

    writeFileSync(file, [ls[0], 'null', ls[2]].join('\n') + '\n');
    expect(await store.verify()).toEqual({ ok: false, count: 3, brokenAt: 2 });
  });

  it('a new store on the same file continues the sequence and the chain', async () => {
    const file = freshFile();
    await createJsonlAuditStore(file).append([rec('a'), rec('b')]);
    const second = createJsonlAuditStore(file);
    expect((await second.append([rec('b'), rec('c')])).written).toBe(1);
    const rs = records(file);
    expect(rs.map((r) => [r.id, r.seq])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(rs[2]!.prevHash).toBe(rs[1]!.hash);
    expect(await second.verify()).toEqual({ ok: true, count: 3 });
  });

  it('keeps the chain intact under concurrent appends', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    const counts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.append([rec(`r${i}`), rec(`r${(i + 1) % 20}`)])),
    );
    expect(counts.reduce((a, b) => a + b.written, 0)).toBe(20);
    const rs = records(file);
    expect(rs.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(rs.map((r) => r.id)).size).toBe(20);
    expect(await store.verify()).toEqual({ ok: true, count: 20 });
  });

  it('reads records filtered by app and environment, limited to the newest', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([
      rec('1', { app: 'hello', env: 'staging' }),
      rec('2', { app: 'hello', env: 'production' }),
      rec('3', { app: 'other', env: 'production' }),
      rec('4', { app: 'hello', env: 'production' }),
      rec('5', { app: 'hello', env: null }),
    ]);
    expect((await store.read()).map((r) => r.id)).toEqual(['1', '2', '3', '4', '5']);
    expect((await store.read({ app: 'hello' })).map((r) => r.id)).toEqual(['1', '2', '4', '5']);
    expect((await store.read({ env: 'production' })).map((r) => r.id)).toEqual(['2', '3', '4']);
    expect((await store.read({ app: 'hello', env: 'production' })).map((r) => r.id)).toEqual(['2', '4']);
    expect((await store.read({ app: 'hello', limit: 2 })).map((r) => r.id)).toEqual(['4', '5']);
  });
});

describe('JSONL audit store: a torn last line', () => {
  it('is cut back to the last newline by the next append, which records the repair first; nothing else is lost', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b'), rec('c')]);
    const intact = readFileSync(file, 'utf8');
    // A crash mid-append: half a record, no newline.
    const torn = JSON.stringify({ ...records(file)[2]!, id: 'd', seq: 4 }).slice(0, 57);
    writeFileSync(file, intact + torn);
    // Readers skip it; verify names it.
    expect((await store.read()).map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(verifyTrail({ entries: await store.entries() }).problem).toMatchObject({
      kind: 'unreadable',
      seq: 4,
      where: `${file}:4`,
    });

    // A fresh store (a restarted worker) appends: the torn bytes go, the repair is on record, the deploy's record follows.
    const result = await createJsonlAuditStore(file).append([rec('e', { type: 'rollback-succeeded' })]);
    expect(result.written).toBe(1);
    const rs = records(file);
    expect(rs.map((r) => [r.seq, r.id, r.type])).toEqual([
      [1, 'a', 'deploy-succeeded'],
      [2, 'b', 'deploy-succeeded'],
      [3, 'c', 'deploy-succeeded'],
      [4, rs[3]!.id, 'audit-repaired'],
      [5, 'e', 'rollback-succeeded'],
    ]);
    expect(result.head).toEqual({ seq: 5, hash: rs[4]!.hash });
    expect(readFileSync(file, 'utf8').startsWith(intact)).toBe(true);
    const digest = createHash('sha256').update(torn).digest('hex');
    expect(rs[3]).toMatchObject({ actor: 'shipgate', env: null, outcome: 'repaired' });
    expect(rs[3]!.reason).toBe(
      `cut a torn last line (57 bytes without a newline, sha256 ${digest}) at byte ${Buffer.byteLength(intact)} of audit.jsonl: an append was interrupted (a crash, a full disk or a killed process)`,
    );
    expect(verifyTrail({ entries: await store.entries() })).toMatchObject({ ok: true, records: 5 });
  });

  it('a file that is only a torn line is emptied, and the repair is the first record', async () => {
    const file = freshFile();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '{"id":"x","seq":1,"prevHa');
    const store = createJsonlAuditStore(file);
    expect((await store.append([rec('a')])).written).toBe(1);
    expect(records(file).map((r) => [r.seq, r.type])).toEqual([
      [1, 'audit-repaired'],
      [2, 'deploy-succeeded'],
    ]);
    expect(await store.verify()).toEqual({ ok: true, count: 2 });
  });

  it('a complete line that does not parse is evidence: it is never cut, appends go on after it', async () => {
    const file = freshFile();
    const store = createJsonlAuditStore(file);
    await store.append([rec('a'), rec('b')]);
    writeFileSync(file, readFileSync(file, 'utf8') + 'not json, ends with a newline\n');
    expect((await createJsonlAuditStore(file).append([rec('c')])).written).toBe(1);
    const ls = lines(file);
    expect(ls[2]).toBe('not json, ends with a newline');
    const [a, b, c] = [ls[0], ls[1], ls[3]].map((l) => JSON.parse(l!) as AuditRecord);
    expect(c).toMatchObject({ id: 'c', seq: 3, prevHash: b!.hash });
    expect(a!.seq).toBe(1);
    expect(verifyTrail({ entries: await store.entries() }).problem).toMatchObject({
      kind: 'unreadable',
      where: `${file}:3`,
    });
  });
});
