import { describe, expect, it } from 'vitest';
import {
  isSlackUserId,
  loginForSlackUser,
  mention,
  slackUserForLogin,
} from '../../src/integrations/slack/identity.js';

const people = {
  alice: { slack: 'U0ALICE', github: 'alice-gh' },
  bob: { slack: 'U0BOB' },
  carol: { github: 'carol-gh' },
  Dave: { slack: 'W0DAVEGRID' },
};

describe('Slack identity mapping (people)', () => {
  it('maps a Slack user ID to its login', () => {
    expect(loginForSlackUser(people, 'U0ALICE')).toEqual({ ok: true, login: 'alice' });
    expect(loginForSlackUser(people, 'U0BOB')).toEqual({ ok: true, login: 'bob' });
    expect(loginForSlackUser(people, 'W0DAVEGRID')).toEqual({ ok: true, login: 'Dave' });
  });

  it('refuses a Slack user nobody claims, naming the ID and where to add it', () => {
    const r = loginForSlackUser(people, 'U0MALLORY');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toContain('U0MALLORY');
      expect(r.reason).toContain('people');
    }
  });

  it('refuses IDs that are not Slack user IDs, without matching case-insensitively', () => {
    for (const id of ['', 'u0alice', 'alice', 'C0DEPLOYS', 'U', undefined, null, 42, {}]) {
      expect(loginForSlackUser(people, id).ok, String(id)).toBe(false);
    }
  });

  it('refuses a Slack user claimed by two logins rather than guessing', () => {
    const r = loginForSlackUser({ a: { slack: 'U0SAME' }, b: { slack: 'U0SAME' } }, 'U0SAME');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/several logins \(a, b\)/);
  });

  it('maps a login back to its Slack ID, case-insensitively on the login', () => {
    expect(slackUserForLogin(people, 'alice')).toBe('U0ALICE');
    expect(slackUserForLogin(people, 'ALICE')).toBe('U0ALICE');
    expect(slackUserForLogin(people, 'dave')).toBe('W0DAVEGRID');
    expect(slackUserForLogin(people, 'carol')).toBeUndefined();
    expect(slackUserForLogin(people, 'nobody')).toBeUndefined();
  });

  it('renders mentions for people with a Slack ID and plain logins otherwise', () => {
    expect(mention(people, 'alice')).toBe('<@U0ALICE>');
    expect(mention(people, 'carol')).toBe('carol');
    expect(mention({}, 'alice')).toBe('alice');
  });

  it('knows what a Slack user ID looks like', () => {
    expect(isSlackUserId('U012AB3CD')).toBe(true);
    expect(isSlackUserId('W012AB3CD')).toBe(true);
    expect(isSlackUserId('B012AB3CD')).toBe(false);
    expect(isSlackUserId('U012ab3cd')).toBe(false);
  });
});
