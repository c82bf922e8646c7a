/**
 * The client side of proven identity, without a server: what the CLI signs with (key file, SHIPGATE_SSH_KEY,
 * ssh-agent, or an assertion only where the config says so), that a signed request verifies with the worker's
 * own verifier, re-verification of a release's recorded proofs offline, refusing control characters in free
 * text, and escaping every free text a terminal shows. Keys are real (ssh-keygen), and so is the ssh-agent.
 */
/* eslint-disable no-control-regex -- finding control characters is what these patterns are for */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertedProver, gateEnvironment, sshProver, type ShipgateClient } from '../../src/client.js';
import { BadInputError, EXIT, NoSigningKeyError, NoWorkerError } from '../../src/client/errors.js';
import { esc, escLines, jsonForTerminal } from '../../src/client/text.js';
import { requireText } from '../../src/client/validate.js';
import { verifyReleaseProofs } from '../../src/client/verify-approvals.js';
import { formatVerdict } from '../../src/cli/commands/audit.js';
import { CliContext } from '../../src/cli/context.js';
import { formatStatus } from '../../src/cli/format.js';
import { proverFor } from '../../src/cli/sign.js';
import { validateConfig } from '../../src/config/load.js';
import type { ShipgateConfig } from '../../src/config/schema.js';
import { slackSignature } from '../../src/identity/slack.js';
import { detailsDigest } from '../../src/identity/statement.js';
import type { Proof } from '../../src/identity/types.js';
import { createProofVerifier } from '../../src/identity/verify.js';
import type { ProofRecord } from '../../src/protocol/proof-record.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';
import { generateKey, keyDir, startSshAgent, type SshAgent, type SshKey } from '../helpers/ssh-keys.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUN = '0195e0a4-7c1b-7d3e-9f00-0123456789ab';
const tmp = keyDir();
const keys = {} as Record<'alice' | 'bob' | 'dave' | 'agentOther', SshKey>;
let config: ShipgateConfig;
let configFile: string;

beforeAll(async () => {
  for (const name of ['alice', 'bob', 'dave', 'agentOther'] as const)
    keys[name] = await generateKey(tmp.dir, name, 'ed25519');
  const raw = {
    groups: { 'team-leads': ['alice', 'bob'] },
    people: {
      alice: { sshKeys: [keys.alice.publicKey] },
      bob: { sshKeys: [keys.bob.publicKey], slack: 'U0BOB' },
      dave: { sshKeys: [keys.dave.publicKey] },
    },
    slack: { channel: 'C0DEPLOYS', signingSecretEnv: 'TEST_SLACK_SECRET' },
    apps: {
      hello: {
        build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
        environments: { production: { target: { kind: 'local', port: 19_998 } } },
      },
    },
  };
  configFile = path.join(tmp.dir, 'shipgate.yaml');
  writeFileSync(configFile, JSON.stringify(raw));
  config = validateConfig(raw, configFile).config;
});
afterAll(() => tmp.cleanup());

const approveRequest = (comment?: string) => ({
  action: 'approve' as const,
  app: 'hello',
  env: 'production',
  version: '1.4.2',
  run: RUN,
  details: detailsDigest({ comment }),
});

describe('provers: what the client sends as proof', () => {
  it('signs the exact request with ssh-keygen, and the worker’s verifier accepts it for that request only', async () => {
    const proof = await sshProver({ login: 'alice', keyFile: keys.alice.privateKeyFile })(
      approveRequest('ship it'),
    );
    expect(proof.kind).toBe('ssh');
    if (proof.kind !== 'ssh') return;
    expect(proof.statement).toMatchObject({ login: 'alice', ...approveRequest('ship it') });
    const verifier = createProofVerifier({ config: () => config, env: {} });
    const now = new Date().toISOString();
    expect(await verifier.verify(proof, { ...approveRequest('ship it'), now })).toMatchObject({
      ok: true,
      login: 'alice',
      via: 'ssh',
    });
    // Moved to another comment, or to another run, it no longer holds.
    expect(await verifier.verify(proof, { ...approveRequest('other'), now })).toMatchObject({ ok: false });
    expect(
      await verifier.verify(proof, { ...approveRequest('ship it'), run: 'another-run', now }),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('run') });
  });

  it('a key that cannot sign is bad input (exit 2) naming the login, and nothing is sent', async () => {
    const notAKey = path.join(tmp.dir, 'not-a-key');
    writeFileSync(notAKey, 'hello\n', { mode: 0o600 });
    const prove = sshProver({ login: 'alice', keyFile: notAKey });
    await expect(prove(approveRequest())).rejects.toBeInstanceOf(BadInputError);
    await expect(prove(approveRequest())).rejects.toThrow(/^cannot sign as alice: ssh-keygen/);
  });

  it('an asserted proof is only the login', async () => {
    expect(await assertedProver('carol')(approveRequest())).toEqual({ kind: 'asserted', login: 'carol' });
  });
});

describe('the CLI chooses how to sign: --key, SHIPGATE_SSH_KEY, asserted only when configured, then ssh-agent', () => {
  const saved = { ...process.env };
  let agent: SshAgent | undefined;
  afterEach(async () => {
    for (const k of ['SSH_AUTH_SOCK', 'SHIPGATE_SSH_KEY', 'SHIPGATE_IDENTITY', 'SHIPGATE_CONFIG'])
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    await agent?.stop();
    agent = undefined;
  });
  const clear = () => {
    for (const k of ['SSH_AUTH_SOCK', 'SHIPGATE_SSH_KEY', 'SHIPGATE_IDENTITY', 'SHIPGATE_CONFIG'])
      delete process.env[k];
  };
  const proofWith = async (o: { key?: string; config?: string }, login = 'alice') =>
    (await proverFor(new CliContext({ config: o.config }), login, { key: o.key }))(approveRequest());
  const signer = (p: Proof) =>
    p.kind === 'ssh' ? createProofVerifier({ config: () => config, env: {} }) : undefined;

  it('without any key under identity: proven, refuses with exit 2 naming --key, SHIPGATE_SSH_KEY and ssh-agent', async () => {
    clear();
    const err = await proofWith({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoSigningKeyError);
    expect((err as NoSigningKeyError).exitCode).toBe(EXIT.badInput);
    expect((err as Error).message).toMatch(/--key FILE.*SHIPGATE_SSH_KEY.*ssh-agent/);
    // A config that says proven (the default) changes nothing.
    await expect(proofWith({ config: configFile })).rejects.toBeInstanceOf(NoSigningKeyError);
  });

  it('--key wins over SHIPGATE_SSH_KEY; a missing file is exit 2 naming where it came from', async () => {
    clear();
    process.env.SHIPGATE_SSH_KEY = keys.dave.privateKeyFile;
    const p = await proofWith({ key: keys.alice.privateKeyFile });
    const now = new Date().toISOString();
    expect(await signer(p)!.verify(p, { ...approveRequest(), now })).toMatchObject({
      ok: true,
      login: 'alice',
    });
    const fromEnv = await proofWith({});
    // dave's key signing as alice: refused by the worker, not by the CLI.
    expect(await signer(fromEnv)!.verify(fromEnv, { ...approveRequest(), now })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not listed for alice'),
    });
    await expect(proofWith({ key: path.join(tmp.dir, 'nope') })).rejects.toThrow(
      /^--key: .*nope does not exist$/,
    );
    delete process.env.SHIPGATE_SSH_KEY;
    process.env.SHIPGATE_SSH_KEY = path.join(tmp.dir, 'gone');
    await expect(proofWith({})).rejects.toThrow(/^SHIPGATE_SSH_KEY: .*gone does not exist$/);
  });

  it('sends an unsigned login only under identity: asserted (config or SHIPGATE_IDENTITY), and a named key still signs', async () => {
    clear();
    const asserted = path.join(tmp.dir, 'asserted.yaml');
    writeFileSync(
      asserted,
      JSON.stringify({
        identity: 'asserted',
        apps: {
          hello: {
            build: { kind: 'local', source: '.' },
            environments: { production: { target: { kind: 'local', port: 19_997 } } },
          },
        },
      }),
    );
    expect(await proofWith({ config: asserted })).toEqual({ kind: 'asserted', login: 'alice' });
    process.env.SHIPGATE_IDENTITY = 'asserted';
    expect(await proofWith({})).toEqual({ kind: 'asserted', login: 'alice' });
    expect((await proofWith({ key: keys.alice.privateKeyFile })).kind).toBe('ssh');
    process.env.SHIPGATE_IDENTITY = 'trust-me';
    await expect(proofWith({})).rejects.toThrow(
      /SHIPGATE_IDENTITY: "trust-me" is neither proven nor asserted/,
    );
  });

  it('signs through a real ssh-agent, choosing the agent key the config lists for the login', async () => {
    clear();
    agent = await startSshAgent(tmp.dir);
    // The agent's first key is someone else's; with the config in hand, alice's key is the one used.
    await agent.add(keys.agentOther);
    await agent.add(keys.alice);
    process.env.SSH_AUTH_SOCK = agent.env.SSH_AUTH_SOCK;
    const now = new Date().toISOString();
    const withConfig = await proofWith({ config: configFile });
    expect(await signer(withConfig)!.verify(withConfig, { ...approveRequest(), now })).toMatchObject({
      ok: true,
      login: 'alice',
    });
    // Without a config, the agent's first key signs; the worker then refuses it for alice.
    const first = await proofWith({});
    expect(await signer(first)!.verify(first, { ...approveRequest(), now })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not listed for alice'),
    });
  });
});

describe('which environment and run a release-scoped proof names', () => {
  const status = (over: Partial<ReleaseStatus>): ReleaseStatus =>
    ({
      state: 'running',
      stage: 'awaiting-approval',
      environments: { staging: { state: 'succeeded', at: null }, production: { state: 'waiting', at: null } },
      ...over,
    }) as ReleaseStatus;

  it('the environment whose gates the release stands at; none while building, deploying or ended', () => {
    expect(gateEnvironment(status({}))).toBe('production');
    expect(gateEnvironment(status({ stage: 'awaiting-window' }))).toBe('production');
    expect(gateEnvironment(status({ stage: 'deploying-production' }))).toBeNull();
    expect(gateEnvironment(status({ stage: 'building', environments: {} }))).toBeNull();
    expect(gateEnvironment(status({ state: 'rejected', stage: 'done' }))).toBeNull();
  });
});

describe('no worker, no hanging', () => {
  it('says no shipgate worker is polling, names the task queue, exits 4, and says whether anything was sent', () => {
    const never = new NoWorkerError('shipgate', false);
    expect(never.exitCode).toBe(EXIT.unreachable);
    expect(never.message).toMatch(
      /^no shipgate worker is polling task queue shipgate: nothing answered within 15 s/,
    );
    expect(never.message).toContain('Nothing was sent');
    expect(new NoWorkerError('shipgate', true).message).toContain('counts only while its proof is fresh');
  });
});

describe('terminal honesty', () => {
  const forged =
    'fine\n2030-01-01  deploy 9.9.9  succeeded by alice\u001b]8;;https://evil.test\u0007click\u001b]8;;\u0007\u001b[2K';

  it('refuses control characters in reasons and comments, naming the field and the character (exit 2)', () => {
    expect(() => requireText('line one\nline two', '--reason')).toThrow(
      '--reason: contains a newline; control characters (newlines, tabs, terminal escapes) are refused',
    );
    expect(() => requireText('see \u001b]8;;https://x\u0007here', '--comment')).toThrow(
      /^--comment: contains an escape/,
    );
    expect(() => requireText('tab\there', '--reason')).toThrow(/contains a tab/);
    expect(() => requireText('c1 \u009b31m', '--reason')).toThrow(/contains U\+009B/);
    expect(() => requireText('del \u007f', '--reason')).toThrow(/contains U\+007F/);
    expect(requireText('ünïcode — “quotes” 🚀', '--reason')).toBe('ünïcode — “quotes” 🚀');
  });

  it('shows every control, separator and bidi override visibly, on one line', () => {
    const shown = esc(forged);
    expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(shown).toBe(
      'fine\\x0a2030-01-01  deploy 9.9.9  succeeded by alice\\x1b]8;;https://evil.test\\x07click\\x1b]8;;\\x07\\x1b[2K',
    );
    expect(esc('a\u202eb\u2028c\u0085')).toBe('a\\u{202e}b\\u{2028}c\\x85');
    expect(escLines('ours\nline two\u001b[31m')).toBe('ours\nline two\\x1b[31m');
    expect(esc(null)).toBe('');
  });

  it('JSON keeps the same value but no raw DEL, C1 or bidi character', () => {
    const value = { reason: 'x\u009b31my\u202ez\u007f' };
    const text = jsonForTerminal(value);
    expect(text).not.toMatch(/[\u007f-\u009f\u202e]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('a status quoting someone else’s text shows it escaped, line for line', () => {
    const s = {
      app: 'hello',
      version: '1.0.0',
      commit: 'abc\u001b[8m',
      branch: 'main',
      actor: 'dave',
      state: 'running',
      stage: 'awaiting-approval',
      reason: null,
      startedAt: '2030-01-01T00:00:00.000Z',
      endedAt: null,
      approvals: {
        environment: 'production',
        required: [{ group: 'team-leads', count: 2 }],
        given: [{ by: 'alice', at: '2030-01-01T00:01:00.000Z', via: 'ssh', comment: forged }],
        refused: [
          {
            by: '(unverified)',
            at: '2030-01-01T00:02:00.000Z',
            via: null,
            action: 'approve',
            reason: 'bad\nline',
          },
        ],
      },
      environments: { production: { state: 'waiting', at: null } },
      blockedBy: null,
      blockedUntil: null,
      override: null,
    } as ReleaseStatus;
    const text = formatStatus(s);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text.split('\n')).toHaveLength(7);
    expect(text).toContain('(unverified) (approve) refused: bad\\x0aline');
  });
});

describe('audit verify-approvals: a release’s recorded proofs, checked again offline with the public keys', () => {
  const at = (offsetMs: number) => new Date(Date.parse('2030-05-01T10:00:00.000Z') + offsetMs).toISOString();

  async function sshRecord(
    login: 'alice' | 'bob' | 'dave',
    key: SshKey,
    comment?: string,
  ): Promise<ProofRecord> {
    const proof = await sshProver({ login, keyFile: key.privateKeyFile, now: () => new Date(at(0)) })(
      approveRequest(comment),
    );
    if (proof.kind !== 'ssh') throw new Error('expected an ssh proof');
    return {
      login,
      via: 'ssh',
      digest: 'd',
      at: proof.statement.at,
      statement: proof.statement,
      signature: proof.signature,
    };
  }

  const fakeClient = (s: ReleaseStatus) =>
    ({
      statusNow: () => Promise.resolve(s),
      firstRunOf: () => Promise.resolve(RUN),
      client: { workflow: { getHandle: () => ({ fetchHistory: () => Promise.resolve({ events: [] }) }) } },
    }) as unknown as ShipgateClient;

  const released = (given: ReleaseStatus['approvals']['given']): ReleaseStatus =>
    ({
      app: 'hello',
      version: '1.4.2',
      commit: 'c',
      branch: 'main',
      actor: 'dave',
      state: 'succeeded',
      stage: 'done',
      reason: null,
      startedAt: at(-60_000),
      endedAt: at(120_000),
      approvals: {
        environment: 'production',
        required: [{ group: 'team-leads', count: 2 }],
        given,
        refused: [],
      },
      environments: { production: { state: 'succeeded', at: at(120_000) } },
      blockedBy: null,
      blockedUntil: null,
      override: null,
      proofScope: { run: RUN, env: null },
    }) as ReleaseStatus;

  it('verifies each signature with the listed key and the statement against the record; exit 0 only when all hold', async () => {
    const alice = await sshRecord('alice', keys.alice, 'lgtm');
    const bob = await sshRecord('bob', keys.bob);
    const good = await verifyReleaseProofs(
      fakeClient(
        released([
          { by: 'alice', at: at(1000), via: 'ssh', comment: 'lgtm', proof: alice },
          { by: 'bob', at: at(2000), via: 'ssh', proof: bob },
        ]),
      ),
      config,
      'hello',
      '1.4.2',
      {},
    );
    expect(good.ok).toBe(true);
    expect(good.checks.map((c) => [c.by, c.outcome])).toEqual([
      ['alice', 'verified'],
      ['bob', 'verified'],
    ]);
    expect(formatVerdict(good)).toMatch(/✔ approve production by alice via ssh .*signature by SHA256:/);

    // The record altered after the fact: another comment, a late acceptance, a proof claimed for someone else.
    const bad = await verifyReleaseProofs(
      fakeClient(
        released([
          { by: 'alice', at: at(1000), via: 'ssh', comment: 'edited later', proof: alice },
          { by: 'bob', at: at(6 * 60_000), via: 'ssh', proof: bob },
          { by: 'dave', at: at(1000), via: 'ssh', proof: { ...bob, login: 'dave' } },
          { by: 'carol', at: at(1000), via: 'cli' },
        ]),
      ),
      config,
      'hello',
      '1.4.2',
      {},
    );
    expect(bad.ok).toBe(false);
    expect(bad.checks.map((c) => c.outcome)).toEqual(['failed', 'failed', 'failed', 'missing']);
    expect(bad.checks[0]!.detail).toContain('other details');
    expect(bad.checks[1]!.detail).toMatch(/6 min old/);
    expect(formatVerdict(bad)).toMatch(
      /^NOT VERIFIED: 0 verified here, 0 verified by the worker only, 3 failed, 1 without a proof$/m,
    );
  });

  it('a Slack approval is reported as verified by the worker unless the signing secret is at hand', async () => {
    const body = `payload=${encodeURIComponent(
      JSON.stringify({
        type: 'block_actions',
        user: { id: 'U0BOB' },
        actions: [
          {
            action_id: 'shipgate.approve',
            value: JSON.stringify({ app: 'hello', version: '1.4.2', run: RUN }),
          },
        ],
      }),
    )}`;
    const timestamp = String(Math.floor(Date.parse(at(0)) / 1000));
    const signature = slackSignature('secret', timestamp, body);
    const record: ProofRecord = {
      login: 'bob',
      via: 'slack',
      digest: 'x',
      at: at(0),
      claims: { user: 'U0BOB' },
    };
    const s = released([{ by: 'bob', at: at(1000), via: 'slack', proof: record }]);
    const without = await verifyReleaseProofs(fakeClient(s), config, 'hello', '1.4.2', {});
    expect(without.ok).toBe(true);
    expect(without.checks[0]).toMatchObject({
      outcome: 'worker-verified',
      detail: `verified by the worker at ${at(1000)} (HMAC; re-verify needs the signing secret)`,
    });
    // With the secret, the signed request is taken from the release's history and checked again.
    const { sha256Hex } = await import('../../src/identity/sha256.js');
    const { defaultPayloadConverter } = await import('@temporalio/common');
    const payload = defaultPayloadConverter.toPayload({
      proof: { kind: 'slack', body, timestamp, signature },
    });
    const withHistory = {
      ...fakeClient(s),
      client: {
        workflow: {
          getHandle: () => ({
            fetchHistory: () =>
              Promise.resolve({
                events: [
                  {
                    workflowExecutionUpdateAcceptedEventAttributes: {
                      acceptedRequest: { input: { args: { payloads: [payload] } } },
                    },
                  },
                ],
              }),
          }),
        },
      },
    } as unknown as ShipgateClient;
    const digest = sha256Hex(`v0:${timestamp}:${body}`);
    const checked = await verifyReleaseProofs(withHistory, config, 'hello', '1.4.2', {
      TEST_SLACK_SECRET: 'secret',
    });
    // The record's digest is not this request's: nothing to check it against.
    expect(checked.checks[0]!.outcome).toBe('worker-verified');
    const matching = released([{ by: 'bob', at: at(1000), via: 'slack', proof: { ...record, digest } }]);
    const ok = await verifyReleaseProofs(
      { ...withHistory, statusNow: () => Promise.resolve(matching) } as unknown as ShipgateClient,
      config,
      'hello',
      '1.4.2',
      { TEST_SLACK_SECRET: 'secret' },
    );
    expect(ok.checks[0]).toMatchObject({ outcome: 'verified', by: 'bob' });
    const wrongSecret = await verifyReleaseProofs(
      { ...withHistory, statusNow: () => Promise.resolve(matching) } as unknown as ShipgateClient,
      config,
      'hello',
      '1.4.2',
      { TEST_SLACK_SECRET: 'not-the-secret' },
    );
    expect(wrongSecret.checks[0]!.outcome).toBe('failed');
  });
});
