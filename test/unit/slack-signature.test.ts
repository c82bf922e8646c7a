import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSlackHeaders, verifySignature } from '../../src/integrations/slack/signature.js';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const body = 'payload=%7B%22type%22%3A%22block_actions%22%7D';
const now = 1_767_600_000_000;
const ts = Math.floor(now / 1000);
const sign = (t: number | string, b = body, s = secret) =>
  `v0=${createHmac('sha256', s).update(`v0:${t}:${b}`).digest('hex')}`;

const check = (over: Partial<Parameters<typeof verifySignature>[0]> = {}) =>
  verifySignature({
    signingSecret: secret,
    rawBody: body,
    signature: sign(ts),
    timestamp: String(ts),
    nowMs: now,
    ...over,
  });

describe("Slack request signature (v0, Bolt's verifySlackRequest)", () => {
  it('accepts a correctly signed, fresh request', () => {
    expect(check()).toEqual({ ok: true });
  });

  it("matches Slack's documented example", () => {
    // From Slack's "Verifying requests from Slack" guide.
    const example = {
      signingSecret: '8f742231b10e8888abcd99yyyzzz85a5',
      rawBody:
        'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
      timestamp: '1531420618',
      signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      nowMs: 1531420618_000 + 60_000,
    };
    expect(verifySignature(example)).toEqual({ ok: true });
  });

  it('refuses a forged signature, a wrong secret and a tampered body', () => {
    expect(check({ signature: sign(ts, body, 'another-secret') }).ok).toBe(false);
    expect(check({ rawBody: body + '&x=1' }).ok).toBe(false);
    expect(check({ signature: `v0=${'0'.repeat(64)}` }).ok).toBe(false);
    // One flipped hex digit.
    const good = sign(ts);
    const flipped = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    expect(check({ signature: flipped }).ok).toBe(false);
  });

  it('refuses a timestamp the signature does not cover', () => {
    expect(check({ timestamp: String(ts - 1) }).ok).toBe(false);
  });

  it('refuses stale requests (more than 5 minutes old) even when correctly signed', () => {
    const old = ts - 5 * 60 - 1;
    const r = check({ timestamp: String(old), signature: sign(old) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/stale/);
    const edge = ts - 5 * 60;
    expect(check({ timestamp: String(edge), signature: sign(edge) }).ok).toBe(true);
  });

  it('refuses timestamps more than 5 minutes in the future', () => {
    const future = ts + 5 * 60 + 1;
    const r = check({ timestamp: String(future), signature: sign(future) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/future/);
    expect(check({ timestamp: String(ts + 60), signature: sign(ts + 60) }).ok).toBe(true);
  });

  it('refuses missing, repeated or malformed headers', () => {
    for (const timestamp of [undefined, '', 'abc', '1e9', '-5', `0${ts}`, ' 1', [String(ts), String(ts)]]) {
      expect(check({ timestamp }).ok, JSON.stringify(timestamp)).toBe(false);
    }
    for (const signature of [
      undefined,
      '',
      'v1=' + 'a'.repeat(64),
      sign(ts).toUpperCase(),
      'v0=abc',
      [sign(ts)],
    ]) {
      expect(check({ signature }).ok, JSON.stringify(signature)).toBe(false);
    }
  });

  it('refuses everything when no signing secret is configured', () => {
    expect(check({ signingSecret: '' }).ok).toBe(false);
  });
});

describe('the header check made before a request body is read', () => {
  const headers = (over: Partial<Parameters<typeof checkSlackHeaders>[0]> = {}) =>
    checkSlackHeaders({ signature: sign(ts), timestamp: String(ts), ...over }, now);

  it('passes well-formed headers inside the window, without the body', () => {
    expect(headers()).toEqual({ ok: true, timestamp: String(ts), signature: sign(ts) });
    // Only the form is checked here: the HMAC needs the body.
    expect(headers({ signature: `v0=${'0'.repeat(64)}` }).ok).toBe(true);
  });

  it('names what is wrong: missing (401), malformed (400), outside the window (401)', () => {
    expect(headers({ signature: undefined })).toMatchObject({ ok: false, problem: 'missing' });
    expect(headers({ timestamp: '' })).toMatchObject({ ok: false, problem: 'missing' });
    expect(headers({ timestamp: '1e9' })).toMatchObject({ ok: false, problem: 'malformed' });
    expect(headers({ timestamp: [String(ts), String(ts)] })).toMatchObject({
      ok: false,
      problem: 'malformed',
    });
    expect(headers({ signature: 'v0=abc' })).toMatchObject({ ok: false, problem: 'malformed' });
    expect(headers({ timestamp: String(ts - 301) })).toMatchObject({ ok: false, problem: 'stale' });
    expect(headers({ timestamp: String(ts + 301) })).toMatchObject({ ok: false, problem: 'stale' });
    expect(headers({ timestamp: String(ts - 300) }).ok).toBe(true);
  });
});
