import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { branchAllowed } from '../../src/policy/branches.js';
import {
  isValidLogin,
  isValidVersion,
  LOGIN_PATTERN,
  NAME_PATTERN,
  VERSION_PATTERN,
} from '../../src/policy/patterns.js';

describe('branchAllowed', () => {
  it('allows every branch when the environment lists none', () => {
    expect(branchAllowed(undefined, 'feature/x')).toBe(true);
    expect(branchAllowed(null, 'main')).toBe(true);
    expect(branchAllowed([], 'anything')).toBe(true);
  });

  it('matches listed branches exactly', () => {
    expect(branchAllowed(['main'], 'main')).toBe(true);
    expect(branchAllowed(['main'], 'main2')).toBe(false);
    expect(branchAllowed(['main'], 'mai')).toBe(false);
    expect(branchAllowed(['main'], 'Main')).toBe(false);
    expect(branchAllowed(['main'], 'feature/main')).toBe(false);
    expect(branchAllowed(['main', 'hotfix'], 'hotfix')).toBe(true);
  });

  it('treats a trailing * as any suffix', () => {
    expect(branchAllowed(['release/*'], 'release/1.2')).toBe(true);
    expect(branchAllowed(['release/*'], 'release/')).toBe(true);
    expect(branchAllowed(['release/*'], 'release')).toBe(false);
    expect(branchAllowed(['release/*'], 'releases/1.2')).toBe(false);
    expect(branchAllowed(['release/*'], 'hotfix/release/1.2')).toBe(false);
    expect(branchAllowed(['*'], 'anything/at/all')).toBe(true);
  });

  it('treats * anywhere but the end literally', () => {
    expect(branchAllowed(['*/main'], 'x/main')).toBe(false);
    expect(branchAllowed(['*/main'], '*/main')).toBe(true);
  });

  it('an exact pattern allows exactly that branch (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (allowed, branch) => {
        fc.pre(!allowed.endsWith('*'));
        expect(branchAllowed([allowed], branch)).toBe(allowed === branch);
      }),
    );
  });
});

describe('version pattern', () => {
  it.each(['1.2.0', '1.2.0-bad', 'v1+build.5', '2025.01.01', 'a', '0', 'V_1', '1.0.0-rc.1+sha.abc'])(
    'accepts %s',
    (v) => {
      expect(isValidVersion(v)).toBe(true);
    },
  );

  it('accepts exactly 128 characters and refuses 129', () => {
    expect(isValidVersion('1' + 'a'.repeat(127))).toBe(true);
    expect(isValidVersion('1' + 'a'.repeat(128))).toBe(false);
  });

  it.each([
    ['a shell substitution', '$(reboot)'],
    ['a backtick substitution', '1.0`id`'],
    ['a semicolon', '1.0;rm -rf /'],
    ['a pipe', '1.0|cat'],
    ['an ampersand', '1.0&&x'],
    ['a space', '1.0 beta'],
    ['a leading dash', '-1.0'],
    ['a leading dot', '.1.0'],
    ['a slash', '1.0/../../etc'],
    ['a quote', `1.0'`],
    ['a dollar', '1.0$HOME'],
    ['a newline at the end', '1.0\n'],
    ['a newline inside', '1.0\n2.0'],
    ['a glob', '1.*'],
    ['a redirect', '1.0>out'],
    ['a non-ASCII letter', '1.0-é'],
    ['nothing', ''],
  ])('refuses %s', (_what, v) => {
    expect(isValidVersion(v)).toBe(false);
  });

  it('never accepts a string containing a shell metacharacter or whitespace (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (v) => {
        if (/[\s$`;|&<>()'"\\*?/{}[\]!#~]/.test(v) || v.startsWith('-') || v.length > 128) {
          expect(isValidVersion(v)).toBe(false);
        }
      }),
    );
  });

  it('is anchored: VERSION_PATTERN matches whole strings only', () => {
    expect(VERSION_PATTERN.test('ok $(x)')).toBe(false);
  });
});

describe('login pattern', () => {
  it.each(['alice', 'Alice', 'bob-smith', 'a', '9lives', 'a'.repeat(39)])('accepts %s', (l) => {
    expect(isValidLogin(l)).toBe(true);
  });

  it.each([
    '',
    '-alice',
    'bob smith',
    'bob_smith',
    'bob.smith',
    'a'.repeat(40),
    'bob;id',
    '$(id)',
    'alice\n',
    'é',
  ])('refuses %j', (l) => {
    expect(isValidLogin(l)).toBe(false);
  });

  it('a login stays valid in any case, since logins are compared case-insensitively (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(LOGIN_PATTERN), (l) => {
        expect(isValidLogin(l.toLowerCase())).toBe(true);
        expect(isValidLogin(l.toUpperCase())).toBe(true);
      }),
    );
  });
});

describe('name pattern (apps, environments, groups)', () => {
  it('accepts lowercase names and refuses others', () => {
    expect(NAME_PATTERN.test('team-leads')).toBe(true);
    expect(NAME_PATTERN.test('production')).toBe(true);
    expect(NAME_PATTERN.test('Production')).toBe(false);
    expect(NAME_PATTERN.test('-prod')).toBe(false);
    expect(NAME_PATTERN.test('prod/eu')).toBe(false);
    expect(NAME_PATTERN.test('a'.repeat(64))).toBe(false);
  });
});
