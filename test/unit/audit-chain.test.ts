import { describe, expect, it } from 'vitest';
import { EMPTY_CHAIN, extend, GENESIS, hashRecord, tipOf, unseen, verify } from '../../src/audit/chain.js';
import type { AuditInput, AuditRecord } from '../../src/audit/types.js';
import { createMemoryAuditStore } from '../helpers/memory-audit-store.js';

const input = (id: string, over: Partial<AuditInput> = {}): AuditInput => ({
  id,
  at: '2025-01-01T00:00:00.000Z',
  type: 'deploy-succeeded',
  app: 'hello',
  env: 'production',
  version: '1.0.0',
  actor: 'alice',
  ...over,
});

const chain = (...ids: string[]) =>
  extend(
    EMPTY_CHAIN,
    ids.map((id) => input(id)),
  ).records;

/** A record whose fields were changed and whose own hash was recomputed to match, as a forger would. */
const forged = (r: AuditRecord, over: Partial<AuditRecord>): AuditRecord => {
  const { hash: _old, ...rest } = { ...r, ...over };
  return { ...rest, hash: hashRecord(rest) };
};

describe('audit hash chain', () => {
  it('numbers records from 1 and links each to the hash of the one before, the first to 64 zeros', () => {
    const rs = chain('a', 'b', 'c');
    expect(rs.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rs.map((r) => r.prevHash)).toEqual([GENESIS, rs[0]!.hash, rs[1]!.hash]);
    for (const r of rs) {
      const { hash, ...rest } = r;
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(hashRecord(rest)).toBe(hash);
    }
  });

  it('extends from a tip exactly as one long extension would', () => {
    const whole = chain('a', 'b', 'c', 'd');
    const first = extend(EMPTY_CHAIN, [input('a'), input('b')]);
    const rest = extend(first.tip, [input('c'), input('d')]);
    expect([...first.records, ...rest.records]).toEqual(whole);
    expect(rest.tip).toEqual(tipOf(whole));
    expect(tipOf([])).toEqual(EMPTY_CHAIN);
    expect(extend(rest.tip, [])).toEqual({ records: [], tip: rest.tip });
  });

  it('hashes every field: the same input at another time or by another actor hashes differently', () => {
    const [a] = chain('a');
    const [b] = extend(EMPTY_CHAIN, [input('a', { actor: 'bob' })]).records;
    const [c] = extend(EMPTY_CHAIN, [input('a', { at: '2025-01-01T00:00:00.001Z' })]).records;
    expect(new Set([a!.hash, b!.hash, c!.hash]).size).toBe(3);
  });

  it('verifies an intact chain, and an empty one', () => {
    expect(verify(chain('a', 'b', 'c'))).toEqual({ ok: true, count: 3 });
    expect(verify([])).toEqual({ ok: true, count: 0 });
  });

  it('finds an edited record, also when the forger recomputed its own hash', () => {
    const rs = chain('a', 'b', 'c');
    expect(verify([rs[0], { ...rs[1]!, actor: 'mallory' }, rs[2]])).toEqual({
      ok: false,
      count: 3,
      brokenAt: 2,
    });
    // The forged record itself holds; the next record's link to it does not.
    expect(verify([rs[0], forged(rs[1]!, { actor: 'mallory' }), rs[2]])).toEqual({
      ok: false,
      count: 3,
      brokenAt: 3,
    });
  });

  it('finds a deleted, an inserted and a reordered record', () => {
    const rs = chain('a', 'b', 'c', 'd');
    expect(verify([rs[0], rs[2], rs[3]])).toMatchObject({ ok: false, brokenAt: 2 });
    expect(verify(rs.slice(1))).toMatchObject({ ok: false, brokenAt: 1 });
    const extra = extend(tipOf(rs.slice(0, 2)), [input('x')]).records[0]!;
    expect(verify([rs[0], rs[1], extra, rs[2], rs[3]])).toMatchObject({ ok: false, brokenAt: 4 });
    expect(verify([rs[0], rs[2], rs[1], rs[3]])).toMatchObject({ ok: false, brokenAt: 2 });
  });

  it('finds a renumbered record even with its hash recomputed and the rest of the chain relinked', () => {
    const rs = chain('a', 'b');
    const renumbered = forged(rs[1]!, { seq: 7 });
    expect(verify([rs[0], renumbered])).toEqual({ ok: false, count: 2, brokenAt: 2 });
  });

  it('treats an entry that is not a record (an unparsable line) as a break where it stands', () => {
    const rs = chain('a', 'b', 'c');
    expect(verify([rs[0], null, rs[2]])).toEqual({ ok: false, count: 3, brokenAt: 2 });
    expect(verify(['{"seq":1', rs[1]])).toEqual({ ok: false, count: 2, brokenAt: 1 });
  });

  it('keeps only inputs not yet recorded, the first of each id (a retried activity writes once)', () => {
    const kept = unseen([input('a'), input('b'), input('b', { actor: 'bob' }), input('c')], new Set(['a']));
    expect(kept.map((r) => [r.id, r.actor])).toEqual([
      ['b', 'alice'],
      ['c', 'alice'],
    ]);
  });
});

describe('in-memory audit store (the workflow-test stand-in)', () => {
  it('chains, deduplicates and filters like the JSONL store', async () => {
    const store = createMemoryAuditStore();
    expect((await store.append([input('a'), input('b', { env: 'staging', type: 'approval' })])).written).toBe(
      2,
    );
    const again = await store.append([input('b'), input('c')]);
    expect(again.written).toBe(1);
    // The head it answers is what workflows keep as their anchor.
    expect(again.head).toEqual({ seq: 3, hash: store.records[2]!.hash });
    expect(store.records.map((r) => [r.id, r.seq])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(store.records[1]!.prevHash).toBe(store.records[0]!.hash);
    expect(await store.verify()).toEqual({ ok: true, count: 3 });
    expect(store.types({ env: 'staging' })).toEqual(['approval']);
    expect((await store.read({ env: 'production', limit: 1 })).map((r) => r.id)).toEqual(['c']);
  });
});
