/**
 * (f) The audit stores, JSONL and S3, measured in one run on two stacks (dev server + worker each), the S3 one
 *     writing to a versitygw server this benchmark starts (scripts/s3-server.sh; COMPLIANCE Object Lock, as in
 *     production) and stops again, also when it fails:
 *   - append throughput: single-record appends, then batches of 20 (what a workflow hands over at once), into
 *     the chain the stack's worker writes, until it holds 10,000 records;
 *   - `audit verify` of that 10,000-record chain: the store's verify() in process, and `shipgate audit verify`
 *     end to end (the CLI also reads Temporal's anchors, the records workflows sent and the ledgers, and checks
 *     every SSH proof the records keep), against the target of 10 s for S3;
 *   - warm rollbacks through the CLI (`shipgate rollback --wait`, local target), the two stacks interleaved,
 *     against the target that appends stay off a rollback's critical path: S3 p50 within 10% of JSONL's. The
 *     time until every rollback's records are in each store follows, so an audit that was merely dropped
 *     would show.
 *
 * The filler records (bench/lib/audit-trail.ts) are release and rollback cycles of an app no config names, with
 * real SSH proofs, so the verified chain is shaped like a real trail.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { createAuditStore } from '../src/audit/registry.js';
import type { AuditInput, AuditRecord, AuditStore } from '../src/audit/types.js';
import { validateConfig } from '../src/config/load.js';
import type { ShipgateConfig } from '../src/config/schema.js';
import { freePort } from '../src/temporal/ports.js';
import { cli } from '../test/helpers/processes.js';
import { startS3Server, useCredentials } from '../test/helpers/s3-server.js';
import { fillerProofs, fillerRecords } from './lib/audit-trail.js';
import {
  cliEnv,
  releaseOutcome,
  servedVersion,
  sleep,
  startStack,
  withTimeout,
  type Cleanup,
  type Stack,
} from './lib/stack.js';
import { instantConfig } from './pipeline.js';
import { ms, ratio, summarize, type ResultRow, type Summary } from './lib/stats.js';

const APP = 'hello';
const APPROVERS = ['alice', 'bob'];
const RELEASER = 'dave';
const ROLLER = 'carol';
const SIGNERS = ['alice', 'bob', 'carol', 'dave'];
const VERSIONS = ['1.0.0', '1.0.1'] as const;
const CHAIN = 10_000;
const SINGLES = 300;
const BATCH = 20;
const VERIFY_RUNS = 3;
const ROLLBACK_WARMUP = 2;
/** What the issue asks: verify 10,000 S3 records in under 10 s; S3 rollback p50 within 10% of JSONL's. */
const VERIFY_TARGET_MS = 10_000;
const ROLLBACK_TARGET = 1.1;
const BUCKET = 'shipgate-bench-audit';

export interface AuditBenchOptions {
  /** Rollbacks measured per store. */
  rollbacks: number;
  log: (line: string) => void;
}

type Kind = 'jsonl' | 's3';

interface Side {
  kind: Kind;
  stack: Stack;
  config: ShipgateConfig;
  port: number;
  serving: string;
}

export async function auditBenchmark(cleanup: Cleanup, opts: AuditBenchOptions): Promise<ResultRow[]> {
  const { log } = opts;
  log('audit: starting versitygw');
  const server = await startS3Server();
  cleanup.add('stop versitygw', () => server.stop());
  // The worker, the CLI and this process find the server's credentials where the AWS chain looks: the environment.
  const restoreEnv = useCredentials(server);
  cleanup.add('restore the AWS environment', async () => restoreEnv());
  await server.createBucket(BUCKET, { objectLock: true });
  const s3 = {
    bucket: BUCKET,
    prefix: 'trail/',
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    objectLock: { mode: 'COMPLIANCE', days: 1 },
  };

  const sides: Side[] = [];
  for (const kind of ['jsonl', 's3'] as const) {
    const ports = { staging: await freePort(), production: await freePort() };
    log(`audit: starting the ${kind} stack (production :${ports.production})`);
    const config = {
      ...instantConfig(ports.staging, ports.production),
      audit: kind === 's3' ? { store: 's3', s3 } : { store: 'jsonl' },
    };
    const stack = await startStack(cleanup, `audit-${kind}`, config, SIGNERS);
    const loaded = validateConfig(parse(await readFile(stack.configFile, 'utf8')), stack.configFile);
    sides.push({ kind, stack, config: loaded.config, port: ports.production, serving: VERSIONS[1] });
  }
  const bySide = <T>(fn: (side: Side) => Promise<T>) => Promise.all(sides.map(fn));

  // Two versions in production on each stack, so every rollback after is warm.
  await bySide(async (side) => {
    for (const [i, version] of VERSIONS.entries()) await release(side.stack, version, i);
    await delivered(side, 'release-ended', VERSIONS.length, 1000, 60_000);
    log(`audit: ${side.kind}: ${VERSIONS.join(', ')} released; their records are in the store`);
  });

  // Appends, one stack after the other so neither measures the other's load.
  const appendRows: ResultRow[] = [];
  const singleRates: Partial<Record<Kind, number>> = {};
  const batchRates: Partial<Record<Kind, number>> = {};
  for (const side of sides) {
    const proofs = await fillerProofs(side.config, side.stack.prove);
    const records = fillerRecords(`bench-fill-${side.kind}`, proofs);
    const store = createAuditStore(side.config, side.stack.home);
    try {
      const f = await fill(store, records, side.kind, log);
      singleRates[side.kind] = f.singleRate;
      batchRates[side.kind] = f.batchRate;
      const vsJsonl = (rates: Partial<Record<Kind, number>>) =>
        side.kind === 's3' ? ` (${ratio(rates.s3!, rates.jsonl!)} JSONL's)` : '';
      appendRows.push(
        {
          bench: 'f. audit',
          figure: `${side.kind}: append, 1 record (latency of one append)`,
          n: f.singles.n,
          median: ms(f.singles.median),
          p95: ms(f.singles.p95),
          ratio: `${f.singleRate.toFixed(0)} records/s${vsJsonl(singleRates)}`,
          data: { recordsPerSecond: f.singleRate },
        },
        {
          bench: 'f. audit',
          figure: `${side.kind}: append, batch of ${BATCH} (latency of one batch)`,
          n: f.batches.n,
          median: ms(f.batches.median),
          p95: ms(f.batches.p95),
          ratio: `${f.batchRate.toFixed(0)} records/s${vsJsonl(batchRates)}`,
          data: { recordsPerSecond: f.batchRate },
        },
      );
    } finally {
      (store as AuditStore & { close?(): void }).close?.();
    }
  }

  // verify(), then the CLI, each store in turn, alternating which goes first.
  const inProcess: Record<Kind, number[]> = { jsonl: [], s3: [] };
  const viaCli: Record<Kind, number[]> = { jsonl: [], s3: [] };
  const counted: Record<Kind, number> = { jsonl: 0, s3: 0 };
  for (let run = 0; run < VERIFY_RUNS; run++)
    for (const side of run % 2 ? [...sides].reverse() : sides) {
      const store = createAuditStore(side.config, side.stack.home);
      const t0 = performance.now();
      const v = await store.verify().finally(() => (store as AuditStore & { close?(): void }).close?.());
      inProcess[side.kind].push(performance.now() - t0);
      if (!v.ok) throw new Error(`${side.kind}: verify() found the chain broken at ${v.brokenAt}`);
      if (v.count < CHAIN) throw new Error(`${side.kind}: the chain holds ${v.count} records, not ${CHAIN}`);
      counted[side.kind] = v.count;

      const args = [
        'audit',
        'verify',
        '--config',
        side.stack.configFile,
        '--address',
        side.stack.server.address,
      ];
      const t1 = performance.now();
      const r = await cli([...args, '--json'], cliEnv(side.stack.home), 120_000);
      viaCli[side.kind].push(performance.now() - t1);
      const out = r.json as { ok?: boolean; summary?: string; records?: number } | undefined;
      if (r.code !== 0 || !out?.ok)
        throw new Error(`shipgate ${args.join(' ')} exited ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`);
      if (run === 0) log(`audit: ${side.kind}: ${out.summary}`);
    }

  const verifyRows: ResultRow[] = [];
  for (const side of sides) {
    const goal = (s: Summary) =>
      side.kind === 's3'
        ? `target < ${ms(VERIFY_TARGET_MS)}: ${s.median < VERIFY_TARGET_MS ? 'met' : 'NOT met'}`
        : '';
    const p = summarize(inProcess[side.kind]);
    const c = summarize(viaCli[side.kind]);
    verifyRows.push(
      {
        bench: 'f. audit',
        figure: `${side.kind}: verify() of ${counted[side.kind]} records (in process)`,
        n: p.n,
        median: ms(p.median),
        p95: ms(p.p95),
        ratio: goal(p),
        data: { records: counted[side.kind], medianMs: p.median },
      },
      {
        bench: 'f. audit',
        figure: `${side.kind}: shipgate audit verify (process start → exit)`,
        n: c.n,
        median: ms(c.median),
        p95: ms(c.p95),
        ratio: goal(c),
        data: { records: counted[side.kind], medianMs: c.median },
      },
    );
  }

  // Warm rollbacks through the CLI, the two stacks interleaved (alternating which goes first).
  const rollbacks: Record<Kind, number[]> = { jsonl: [], s3: [] };
  const total = ROLLBACK_WARMUP + opts.rollbacks;
  log(`audit: ${total} rollbacks on each stack (${ROLLBACK_WARMUP} warm-up), interleaved`);
  for (let i = 0; i < total; i++)
    for (const side of i % 2 ? [...sides].reverse() : sides) {
      const elapsed = await rollback(side);
      if (i >= ROLLBACK_WARMUP) rollbacks[side.kind].push(elapsed);
    }
  const lastRollback = performance.now();
  // Every rollback's outcome must still reach its store; how long after the last one that took is shown.
  const lag = await bySide(async (side) => {
    // Each rollback writes at least requested, started and succeeded, all after the filler.
    await delivered(side, 'rollback-succeeded', total, 3 * total, 120_000);
    return performance.now() - lastRollback;
  });

  const j = summarize(rollbacks.jsonl);
  const s = summarize(rollbacks.s3);
  const within = s.median / j.median <= ROLLBACK_TARGET;
  return [
    ...appendRows,
    ...verifyRows,
    {
      bench: 'f. audit',
      figure: 'jsonl: CLI rollback --wait, warm (baseline)',
      n: j.n,
      median: ms(j.median),
      p95: ms(j.p95),
      ratio: '1.00×',
    },
    {
      bench: 'f. audit',
      figure: 's3: CLI rollback --wait, warm',
      n: s.n,
      median: ms(s.median),
      p95: ms(s.p95),
      ratio: `${ratio(s.median, j.median)} (p95 ${ratio(s.p95, j.p95)}); target ≤ ${ROLLBACK_TARGET.toFixed(2)}× at p50: ${within ? 'met' : 'NOT met'}`,
      data: { jsonlMedianMs: j.median, s3MedianMs: s.median },
    },
    ...sides.map((side, i) => ({
      bench: 'f. audit',
      figure: `${side.kind}: all ${total} rollback-succeeded records stored, after the last rollback`,
      n: 1,
      median: ms(lag[i]!),
      p95: '',
      ratio: '',
    })),
  ];
}

/** Appends single records, then batches, until the chain holds CHAIN records; rates in records per second. */
async function fill(store: AuditStore, records: Iterator<AuditInput>, kind: Kind, log: (l: string) => void) {
  const take = (n: number) => Array.from({ length: n }, () => records.next().value as AuditInput);
  // The first append loads what the store holds (the chain's tail or the file): not an append's own cost.
  let head = (await store.append(take(1))).head.seq;
  const singles: number[] = [];
  for (let i = 0; i < SINGLES; i++) {
    const t = performance.now();
    head = (await store.append(take(1))).head.seq;
    singles.push(performance.now() - t);
  }
  const batches: number[] = [];
  let batched = 0;
  while (head < CHAIN) {
    const n = Math.min(BATCH, CHAIN - head);
    const t = performance.now();
    const r = await store.append(take(n));
    batches.push(performance.now() - t);
    batched += r.written;
    head = r.head.seq;
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const singleRate = (SINGLES * 1000) / sum(singles);
  const batchRate = (batched * 1000) / sum(batches);
  log(
    `audit: ${kind}: ${SINGLES} single appends at ${singleRate.toFixed(0)}/s, ${batched} records in batches at ${batchRate.toFixed(0)}/s; chain at ${head}`,
  );
  return { singles: summarize(singles), batches: summarize(batches), singleRate, batchRate };
}

/** Releases `version` through staging and production with both approvals signed. */
async function release(stack: Stack, version: string, i: number): Promise<void> {
  const { sg } = stack;
  await sg.release({
    app: APP,
    version,
    commit: `audit${String(i).padStart(4, '0')}`,
    branch: 'main',
    prove: stack.prove(RELEASER),
  });
  const { status: gate } = await sg.follow(APP, version, {
    until: (s) => s.stage === 'awaiting-approval',
    intervalMs: 20,
    deadline: Date.now() + 120_000,
  });
  if (gate.stage !== 'awaiting-approval')
    throw new Error(
      `release ${version} did not reach its gate: ${gate.state} ${gate.stage} ${gate.reason ?? ''}`,
    );
  await Promise.all(
    APPROVERS.map((by) => sg.approve({ app: APP, version, comment: 'bench', prove: stack.prove(by) })),
  );
  const status = await withTimeout(releaseOutcome(stack, APP, version), 120_000, `release ${version} to end`);
  if (status.state !== 'succeeded')
    throw new Error(`release ${version} ended ${status.state}: ${status.reason}`);
}

/** One warm rollback through the CLI to the version production does not serve; its time, start to exit. */
async function rollback(side: Side): Promise<number> {
  const to = side.serving === VERSIONS[1] ? VERSIONS[0] : VERSIONS[1];
  const { stack } = side;
  const args = [
    ...['rollback', APP, 'production', '--to', to, '--as', ROLLER, '--key', stack.keys[ROLLER]!.file],
    ...['--reason', 'bench', '--wait', '--address', stack.server.address],
  ];
  const t0 = performance.now();
  const r = await cli(args, cliEnv(stack.home), 60_000);
  const elapsed = performance.now() - t0;
  if (r.code !== 0)
    throw new Error(`${side.kind}: shipgate ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  const served = await servedVersion(side.port);
  if (served !== to)
    throw new Error(`${side.kind}: after rolling back to ${to}, production serves ${served}`);
  side.serving = to;
  return elapsed;
}

/**
 * Waits until the store holds `count` records of `type` for the app, reading the app's newest `limit` records
 * (on S3, newest first: a tail that holds them all is the only part read).
 */
async function delivered(
  side: Side,
  type: string,
  count: number,
  limit: number,
  timeoutMs: number,
): Promise<void> {
  const store = createAuditStore(side.config, side.stack.home);
  const deadline = performance.now() + timeoutMs;
  let found: AuditRecord[] = [];
  try {
    for (;;) {
      found = (await store.read({ app: APP, limit })).filter((r) => r.type === type);
      if (found.length >= count) return;
      if (performance.now() > deadline)
        throw new Error(
          `${side.kind}: ${found.length} of ${count} ${type} records reached the store within ${ms(timeoutMs)}`,
        );
      await sleep(100);
    }
  } finally {
    (store as AuditStore & { close?(): void }).close?.();
  }
}
