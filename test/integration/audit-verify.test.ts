import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashRecord } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { personKey, startStack, type App, type Stack } from '../helpers/fixture.js';

/**
 * `shipgate audit verify` and `audit export` through the real CLI, on the trail a real worker wrote: two releases
 * approved with SSH-signed approvals and a rollback. Each tampering is done to a copy of that trail (in a home
 * of its own) and checked against the anchors the dev server's history holds.
 */
describe('audit verify and export on a real trail (dev server, worker process, JSONL store)', () => {
  let stack: Stack;
  let app: App;
  let trail: string;
  let lines: string[];
  let copies = 0;

  const trailFile = (home: string) => path.join(home, 'audit', 'audit.jsonl');
  const verify = (home: string, ...args: string[]) =>
    stack.run(['audit', 'verify', '--config', stack.configFile, ...args], { SHIPGATE_HOME: home });
  /** A home of its own holding `text` as its audit trail. */
  const copyWith = async (text: string) => {
    const home = path.join(stack.home, `copy-${++copies}`);
    await mkdir(path.join(home, 'audit'), { recursive: true });
    await writeFile(trailFile(home), text);
    return home;
  };
  const parsed = () => lines.map((l) => JSON.parse(l) as AuditRecord);
  const seqOf = (pred: (r: AuditRecord) => boolean) => parsed().find(pred)!.seq;
  /** Records relinked and rehashed from the first on, as a forger who recomputes every later hash would. */
  const rechain = (rs: AuditRecord[]) => {
    let prev = '0'.repeat(64);
    return rs.map((r, i) => {
      const { hash: _h, ...rest } = { ...r, seq: i + 1, prevHash: prev };
      const out = { ...rest, hash: hashRecord(rest) };
      prev = out.hash;
      return JSON.stringify(out);
    });
  };
  const text = (ls: string[]) => ls.map((l) => `${l}\n`).join('');

  beforeAll(async () => {
    stack = await startStack();
    app = await stack.addApp('trail');
    for (const v of ['1.0.0', '1.1.0']) {
      await app.toGate(v);
      await app.approve(v, 'alice', 'bob');
      expect((await app.ended(v)).state).toBe('succeeded');
    }
    const rb = await app.run(
      ...['rollback', app.name, 'production', '--to', '1.0.0', '--as', 'carol'],
      ...['--reason', 'checkout is slow on 1.1.0', '--wait'],
    );
    expect(rb.code, rb.stderr).toBe(0);
    // The live trail verifies (records a moment behind their ledger entry are waited for); it is still from here on.
    const live = await verify(stack.home);
    expect(live.code, live.stdout + live.stderr).toBe(0);
    trail = await readFile(trailFile(stack.home), 'utf8');
    lines = trail.split('\n').filter((l) => l !== '');
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('an intact trail: exit 0 and one line naming the records, the head, the anchors, the ledgers and the proofs re-verified', async () => {
    const r = await verify(await copyWith(trail));
    expect(r.code, r.stderr).toBe(0);
    const rs = parsed();
    const head = rs[rs.length - 1]!;
    expect(r.stdout).toMatch(
      new RegExp(
        `^audit verify \\(jsonl\\): ok, ${rs.length} records \\(seq 1–${rs.length}\\), head seq ${head.seq} ${head.hash.slice(0, 12)}…, \\d+ anchors checked, ${rs.length} matched Temporal history, \\d+ ledger entries found, (\\d+) proofs re-verified\\n$`,
      ),
    );
    // Every approval and the rollback request carry an SSH proof: each was checked again with the config's keys.
    const proven = rs.filter(
      (x) => x.proof?.via === 'ssh' && ['approval', 'rollback-requested', 'release-started'].includes(x.type),
    );
    expect(proven.length).toBeGreaterThanOrEqual(5);
    expect(r.stdout).toContain(`${proven.length} proofs re-verified`);
    expect(Number(/(\d+) ledger entries found/.exec(r.stdout)![1])).toBeGreaterThanOrEqual(5);

    const json = await verify(await copyWith(trail), '--json');
    expect(json.code).toBe(0);
    expect(json.json).toMatchObject({
      ok: true,
      store: 'jsonl',
      problem: null,
      records: rs.length,
      head: { seq: head.seq, hash: head.hash },
      matchedHistory: rs.length,
      proofs: proven.length,
    });
  });

  it('edited in place: exit 1 naming the record and that its content no longer matches its hash', async () => {
    const k = seqOf((r) => r.type === 'approval' && r.actor === 'bob');
    const ls = [...lines];
    ls[k - 1] = ls[k - 1]!.replace('"actor":"bob"', '"actor":"mallory"');
    const home = await copyWith(text(ls));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `audit verify (jsonl): FAILED: edited at seq ${k} (${trailFile(home)}:${k}): its content no longer matches its hash\n`,
    );
  });

  it('edited and the whole chain recomputed after it: the record as its release sent it names the edit', async () => {
    const k = seqOf((r) => r.type === 'approval' && r.actor === 'bob');
    const rs = parsed().map((r) => (r.seq === k ? { ...r, actor: 'mallory' } : r));
    const home = await copyWith(text(rechain(rs)));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^audit verify \\(jsonl\\): FAILED: edited at seq ${k} \\(${trailFile(home)}:${k}\\): its actor is "mallory", but release/trail/1\\.\\d\\.0 \\(history, event \\d+\\) wrote "bob"\\n$`,
      ),
    );
  });

  it('a record deleted: exit 1, missing at its seq', async () => {
    const k = seqOf((r) => r.type === 'rollback-requested');
    const home = await copyWith(text(lines.filter((_, i) => i !== k - 1)));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `audit verify (jsonl): FAILED: missing at seq ${k} (${trailFile(home)}:${k}): seq ${k} is missing before it (it holds seq ${k + 1})\n`,
    );
  });

  it('records deleted and the chain recomputed: the anchors in Temporal history catch it', async () => {
    const k = seqOf((r) => r.type === 'approval');
    const rs = parsed().filter((r) => r.seq < k || r.seq > k + 2);
    const r = await verify(await copyWith(text(rechain(rs))), '--json');
    expect(r.code).toBe(1);
    const problem = (r.json as { problem: { kind: string; seq: number; detail: string } }).problem;
    expect(['anchor-mismatch', 'truncated']).toContain(problem.kind);
    expect(problem.seq).toBeGreaterThanOrEqual(k);
    expect(problem.detail).toMatch(
      /(env|release)\/trail\/[^ ]+ \((history, event \d+|its state|its result)\)/,
    );
  });

  it('a forged record inserted: exit 1, inserted where it stands', async () => {
    const rs = parsed();
    const k = seqOf((r) => r.type === 'approval');
    const before = rs[k - 2]!;
    const { hash: _h, ...rest } = { ...rs[k - 1]!, id: 'forged', actor: 'mallory', prevHash: before.hash };
    const fake = JSON.stringify({ ...rest, hash: hashRecord(rest) });
    const ls = [...lines];
    ls.splice(k - 1, 0, fake);
    const home = await copyWith(text(ls));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`^audit verify \\(jsonl\\): FAILED: inserted at seq ${k} \\(${trailFile(home)}:${k}\\): `),
    );
  });

  it('two records swapped: exit 1, reordered', async () => {
    const ls = [...lines];
    [ls[3], ls[4]] = [ls[4]!, ls[3]!];
    const home = await copyWith(text(ls));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `audit verify (jsonl): FAILED: reordered at seq 5 (${trailFile(home)}:4): it holds seq 5 where seq 4 belongs (seq 4 is at ${trailFile(home)}:5)\n`,
    );
  });

  it('the tail cut off: exit 1, truncated, naming the anchor that goes further', async () => {
    const kept = lines.length - 3;
    const home = await copyWith(text(lines.slice(0, kept)));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^audit verify \\(jsonl\\): FAILED: truncated at seq \\d+ \\(${trailFile(home)}:${kept}\\): the chain ends at seq ${kept}, but \\S+ \\(.+\\) anchors seq \\d+ `,
      ),
    );
  });

  it('the whole store emptied, or its file gone: exit 1, truncated', async () => {
    const emptied = await verify(await copyWith(''));
    expect(emptied.code).toBe(1);
    expect(emptied.stdout).toMatch(
      /^audit verify \(jsonl\): FAILED: truncated at seq \d+ \(the store\): the store is empty, but /,
    );
    const gone = path.join(stack.home, 'no-trail-here');
    await mkdir(gone, { recursive: true });
    const r = await verify(gone);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('the store is empty, but ');
  });

  it('a torn last line: exit 1, unreadable, saying the next append repairs it', async () => {
    const home = await copyWith(trail + lines[0]!.slice(0, 40));
    const r = await verify(home);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `audit verify (jsonl): FAILED: unreadable at seq ${lines.length + 1} (${trailFile(home)}:${lines.length + 1}): it no longer parses as a record (a torn last line: the next append cuts it and records that)\n`,
    );
  });

  it('a proof that no longer holds against the config’s keys: exit 1, proof invalid', async () => {
    // alice's key rotated in the config the check reads: her signatures are by a key no longer listed for her.
    const keyDir = path.join(stack.home, 'rotated-keys');
    await mkdir(keyDir, { recursive: true, mode: 0o700 });
    const newKey = await personKey(keyDir, 'alice');
    const config = parse(await readFile(stack.configFile, 'utf8')) as {
      people: Record<string, { sshKeys: string[] }>;
    };
    config.people.alice!.sshKeys = [newKey.publicKey];
    const rotated = path.join(stack.home, 'rotated.yaml');
    await writeFile(rotated, stringify(config));
    const home = await copyWith(trail);
    const r = await stack.run(['audit', 'verify', '--config', rotated], { SHIPGATE_HOME: home });
    expect(r.code, r.stderr).toBe(1);
    const k = seqOf((x) => x.actor === 'alice' && x.proof?.via === 'ssh');
    expect(r.stdout).toMatch(
      new RegExp(
        `^audit verify \\(jsonl\\): FAILED: proof-invalid at seq ${k} \\(${trailFile(home)}:${k}\\): its ssh proof does not hold: the signature is by a key not listed for alice`,
      ),
    );
  });

  it('--from checks from that record on; beyond the end is bad input (exit 2)', async () => {
    const home = await copyWith(trail);
    const r = await verify(home, '--from', '3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^audit verify \\(jsonl\\): ok, ${lines.length - 2} records \\(seq 3–${lines.length}\\)`),
    );
    const beyond = await verify(home, '--from', String(lines.length + 5));
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toBe(
      `shipgate: --from ${lines.length + 5} is beyond the end of the chain (its last record is seq ${lines.length})\n`,
    );
    for (const bad of ['0', 'x', '-1']) {
      const r2 = await verify(home, '--from', bad);
      expect(r2.code).toBe(2);
      expect(r2.stderr).toContain(`--from must be a record's sequence number (1 or more), not "${bad}"`);
    }
    const unknown = await verify(home, '--store', 'floppy');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^shipgate: unknown audit store "floppy" for --store \(stores: jsonl/);
  });

  it('export: JSON lines exactly as chained, CSV with a header and no formula, --since', async () => {
    const home = await copyWith(trail);
    const exp = (...args: string[]) =>
      stack.run(['audit', 'export', '--config', stack.configFile, ...args], { SHIPGATE_HOME: home });
    const jsonl = await exp();
    expect(jsonl.code, jsonl.stderr).toBe(0);
    expect(jsonl.stdout).toBe(trail);

    const rs = parsed();
    const since = rs[Math.floor(rs.length / 2)]!.at;
    const later = await exp('--since', since, '--format', 'jsonl');
    expect(later.stdout).toBe(text(lines.filter((_, i) => rs[i]!.at >= since)));

    const csv = await exp('--format', 'csv');
    expect(csv.code).toBe(0);
    const rows = csv.stdout.split('\r\n');
    expect(rows[0]).toBe(
      'seq,at,type,app,env,version,actor,via,reason,outcome,approvers,fromVersion,releaseId,proofVia,proofDigest,findings,id,prevHash,hash',
    );
    expect(rows.filter((x) => x !== '')).toHaveLength(rs.length + 1);
    const rollback = rs.find((x) => x.type === 'rollback-requested')!;
    expect(csv.stdout).toContain(
      `${rollback.seq},${rollback.at},rollback-requested,trail,production,1.0.0,carol,ssh,checkout is slow on 1.1.0,`,
    );

    // A reason that a spreadsheet would run as a formula, as a forger might write it.
    const forged = [
      ...lines,
      JSON.stringify({ ...rs[0]!, seq: rs.length + 1, reason: '=HYPERLINK("http://x","y"), @SUM(1)' }),
    ];
    const evil = await copyWith(text(forged));
    const out = await stack.run(['audit', 'export', '--config', stack.configFile, '--format', 'csv'], {
      SHIPGATE_HOME: evil,
    });
    expect(out.stdout).toContain(`,"'=HYPERLINK(""http://x"",""y""), @SUM(1)",`);

    for (const [args, message] of [
      [['--format', 'xml'], '--format must be one of jsonl, csv, not "xml"'],
      [['--since', 'yesterday'], '--since must be an ISO 8601 time'],
    ] as const) {
      const bad = await exp(...args);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(message);
      expect(bad.stdout).toBe('');
    }
  });

  it('the live trail still verifies after all of the above (the copies were never its own)', async () => {
    const r = await verify(stack.home);
    expect(r.code, r.stdout).toBe(0);
    await rm(path.join(stack.home, 'rotated.yaml'), { force: true });
  });
});
