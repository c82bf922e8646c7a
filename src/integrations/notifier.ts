import type { LedgerEntry } from '../policy/ledger.js';
import type { ReleaseStatus } from '../workflows/types.js';

export type NotifyEvent =
  | { kind: 'awaiting-approval'; status: ReleaseStatus }
  /** After the approval gate was reached: an approval arrived or the stage changed (behind patched('slack-card-updates')). */
  | { kind: 'release-progress'; status: ReleaseStatus }
  | { kind: 'release-ended'; status: ReleaseStatus }
  | { kind: 'rollback'; app: string; env: string; entry: LedgerEntry }
  | {
      kind: 'override';
      status: ReleaseStatus;
      env: string;
      override: { by: string; at: string; reason: string };
    };

/** Where people hear about releases (Slack: src/integrations/slack). Implementations must never throw. */
export interface Notifier {
  notify(event: NotifyEvent): Promise<void>;
}
