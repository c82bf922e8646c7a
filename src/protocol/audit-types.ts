/** Every kind of audit record, with what it means. Records use these names and no others. */
export const AUDIT_TYPES = {
  'release-started': 'a release was admitted (commit, branch, actor, and the proof of who started it)',
  'release-refused':
    'a release start was refused: its proof of identity did not hold, or its version was already released successfully here',
  'release-ended': 'a release ended; outcome holds its final state',
  approval: 'an approval that counts was given',
  approved: 'an environment’s approval rules were met',
  rejection: 'a release was rejected',
  cancellation: 'a release was cancelled',
  override: 'a break-glass override let a release past a window or freeze',
  held: 'a release is held by a window, freeze or external gate',
  deployed: 'a release’s deploy to an environment succeeded',
  'deploy-started': 'an environment began deploying a version',
  'deploy-succeeded': 'a deploy passed its checks',
  'deploy-failed': 'a deploy could not start or become ready',
  'deploy-preempt-requested': 'a rollback asked the running deploy to stop',
  'deploy-preempted': 'a running deploy was stopped by a rollback',
  'verification-failed': 'a deployed version failed its smoke checks or verification',
  'rollback-requested': 'a rollback was accepted and queued',
  'rollback-started': 'an environment began restoring a version',
  'rollback-succeeded': 'a restored version passed its checks',
  'rollback-failed': 'a restored version failed to start or failed its checks',
  freeze: 'an ad-hoc freeze was added',
  unfreeze: 'ad-hoc freezes were lifted',
  'approve-refused': 'an approval attempt was refused (reason says why)',
  'reject-refused': 'a rejection attempt was refused',
  'cancel-refused': 'a cancellation attempt was refused',
  'override-refused': 'an override attempt was refused',
  'rollback-refused': 'a rollback request was refused',
  'freeze-refused': 'a freeze request was refused',
  'unfreeze-refused': 'an unfreeze request was refused',
  'deploy-refused':
    'an environment refused a deploy request it could not tie to a running release that asked for it',
  'deploy-report-refused': 'a release refused a deploy report its environment had not sent',
  drift:
    'what runs differs from the ledger’s current entry (changed outside shipgate); findings say what changed, once per distinct drift',
  'drift-adopted': 'onDrift: adopt took what runs as the ledger’s current entry',
  'drift-cleared':
    'a drift ended without adoption: a deploy or rollback put a version back in place, or what runs matches the ledger again',
  adopt: 'a person took what runs as the ledger’s current entry (shipgate adopt)',
  'adopt-refused': 'an adopt request was refused',
  teardown:
    'an environment the config no longer names was torn down (shipgate teardown): what the target stopped, and its workflow ended',
  'teardown-refused': 'a teardown request was refused',
  'audit-repaired':
    'the audit store cut a torn last line (an interrupted append) before writing again; reason says how many bytes and their sha256',
} as const;
export type AuditType = keyof typeof AUDIT_TYPES;

export type RefusableAction =
  | 'release'
  | 'approve'
  | 'reject'
  | 'cancel'
  | 'override'
  | 'rollback'
  | 'freeze'
  | 'unfreeze'
  | 'adopt'
  | 'teardown'
  | 'deploy'
  | 'deploy-report';
export const refusedType = (action: RefusableAction): AuditType => `${action}-refused`;

export const isAuditType = (value: string): value is AuditType => value in AUDIT_TYPES;
