import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_CHAIN, extend, GENESIS, hashRecord } from '../../src/audit/chain.js';
import type { AuditInput, AuditRecord, StoredEntry } from '../../src/audit/types.js';
import {
  BeyondEndError,
  summarize,
  verifyTrail,
  type AuditAnchor,
  type LedgerClaim,
  type TrailInput,
} from '../../src/audit/verify.js';

const input = (i: number, over: Partial<AuditInput> = {}): AuditInput => ({
  id: `wf@run#${i}`,
  at: `2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
  type: 'deploy-succeeded',
  app: 'hello',
  env: 'production',
  version: `1.0.${i}`,
  actor: 'alice',
  ...over,
});

const inputs = (n: number) => Array.from({ length: n }, (_, i) => input(i + 1));
const chainOf = (n: number) => extend(EMPTY_CHAIN, inputs(n)).records;
/** Entries as a JSONL store lists them: line N holds the Nth record. */
const entries = (records: readonly unknown[]): StoredEntry[] =>
  records.map((record, i) => ({ where: `audit.jsonl:${i + 1}`, record }));
const anchorAt = (r: AuditRecord, source = 'env/hello/production'): AuditAnchor => ({
  source,
  seq: r.seq,
  hash: r.hash,
});
/** A record changed and its own hash recomputed, as a forger would. */
const forged = (r: AuditRecord, over: Partial<AuditRecord>): AuditRecord => {
  const { hash: _old, ...rest } = { ...r, ...over };
  return { ...rest, hash: hashRecord(rest) };
};
/** Records chained again from `from` on, as a forger who recomputes every later hash would. */
const rechain = (records: readonly AuditRecord[]): AuditRecord[] =>
  extend(
    EMPTY_CHAIN,
    records.map(({ seq: _s, prevHash: _p, hash: _h, ...rest }) => rest),
  ).records;

const run = (records: readonly unknown[], more: Omit<TrailInput, 'entries'> = {}) =>
  verifyTrail({ entries: entries(records), ...more });

describe('audit verify: an intact trail', () => {
  it('holds, with a one-line summary naming the records, the head and the anchors checked', () => {
    const rs = chainOf(5);
    const report = run(rs, { anchors: [anchorAt(rs[2]!), anchorAt(rs[4]!, 'store checkpoint')] });
    expect(report).toMatchObject({ ok: true, problem: null, records: 5, anchors: 2 });
    expect(report.head).toEqual({ seq: 5, hash: rs[4]!.hash, where: 'audit.jsonl:5' });
    const line = summarize(report);
    expect(line).toBe(
      `audit verify: ok, 5 records (seq 1–5), head seq 5 ${rs[4]!.hash.slice(0, 12)}…, 2 anchors checked`,
    );
    expect(line).not.toContain('\n');
  });

  it('an empty store with no anchor holds', () => {
    expect(run([])).toMatchObject({ ok: true, records: 0, head: null });
    expect(summarize(run([]))).toBe('audit verify: ok, 0 records, no records, 0 anchors checked');
  });

  it('property: any chain holds against any of its own heads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat()), (n, picks) => {
        const rs = chainOf(n);
        const anchors = picks.map((p) => anchorAt(rs[p % n]!));
        const report = run(rs, { anchors });
        expect(report.ok).toBe(true);
        expect(report.records).toBe(n);
        expect(report.anchors).toBe(anchors.length);
      }),
    );
  });
});

describe('audit verify: each kind of tampering is named at its first bad record', () => {
  it('edited in place: the record whose content no longer matches its hash', () => {
    const rs: unknown[] = chainOf(5);
    rs[2] = { ...(rs[2] as AuditRecord), actor: 'mallory' };
    expect(run(rs).problem).toEqual({
      kind: 'edited',
      seq: 3,
      where: 'audit.jsonl:3',
      detail: 'its content no longer matches its hash',
    });
  });

  it('edited with its own hash recomputed: that record, because the next one still links to the old hash', () => {
    const rs = chainOf(5);
    rs[1] = forged(rs[1]!, { actor: 'mallory' });
    const p = run(rs).problem!;
    expect(p).toMatchObject({ kind: 'edited', seq: 2, where: 'audit.jsonl:2' });
    expect(p.detail).toMatch(/^its hash changed: seq 3 \(audit\.jsonl:3\) links to [0-9a-f]{12}…/);
    // The first record: the second one no longer links to it.
    const first = chainOf(3);
    first[0] = forged(first[0]!, { reason: 'nothing to see' });
    expect(run(first).problem).toMatchObject({ kind: 'edited', seq: 1, where: 'audit.jsonl:1' });
  });

  it('a record whose link to the chain start was changed', () => {
    const rs = chainOf(2);
    rs[0] = forged(rs[0]!, { prevHash: 'f'.repeat(64) });
    expect(run(rs).problem).toMatchObject({ kind: 'edited', seq: 1, where: 'audit.jsonl:1' });
  });

  it('deleted: the gap, where it is', () => {
    const rs = chainOf(6);
    expect(run([...rs.slice(0, 2), ...rs.slice(3)]).problem).toEqual({
      kind: 'missing',
      seq: 3,
      where: 'audit.jsonl:3',
      detail: 'seq 3 is missing before it (it holds seq 4)',
    });
    expect(run([...rs.slice(0, 1), ...rs.slice(4)]).problem).toMatchObject({
      kind: 'missing',
      seq: 2,
      detail: 'seqs 2–4 are missing before it (it holds seq 5)',
    });
    expect(run(rs.slice(1)).problem).toMatchObject({ kind: 'missing', seq: 1, where: 'audit.jsonl:1' });
  });

  it('inserted: a forged record between two that link, however it is numbered', () => {
    const rs = chainOf(4);
    // Linked to the record before it and numbered as the next: the chain goes on from the original.
    const twin = forged(rs[2]!, { actor: 'mallory', id: 'forged', prevHash: rs[1]!.hash });
    expect(run([rs[0], rs[1], twin, rs[2], rs[3]]).problem).toMatchObject({
      kind: 'inserted',
      seq: 3,
      where: 'audit.jsonl:3',
    });
    // Numbered as the next, linked to nothing.
    const stray = forged(rs[2]!, { id: 'stray', prevHash: 'a'.repeat(64) });
    expect(run([rs[0], rs[1], stray, rs[2], rs[3]]).problem).toMatchObject({
      kind: 'inserted',
      where: 'audit.jsonl:3',
    });
    // Numbered anywhere.
    const far = forged(rs[2]!, { id: 'far', seq: 99, prevHash: 'b'.repeat(64) });
    expect(run([rs[0], far, rs[1], rs[2], rs[3]]).problem).toMatchObject({
      kind: 'inserted',
      seq: 99,
      where: 'audit.jsonl:2',
    });
    // A line repeated.
    expect(run([rs[0], rs[1], rs[1], rs[2]]).problem).toMatchObject({
      kind: 'inserted',
      seq: 2,
      where: 'audit.jsonl:3',
      detail: 'it repeats audit.jsonl:2',
    });
  });

  it('reordered: the first record out of its place, and where the one that belongs there is', () => {
    const rs = chainOf(5);
    expect(run([rs[0], rs[2], rs[1], rs[3], rs[4]]).problem).toEqual({
      kind: 'reordered',
      seq: 3,
      where: 'audit.jsonl:2',
      detail: 'it holds seq 3 where seq 2 belongs (seq 2 is at audit.jsonl:3)',
    });
    expect(run([rs[0], rs[2], rs[3], rs[4], rs[1]]).problem).toMatchObject({
      kind: 'reordered',
      seq: 3,
      where: 'audit.jsonl:2',
    });
  });

  it('truncated: the chain ends before an anchored record; an emptied store too', () => {
    const rs = chainOf(8);
    const anchors = [anchorAt(rs[3]!), anchorAt(rs[7]!, 'release/hello/1.0.8')];
    expect(run(rs.slice(0, 5), { anchors }).problem).toEqual({
      kind: 'truncated',
      seq: 8,
      where: 'audit.jsonl:5',
      detail: `the chain ends at seq 5, but release/hello/1.0.8 anchors seq 8 (${rs[7]!.hash.slice(0, 12)}…)`,
    });
    expect(run([], { anchors }).problem).toMatchObject({
      kind: 'truncated',
      seq: 4,
      where: 'the store',
      detail: expect.stringMatching(/^the store is empty, but env\/hello\/production anchors seq 4/),
    });
  });

  it('without an anchor past it, a cut tail cannot be told from a short chain', () => {
    const rs = chainOf(8);
    expect(run(rs.slice(0, 5), { anchors: [anchorAt(rs[2]!)] }).ok).toBe(true);
  });

  it('re-chained after an edit: the anchors catch it, the records sent say which one changed', () => {
    const rs = chainOf(10);
    const anchors = [anchorAt(rs[2]!), anchorAt(rs[6]!), anchorAt(rs[9]!)];
    const tampered = rechain(rs.map((r, i) => (i === 4 ? { ...r, actor: 'mallory' } : r)));
    const byAnchor = run(tampered, { anchors }).problem!;
    expect(byAnchor).toMatchObject({ kind: 'anchor-mismatch', seq: 7, where: 'audit.jsonl:7' });
    expect(byAnchor.detail).toContain(
      'the chain was rewritten at or before seq 7 (after seq 3, which matches',
    );

    const sent = inputs(10).map((record) => ({ source: 'env/hello/production (history)', record }));
    expect(run(tampered, { anchors, sent }).problem).toEqual({
      kind: 'edited',
      seq: 5,
      where: 'audit.jsonl:5',
      detail: 'its actor is "mallory", but env/hello/production (history) wrote "alice"',
    });
  });

  it('re-chained after deleting records: anchors inside the chain no longer match, those past it are cut off', () => {
    const rs = chainOf(20);
    const tampered = rechain([...rs.slice(0, 5), ...rs.slice(16)]);
    expect(run(tampered, { anchors: [anchorAt(rs[3]!), anchorAt(rs[7]!)] }).problem).toMatchObject({
      kind: 'anchor-mismatch',
      seq: 8,
      where: 'audit.jsonl:8',
    });
    expect(run(tampered, { anchors: [anchorAt(rs[3]!), anchorAt(rs[19]!)] }).problem).toMatchObject({
      kind: 'truncated',
      seq: 20,
    });
    const sent = inputs(20).map((record) => ({ source: 'release/hello/1.0.0', record }));
    // Records keep their ids when renumbered: the first one deleted is missing.
    expect(run(tampered, { sent }).problem).toMatchObject({
      kind: 'missing',
      seq: null,
      where: 'release/hello/1.0.0',
      detail: expect.stringMatching(/^the record wf@run#6 \(deploy-succeeded hello production 1\.0\.6 /),
    });
  });

  it('an anchor at the very record that was edited: the field the workflow wrote otherwise is named', () => {
    const rs = chainOf(6);
    const tampered = rechain(rs.map((r, i) => (i === 3 ? { ...r, reason: 'tidied up' } : r)));
    const sent = inputs(6).map((record) => ({ source: 'env/hello/production (history)', record }));
    expect(run(tampered, { anchors: [anchorAt(rs[3]!)], sent }).problem).toMatchObject({
      kind: 'edited',
      seq: 4,
      detail: 'its reason is "tidied up", but env/hello/production (history) wrote nothing',
    });
    expect(run(tampered, { anchors: [anchorAt(rs[3]!)] }).problem).toMatchObject({
      kind: 'anchor-mismatch',
      seq: 4,
    });
  });

  it('a record sent by a workflow that is nowhere in the store is missing', () => {
    const rs = chainOf(3);
    const sent = [{ source: 'release/hello/1.0.4', record: input(4, { type: 'approval', actor: 'bob' }) }];
    expect(run(rs, { sent }).problem).toEqual({
      kind: 'missing',
      seq: null,
      where: 'release/hello/1.0.4',
      detail: `the record wf@run#4 (approval hello production 1.0.4 ${input(4).at}) that release/hello/1.0.4 wrote is not in the store`,
    });
  });

  it('unreadable: a line that no longer parses, a torn last line said so', () => {
    const rs: unknown[] = chainOf(4);
    expect(run([rs[0], null, rs[2], rs[3]]).problem).toEqual({
      kind: 'unreadable',
      seq: 2,
      where: 'audit.jsonl:2',
      detail: 'it no longer parses as a record',
    });
    expect(run([rs[0], rs[1], { hello: 1 }]).problem).toMatchObject({
      kind: 'unreadable',
      detail: 'it has no sequence number (a torn last line: the next append cuts it and records that)',
    });
  });

  it('proof invalid: a record whose kept proof does not hold', () => {
    const rs = extend(EMPTY_CHAIN, [
      input(1),
      input(2, {
        type: 'approval',
        proof: { login: 'alice', via: 'ssh', digest: 'd'.repeat(64), at: '2025-01-01T00:00:00.000Z' },
      }),
      input(3),
    ]).records;
    const report = run(rs, {
      proofProblem: (r, where) =>
        r.seq === 2 && where === 'audit.jsonl:2' ? 'the signature does not verify' : null,
    });
    expect(report.proofs).toBe(1);
    expect(report.problem).toEqual({
      kind: 'proof-invalid',
      seq: 2,
      where: 'audit.jsonl:2',
      detail: 'its ssh proof does not hold: the signature does not verify',
    });
  });

  it('names the first bad record when there are several', () => {
    const rs = chainOf(10);
    // A rewritten chain (caught at the anchor at seq 4) before a deletion at seq 8.
    const tampered = rechain(rs.map((r, i) => (i === 1 ? { ...r, reason: 'x' } : r)));
    tampered.splice(7, 1);
    expect(run(tampered, { anchors: [anchorAt(rs[3]!)] }).problem).toMatchObject({
      kind: 'anchor-mismatch',
      seq: 4,
    });
    expect(run(tampered, { anchors: [anchorAt(rs[9]!)] }).problem).toMatchObject({ kind: 'missing', seq: 8 });
  });
});

describe('audit verify --from', () => {
  it('checks from that record on, taking the one before it as it stands', () => {
    const rs: unknown[] = chainOf(10);
    rs[1] = { ...(rs[1] as AuditRecord), actor: 'mallory' };
    expect(run(rs).problem).toMatchObject({ kind: 'edited', seq: 2 });
    const report = run(rs, { from: 4 });
    expect(report).toMatchObject({ ok: true, records: 7, from: 4 });
    expect(summarize(report)).toMatch(/^audit verify: ok, 7 records \(seq 4–10\), head seq 10 /);
    // The link from the record before `from` is still checked.
    const broken = chainOf(10);
    broken[3] = forged(broken[3]!, { prevHash: 'c'.repeat(64) });
    expect(run(broken, { from: 4 }).problem).toMatchObject({ kind: 'edited', seq: 4 });
  });

  it('anchors before it are not compared', () => {
    const rs = chainOf(6);
    const report = run(rs, {
      from: 3,
      anchors: [{ source: 'old', seq: 1, hash: 'e'.repeat(64) }, anchorAt(rs[5]!)],
    });
    expect(report).toMatchObject({ ok: true, anchors: 1 });
  });

  it('beyond the end is bad input, unless an anchor says the chain went that far', () => {
    const rs = chainOf(6);
    expect(() => run(rs, { from: 7 })).toThrow(BeyondEndError);
    expect(() => run(rs, { from: 7 })).toThrow(
      '--from 7 is beyond the end of the chain (its last record is seq 6)',
    );
    expect(() => run([], { from: 1 })).toThrow('--from 1 is beyond the end: the store holds no records');
    const longer = chainOf(9);
    expect(run(rs, { from: 7, anchors: [anchorAt(longer[8]!)] }).problem).toMatchObject({
      kind: 'truncated',
      seq: 9,
    });
  });
});

describe('audit verify: ledgers', () => {
  const claim = (over: Partial<LedgerClaim>): LedgerClaim => ({
    source: 'the ledger of hello/production',
    app: 'hello',
    env: 'production',
    action: 'deploy',
    version: '1.0.1',
    outcome: 'succeeded',
    opId: 'op-1',
    endedAt: '2025-01-01T00:01:00.000Z',
    ...over,
  });

  it('each settled deploy, rollback and adopt has its record; running ones are not yet due', () => {
    const rs = extend(EMPTY_CHAIN, [
      input(1, { type: 'deploy-succeeded', version: '1.0.1' }),
      input(2, { type: 'verification-failed', version: '1.0.2' }),
      input(3, { type: 'rollback-succeeded', version: '1.0.1' }),
      input(4, { type: 'adopt', version: '1.0.9' }),
    ]).records;
    const ledgers = [
      claim({}),
      claim({ version: '1.0.2', outcome: 'rolled-back', opId: 'op-2' }),
      claim({ action: 'rollback', version: '1.0.1', opId: 'op-3' }),
      claim({ action: 'adopt', version: '1.0.9', opId: 'op-4' }),
      claim({ version: '1.0.5', outcome: 'running', opId: 'op-5' }),
    ];
    const report = run(rs, { ledgers });
    expect(report).toMatchObject({ ok: true, ledgerEntries: 4 });
    expect(summarize(report)).toContain('4 ledger entries found');

    const missing = run(rs.slice(0, 2), { ledgers });
    expect(missing.problem).toEqual({
      kind: 'missing',
      seq: null,
      where: 'the ledger of hello/production',
      detail:
        'its rollback of 1.0.1 (op op-3, succeeded at 2025-01-01T00:01:00.000Z) has no rollback-succeeded/rollback-failed record in the store',
    });
  });

  it('two deploys of one version need two records', () => {
    const rs = extend(EMPTY_CHAIN, [input(1, { type: 'deploy-failed', version: '1.0.1' })]).records;
    expect(
      run(rs, { ledgers: [claim({ outcome: 'failed' }), claim({ opId: 'op-2' })] }).problem,
    ).toMatchObject({
      kind: 'missing',
    });
  });

  it('a rollback that failed before it started has only its request on record', () => {
    const rs = extend(EMPTY_CHAIN, [input(1, { type: 'rollback-requested', version: '1.0.1' })]).records;
    expect(run(rs, { ledgers: [claim({ action: 'rollback', outcome: 'failed' })] }).ok).toBe(true);
    expect(run(rs, { ledgers: [claim({ action: 'rollback', outcome: 'succeeded' })] }).ok).toBe(false);
  });
});

describe('audit verify: properties over random chains and tampering', () => {
  const chainLength = fc.integer({ min: 3, max: 30 });

  it('a deleted record (not the last) is missing at its own seq', () => {
    fc.assert(
      fc.property(chainLength, fc.nat(), (n, k) => {
        const i = k % (n - 1);
        const rs = chainOf(n);
        const p = run([...rs.slice(0, i), ...rs.slice(i + 1)]).problem!;
        expect(p).toMatchObject({ kind: 'missing', seq: i + 1, where: `audit.jsonl:${i + 1}` });
      }),
    );
  });

  it('two neighbours swapped are reordered where the first of them stands', () => {
    fc.assert(
      fc.property(chainLength, fc.nat(), (n, k) => {
        const i = k % (n - 1);
        const rs: AuditRecord[] = chainOf(n);
        [rs[i], rs[i + 1]] = [rs[i + 1]!, rs[i]!];
        expect(run(rs).problem).toMatchObject({
          kind: 'reordered',
          seq: i + 2,
          where: `audit.jsonl:${i + 1}`,
        });
      }),
    );
  });

  it('any field edited, with or without the hash recomputed, is named at that record', () => {
    fc.assert(
      fc.property(
        chainLength,
        fc.nat(),
        fc.constantFrom('actor', 'reason', 'version', 'type', 'at'),
        fc.string({ minLength: 1 }),
        fc.boolean(),
        (n, k, field, value, rehash) => {
          const i = k % (n - 1);
          const rs: AuditRecord[] = chainOf(n);
          if ((rs[i] as unknown as Record<string, unknown>)[field] === value) return;
          rs[i] = rehash ? forged(rs[i]!, { [field]: value }) : { ...rs[i]!, [field]: value };
          expect(run(rs).problem).toMatchObject({
            kind: 'edited',
            seq: i + 1,
            where: `audit.jsonl:${i + 1}`,
          });
        },
      ),
    );
  });

  it('a forged record placed anywhere in the middle is inserted', () => {
    fc.assert(
      fc.property(chainLength, fc.nat(), fc.boolean(), (n, k, linked) => {
        const i = 1 + (k % (n - 1));
        const rs: unknown[] = chainOf(n);
        const prev = rs[i - 1] as AuditRecord;
        const fake = forged(prev, {
          id: 'forged',
          actor: 'mallory',
          seq: prev.seq + 1,
          prevHash: linked ? prev.hash : 'f'.repeat(64),
        });
        rs.splice(i, 0, fake);
        // Before the last record nothing follows to say which of the two is the original; its anchor does.
        const anchors = [anchorAt(rs[rs.length - 1] as AuditRecord)];
        expect(run(rs, { anchors }).problem).toMatchObject({
          kind: 'inserted',
          where: `audit.jsonl:${i + 1}`,
        });
      }),
    );
  });

  it('a chain rewritten from any record on fails against an anchor at its old head', () => {
    fc.assert(
      fc.property(chainLength, fc.nat(), fc.boolean(), (n, k, drop) => {
        const i = k % n;
        const rs = chainOf(n);
        const changed = drop
          ? [...rs.slice(0, i), ...rs.slice(i + 1)]
          : rs.map((r, j) => (j === i ? { ...r, actor: 'mallory' } : r));
        const report = run(rechain(changed), { anchors: [anchorAt(rs[n - 1]!)] });
        expect(report.ok).toBe(false);
        expect(['anchor-mismatch', 'truncated']).toContain(report.problem!.kind);
      }),
    );
  });

  it('the genesis link is 64 zeros', () => {
    expect(chainOf(1)[0]!.prevHash).toBe(GENESIS);
  });
});
