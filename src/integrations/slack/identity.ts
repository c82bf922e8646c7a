/**
 * Slack user IDs ↔ shipgate logins, from the config's `people` map. Pure: the Slack endpoint proves who
 * clicked (Slack's request signature), and this says which person that is.
 */
import type { ShipgateConfig } from '../../config/schema.js';

export type People = ShipgateConfig['people'];

export type Identity = { ok: true; login: string } | { ok: false; reason: string };

/** Slack user IDs are upper-case letters and digits (U…, W… for Enterprise Grid). */
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

export function isSlackUserId(id: unknown): id is string {
  return typeof id === 'string' && SLACK_USER_ID.test(id);
}

/** The login whose `people.<login>.slack` is this Slack user; refused when none, or when several claim it. */
export function loginForSlackUser(people: People, slackUserId: unknown): Identity {
  if (!isSlackUserId(slackUserId)) {
    return { ok: false, reason: `"${String(slackUserId).slice(0, 40)}" is not a Slack user ID` };
  }
  const logins = Object.entries(people)
    .filter(([, p]) => p.slack !== undefined && p.slack.trim() === slackUserId)
    .map(([login]) => login);
  if (logins.length === 0) {
    return {
      ok: false,
      reason: `Slack user ${slackUserId} is not linked to a shipgate login (add it under \`people\` in shipgate.yaml)`,
    };
  }
  if (logins.length > 1) {
    return {
      ok: false,
      reason: `Slack user ${slackUserId} is linked to several logins (${logins.join(', ')}); fix \`people\` in shipgate.yaml`,
    };
  }
  return { ok: true, login: logins[0]! };
}

/** The Slack user ID of a login (logins compare case-insensitively, as approvals do), if it has one. */
export function slackUserForLogin(people: People, login: string): string | undefined {
  const lower = login.toLowerCase();
  for (const [name, p] of Object.entries(people)) {
    if (name.toLowerCase() === lower && p.slack && isSlackUserId(p.slack.trim())) return p.slack.trim();
  }
  return undefined;
}

/** `<@U123>` when the person has a Slack ID, so Slack renders a mention; the login otherwise. */
export function mention(people: People, login: string): string {
  const id = slackUserForLogin(people, login);
  return id ? `<@${id}>` : login;
}
