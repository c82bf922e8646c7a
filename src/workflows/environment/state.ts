/**
 * The state of one (app, environment), held by its workflow: what serves, the ledger, the queue, the freezes,
 * the operation running and the audit records not yet written. Every change goes through a method here; the
 * rules behind them are pure functions in src/policy/. Nothing here issues a Temporal command except
 * cancelling a preempted deploy's scope.
 */
import { GithubDeployments } from './github.js';
import type { CancellationScope } from '@temporalio/workflow';
import type { AuditInput } from '../../audit/types.js';
import { withArtifact } from '../../policy/environment-artifact.js';
import {
  activeFreezes,
  deployDedupe,
  rollbackBaseline,
  rollbackPosition,
} from '../../policy/environment-rules.js';
import {
  chooseRollbackTarget,
  deployOutcome,
  openEntry,
  rolledBackFromIndex,
  settlement,
  trimLedger,
  type LedgerEntry,
  type NewEntry,
  type RollbackChoice,
  type Settlement,
} from '../../policy/ledger.js';
import { recentProofs } from '../../policy/proofs.js';
import { applyHealthReport, shownHealth, type EnvironmentHealth } from '../../policy/self-healing.js';
import { newDrift, nextDriftCheck, trimDriftLog } from '../../policy/drift.js';
import type { ApprovalChannel } from '../../policy/approvals.js';
import type { DriftFinding, ExpectedState } from '../../targets/types.js';
import type { Freeze } from '../../policy/windows.js';
import type { AuditType } from '../../protocol/audit-types.js';
import type { ProofRecord } from '../../protocol/proof-record.js';
import { environmentWorkflowId } from '../../protocol/ids.js';
import { rememberReleased, releasedHere, type Released } from '../../policy/release-once.js';
import { AuditOutbox, type CarriedAudit } from '../audit-outbox.js';
import type { KnownConfig } from '../../policy/config-removed.js';
import type {
  AdoptResult,
  DeployOp,
  DeployReport,
  DeployRequest,
  DeploySpec,
  DriftRecord,
  DriftResolution,
  DriftSettings,
  EnvironmentSnapshot,
  OnDrift,
  EnvironmentWorkflowInput,
  EnvOp,
  RollbackAccepted,
  RollbackOp,
  TornDown,
} from '../types.js';

export type Current = NonNullable<EnvironmentSnapshot['current']>;
/** Audit fields, with the proof a record rests on (audit records keep it so anyone can check it again). */
export type AuditFields = Partial<AuditInput> & { actor: string; proof?: ProofRecord };
type Carried = NonNullable<EnvironmentWorkflowInput['carried']>;

/** How many deploys' reports are kept (and carried) for releases to confirm against. */
const KEPT_REPORTS = 50;
/** How many releases held by drift are remembered, to be told when it ends. */
const KEPT_HELD = 50;

/** An adopt request, waiting for the main loop (which alone touches the target) to run it. */
export interface AdoptRequest {
  opId: string;
  actor: string;
  via: ApprovalChannel | null;
  proof: ProofRecord | null;
  reason: string;
  /** The live settings read when the request was authorised: the target block to read. */
  settings: DriftSettings;
  /** Set once the main loop has run it: the result, a refusal (recorded) or a failure to pass on. */
  outcome?:
    | { ok: true; result: AdoptResult }
    | { ok: false; refusal: string }
    | { ok: false; failure: { type: string; message: string } };
}

/** A teardown request, waiting for the main loop (which alone touches the target) to run it. */
export interface TeardownRequest {
  actor: string;
  via: ApprovalChannel | null;
  proof: ProofRecord | null;
  reason: string;
  /** Set once the main loop has run it. */
  outcome?: { ok: true; result: TornDown } | { ok: false; failure: { type: string; message: string } };
}

/** A deploy as far as reporting on it goes: which op, and which release to tell. */
export type OpRef = Pick<DeployOp, 'opId' | 'releaseId'>;

const now = () => new Date().toISOString();

/**
 * Audit records wait here until they are written; ids are deterministic so a retry never doubles one. The
 * delivery (and "audit degraded", and the anchor) is the AuditOutbox's.
 */
export class AuditQueue extends AuditOutbox {
  private next = 0;

  constructor(
    private readonly app: string,
    private readonly env: string,
    private readonly runId: string,
    carried?: CarriedAudit,
  ) {
    super(carried);
  }

  add(type: AuditType, fields: AuditFields): void {
    const { app, env } = this;
    const id = `${environmentWorkflowId(app, env)}@${this.runId}#${this.next++}`;
    this.push({ id, at: now(), type, app, env, ...fields });
  }

  /** How many records were ever queued in this run (part of generated rollback op ids). */
  get seq(): number {
    return this.next;
  }
}

export class EnvironmentState {
  readonly app: string;
  readonly env: string;
  current: Current | null;
  private ledger: LedgerEntry[];
  private readonly queue: EnvOp[];
  private freezes: Freeze[];
  private ledgerSize: number;
  /** When warm previous versions may next be stopped (epoch ms, workflow time). */
  reapAt: number | null;
  private running: EnvOp | null = null;
  /** Set while a deploy activates and verifies, so a rollback can cancel it. */
  private deployScope: CancellationScope | null = null;
  private preemptedBy: string | null = null;
  /** Every op id seen, carried ones included: Update ids dedupe only within a run. */
  private readonly known: Set<string>;
  /** Settled deploys asked for again: their outcome is sent once more. */
  private readonly resend: OpRef[] = [];
  /** Digests of proofs accepted recently (epoch ms, workflow time): a proof counts once. */
  private proofs: Map<string, number>;
  /** The reports sent for recent deploys, oldest first. */
  private readonly sent: Map<string, DeployReport[]>;
  readonly audit: AuditQueue;
  /** Recent drift records, oldest first; the last is in force while unresolved. */
  private driftLog: DriftRecord[];
  private driftSeq: number;
  /** The drift settings last read from the live config (null until a policy load told them). */
  driftSettings: DriftSettings | null;
  /** When the next periodic drift check is due (epoch ms, workflow time). */
  driftCheckAt: number | null;
  /** Releases whose deploy drift held: told to look at their gate again when it ends. */
  private held: string[];
  /** Adopt requests the main loop has yet to run. */
  private readonly adopts: AdoptRequest[] = [];
  /** Versions releases deployed here successfully, kept beyond the ledger's trimming (re-release check). */
  private released: Released[];
  /** What workers last reported of the serving version's health (a report only: nothing acts on it). */
  private health: EnvironmentHealth | null;
  /** GitHub Deployments kept in step (its loop runs behind patched('github-deployments')). */
  readonly github: GithubDeployments;

  constructor(input: EnvironmentWorkflowInput, runId: string) {
    const carried = input.carried;
    this.app = input.app;
    this.env = input.env;
    this.current = carried?.current ? withArtifact<Current>(carried.current) : null;
    this.ledger = (carried?.ledger ?? []).map((e) => withArtifact<LedgerEntry>(e));
    this.queue = (carried?.queue ?? []).map((o) => withArtifact<EnvOp>(o));
    this.freezes = carried?.freezes ?? [];
    this.ledgerSize = carried?.ledgerSize ?? 200;
    this.reapAt = carried?.reapAt ?? null;
    this.known = new Set([...this.ledger.map((e) => e.opId), ...this.queue.map((o) => o.opId)]);
    this.proofs = new Map(carried?.proofs ?? []);
    this.sent = new Map(Object.entries(carried?.reports ?? {}));
    this.audit = new AuditQueue(this.app, this.env, runId, carried?.audit);
    this.driftLog = carried?.drift?.log ?? [];
    this.driftSeq = carried?.drift?.seq ?? 0;
    this.driftSettings = carried?.drift?.settings ?? null;
    this.driftCheckAt = carried?.drift?.checkAt ?? null;
    this.held = carried?.drift?.held ?? [];
    this.released = carried?.released ?? [];
    this.knownConfig = carried?.knownConfig ?? null;
    this.health = carried?.health ?? null;
    this.github = new GithubDeployments(this.app, this.env, carried?.github);
  }

  snapshot(): EnvironmentSnapshot {
    return {
      app: this.app,
      env: this.env,
      current: this.current,
      running: this.running?.opId ?? null,
      queue: this.queue.map((o) => ({
        opId: o.opId,
        kind: o.kind,
        version: o.kind === 'deploy' ? o.version : o.to,
      })),
      ledger: this.ledger,
      freezes: this.activeFreezes(),
      drift: this.drift,
      drifts: this.driftLog,
      auditAnchor: this.audit.anchor,
      auditDegraded: this.audit.degraded,
      ...(this.tornDown ? { tornDown: this.tornDown } : {}),
      health: shownHealth(this.health, this.current?.version ?? null),
    };
  }

  /** What the next run starts from (continue-as-new). */
  carried(): Carried {
    const { current, ledger, queue, ledgerSize, reapAt } = this;
    return {
      current,
      ledger,
      queue,
      freezes: this.activeFreezes(),
      ledgerSize,
      reapAt,
      proofs: recentProofs(this.proofs, Date.now()),
      reports: Object.fromEntries(this.sent),
      // Runs from before drift detection carry none (their input stays as it was).
      ...(this.driftSeq > 0 || this.driftSettings
        ? {
            drift: {
              log: this.driftLog,
              seq: this.driftSeq,
              settings: this.driftSettings,
              checkAt: this.driftCheckAt,
              held: this.held,
            },
          }
        : {}),
      // Both are absent from runs that never wrote (or never released) anything, as before they existed.
      ...(this.released.length > 0 ? { released: this.released } : {}),
      ...(this.knownConfig ? { knownConfig: this.knownConfig } : {}),
      ...(this.health ? { health: this.health } : {}),
      ...(this.audit.size > 0 || this.audit.anchor || this.audit.degraded
        ? { audit: this.audit.carried() }
        : {}),
      // Absent from runs before patched('github-deployments'), and from those with nothing to carry.
      ...(this.github.carried() ? { github: this.github.carried() } : {}),
    };
  }

  /** A worker's health report; one about a version that does not serve here is ignored. */
  reportHealth(report: unknown): void {
    this.health = applyHealthReport(this.health, report, this.current?.version ?? null);
  }

  // ---- proofs and reports ----

  /** Takes a proof's digest; false when it was accepted here before (a replay). Old digests are forgotten. */
  useProof(digest: string): boolean {
    const nowMs = Date.now();
    this.proofs = new Map(recentProofs(this.proofs, nowMs));
    if (this.proofs.has(digest)) return false;
    this.proofs.set(digest, nowMs);
    return true;
  }

  /** Keeps a report this environment sends, for the release to confirm it against. */
  recordReport(report: DeployReport): void {
    const list = this.sent.get(report.opId) ?? [];
    this.sent.delete(report.opId);
    this.sent.set(report.opId, [...list, report]);
    for (const opId of this.sent.keys()) {
      if (this.sent.size <= KEPT_REPORTS) break;
      this.sent.delete(opId);
    }
  }

  /** The reports sent about `opId`, or null when none are known. */
  reportsOf(opId: string): DeployReport[] | null {
    return this.sent.get(opId) ?? null;
  }

  activeFreezes(): Freeze[] {
    return activeFreezes(this.freezes, Date.now());
  }

  // ---- the queue ----

  /** Queues a deploy, or answers for one whose op id was seen before. */
  acceptDeploy(request: DeployRequest): { opId: string; position: number } {
    const op = withArtifact<DeployOp>(request);
    const seen = deployDedupe(op.opId, this.known, this.ledger, this.queue);
    if (seen.seen) {
      if (seen.resendOutcome) this.resend.push(op);
      return { opId: op.opId, position: seen.position };
    }
    this.known.add(op.opId);
    this.queue.push(op);
    return { opId: op.opId, position: this.queue.length - 1 };
  }

  /**
   * The answer for a deploy whose op id was seen before (its settled outcome is sent again, to the release the
   * op id names as recorded, never to one a request names), or null for a new one.
   */
  seenDeploy(opId: string): { opId: string; position: number } | null {
    const seen = deployDedupe(opId, this.known, this.ledger, this.queue);
    if (!seen.seen) return null;
    const entry = this.ledger.find((e) => e.opId === opId);
    if (seen.resendOutcome && entry?.releaseId) {
      this.resend.push({ opId, releaseId: entry.releaseId });
    }
    return { opId, position: seen.position };
  }

  /** Queues a confirmed deploy. */
  queueDeploy(op: DeployOp): { opId: string; position: number } {
    this.known.add(op.opId);
    this.queue.push(op);
    return { opId: op.opId, position: this.queue.length - 1 };
  }

  /** The answer already given to a rollback request with this key, if it was seen before. */
  priorRollback(key: string | null): RollbackAccepted | null {
    if (!key) return null;
    const prior = this.queue.find((o) => o.opId === key) ?? this.ledger.find((e) => e.opId === key);
    if (!prior) return null;
    return {
      opId: prior.opId,
      from: this.current?.version ?? null,
      to: 'to' in prior ? prior.to : prior.version,
      position: this.queue.findIndex((o) => o.opId === prior.opId),
    };
  }

  /** What a rollback requested now would roll back from, and what it may restore. */
  chooseRollback(to: string | undefined): { from: string | null; choice: RollbackChoice } {
    const from = rollbackBaseline(this.queue, this.running, this.current?.version ?? null);
    return { from, choice: chooseRollbackTarget(this.ledger, from, to) };
  }

  /** An op id for a rollback the client gave no request id for: unique within the run. */
  generatedRollbackId(runId: string): string {
    return `rollback:${runId}:${this.audit.seq}:${this.queue.length}:${this.ledger.length}`;
  }

  /** Queues a rollback ahead of queued deploys; returns its position. */
  queueRollback(op: RollbackOp): number {
    this.known.add(op.opId);
    const position = rollbackPosition(this.queue);
    this.queue.splice(position, 0, op);
    return position;
  }

  /** Cancels the deploy in flight, if one is, recording why; the deploy then settles as preempted. */
  preemptDeploy(cause: string, fields: AuditFields): void {
    if (!this.deployScope || this.running?.kind !== 'deploy') return;
    this.preemptedBy = cause;
    this.audit.add('deploy-preempt-requested', { ...fields, version: this.running.version });
    this.deployScope.cancel();
  }

  /** Runs `body` in `scope`, which a rollback may cancel meanwhile. */
  async preemptible<T>(scope: CancellationScope, body: () => Promise<T>): Promise<T> {
    this.deployScope = scope;
    try {
      return await body();
    } finally {
      this.deployScope = null;
    }
  }

  /** Who preempted the deploy that just ended, once (the next deploy starts unpreempted). */
  takePreemption(): string | null {
    const by = this.preemptedBy;
    this.preemptedBy = null;
    return by;
  }

  hasQueued(): boolean {
    return this.queue.length > 0;
  }

  // ---- configuration removed: what the environment knows of its config, and teardown ----

  /** What it last knew of its config (who may roll it back, how it deploys), kept for once it is removed. */
  knownConfig: KnownConfig | null = null;
  /** A teardown waiting for the main loop, or running. */
  teardown: TeardownRequest | null = null;
  /** Set once torn down: the workflow then ends. */
  tornDown: TornDown | null = null;

  /** A policy read from a config that names this environment. */
  rememberConfig(policy: { rollbackGroups?: string[]; deploy: DeploySpec }): void {
    this.knownConfig = {
      // Policies read by activities from before it was kept name no groups: the last known ones stand.
      rollbackGroups: policy.rollbackGroups ?? this.knownConfig?.rollbackGroups ?? [],
      spec: policy.deploy,
      at: now(),
    };
  }

  /** A release's deploy runs under its snapshot of the settings: the latest way this environment deploys. */
  rememberSpec(spec: DeploySpec): void {
    this.knownConfig = { rollbackGroups: this.knownConfig?.rollbackGroups ?? [], spec, at: now() };
  }

  teardownPending(): boolean {
    return this.teardown !== null && this.teardown.outcome === undefined;
  }

  requestTeardown(req: TeardownRequest): TeardownRequest {
    this.teardown = req;
    return req;
  }

  /** Torn down: nothing serves any more, as far as shipgate knows. */
  markTornDown(torn: TornDown): void {
    this.tornDown = torn;
    this.current = null;
  }

  /** A rollback runs, or is next with nothing running: what the audit delivery waits for (operations). */
  rollbackAhead(): boolean {
    return this.running ? this.running.kind === 'rollback' : this.queue[0]?.kind === 'rollback';
  }

  /** Work that keeps the workflow from continuing as new. */
  hasWork(): boolean {
    return (
      this.queue.length > 0 || this.resend.length > 0 || this.adopts.length > 0 || this.teardownPending()
    );
  }

  /** Anything for the main loop to do (audit records too, unless their own loop writes them). */
  hasWaiting(): boolean {
    return this.hasWork() || (!this.audit.background && this.audit.size > 0);
  }

  takeResends(): OpRef[] {
    return this.resend.splice(0);
  }

  start(): EnvOp {
    const op = this.queue.shift()!;
    this.running = op;
    return op;
  }

  finish(): void {
    this.running = null;
    this.ledger = trimLedger(this.ledger, this.ledgerSize);
  }

  setLedgerSize(size: number): void {
    this.ledgerSize = size;
  }

  // ---- freezes ----

  addFreeze(req: { by: string; until: string; reason: string }): Freeze {
    const freeze: Freeze = {
      id: `freeze-${this.freezes.length + 1}-${Date.now()}`,
      from: now(),
      until: req.until,
      by: req.by,
      reason: req.reason,
    };
    this.freezes = [...this.activeFreezes(), freeze];
    return freeze;
  }

  liftFreezes(): void {
    this.freezes = [];
  }

  // ---- the ledger ----

  /** Opens a running entry; it starts from what serves now unless `fields` says otherwise. */
  open(fields: NewEntry): LedgerEntry {
    const entry = openEntry(fields, this.current?.version ?? null, now());
    this.ledger.push(entry);
    return entry;
  }

  settle(entry: LedgerEntry, s: Settlement): void {
    Object.assign(entry, settlement(entry, s, now()));
    // A release's version verified here: released, even once the ledger has trimmed the entry.
    if (s.kind === 'verified' && entry.action === 'deploy' && entry.releaseId)
      this.released = rememberReleased(this.released, {
        version: entry.version,
        releaseId: entry.releaseId,
        at: entry.verifiedAt ?? now(),
      });
  }

  /**
   * The operation's entry once it has settled; null when this environment does not know the op id (never seen,
   * or trimmed from the ledger); undefined while it is still queued, pending or running.
   */
  settledOperation(opId: string): LedgerEntry | null | undefined {
    const entry = this.ledger.find((e) => e.opId === opId);
    if (entry) return entry.outcome === 'running' ? undefined : entry;
    const pending =
      this.running?.opId === opId ||
      this.queue.some((o) => o.opId === opId) ||
      this.adopts.some((a) => a.opId === opId);
    return pending ? undefined : null;
  }

  /** Whether a release deployed `version` here successfully (from durable state, never from other workflows). */
  releasedVersion(version: string): Released | null {
    return releasedHere(this.released, this.ledger, version);
  }

  /** A restore succeeded: the version it rolled back from no longer counts as a default rollback target. */
  markRolledBackFrom(version: string | null): void {
    const i = rolledBackFromIndex(this.ledger, version);
    if (i >= 0) this.ledger[i]!.outcome = 'rolled-back';
  }

  /** The version now takes the traffic; its predecessor stays warm for keepPrevious. */
  serve(entry: LedgerEntry, keepPreviousMs: number): void {
    this.current = { version: entry.version, since: now(), artifact: entry.artifact };
    this.reapAt = Date.now() + keepPreviousMs;
  }

  // ---- drift ----

  /** The drift in force, or null. */
  get drift(): DriftRecord | null {
    const last = this.driftLog[this.driftLog.length - 1];
    return last && last.resolved === null ? last : null;
  }

  /** What the ledger says runs here, or null when nothing was deployed. */
  expected(): ExpectedState | null {
    return this.current ? { version: this.current.version, artifact: this.current.artifact } : null;
  }

  /** Records a drift just found; one in force with other findings is replaced (resolved as changed). */
  recordDrift(expected: ExpectedState, findings: DriftFinding[], onDrift: OnDrift): DriftRecord {
    const at = now();
    this.resolveDrift({ at, how: 'changed', by: 'shipgate', version: expected.version });
    const record = newDrift(++this.driftSeq, expected, findings, onDrift, at);
    this.driftLog = trimDriftLog([...this.driftLog, record]);
    return record;
  }

  /** Ends the drift in force, if any, and returns it. */
  resolveDrift(resolution: DriftResolution): DriftRecord | null {
    const open = this.drift;
    if (open) open.resolved = resolution;
    return open;
  }

  /** Sets when the next periodic check is due, from the settings last read (null: not checked). */
  scheduleDriftCheck(): void {
    this.driftCheckAt = nextDriftCheck(this.driftSettings, this.current !== null, Date.now());
  }

  /** Remembers a release whose deploy drift held. */
  holdRelease(releaseId: string): void {
    this.held = [...this.held.filter((id) => id !== releaseId), releaseId].slice(-KEPT_HELD);
  }

  /** The releases drift held, once (it has ended). */
  takeHeld(): string[] {
    return this.held.splice(0);
  }

  /** An op id for an adoption the client gave no request id for (or an automatic one): unique within the run. */
  generatedAdoptId(runId: string): string {
    return `adopt:${runId}:${this.audit.seq}:${this.ledger.length}`;
  }

  /** Queues an adopt request for the main loop. */
  requestAdopt(req: AdoptRequest): AdoptRequest {
    this.known.add(req.opId);
    this.adopts.push(req);
    return req;
  }

  /** An adopt request with this op id, waiting or done: a retry gets the first one's answer. */
  priorAdopt(opId: string | null): AdoptRequest | AdoptResult | null {
    if (!opId) return null;
    const pending = this.adopts.find((a) => a.opId === opId);
    if (pending) return pending;
    const entry = this.ledger.find((e) => e.opId === opId && e.action === 'adopt');
    if (!entry) return null;
    const resolved = this.driftLog.find((d) => d.resolved?.opId === opId) ?? null;
    return {
      opId,
      from: entry.fromVersion,
      version: entry.version,
      artifact: entry.artifact,
      resolved,
    };
  }

  hasPendingAdopt(): boolean {
    return this.adopts.length > 0;
  }

  nextAdopt(): AdoptRequest | undefined {
    return this.adopts.shift();
  }

  /** Records an adoption: its entry (settled) joins the ledger and what it names becomes current. */
  adopt(entry: LedgerEntry): void {
    this.known.add(entry.opId);
    this.ledger = trimLedger([...this.ledger, entry], this.ledgerSize);
    this.current = { version: entry.version, since: entry.endedAt ?? now(), artifact: entry.artifact };
  }

  /** The final report of a deploy, from its ledger entry. */
  finalReport(op: OpRef): Omit<DeployReport, 'opId' | 'env'> {
    return { phase: 'done', ...deployOutcome(this.ledger.find((e) => e.opId === op.opId)) };
  }
}
