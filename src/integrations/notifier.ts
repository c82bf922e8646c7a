import type { AuditAnchor, AuditDegraded } from '../policy/audit-delivery.js';
import type { LedgerEntry } from '../policy/ledger.js';
import type { DriftRecord, ReleaseStatus } from '../workflows/types.js';

/**
 * `run` is the release's first-execution run id, which Slack's Approve and Reject buttons name. Events recorded
 * before it was sent lack it; the notifier then asks Temporal.
 */
export type NotifyEvent =
  | { kind: 'awaiting-approval'; status: ReleaseStatus; run?: string }
  /** After the approval gate was reached: an approval arrived or the stage changed (behind patched('slack-card-updates')). */
  | { kind: 'release-progress'; status: ReleaseStatus; run?: string }
  | { kind: 'release-ended'; status: ReleaseStatus; run?: string }
  | { kind: 'rollback'; app: string; env: string; entry: LedgerEntry }
  /** What runs differs from the ledger (changed outside shipgate); sent once per distinct drift. */
  | { kind: 'drift'; app: string; env: string; drift: DriftRecord }
  /**
   * A workflow's audit records could not be written (sent once per outage) and, later, were: deploys and
   * rollbacks went on meanwhile. `env` is null for a release's own records, which name `version` and `releaseId`.
   */
  | ({ kind: 'audit-degraded'; degraded: AuditDegraded } & AuditEventSubject)
  | ({ kind: 'audit-recovered'; degraded: AuditDegraded; anchor: AuditAnchor | null } & AuditEventSubject)
  /**
   * The worker found the version that serves here down (its proxy or process dead) and a repair did not bring it
   * back within one pass; sent once per outage. `environment-restored` follows when it serves again, or is the
   * only notice for an outage healed within one pass.
   */
  | { kind: 'environment-down'; app: string; env: string; outage: EnvironmentOutage }
  | { kind: 'environment-restored'; app: string; env: string; outage: EnvironmentOutage }
  /**
   * GitHub Deployments could not be kept in step for `repository` (a token without deployments: write, a
   * repository it cannot see, GitHub unreachable after the tries): sent once per problem; releases go on.
   */
  | { kind: 'github-deployments'; app: string; env: string; repository: string; text: string }
  | {
      kind: 'override';
      status: ReleaseStatus;
      env: string;
      override: { by: string; at: string; reason: string };
      run?: string;
    };

/** One outage of an environment, as the self-healing worker saw it. */
export interface EnvironmentOutage {
  /** The version the route sends traffic to (null: none alone, mid-canary). */
  version: string | null;
  since: string;
  /** Set once it serves again. */
  until: string | null;
  /** What was wrong and what was done about it. */
  detail: string;
}

export interface AuditEventSubject {
  app: string;
  env: string | null;
  version?: string;
  releaseId?: string;
}

/** Where people hear about releases (Slack: src/integrations/slack). Implementations must never throw. */
export interface Notifier {
  notify(event: NotifyEvent): Promise<void>;
}
