/**
 * Approval rules, pure. An environment lists rules such as "2 of team-leads" and "1 of security"; all must be
 * met. A person's approval counts once toward every rule whose group they belong to, so one security lead who
 * is also a team lead fills a slot in each.
 */
import { channelAllowed, type RecordedChannel } from '../protocol/channels.js';
import type { ProofRecord } from '../protocol/proof-record.js';

/** A channel as a snapshot or an approval records it (old names included). */
export type ApprovalChannel = RecordedChannel;

export interface ApprovalRule {
  group: string;
  count: number;
}

export interface ApprovalPolicy {
  rules: ApprovalRule[];
  /** Members of each group named by the rules. */
  groups: Record<string, string[]>;
  allowSelfApproval: boolean;
  channels: ApprovalChannel[];
}

export interface GivenApproval {
  by: string;
  at: string;
  via: ApprovalChannel;
  comment?: string;
  /** The proof the approval counted on (absent from approvals given before proofs). */
  proof?: ProofRecord;
}

export interface RuleTally {
  group: string;
  count: number;
  have: number;
  by: string[];
}

export interface Tally {
  met: boolean;
  rules: RuleTally[];
}

export type Decision = { ok: true } | { ok: false; code: RefusalCode; reason: string };

export type RefusalCode =
  | 'not-eligible'
  | 'self-approval'
  | 'already-approved'
  | 'channel-not-allowed'
  | 'not-waiting'
  | 'no-approvals-required';

export function eligibleGroups(policy: ApprovalPolicy, login: string): string[] {
  return policy.rules
    .map((r) => r.group)
    .filter((g, i, all) => all.indexOf(g) === i && isMember(policy, g, login));
}

function isMember(policy: ApprovalPolicy, group: string, login: string): boolean {
  return (policy.groups[group] ?? []).some((m) => m.toLowerCase() === login.toLowerCase());
}

/** Counts approvals per rule. Only approvals from members count toward a rule, and each person once. */
export function tally(policy: ApprovalPolicy, given: readonly GivenApproval[]): Tally {
  const rules = policy.rules.map((rule) => {
    const by = [
      ...new Set(given.filter((a) => isMember(policy, rule.group, a.by)).map((a) => a.by.toLowerCase())),
    ];
    return { group: rule.group, count: rule.count, have: Math.min(by.length, rule.count), by };
  });
  return { met: rules.every((r) => r.by.length >= r.count), rules };
}

/** Whether `by`, the release's `actor`, may approve now through `via`. */
export function decideApproval(
  policy: ApprovalPolicy,
  given: readonly GivenApproval[],
  attempt: { by: string; via: ApprovalChannel; actor: string },
): Decision {
  if (policy.rules.length === 0) {
    return { ok: false, code: 'no-approvals-required', reason: 'this environment needs no approvals' };
  }
  if (!channelAllowed(policy.channels, attempt.via)) {
    return {
      ok: false,
      code: 'channel-not-allowed',
      reason: `approvals through ${attempt.via} are not accepted here; use ${policy.channels.join(' or ')}`,
    };
  }
  const groups = eligibleGroups(policy, attempt.by);
  if (groups.length === 0) {
    const names = [...new Set(policy.rules.map((r) => r.group))];
    return {
      ok: false,
      code: 'not-eligible',
      reason: `${attempt.by} is not a member of ${names.join(' or ')}, the groups that can approve`,
    };
  }
  if (!policy.allowSelfApproval && attempt.by.toLowerCase() === attempt.actor.toLowerCase()) {
    return {
      ok: false,
      code: 'self-approval',
      reason: `${attempt.by} started this release and cannot approve it (self-approval is not allowed)`,
    };
  }
  if (given.some((a) => a.by.toLowerCase() === attempt.by.toLowerCase())) {
    return { ok: false, code: 'already-approved', reason: `${attempt.by} already approved this release` };
  }
  return { ok: true };
}

/** Whether `by` may reject: any member of a group that can approve. */
export function decideRejection(policy: ApprovalPolicy, by: string): Decision {
  if (eligibleGroups(policy, by).length > 0) return { ok: true };
  const names = [...new Set(policy.rules.map((r) => r.group))];
  return {
    ok: false,
    code: 'not-eligible',
    reason:
      names.length === 0
        ? 'this environment has no approval rules, so there is nobody to reject it'
        : `${by} is not a member of ${names.join(' or ')}, the groups that can reject`,
  };
}
