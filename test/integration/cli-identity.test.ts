/**
 * Proven identity from the CLI, on a real dev server and worker under `identity: proven`, with SSH keys made by
 * ssh-keygen and a real ssh-agent: what is signed counts, and everything else is refused, recorded as refused,
 * and changes nothing. Proofs built by hand (expired, for another run, replayed, unsigned) go through the same
 * client the CLI uses, as anyone holding a Temporal client could send them.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { assertedProver, type Prover } from '../../src/client.js';
import { EXIT, toShipgateError } from '../../src/client/errors.js';
import { signStatement } from '../../src/identity/sshsig.js';
import { newStatement } from '../../src/identity/statement.js';
import type { Proof } from '../../src/identity/types.js';
import { NO_SIGNER_ENV, personKey, startStack, type App, type Stack } from '../helpers/fixture.js';
import { freePort } from '../../src/temporal/ports.js';
import { BIN, cli, ROOT } from '../helpers/processes.js';
import { keyDir, startSshAgent } from '../helpers/ssh-keys.js';

/* eslint-disable no-control-regex -- the tests look for raw control characters in what a terminal would get */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('proven identity through the CLI (real dev server, worker, ssh-keygen keys and ssh-agent)', () => {
  let stack: Stack;
  const keys = keyDir();
  let n = 0;
  const newApp = (name: string): Promise<App> => stack.addApp(`${name}-${n++}`);

  /** What a client call ends with, as the CLI would report it. */
  const outcome = async (p: Promise<unknown>) => {
    try {
      await p;
      return { code: EXIT.ok as number, message: '' };
    } catch (err) {
      const e = toShipgateError(err, stack.server.address);
      return { code: e.exitCode as number, message: e.message };
    }
  };

  /** A prover that signs as `login` with `keyFile`, with the statement's time moved by `shiftMs`. */
  const signedAt =
    (
      login: string,
      keyFile: string,
      shiftMs: number,
      change: Partial<Record<'run' | 'env', string>> = {},
    ): Prover =>
    async (request) => {
      const statement = newStatement({ ...request, ...change, login }, new Date(Date.now() + shiftMs));
      return { kind: 'ssh', statement, signature: await signStatement(statement, { keyFile }) };
    };

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
    keys.cleanup();
  });

  it('a signed approval counts, through ssh, and verify-approvals checks every proof again from the public keys', async () => {
    const app = await newApp('signed');
    await app.toGate('1.0.0');
    const alice = await app.run('approve', app.name, '1.0.0', '--as', 'alice', '--comment', 'ship it');
    expect(alice.code, alice.stderr).toBe(0);
    await app.approve('1.0.0', 'bob');
    expect((await app.ended('1.0.0')).state).toBe('succeeded');
    const s = await app.status('1.0.0');
    expect(s.approvals.given.map((g) => [g.by, g.via])).toEqual([
      ['alice', 'ssh'],
      ['bob', 'ssh'],
    ]);

    const verify = (config: string) =>
      stack.run(['audit', 'verify-approvals', app.name, '1.0.0', '--config', config]);
    const ok = await verify(stack.configFile);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/✔ release by dave via ssh/);
    expect(ok.stdout).toMatch(/✔ approve production by alice via ssh .*signature by SHA256:/);
    expect(ok.stdout).toMatch(/✔ approve production by bob via ssh/);
    expect(ok.stdout).toMatch(/^OK: 3 verified here/m);

    // The same record against a config where bob's key is another one: his approval no longer verifies.
    const config = parse(await readFile(stack.configFile, 'utf8')) as {
      people: Record<string, { sshKeys: string[] }>;
    };
    config.people.bob!.sshKeys = [(await personKey(keys.dir, 'bob-new')).publicKey];
    const rotated = path.join(keys.dir, 'rotated.yaml');
    await writeFile(rotated, stringify(config));
    const failed = await verify(rotated);
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.stdout).toMatch(/✘ approve production by bob via ssh .*not listed for bob/);
    expect(failed.stdout).toMatch(/^NOT VERIFIED: 2 verified here, 0 verified by the worker only, 1 failed/m);
  });

  it('without a key under identity: proven the CLI sends nothing (exit 2); an unsigned login sent anyway is refused (exit 3) and recorded', async () => {
    const app = await newApp('unsigned');
    await app.toGate('1.0.0');
    const noKey = await cli(
      ['approve', app.name, '1.0.0', '--as', 'alice', '--address', stack.server.address],
      { ...NO_SIGNER_ENV, SHIPGATE_HOME: stack.home },
    );
    expect(noKey.code).toBe(EXIT.badInput);
    expect(noKey.stderr).toMatch(
      /cannot prove you are alice: no SSH key.*--key FILE.*SHIPGATE_SSH_KEY.*ssh-agent/,
    );
    expect((await app.status('1.0.0')).approvals.refused).toEqual([]);

    // Told to send the login unsigned (SHIPGATE_IDENTITY=asserted, an empty --key), it does; the worker refuses.
    const claimed = await stack.run(['approve', app.name, '1.0.0', '--as', 'alice', '--key', ''], {
      SHIPGATE_IDENTITY: 'asserted',
    });
    expect(claimed.code).toBe(EXIT.refused);
    expect(claimed.stderr).toContain('unsigned (asserted) identity is refused');
    const raw = await outcome(
      stack.sg.approve({ app: app.name, version: '1.0.0', prove: assertedProver('bob') }),
    );
    expect(raw).toMatchObject({ code: EXIT.refused, message: expect.stringContaining('identity: proven') });
    const s = await app.status('1.0.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused.map((r) => r.reason)).toEqual([
      expect.stringContaining('asserted'),
      expect.stringContaining('asserted'),
    ]);
  });

  it('a key not listed for the login, or another person’s key, is refused (exit 3) and recorded', async () => {
    const app = await newApp('wrong-key');
    await app.toGate('1.0.0');
    const stranger = await personKey(keys.dir, 'stranger');
    const unlisted = await app.run(
      ...['approve', app.name, '1.0.0', '--as', 'alice', '--key', stranger.privateKeyFile],
    );
    expect(unlisted.code).toBe(EXIT.refused);
    expect(unlisted.stderr).toContain('not listed for alice');
    const bobsKey = await app.run(
      ...['approve', app.name, '1.0.0', '--as', 'alice', '--key', stack.keys.bob!.privateKeyFile],
    );
    expect(bobsKey.code).toBe(EXIT.refused);
    expect(bobsKey.stderr).toContain('not listed for alice');
    const s = await app.status('1.0.0');
    expect(s.approvals.given).toEqual([]);
    expect(s.approvals.refused).toHaveLength(2);
    // Still alice's to give, with her own key.
    await app.approve('1.0.0', 'alice');
  });

  it('an expired statement, one for another run or environment, and a replayed one are refused (exit 3)', async () => {
    const app = await newApp('stale');
    await app.toGate('1.0.0');
    const aliceKey = stack.keys.alice!.privateKeyFile;
    const approve = (prove: Prover) => outcome(stack.sg.approve({ app: app.name, version: '1.0.0', prove }));

    expect(await approve(signedAt('alice', aliceKey, -6 * 60_000))).toMatchObject({
      code: EXIT.refused,
      message: expect.stringMatching(/statement is 6 min( \d+ s)? old \(limit 5 min\)/),
    });
    expect(
      await approve(signedAt('alice', aliceKey, 0, { run: '0195e0a4-0000-7000-8000-000000000000' })),
    ).toMatchObject({ code: EXIT.refused, message: expect.stringContaining('run') });
    expect(await approve(signedAt('alice', aliceKey, 0, { env: 'staging' }))).toMatchObject({
      code: EXIT.refused,
      message: expect.stringContaining('environment'),
    });

    // bob's accepted approval, sent again word for word.
    let sent: Proof | undefined;
    const capture: Prover = async (request) => (sent = await stack.prove('bob')(request));
    expect(await approve(capture)).toMatchObject({ code: EXIT.ok });
    expect(await approve(() => Promise.resolve(sent!))).toMatchObject({
      code: EXIT.refused,
      message: expect.stringMatching(/used before|replay/),
    });
    const s = await app.status('1.0.0');
    expect(s.approvals.given.map((g) => g.by)).toEqual(['bob']);
    expect(s.approvals.refused).toHaveLength(4);
  });

  it('signs through a real ssh-agent holding the person’s key', async () => {
    const app = await newApp('agent');
    await app.toGate('1.0.0');
    const agent = await startSshAgent(keys.dir);
    try {
      await agent.add(stack.keys.carol!);
      const r = await cli(
        [
          'approve',
          app.name,
          '1.0.0',
          '--as',
          'carol',
          '--config',
          stack.configFile,
          '--address',
          stack.server.address,
        ],
        { ...NO_SIGNER_ENV, SSH_AUTH_SOCK: agent.env.SSH_AUTH_SOCK!, SHIPGATE_HOME: stack.home },
      );
      expect(r.code, r.stderr).toBe(0);
      expect((await app.status('1.0.0')).approvals.given.map((g) => [g.by, g.via])).toEqual([
        ['carol', 'ssh'],
      ]);
    } finally {
      await agent.stop();
    }
  });

  it('with no worker, an approval ends with exit 4 naming the task queue, and is never counted later', async () => {
    const app = await newApp('no-worker');
    await app.toGate('1.0.0');
    await stack.worker.kill();
    try {
      const r = await app.run('approve', app.name, '1.0.0', '--as', 'alice');
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(EXIT.unreachable);
      expect(r.stderr).toContain('no shipgate worker is polling task queue shipgate');
    } finally {
      await stack.restartWorker();
    }
    const s = await app.status('1.0.0');
    expect(s.stage).toBe('awaiting-approval');
    expect(s.approvals.given).toEqual([]);
    // Nothing of it is pending: alice's approval is still hers to give, and counts once.
    const again = await app.run('approve', app.name, '1.0.0', '--as', 'alice', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json).toMatchObject({ tally: [{ group: 'team-leads', have: 1 }] });
  });

  it('a reason with a newline and ANSI/OSC-8 escapes is refused by the CLI and by the worker; history and status never show raw escapes', async () => {
    const app = await newApp('escapes');
    await app.shipApproved('1.0.0');
    await app.toGate('1.1.0');
    const forged =
      'ok\n2030-01-01T00:00:00.000Z  deploy 6.6.6   succeeded   by alice, approved by alice, bob\u001b]8;;https://evil.test\u0007docs\u001b]8;;\u0007\u001b[8m';
    for (const args of [
      ['rollback', app.name, 'production', '--as', 'alice', '--reason', forged],
      ['reject', app.name, '1.1.0', '--as', 'bob', '--reason', forged],
    ]) {
      const r = await app.run(...args);
      expect(r.code).toBe(EXIT.badInput);
      expect(r.stderr).toContain('--reason: contains a newline');
      expect(r.stderr).not.toMatch(RAW_CONTROL);
    }

    // Signed properly and sent with a Temporal client: the worker refuses the text itself.
    const rollback = await outcome(
      stack.sg.rollback({ app: app.name, env: 'production', reason: forged, prove: stack.prove('alice') }),
    );
    expect(rollback).toMatchObject({
      code: EXIT.badInput,
      message: expect.stringMatching(/reason: must not contain control characters/),
    });
    const reject = await outcome(
      stack.sg.reject({ app: app.name, version: '1.1.0', reason: forged, prove: stack.prove('bob') }),
    );
    expect(reject).toMatchObject({
      code: EXIT.badInput,
      message: expect.stringMatching(/reason: must not contain control characters/),
    });

    const history = await app.run('history', app.name, 'production');
    expect(history.code).toBe(0);
    expect(history.stdout).not.toMatch(RAW_CONTROL);
    expect(history.stdout).not.toContain('6.6.6');
    // One row, the one deploy: the forged text made no row of its own (the header and audit line are not rows).
    const rows = history.stdout.split('\n').filter((l) => /^\s+\d{4}-\d\d-\d\dT/.test(l));
    expect(rows, history.stdout).toHaveLength(1);
    expect(rows[0]).toMatch(/deploy 1\.0\.0\s+succeeded/);
    const status = await app.run('status', app.name, '1.1.0');
    expect(status.code).toBe(0);
    expect(status.stdout).not.toMatch(RAW_CONTROL);
    expect(status.stdout).not.toContain('6.6.6');
    expect((await app.status('1.1.0')).stage).toBe('awaiting-approval');
  });
});

describe('shipgate dev under identity: proven (real dev server, worker and ssh-keygen)', () => {
  it('makes a signing key for each person the config lists without one, and commands signed with them count', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-dev-'));
    const [temporalPort, uiPort, staging, production] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const configFile = path.join(home, 'shipgate.yaml');
    const config = {
      groups: { 'team-leads': ['alice', 'bob'] },
      apps: {
        hello: {
          build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
          environments: {
            staging: { target: { kind: 'local', port: staging } },
            production: {
              after: 'staging',
              target: { kind: 'local', port: production },
              approvals: [{ group: 'team-leads', count: 2 }],
            },
          },
        },
      },
    };
    await writeFile(configFile, stringify(config));
    const env = { ...process.env, ...NO_SIGNER_ENV, SHIPGATE_HOME: path.join(home, 'state') };
    const dev = spawn(
      process.execPath,
      [
        BIN,
        'dev',
        '--config',
        configFile,
        '--port',
        String(temporalPort),
        '--ui-port',
        String(uiPort),
        '--json',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    try {
      let out = '';
      let err = '';
      dev.stderr.on('data', (d) => (err += d));
      const started = await new Promise<{ address: string; keys: Record<string, string> }>(
        (resolve, reject) => {
          dev.stdout.on('data', (d) => {
            out += d;
            try {
              resolve(JSON.parse(out) as { address: string; keys: Record<string, string> });
            } catch {
              // not the whole document yet
            }
          });
          dev.once('exit', (code) => reject(new Error(`dev exited ${code}: ${err}`)));
        },
      );
      expect(Object.keys(started.keys)).toEqual(['alice', 'bob']);
      // The config file is left as it was: the keys are the worker's view for this dev setup only.
      expect(await readFile(configFile, 'utf8')).toBe(stringify(config));
      const run = (...args: string[]) =>
        cli([...args, '--address', started.address], { ...NO_SIGNER_ENV, SHIPGATE_HOME: env.SHIPGATE_HOME });
      const released = await run(
        ...['release', 'hello', '1.0.0', '--commit', 'c1', '--branch', 'main', '--actor', 'alice'],
        ...['--key', started.keys.alice!, '--wait', 'staging'],
      );
      expect(released.code, released.stderr).toBe(0);
      const unsigned = await run('approve', 'hello', '1.0.0', '--as', 'bob');
      expect(unsigned.code).toBe(EXIT.badInput);
      const approved = await run(
        'approve',
        'hello',
        '1.0.0',
        '--as',
        'bob',
        '--key',
        started.keys.bob!,
        '--json',
      );
      expect(approved.code, approved.stderr).toBe(0);
      const status = (await run('status', 'hello', '1.0.0', '--json')).json as {
        approvals: { given: { by: string; via: string }[] };
      };
      expect(status.approvals.given).toEqual([expect.objectContaining({ by: 'bob', via: 'ssh' })]);
    } finally {
      dev.kill('SIGINT');
      await exited;
      await rm(home, { recursive: true, force: true });
    }
  });
});
