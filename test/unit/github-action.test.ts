import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BadInputError, OperationFailedError } from '../../src/client/errors.js';
import { requestJobToken } from '../../src/integrations/github-action/token.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';
import { requireVersion } from '../../src/client/validate.js';
import { temporalUiLink } from '../../src/client/ui-link.js';
import {
  deriveUiUrl,
  envInputReader,
  inputVariable,
  parseInputs,
  type InputReader,
} from '../../src/integrations/github-action/inputs.js';
import { md, renderSummary } from '../../src/integrations/github-action/summary.js';
import { outcomeOf } from '../../src/integrations/github-action/run.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';

const GITHUB = { GITHUB_SHA: 'abc123', GITHUB_REF_NAME: 'main', GITHUB_ACTOR: 'dave' };

function reader(inputs: Record<string, string>): InputReader {
  return (name) => (inputs[name] ?? '').trim();
}

function parse(inputs: Record<string, string>, env: NodeJS.ProcessEnv = GITHUB) {
  return parseInputs(reader({ app: 'hello', version: '1.0.0', ...inputs }), env);
}

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('expected bad input');
}

describe('Action inputs', () => {
  it('reads INPUT_ variables as the runner names them: upper case, hyphens kept, trimmed', () => {
    expect(inputVariable('wait-for')).toBe('INPUT_WAIT-FOR');
    expect(inputVariable('timeout-minutes')).toBe('INPUT_TIMEOUT-MINUTES');
    expect(inputVariable('my input')).toBe('INPUT_MY_INPUT');
    const read = envInputReader({ 'INPUT_WAIT-FOR': '  production \n', INPUT_APP: 'hello' });
    expect(read('wait-for')).toBe('production');
    expect(read('app')).toBe('hello');
    expect(read('version')).toBe('');
  });

  it('takes no commit, branch or actor from inputs or GITHUB_* variables: given ones are listed as ignored', () => {
    const i = parse({});
    expect(i).toMatchObject({
      app: 'hello',
      version: '1.0.0',
      audience: 'shipgate',
      ignored: [],
      waitFor: 'staging',
      timeoutMs: 30 * 60_000,
    });
    expect(i).not.toHaveProperty('commit');
    expect(i).not.toHaveProperty('branch');
    expect(i).not.toHaveProperty('actor');
    expect(i.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default' });
    // Whatever they say (even what would once have been refused), they decide nothing.
    expect(parse({ commit: 'def', branch: 'release', actor: 'dependabot[bot]' }).ignored).toEqual([
      { name: 'commit', value: 'def' },
      { name: 'branch', value: 'release' },
      { name: 'actor', value: 'dependabot[bot]' },
    ]);
    expect(parse({}, {}).ignored).toEqual([]);
  });

  it('takes the token audience from the audience input, default shipgate', () => {
    expect(parse({ audience: 'https://shipgate.example.com' }).audience).toBe('https://shipgate.example.com');
    expect(badInput(() => parse({ audience: 'a b' }))).toBe('audience: "a b" is not a valid token audience');
  });

  it('names a missing app or version the way @actions/core does', () => {
    expect(badInput(() => parseInputs(reader({ version: '1.0.0' }), GITHUB))).toBe(
      'Input required and not supplied: app',
    );
    expect(badInput(() => parseInputs(reader({ app: 'hello' }), GITHUB))).toBe(
      'Input required and not supplied: version',
    );
    expect(badInput(() => parseInputs(reader({ app: 'hello', version: '   ' }), GITHUB))).toBe(
      'Input required and not supplied: version',
    );
  });

  it('refuses an injected version with the CLI message, naming the input', () => {
    for (const v of ['1.0.0; rm -rf /', '$(id)', '`id`', '1.0.0\nfoo', '../1.0.0', '-1.0.0']) {
      const message = badInput(() => parse({ version: v }));
      expect(message).toBe(badInput(() => requireVersion(v.trim())));
      expect(message).toMatch(/^version: ".*" is not a valid version \(must match/s);
    }
  });

  it('refuses a bad app name, naming the input', () => {
    expect(badInput(() => parse({ app: 'Hello World' }))).toBe('app: "Hello World" is not a valid app name');
  });

  it('accepts none or an environment name for wait-for', () => {
    expect(parse({ 'wait-for': 'none' }).waitFor).toBe('none');
    expect(parse({ 'wait-for': 'production' }).waitFor).toBe('production');
    expect(parse({ 'wait-for': 'qa-2' }).waitFor).toBe('qa-2');
    expect(badInput(() => parse({ 'wait-for': 'Production; id' }))).toMatch(/^wait-for: expected none/);
  });

  it('takes timeout-minutes as a positive, possibly fractional, number', () => {
    expect(parse({ 'timeout-minutes': '0.05' }).timeoutMs).toBe(3000);
    expect(parse({ 'timeout-minutes': '90' }).timeoutMs).toBe(90 * 60_000);
    for (const bad of ['0', '-5', 'abc', '1e3', '5m', 'Infinity'])
      expect(badInput(() => parse({ 'timeout-minutes': bad }))).toBe(
        `timeout-minutes: "${bad}" is not a positive number of minutes`,
      );
  });

  it('takes address and namespace from inputs, then TEMPORAL_* variables, like the CLI', () => {
    const env = { ...GITHUB, TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns' };
    expect(parse({}, env).temporal).toMatchObject({ address: 'env:7233', namespace: 'env-ns' });
    expect(parse({ address: 'in:7233', namespace: 'in.acct' }, env).temporal).toMatchObject({
      address: 'in:7233',
      namespace: 'in.acct',
    });
    expect(badInput(() => parse({ address: 'https://x:7233' }))).toMatch(/^address: expected HOST:PORT/);
    expect(badInput(() => parse({ namespace: 'a b' }))).toBe(
      'namespace: "a b" is not a valid namespace name',
    );
  });

  it('uses the api-key input over TEMPORAL_API_KEY', () => {
    expect(parse({}, { ...GITHUB, TEMPORAL_API_KEY: 'from-env' }).temporal.apiKey).toBe('from-env');
    expect(parse({ 'api-key': 'from-input' }, { ...GITHUB, TEMPORAL_API_KEY: 'x' }).temporal.apiKey).toBe(
      'from-input',
    );
    expect(parse({}).temporal.apiKey).toBeUndefined();
  });

  it('takes tls-cert and tls-key as PEM text or file paths, and only together', () => {
    const pemCert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const pemKey = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----';
    expect(parse({ 'tls-cert': pemCert, 'tls-key': pemKey }).temporal).toMatchObject({
      tlsCertData: pemCert,
      tlsKeyData: pemKey,
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shipgate-tls-'));
    const certFile = path.join(dir, 'client.pem');
    writeFileSync(certFile, pemCert);
    const t = parse({ 'tls-cert': certFile, 'tls-key': pemKey }).temporal;
    expect(t.tlsCert).toBe(certFile);
    expect(t.tlsKeyData).toBe(pemKey);
    expect(badInput(() => parse({ 'tls-cert': pemCert }))).toBe(
      'tls-cert and tls-key must be given together',
    );
    expect(badInput(() => parse({ 'tls-key': pemKey }))).toBe('tls-cert and tls-key must be given together');
    const secretLooking = 'c2VjcmV0LWtleS1ieXRlcw==';
    const message = badInput(() => parse({ 'tls-cert': pemCert, 'tls-key': secretLooking }));
    expect(message).toBe('tls-key: expected PEM text (-----BEGIN ...) or the path of a PEM file');
    expect(message).not.toContain(secretLooking);
  });

  it('derives the Temporal UI from the address, or takes ui-url', () => {
    expect(deriveUiUrl('my-ns.a1b2c.tmprl.cloud:7233')).toBe('https://cloud.temporal.io');
    expect(deriveUiUrl('localhost:7233')).toBe('http://localhost:8233');
    expect(deriveUiUrl('127.0.0.1:7233')).toBe('http://127.0.0.1:8233');
    expect(deriveUiUrl('temporal.internal:7233')).toBeNull();
    expect(deriveUiUrl('127.0.0.1:65000')).toBeNull();
    // A self-hosted frontend on loopback (the cluster tier's) has its UI wherever its operator put it.
    expect(deriveUiUrl('127.0.0.1:25087')).toBeNull();
    expect(parse({ 'ui-url': 'https://temporal.example.com/' }).uiUrl).toBe('https://temporal.example.com');
    expect(badInput(() => parse({ 'ui-url': 'javascript:alert(1)' }))).toMatch(/^ui-url: .* is not an http/);
  });
});

function status(over: Partial<ReleaseStatus> = {}): ReleaseStatus {
  return {
    app: 'hello',
    version: '1.0.0',
    commit: 'abc123',
    branch: 'main',
    actor: 'dave',
    state: 'running',
    stage: 'awaiting-approval',
    reason: null,
    startedAt: '2026-01-01T10:00:00.000Z',
    endedAt: null,
    approvals: {
      environment: 'production',
      required: [{ group: 'team-leads', count: 2 }],
      given: [{ by: 'alice', at: '2026-01-01T10:05:00.000Z', via: 'slack', comment: 'ok | <b>x</b>' }],
      refused: [
        { by: 'dave', at: '2026-01-01T10:04:00.000Z', via: 'cli', action: 'approve', reason: 'self' },
      ],
    },
    environments: {
      staging: { state: 'succeeded', at: '2026-01-01T10:03:00.000Z' },
      production: { state: 'waiting', at: null },
    },
    blockedBy: null,
    blockedUntil: null,
    override: null,
    ...over,
  } as ReleaseStatus;
}

describe('job summary', () => {
  it('links the release run in the Temporal UI with every part encoded', () => {
    expect(temporalUiLink('http://127.0.0.1:8233', 'default', 'release/hello/1.0.0', 'r-1')).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/release%2Fhello%2F1.0.0/r-1/history',
    );
    expect(temporalUiLink('https://cloud.temporal.io', 'ns.acct', 'release/a/b', undefined)).toBe(
      'https://cloud.temporal.io/namespaces/ns.acct/workflows/release%2Fa%2Fb',
    );
  });

  it('shows state, stage, the stage table, approvals and the link', () => {
    const text = renderSummary({
      status: status(),
      outcome: {
        kind: 'succeeded',
        text: 'staging succeeded; the release is now at stage awaiting-approval.',
      },
      releaseId: 'release/hello/1.0.0',
      uiLink: 'http://ui/namespaces/default/workflows/release%2Fhello%2F1.0.0/r/history',
    });
    expect(text).toContain('### ✅ shipgate: hello 1.0.0');
    expect(text).toContain('| State | `running` |');
    expect(text).toContain('| Stage | `awaiting-approval` |');
    expect(text).toContain('| staging | ✅ succeeded | 2026-01-01T10:03:00.000Z |');
    expect(text).toContain('| production | ⏳ waiting |  |');
    expect(text).toContain('#### Approvals for production');
    expect(text).toContain('Required: 2 of team-leads. Given: 1.');
    expect(text).toContain('| alice | slack | 2026-01-01T10:05:00.000Z | ok \\| &lt;b&gt;x&lt;/b&gt; |');
    expect(text).toContain('| dave | approve | cli | self |');
    expect(text).toContain(
      '[Open the release in the Temporal UI](http://ui/namespaces/default/workflows/release%2Fhello%2F1.0.0/r/history)',
    );
  });

  it('escapes free text so it cannot break tables or inject links and HTML', () => {
    expect(md('a|b\nc')).toBe('a\\|b c');
    // Line and paragraph separators and terminal escapes break no line either.
    expect(md('a\u2028::error::x\u2029b\u001b[31mc\r\nd')).toBe('a ::error::x b \\[31mc d');
    expect(md('[click](https://evil)')).toBe('\\[click\\]\\(https://evil\\)');
    expect(md('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert\\(1\\)&gt;');
    const text = renderSummary({
      status: status({ state: 'failed', stage: 'done', reason: 'smoke /smoke: 500\n| injected |' }),
      outcome: { kind: 'failed', text: 'release hello 1.0.0 ended failed' },
      releaseId: 'release/hello/1.0.0',
      uiLink: null,
    });
    expect(text).toContain('### ❌ shipgate');
    expect(text).toContain('| Reason | smoke /smoke: 500 \\| injected \\| |');
    expect(text).toContain('Set the `ui-url` input');
  });
});

describe('the outcome the step reports', () => {
  const inputs = { waitFor: 'staging', timeoutMs: 3000 } as Parameters<typeof outcomeOf>[1];

  it('succeeds once the awaited environment succeeded, saying where the release is now', () => {
    expect(outcomeOf(status(), inputs, false)).toEqual({
      kind: 'succeeded',
      text: 'staging succeeded; the release is now at stage awaiting-approval.',
    });
  });

  it('fails with the state and reason when the release ended before getting there', () => {
    const s = status({
      state: 'failed',
      stage: 'done',
      reason: 'smoke /smoke: 500',
      environments: { staging: { state: 'failed', at: null } },
    });
    expect(outcomeOf(s, inputs, false)).toEqual({
      kind: 'failed',
      text: 'release hello 1.0.0 ended failed at stage done: smoke /smoke: 500',
    });
  });

  it('reports a timeout, saying the release goes on', () => {
    const s = status({
      environments: { staging: { state: 'deploying', at: null } },
      stage: 'deploying-staging',
    });
    const o = outcomeOf(s, inputs, true);
    expect(o.kind).toBe('timed-out');
    expect(o.text).toMatch(
      /^timed out after 0\.05 min waiting for staging; .* The timeout does not cancel the release/,
    );
  });
});

describe('the job token', () => {
  const RUNNER = {
    ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/idtoken?api-version=2.0',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
  };
  let issuer: OidcIssuer;
  beforeAll(async () => {
    issuer = await startOidcIssuer();
  });
  afterAll(() => issuer?.close());

  it('requests a token for the audience and reads repository, ref, commit and actor from it', async () => {
    const token = await issuer.mint(
      issuer.githubClaims({
        repository: 'acme/hello',
        ref: 'refs/heads/main',
        actor: 'alice-gh',
        sha: 'f'.repeat(40),
      }),
    );
    const asked: string[] = [];
    const job = await requestJobToken('shipgate', RUNNER, async (aud) => {
      asked.push(aud);
      return token;
    });
    expect(asked).toEqual(['shipgate']);
    expect(job).toEqual({
      token,
      repository: 'acme/hello',
      ref: 'refs/heads/main',
      sha: 'f'.repeat(40),
      actor: 'alice-gh',
      branch: 'main',
    });
    const tag = await requestJobToken('shipgate', RUNNER, async () =>
      issuer.mint(issuer.githubClaims({ repository: 'acme/hello', ref: 'refs/tags/v1', actor: 'a' })),
    );
    // Not a branch: sent as is, and the workers refuse it.
    expect(tag.branch).toBe('refs/tags/v1');
  });

  it('fails with exit 2 naming id-token: write when the job may not request a token', async () => {
    const err = await requestJobToken('shipgate', {}, () => Promise.reject(new Error('unreachable'))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).message).toMatch(/permissions: id-token: write/);
  });

  it('fails with exit 1 when the runner gives no token, or something that is not one', async () => {
    const failed = await requestJobToken('shipgate', RUNNER, () =>
      Promise.reject(new Error('Failed to get ID Token.\n Error Code : 403')),
    ).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OperationFailedError);
    expect((failed as Error).message).toBe(
      'could not get a GitHub Actions ID token for audience shipgate: Failed to get ID Token. Error Code : 403',
    );
    const junk = await requestJobToken('shipgate', RUNNER, async () => 'not-a-jwt').catch((e: unknown) => e);
    expect(junk).toBeInstanceOf(OperationFailedError);
  });
});
