import { appendFile, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { extend, tipOf, unseen, verify, type ChainTip } from './chain.js';
import type { AuditRecord, AuditStore } from './types.js';

/**
 * Append-only JSONL, one record a line, each carrying the hash of the one before, so an edit or a deletion
 * anywhere breaks the chain. Records are deduplicated by id because activities may be retried.
 *
 * Several processes may append to one file (the worker, and the Slack endpoint recording refusals of unknown
 * users): each append holds a lock file, and reloads the chain's tail when another process wrote since.
 */
export function createJsonlAuditStore(file: string): AuditStore {
  let state: { tip: ChainTip; ids: Set<string>; size: number } | undefined;
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
    state = { tip: tipOf(records), ids: new Set(records.map((r) => r.id)), size };
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
    kind: 'jsonl',
    append(inputs) {
      return serial(() =>
        withLock(`${file}.lock`, async () => {
          const s = await load();
          // Commit to the in-memory state only after the write, so a failed write is retried whole, not lost.
          const { records, tip } = extend(s.tip, unseen(inputs, s.ids));
          const lines = records.map((r) => JSON.stringify(r));
          if (lines.length > 0) {
            const text = lines.join('\n') + '\n';
            await appendFile(file, text);
            s.size += Buffer.byteLength(text);
          }
          s.tip = tip;
          for (const r of records) s.ids.add(r.id);
          return { written: lines.length, head: { seq: tip.seq, hash: tip.hash } };
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
    async entries() {
      return (await readLines()).map((line, i) => {
        let record: unknown = null;
        try {
          record = JSON.parse(line) as unknown;
        } catch {
          record = null;
        }
        return { where: `${file}:${i + 1}`, record };
      });
    },
    async checkpoints() {
      return [];
    },
    async verify() {
      // A line that is no longer JSON was tampered with or truncated: it breaks the chain, it does not throw.
      return verify(
        (await readLines()).map((line) => {
          try {
            return JSON.parse(line) as unknown;
          } catch {
            return null;
          }
        }),
      );
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
