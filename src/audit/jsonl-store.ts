import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { EMPTY_CHAIN, extend, unseen, verify, type ChainTip } from './chain.js';
import { withFileLock, type LockOptions } from './lock.js';
import type { AuditInput, AuditRecord, AuditStore, StoredEntry } from './types.js';

/**
 * Append-only JSONL, one record a line, each carrying the hash of the one before, so an edit or a deletion
 * anywhere breaks the chain. Records are deduplicated by id because activities may be retried.
 *
 * Several processes may append to one file (the worker, and the Slack endpoint recording refusals of unknown
 * users): each append holds a lock that cannot be taken from a live holder (see lock.ts), reads what other
 * processes wrote since (only the new bytes), and writes and syncs its lines before letting go.
 *
 * A last line without its newline is what a crash, a full disk or a killed process leaves mid-append. The next
 * append cuts it (back to the last newline) and records the repair as an `audit-repaired` record before its
 * own, so deploys and rollbacks go on; a complete line that does not parse is never cut (that is evidence, and
 * `audit verify` reports it).
 */
export function createJsonlAuditStore(file: string, lockOptions: LockOptions = {}): AuditStore {
  /** What this process knows of the file up to `size` bytes (always at a line boundary). */
  let state: { tip: ChainTip; ids: Set<string>; size: number } | undefined;
  let tail: Promise<unknown> = Promise.resolve();

  const readText = async (): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  };

  /** Brings `state` up to the file's end; under the lock. Returns the repair record when a torn line was cut. */
  const catchUp = async (): Promise<AuditInput | null> => {
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      size = 0;
    }
    if (state && state.size === size) return null;
    // Appends only grow the file: read what was added since. Anything else (a shorter file) is read whole.
    const from = state && size > state.size ? state.size : 0;
    if (from === 0) state = { tip: EMPTY_CHAIN, ids: new Set(), size: 0 };
    const s = state!;
    const added = await readRange(file, from, size);
    const end = added.lastIndexOf(0x0a) + 1;
    for (const line of added.subarray(0, end).toString('utf8').split('\n')) learn(s, line);
    s.size = from + end;
    if (end === added.length) return null;
    return cutTornLine(file, s.size, added.subarray(end));
  };

  // Appends are serialised in-process; the lock serialises them between processes.
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };

  const lines = async (): Promise<string[]> => {
    const text = await readText();
    const all = text.split('\n');
    // The text after the last newline is a line too (torn, until the next append repairs it).
    if (all[all.length - 1] === '') all.pop();
    return all;
  };

  return {
    kind: 'jsonl',
    append(inputs) {
      return serial(() =>
        withFileLock(
          `${file}.locks`,
          async () => {
            await mkdir(path.dirname(file), { recursive: true });
            const repair = await catchUp();
            const s = state!;
            const fresh = unseen(inputs, s.ids);
            // Commit to the in-memory state only after the write, so a failed write is retried whole, not lost.
            const { records, tip } = extend(s.tip, repair ? [repair, ...fresh] : fresh);
            if (records.length > 0) {
              const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
              const fh = await open(file, 'a');
              try {
                await fh.write(text);
                // The chain's head goes back to the workflow as its anchor: the lines must outlast a crash first.
                await fh.datasync();
              } finally {
                await fh.close();
              }
              s.size += Buffer.byteLength(text);
              s.tip = tip;
              for (const r of records) s.ids.add(r.id);
            }
            return { written: records.length - (repair ? 1 : 0), head: { seq: tip.seq, hash: tip.hash } };
          },
          lockOptions,
        ),
      );
    },
    async read(filter = {}) {
      const all: AuditRecord[] = [];
      for (const line of await lines()) {
        const r = parseRecord(line);
        if (r) all.push(r);
      }
      const hits = all.filter(
        (r) => (!filter.app || r.app === filter.app) && (!filter.env || r.env === filter.env),
      );
      return filter.limit ? hits.slice(-filter.limit) : hits;
    },
    async entries(): Promise<StoredEntry[]> {
      return (await lines()).map((line, i) => ({ where: `${file}:${i + 1}`, record: parseJson(line) }));
    },
    async checkpoints() {
      return [];
    },
    async verify() {
      // A line that is no longer JSON was tampered with or torn: it breaks the chain, it does not throw.
      return verify((await lines()).map(parseJson));
    },
  };
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return null;
  }
}

/** A line that is a record as far as continuing the chain goes (seq and hash); null otherwise. */
function parseRecord(line: string): AuditRecord | null {
  const v = parseJson(line) as Partial<AuditRecord> | null;
  return v && typeof v === 'object' && typeof v.seq === 'number' && typeof v.hash === 'string'
    ? (v as AuditRecord)
    : null;
}

/**
 * One complete line: its id is known, and the chain continues from the last record that parses (a line that
 * does not is left for `audit verify` to report, and never stops an append).
 */
function learn(s: { tip: ChainTip; ids: Set<string> }, line: string): void {
  if (line.trim() === '') return;
  const r = parseRecord(line);
  if (!r) return;
  if (typeof r.id === 'string') s.ids.add(r.id);
  s.tip = { seq: r.seq, hash: r.hash };
}

async function readRange(file: string, from: number, to: number): Promise<Buffer> {
  if (to <= from) return Buffer.alloc(0);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** Cuts the file back to `keep` bytes and describes what was cut, as the record of the repair. */
async function cutTornLine(file: string, keep: number, torn: Buffer): Promise<AuditInput> {
  const fh = await open(file, 'r+');
  try {
    await fh.truncate(keep);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  const digest = createHash('sha256').update(torn).digest('hex');
  const at = new Date().toISOString();
  return {
    id: `audit-repaired:${path.basename(file)}:${keep}:${digest}`,
    at,
    type: 'audit-repaired',
    app: '',
    env: null,
    actor: 'shipgate',
    reason: `cut a torn last line (${torn.length} bytes without a newline, sha256 ${digest}) at byte ${keep} of ${path.basename(file)}: an append was interrupted (a crash, a full disk or a killed process)`,
    outcome: 'repaired',
  };
}
