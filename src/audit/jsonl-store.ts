import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AuditRecord, AuditStore } from './types.js';

const GENESIS = '0'.repeat(64);

export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

/**
 * Append-only JSONL, one record a line, each carrying the hash of the one before, so an edit or a deletion
 * anywhere breaks the chain. Records are deduplicated by id because activities may be retried.
 *
 * Several processes may append to one file (the worker, and the Slack endpoint recording refusals of unknown
 * users): each append holds a lock file, and reloads the chain's tail when another process wrote since.
 */
export function createJsonlAuditStore(file: string): AuditStore {
  let state: { seq: number; lastHash: string; ids: Set<string>; size: number } | undefined;
  let tail: Promise<unknown> = Promise.resolve();

  const sizeOf = async () => {
    try {
      return (await stat(file)).size;
    } catch {
      return 0;
    }
  };

  const load = async () => {
    const size = await sizeOf();
    if (state && state.size === size) return state;
    const records = await readAll();
    const last = records[records.length - 1];
    state = {
      seq: last?.seq ?? 0,
      lastHash: last?.hash ?? GENESIS,
      ids: new Set(records.map((r) => r.id)),
      size,
    };
    return state;
  };

  const readLines = async (): Promise<string[]> => {
    if (!existsSync(file)) return [];
    const text = await readFile(file, 'utf8');
    return text.split('\n').filter((l) => l.trim() !== '');
  };
  const readAll = async (): Promise<AuditRecord[]> =>
    (await readLines()).map((l) => JSON.parse(l) as AuditRecord);

  // Appends are serialised in-process; one worker per SHIPGATE_HOME writes the local store.
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };

  return {
    append(inputs) {
      return serial(() =>
        withLock(`${file}.lock`, async () => {
          const s = await load();
          // Work on a copy and commit it only after the write, so a failed write is retried whole, not lost.
          const next = { seq: s.seq, lastHash: s.lastHash, ids: new Set<string>() };
          const lines: string[] = [];
          for (const input of inputs) {
            if (s.ids.has(input.id) || next.ids.has(input.id)) continue;
            const base = { ...input, seq: next.seq + 1, prevHash: next.lastHash };
            const record: AuditRecord = { ...base, hash: hashRecord(base) };
            lines.push(JSON.stringify(record));
            next.seq = record.seq;
            next.lastHash = record.hash;
            next.ids.add(input.id);
          }
          if (lines.length > 0) {
            const text = lines.join('\n') + '\n';
            await appendFile(file, text);
            s.size += Buffer.byteLength(text);
          }
          s.seq = next.seq;
          s.lastHash = next.lastHash;
          for (const id of next.ids) s.ids.add(id);
          return lines.length;
        }),
      );
    },
    async read(filter = {}) {
      const all = await readAll();
      const hits = all.filter(
        (r) => (!filter.app || r.app === filter.app) && (!filter.env || r.env === filter.env),
      );
      return filter.limit ? hits.slice(-filter.limit) : hits;
    },
    async verify() {
      const all = await readLines();
      let prev = GENESIS;
      for (const [i, line] of all.entries()) {
        let r: AuditRecord | null = null;
        try {
          r = JSON.parse(line) as AuditRecord | null;
        } catch {
          // reported just below
        }
        // A line that is no longer a JSON record was tampered with or truncated: report it rather than throw.
        if (!r || typeof r !== 'object') return { ok: false, count: all.length, brokenAt: i + 1 };
        const { hash, ...rest } = r;
        if (r.prevHash !== prev || hashRecord(rest) !== hash)
          return { ok: false, count: all.length, brokenAt: i + 1 };
        prev = hash;
      }
      return { ok: true, count: all.length };
    },
  };
}

/** A lock held by creating a file exclusively; one left by a crashed process is broken after 10 s. */
async function withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockFile), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lockFile, 'wx')).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lockFile).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (age > 10_000) await rm(lockFile, { force: true });
      else await new Promise((r) => setTimeout(r, Math.min(2 + attempt * 2, 50)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
