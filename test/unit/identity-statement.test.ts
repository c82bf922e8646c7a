import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/identity/sha256.js';
import {
  canonicalStatement,
  checkFreshness,
  detailsDigest,
  newNonce,
  newStatement,
  parseStatement,
  statementDigest,
} from '../../src/identity/statement.js';
import type { Statement } from '../../src/identity/types.js';

const statement = (over: Partial<Statement> = {}): Statement => ({
  v: 1,
  action: 'approve',
  login: 'alice',
  app: 'hello',
  env: 'production',
  version: '1.4.2',
  run: '0195e0a4-7c1b-7d3e-9f00-0123456789ab',
  at: '2030-01-02T03:04:05.000Z',
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
  details: detailsDigest({ comment: 'looks good' }),
  ...over,
});

describe('canonical statement', () => {
  it('is a header line, then one key=value line per field in a fixed order, values JSON-encoded', () => {
    const s = statement();
    expect(canonicalStatement(s)).toBe(
      [
        'shipgate-statement-v1',
        'v=1',
        'action="approve"',
        'login="alice"',
        'app="hello"',
        'env="production"',
        'version="1.4.2"',
        'run="0195e0a4-7c1b-7d3e-9f00-0123456789ab"',
        'at="2030-01-02T03:04:05.000Z"',
        'nonce="AAAAAAAAAAAAAAAAAAAAAA"',
        `details="${s.details}"`,
        '',
      ].join('\n'),
    );
  });

  it('writes null fields as null, and the same text whatever the key order of the object', () => {
    const s = statement({ action: 'release', env: null, run: null });
    const shuffled = Object.fromEntries(Object.entries(s).reverse()) as unknown as Statement;
    expect(canonicalStatement(shuffled)).toBe(canonicalStatement(s));
    expect(canonicalStatement(s)).toContain('\nenv=null\n');
    expect(canonicalStatement(s)).toContain('\nrun=null\n');
  });

  it('cannot be made to contain a forged line: a newline inside a value stays inside its JSON string', () => {
    const forged = statement({ login: 'alice"\nlogin="mallory' });
    const lines = canonicalStatement(forged).split('\n');
    expect(lines.filter((l) => l.startsWith('login='))).toHaveLength(1);
    expect(lines).toHaveLength(12);
  });

  it('differs in every field, so a signature covers each of them', () => {
    const base = canonicalStatement(statement());
    const changes: Partial<Statement>[] = [
      { action: 'reject' },
      { login: 'bob' },
      { app: 'other' },
      { env: 'staging' },
      { version: '1.4.3' },
      { run: 'another-run' },
      { at: '2030-01-02T03:04:06.000Z' },
      { nonce: 'BBBBBBBBBBBBBBBBBBBBBB' },
      { details: detailsDigest({ comment: 'LGTM' }) },
    ];
    for (const c of changes) expect(canonicalStatement(statement(c))).not.toBe(base);
    expect(new Set(changes.map((c) => statementDigest(statement(c)))).size).toBe(changes.length);
  });
});

describe('details digest', () => {
  it('is the sha256 of JSON with sorted keys, undefined values dropped', () => {
    const expected = createHash('sha256').update('{"reason":"broken","to":"1.4.1"}').digest('hex');
    expect(detailsDigest({ to: '1.4.1', reason: 'broken' })).toBe(expected);
    expect(detailsDigest({ reason: 'broken', comment: undefined, to: '1.4.1' })).toBe(expected);
    expect(detailsDigest({})).toBe(createHash('sha256').update('{}').digest('hex'));
  });

  it('tells another reason or rollback target apart', () => {
    expect(detailsDigest({ to: '1.4.1' })).not.toBe(detailsDigest({ to: '1.4.0' }));
    expect(detailsDigest({ reason: 'a' })).not.toBe(detailsDigest({ comment: 'a' }));
  });
});

describe('sha256 without node:crypto (workflow code uses it)', () => {
  it('matches node:crypto on the standard vectors and on any text', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        expect(sha256Hex(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
      }),
    );
  });

  it('hashes lengths around the block boundary the same as node:crypto', () => {
    for (let n = 50; n < 140; n++) {
      const text = 'x'.repeat(n);
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
    }
  });
});

describe('nonce and new statements', () => {
  it('makes 128-bit base64url nonces that do not repeat', () => {
    const nonces = Array.from({ length: 200 }, newNonce);
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(nonces).size).toBe(200);
  });

  it('stamps a new statement with the time and a nonce, and it parses back', () => {
    const s = newStatement(
      {
        action: 'freeze',
        login: 'dave',
        app: 'hello',
        env: 'production',
        version: null,
        run: null,
        details: detailsDigest({ until: '2030-01-03T00:00:00.000Z' }),
      },
      new Date('2030-01-02T03:04:05.000Z'),
    );
    expect(s.at).toBe('2030-01-02T03:04:05.000Z');
    expect(s.v).toBe(1);
    expect(parseStatement(JSON.parse(JSON.stringify(s)))).toEqual({ ok: true, value: s });
  });
});

describe('parseStatement: a statement from the wire is checked field by field', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an unknown version', { v: 2 }, 'statement.v is not 1'],
    ['an unknown action', { action: 'deploy' }, 'statement.action is not one of'],
    ['a bad login', { login: 'alice smith' }, 'statement.login is not a login'],
    ['a bad app', { app: '../etc' }, 'statement.app is not an app name'],
    ['a bad environment', { env: 'Prod' }, 'statement.env is neither null nor an environment name'],
    ['a bad version', { version: '../../../victim' }, 'statement.version is neither null nor a version'],
    ['a bad run', { run: 'run id' }, 'statement.run is neither null nor a run id'],
    ['a local time', { at: '2030-01-02T03:04:05+01:00' }, 'statement.at is not a UTC time'],
    ['a short nonce', { nonce: 'abc' }, 'statement.nonce is not at least 22 base64url characters'],
    [
      'a details text instead of a digest',
      { details: 'looks good' },
      'statement.details is not a sha256 hex digest',
    ],
    ['an extra field', { by: 'bob' }, 'the statement has unknown fields: by'],
  ])('refuses %s', (_label, change, reason) => {
    const parsed = parseStatement({ ...statement(), ...change });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });

  it('refuses something that is not an object', () => {
    expect(parseStatement('approve')).toEqual({ ok: false, reason: 'the statement is not an object' });
    expect(parseStatement(null).ok).toBe(false);
  });
});

describe('freshness: a proof is bound to its time', () => {
  const now = '2030-01-02T03:10:00.000Z';
  it('accepts a proof up to 5 minutes old and up to 30 s ahead', () => {
    expect(checkFreshness('2030-01-02T03:05:00.000Z', now)).toEqual({ ok: true });
    expect(checkFreshness('2030-01-02T03:10:30.000Z', now)).toEqual({ ok: true });
  });

  it('refuses an older proof, saying how old it is and the limit', () => {
    expect(checkFreshness('2030-01-02T03:04:00.000Z', now)).toEqual({
      ok: false,
      reason: 'statement is 6 min old (limit 5 min)',
    });
    expect(checkFreshness('2030-01-02T03:04:59.000Z', now, { what: 'the Slack request' })).toEqual({
      ok: false,
      reason: 'the Slack request is 5 min 1 s old (limit 5 min)',
    });
  });

  it('refuses a proof dated in the future beyond the clock allowance', () => {
    const r = checkFreshness('2030-01-02T03:12:00.000Z', now);
    expect(r).toEqual({
      ok: false,
      reason: "statement is dated 2 min in the future (limit 30 s); check the signer's clock",
    });
  });
});
