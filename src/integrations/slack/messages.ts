/**
 * Which Slack message is each release's card, kept under SHIPGATE_HOME so a restarted worker still updates the
 * card it posted instead of posting another. Small JSON, re-read on every access (several workers may share a
 * home) and replaced atomically.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CardRecord {
  channel: string;
  ts: string;
  /** Set once the release ended: later, late updates must not overwrite the final card. */
  final: boolean;
  updatedAt: string;
}

export interface MessageStore {
  get(key: string): Promise<CardRecord | undefined>;
  set(key: string, record: CardRecord): Promise<void>;
}

/** Cards older than the newest this many are forgotten. */
const KEEP = 1000;

export function createMessageStore(file: string): MessageStore {
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };

  const read = async (): Promise<Record<string, CardRecord>> => {
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, CardRecord>) : {};
    } catch {
      // Missing or unreadable: start over; the worst case is a second card for a running release.
      return {};
    }
  };

  return {
    get: (key) => serial(async () => (await read())[key]),
    set: (key, record) =>
      serial(async () => {
        const all = await read();
        delete all[key];
        all[key] = record;
        const keys = Object.keys(all);
        for (const k of keys.slice(0, Math.max(0, keys.length - KEEP))) delete all[k];
        await mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify(all, null, 1));
        await rename(tmp, file);
      }),
  };
}

/** One card per run of a release: a re-run of a failed version gets a new card. */
export function cardKey(status: { app: string; version: string; startedAt: string }): string {
  return `${status.app}/${status.version}@${status.startedAt}`;
}
