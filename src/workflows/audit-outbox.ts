/**
 * Audit records a workflow has yet to write, and (behind patched('audit-never-blocks')) the loop that writes
 * them beside the workflow's own work: in order, a batch at a time, each append retried a few times by the
 * activity and then again on a durable timer with backoff, while deploys and rollbacks go on. While records
 * wait the workflow is "audit degraded" (its query says since when, how many and the last error) and the
 * notifier hears it once, and once more when they are written. Each append's answer, the chain's head, is kept
 * as the workflow's anchor: Temporal history then holds a head the store's writer cannot rewrite.
 *
 * Workflow code: deterministic, no I/O but the activities it is given.
 */
import { ActivityFailure, condition, isCancellation, type ActivityOptions } from '@temporalio/workflow';
import type { AuditInput } from '../audit/types.js';
import { duration } from '../policy/temporal-ui.js';
import type { AuditEventSubject, NotifyEvent } from '../integrations/notifier.js';
import {
  anchorOf,
  auditRetryDelayMs,
  CARRY_LIMIT_CHARS,
  degradedAfter,
  type AuditAnchor,
  type AuditDegraded,
} from '../policy/audit-delivery.js';

/** What the outbox needs from its workflow: the append (bounded retry) and the notifier. */
export interface OutboxIo {
  record(records: AuditInput[]): Promise<unknown>;
  notify(event: NotifyEvent): Promise<unknown>;
}

/** Whose records these are, as the notifier names them. */
export type AuditSubject = AuditEventSubject;

/** What continue-as-new carries: the records not yet written and how delivery stands. */
export interface CarriedAudit {
  pending?: AuditInput[];
  anchor?: AuditAnchor | null;
  degraded?: AuditDegraded | null;
  failures?: number;
}

/**
 * The append's options when the outbox delivers: three tries a few seconds apart, each bounded, then the
 * records stay queued (a store that hangs fails the try instead of holding it).
 */
export const AUDIT_DELIVERY: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
};

/** At most this many records go in one append (proofs make records a few kilobytes). */
const BATCH = 100;

const now = () => new Date().toISOString();

export class AuditOutbox {
  protected pending: AuditInput[];
  private anchorNow: AuditAnchor | null;
  private degradedNow: AuditDegraded | null;
  private failures: number;
  /** finish: write everything, however long it takes; pause: stop at the next safe point (continue-as-new). */
  private ending: 'finish' | 'pause' | null = null;
  private loop: Promise<void> | null = null;
  /** The last notification sent: awaited before the workflow closes or continues as new, never in between. */
  private told: Promise<void> = Promise.resolve();
  /** Called after every change a reader may show (the release copies it into its status). */
  onChange: () => void = () => {};

  constructor(carried?: CarriedAudit) {
    this.pending = [...(carried?.pending ?? [])];
    this.anchorNow = carried?.anchor ?? null;
    this.degradedNow = carried?.degraded ?? null;
    this.failures = carried?.failures ?? 0;
  }

  push(record: AuditInput): void {
    this.pending.push(record);
    if (this.degradedNow) this.degradedNow = { ...this.degradedNow, waiting: this.pending.length };
    this.onChange();
  }

  get size(): number {
    return this.pending.length;
  }

  get anchor(): AuditAnchor | null {
    return this.anchorNow;
  }

  /** "Audit degraded" while records wait after a failed append; null while the store takes them. */
  get degraded(): AuditDegraded | null {
    return this.degradedNow ? { ...this.degradedNow, waiting: this.pending.length } : null;
  }

  /** Whether the delivery loop runs (patched('audit-never-blocks')); before it, the workflow flushes itself. */
  get background(): boolean {
    return this.loop !== null;
  }

  // ---- before patched('audit-never-blocks'): the workflow takes everything and awaits the append ----

  take(): AuditInput[] {
    return this.pending.splice(0);
  }

  /** An append the workflow awaited itself returned `result`: keep the head it names. */
  appended(result: unknown): void {
    this.anchorNow = anchorOf(result, now()) ?? this.anchorNow;
    this.onChange();
  }

  // ---- patched('audit-never-blocks'): the delivery loop ----

  /** Starts the loop; records queued before (or carried) go first. */
  start(io: OutboxIo, subject: AuditSubject): void {
    this.loop ??= this.run(io, subject);
  }

  /** Writes everything still waiting, however long the store takes to come back; resolves once it has. */
  async finish(): Promise<void> {
    this.ending = 'finish';
    await this.loop;
    await this.told;
  }

  /**
   * Stops the loop at a safe point (no append in flight): once nothing waits, or while the store refuses
   * appends; what still waits is then carried across continue-as-new.
   */
  async pause(): Promise<void> {
    if (!this.loop) return;
    this.ending = 'pause';
    await this.loop;
    await this.told;
  }

  /** Starts the loop again after a pause that did not end the run. */
  resume(io: OutboxIo, subject: AuditSubject): void {
    this.ending = null;
    this.loop = this.run(io, subject);
  }

  /** Whether what waits is small enough to carry across continue-as-new. */
  mayCarry(): boolean {
    return this.pending.length === 0 || JSON.stringify(this.pending).length < CARRY_LIMIT_CHARS;
  }

  carried(): CarriedAudit {
    return {
      ...(this.pending.length > 0 ? { pending: this.pending } : {}),
      anchor: this.anchorNow,
      ...(this.degradedNow ? { degraded: this.degradedNow, failures: this.failures } : {}),
    };
  }

  private async run(io: OutboxIo, subject: AuditSubject): Promise<void> {
    for (;;) {
      await condition(() => this.pending.length > 0 || this.ending !== null);
      if (this.pending.length === 0) return;
      if (this.ending === 'pause' && this.degradedNow) return;
      const batch = this.pending.slice(0, BATCH);
      let result: unknown;
      let error: string | null = null;
      try {
        result = await io.record(batch);
      } catch (err) {
        if (isCancellation(err)) throw err;
        error = failureText(err);
      }
      if (error === null) {
        // Appends only ever add at the end, so the batch is still the front of the queue.
        this.pending.splice(0, batch.length);
        this.anchorNow = anchorOf(result, now()) ?? this.anchorNow;
        this.failures = 0;
        const was = this.degradedNow;
        if (was && this.pending.length === 0) {
          this.degradedNow = null;
          this.onChange();
          this.told = tell(io, {
            kind: 'audit-recovered',
            ...subject,
            degraded: was,
            anchor: this.anchorNow,
          });
        } else {
          this.onChange();
        }
        continue;
      }
      this.failures++;
      const first = this.degradedNow === null;
      this.degradedNow = degradedAfter(this.degradedNow, this.pending.length, error, now());
      this.onChange();
      if (first) this.told = tell(io, { kind: 'audit-degraded', ...subject, degraded: this.degradedNow });
      if (this.ending === 'pause') return;
      // A durable timer: the next try survives a worker restart, and waits longer while the store stays down.
      const delay = auditRetryDelayMs(this.failures);
      const summary = `audit store down: retry ${this.pending.length} record(s) in ${duration(delay)} (try ${this.failures + 1})`;
      await condition(() => this.ending === 'pause', delay, { summary });
    }
  }
}

/**
 * Notifications are not awaited by the delivery: a slow notifier never holds up the next try, and one that
 * fails never fails the workflow.
 */
function tell(io: OutboxIo, event: NotifyEvent): Promise<void> {
  return io.notify(event).then(
    () => undefined,
    () => undefined,
  );
}

/** The store's own message: an ActivityFailure wraps the activity's error. */
function failureText(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
