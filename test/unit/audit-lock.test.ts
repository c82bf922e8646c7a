import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlAuditStore } from '../../src/audit/jsonl-store.js';
import { isGone, LockTimeoutError, startTimeOf, withFileLock, type LockOwner } from '../../src/audit/lock.js';
import type { AuditRecord } from '../../src/audit/types.js';
import { verifyTrail } from '../../src/audit/verify.js';
import { ROOT } from '../helpers/processes.js';

let dir: string;
let counter = 0;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shipgate-audit-lock-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const freshFile = () => path.join(dir, `case-${++counter}`, 'audit.jsonl');

const src = (p: string) => JSON.stringify(path.join(ROOT, 'src', p));

/** A real Node process running `code` (an ES module; the sources load through tsx), its output as lines. */
function child(code: string): {
  proc: ChildProcess;
  line: (pred: (l: string) => boolean) => Promise<string>;
  exit: Promise<number | null>;
  out: () => string;
} {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const seen: string[] = [];
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d;
    partial += d;
    const ls = partial.split('\n');
    partial = ls.pop()!;
    for (const l of ls) {
      seen.push(l);
      for (const w of [...waiters])
        if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    exit,
    out: () => out,
    line: (pred) =>
      new Promise((resolve, reject) => {
        const hit = seen.find(pred);
        if (hit !== undefined) return resolve(hit);
        waiters.push({ pred, resolve });
        void exit.then(() => reject(new Error(`the process exited before the expected line:\n${out}`)));
      }),
  };
}

const records = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditRecord);

/** A process that takes the lock and holds it until it is killed. */
const holderCode = (lockDir: string) => `
  const { withFileLock } = await import(${src('audit/lock.ts')});
  await withFileLock(${JSON.stringify(lockDir)}, async () => {
    console.log('held');
    await new Promise(() => setInterval(() => {}, 1000));
  });
`;

/** A process that appends `n` records one append at a time, some ids shared with every other appender. */
const appenderCode = (file: string, name: string, n: number) => `
  const { createJsonlAuditStore } = await import(${src('audit/jsonl-store.ts')});
  const store = createJsonlAuditStore(${JSON.stringify(file)});
  const rec = (id) => ({ id, at: new Date().toISOString(), type: 'deploy-succeeded', app: 'hello', env: 'production', version: '1.0.0', actor: ${JSON.stringify(name)} });
  for (let i = 0; i < ${n}; i++) {
    await store.append(i % 5 === 0 ? [rec('shared-' + i), rec(${JSON.stringify(name)} + '-' + i)] : [rec(${JSON.stringify(name)} + '-' + i)]);
  }
  console.log('done');
`;

describe('audit lock between processes', () => {
  it('a lock left by a SIGKILLed holder is taken over by one of 8 appender processes at a time: the chain never forks', async () => {
    const perProcess = 25;
    for (let round = 0; round < 3; round++) {
      const file = freshFile();
      const holder = child(holderCode(`${file}.locks`));
      await holder.line((l) => l === 'held');
      holder.proc.kill('SIGKILL');
      await holder.exit;
      // The dead holder's lock is there, naming it.
      const gens = readdirSync(`${file}.locks`).filter((n) => /^\d+$/.test(n));
      expect(gens).toEqual(['1']);
      expect(JSON.parse(readFileSync(path.join(`${file}.locks`, '1'), 'utf8'))).toMatchObject({
        pid: holder.proc.pid,
      });

      const appenders = Array.from({ length: 8 }, (_, k) => child(appenderCode(file, `p${k}`, perProcess)));
      const codes = await Promise.all(appenders.map((a) => a.exit));
      expect(codes, appenders.map((a) => a.out()).join('\n')).toEqual(Array(8).fill(0));

      const rs = records(file);
      const shared = Math.ceil(perProcess / 5);
      expect(rs).toHaveLength(8 * perProcess + shared);
      expect(rs.map((r) => r.seq)).toEqual(rs.map((_, i) => i + 1));
      expect(new Set(rs.map((r) => r.prevHash)).size).toBe(rs.length);
      expect(new Set(rs.map((r) => r.id)).size).toBe(rs.length);
      const entries = rs.map((record, i) => ({ where: `${file}:${i + 1}`, record }));
      expect(verifyTrail({ entries })).toMatchObject({ ok: true, records: rs.length });
    }
  }, 120_000);

  it('a live holder is waited for, never broken: the waiting process writes after it', async () => {
    const file = freshFile();
    const lockDir = `${file}.locks`;
    const holder = child(`
      const { withFileLock } = await import(${src('audit/lock.ts')});
      const { extend, EMPTY_CHAIN } = await import(${src('audit/chain.ts')});
      const { appendFileSync, mkdirSync } = await import('node:fs');
      const lines = (await import('node:readline')).createInterface({ input: process.stdin });
      await withFileLock(${JSON.stringify(lockDir)}, async () => {
        console.log('held');
        await new Promise((resolve) => lines.once('line', resolve));
        const { records } = extend(EMPTY_CHAIN, [{ id: 'holder', at: new Date().toISOString(), type: 'freeze', app: 'hello', env: 'production', actor: 'holder' }]);
        mkdirSync(${JSON.stringify(path.dirname(file))}, { recursive: true });
        appendFileSync(${JSON.stringify(file)}, JSON.stringify(records[0]) + '\\n');
      });
      lines.close();
      console.log('released');
    `);
    await holder.line((l) => l === 'held');
    const waiter = child(`
      const { createJsonlAuditStore } = await import(${src('audit/jsonl-store.ts')});
      const store = createJsonlAuditStore(${JSON.stringify(file)}, { onBusy: (o) => console.log('busy ' + o.pid) });
      const r = await store.append([{ id: 'waiter', at: new Date().toISOString(), type: 'unfreeze', app: 'hello', env: 'production', actor: 'waiter' }]);
      console.log('wrote ' + r.head.seq);
    `);
    expect(await waiter.line((l) => l.startsWith('busy '))).toBe(`busy ${holder.proc.pid}`);
    holder.proc.stdin!.write('go\n');
    expect(await waiter.line((l) => l.startsWith('wrote '))).toBe('wrote 2');
    expect(await holder.exit).toBe(0);
    expect(await waiter.exit).toBe(0);
    expect(records(file).map((r) => [r.seq, r.id])).toEqual([
      [1, 'holder'],
      [2, 'waiter'],
    ]);
  });

  it('past its timeout a waiter gives up with an error naming the live holder, and leaves its lock alone', async () => {
    const file = freshFile();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const taken = new Promise<void>((r) => (holding = r));
    const holder = withFileLock(`${file}.locks`, async () => {
      holding();
      await held;
    });
    await taken;
    const store = createJsonlAuditStore(file, { timeoutMs: 50 });
    const err = await store
      .append([
        { id: 'x', at: '2025-01-01T00:00:00.000Z', type: 'freeze', app: 'hello', env: null, actor: 'a' },
      ])
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toMatch(
      new RegExp(`^the audit lock .* is held by live process ${process.pid} on `),
    );
    release();
    await holder;
    expect(
      (
        await store.append([
          { id: 'x', at: '2025-01-01T00:00:00.000Z', type: 'freeze', app: 'hello', env: null, actor: 'a' },
        ])
      ).written,
    ).toBe(1);
  });

  it('a holder is gone when its pid is, when the pid now belongs to a process started at another time, or after a reboot', async () => {
    const live = child('setInterval(() => {}, 1000); console.log("up")');
    await live.line((l) => l === 'up');
    const pid = live.proc.pid!;
    const base = await ownOwner();
    const owner: LockOwner = { ...base, pid, start: startTimeOf(pid) };
    expect(owner.start).not.toBeNull();
    expect(isGone(owner)).toBe(false);
    expect(isGone({ ...owner, start: String(Number(owner.start) + 1) })).toBe(true);
    expect(isGone({ ...owner, boot: 'another-boot' })).toBe(true);
    // Another host's process cannot be seen from here: never broken.
    expect(isGone({ ...owner, host: 'elsewhere', pid: 999_999_999 })).toBe(false);
    live.proc.kill('SIGKILL');
    await live.exit;
    expect(isGone(owner)).toBe(true);
  });

  it('a lock whose pid was reused by a live process is taken over', async () => {
    const file = freshFile();
    const lockDir = `${file}.locks`;
    mkdirSync(lockDir, { recursive: true });
    const me = await ownOwner();
    // This very process, but "started" at another time: the holder it names is gone.
    writeFileSync(path.join(lockDir, '7'), JSON.stringify({ ...me, start: String(Number(me.start) + 1) }));
    const store = createJsonlAuditStore(file, { timeoutMs: 60_000 });
    expect(
      (
        await store.append([
          { id: 'a', at: '2025-01-01T00:00:00.000Z', type: 'freeze', app: 'hello', env: null, actor: 'a' },
        ])
      ).written,
    ).toBe(1);
    expect(readdirSync(lockDir).filter((n) => /^\d+$/.test(n))).toEqual(['8']);
    expect(JSON.parse(readFileSync(path.join(lockDir, '8'), 'utf8'))).toEqual({ released: true });
  });
});

/** This process's own owner record, exactly as it writes it into a lock it takes (what others judge it by). */
async function ownOwner(): Promise<LockOwner> {
  const lockDir = path.join(dir, `owner-${++counter}`);
  let captured = '';
  await withFileLock(lockDir, async () => {
    captured = readFileSync(path.join(lockDir, '1'), 'utf8');
  });
  return JSON.parse(captured) as LockOwner;
}
