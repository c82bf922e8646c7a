import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, loadConfig, validateConfig, type LoadedConfig } from '../../src/config/load.js';
import { environmentChain } from '../../src/config/chain.js';
import { formatDuration, parseDuration } from '../../src/config/duration.js';
import { generateKey, keyDir, type SshKey } from '../helpers/ssh-keys.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HELLO = path.join(ROOT, 'examples', 'hello-service');

/** The reference `shipgate.yaml` of docs/config.md, verbatim except that build.source is made absolute. */
const REFERENCE_YAML = `
groups:
  team-leads: [alice, bob, carol]
  release-managers: [dave]
people:
  alice: { slack: U0ALICE, github: alice-gh }
apps:
  hello:
    build: { kind: local, source: ${JSON.stringify(HELLO)} }
    environments:
      staging:
        branches: [main]
        target: { kind: local, port: 18081 }
        smoke:
          - { path: /smoke, status: 200 }
          - { path: /version, json: { version: "{{version}}" } }
      production:
        after: staging
        branches: [main]
        target: { kind: local, port: 18082 }
        approvals: [{ group: team-leads, count: 2 }]
        allowSelfApproval: false
        approvalTimeout: 24h
        waitTimer: 5m
        windows:
          - { name: weeknight-maintenance, kind: deny, schedule: "0 22 * * 1-5", duration: 8h, timezone: America/New_York }
        windowOverride: { group: release-managers }
        smoke: [{ path: /smoke, status: 200 }]
        autoRollback: true
`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

/** The same config as a plain object, minimal where the defaults are what we want to observe. */
function example(): Raw {
  return {
    groups: { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] },
    apps: {
      hello: {
        build: { kind: 'local', source: HELLO },
        environments: {
          staging: { branches: ['main'], target: { kind: 'local', port: 18081 } },
          production: {
            after: 'staging',
            branches: ['main'],
            target: { kind: 'local', port: 18082 },
            approvals: [{ group: 'team-leads', count: 2 }],
            windows: [
              {
                name: 'weeknight-maintenance',
                kind: 'deny',
                schedule: '0 22 * * 1-5',
                duration: '8h',
                timezone: 'America/New_York',
              },
            ],
            windowOverride: { group: 'release-managers' },
          },
        },
      },
    },
  };
}

let dir: string;
let FILE: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'shipgate-config-'));
  FILE = path.join(dir, 'shipgate.yaml');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeYaml(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Runs validateConfig on a mutated example and returns the ConfigError it must throw. */
function refusal(mutate: (c: Raw) => void, file = FILE): ConfigError {
  const raw = example();
  mutate(raw);
  try {
    validateConfig(raw, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected validateConfig to throw a ConfigError');
}

const prod = (c: Raw) => c.apps.hello.environments.production;
const PROD = 'apps.hello.environments.production';

describe('loadConfig: the reference example', () => {
  it('loads the reference example with defaults applied', () => {
    const file = writeYaml('contract.yaml', REFERENCE_YAML);
    const loaded = loadConfig(file);
    expect(loaded.file).toBe(file);
    expect(loaded.dir).toBe(dir);
    const { config } = loaded;
    expect(config.groups).toEqual({ 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] });
    expect(config.people).toEqual({ alice: { slack: 'U0ALICE', github: 'alice-gh' } });
    const app = config.apps.hello!;
    expect(app.build).toEqual({ kind: 'local', source: HELLO, command: ['node', 'server.js'] });
    expect(environmentChain(app)).toEqual(['staging', 'production']);

    const staging = app.environments.staging!;
    expect(staging.after).toBeUndefined();
    expect(staging.approvals).toEqual([]);
    expect(staging.approvalTimeout).toBe(7 * 24 * 3600 * 1000);
    expect(staging.waitTimer).toBe(0);
    expect(staging.allowSelfApproval).toBe(false);
    expect(staging.autoRollback).toBe(true);
    // Under identity: proven (the default), every channel that proves who sent the message.
    expect(staging.approvalChannels).toEqual(['ssh', 'slack', 'github-oidc', 'web-oidc']);
    expect(staging.ledgerSize).toBe(200);
    expect(staging.strategy).toBe('blue-green');
    expect(staging.smoke).toEqual([
      { path: '/smoke', status: 200, timeout: 5000 },
      { path: '/version', status: 200, json: { version: '{{version}}' }, timeout: 5000 },
    ]);

    const production = app.environments.production!;
    expect(production.after).toBe('staging');
    expect(production.approvals).toEqual([{ group: 'team-leads', count: 2 }]);
    expect(production.approvalTimeout).toBe(24 * 3600 * 1000);
    expect(production.waitTimer).toBe(5 * 60 * 1000);
    expect(production.windows).toEqual([
      {
        name: 'weeknight-maintenance',
        kind: 'deny',
        schedule: '0 22 * * 1-5',
        duration: 8 * 3600 * 1000,
        timezone: 'America/New_York',
      },
    ]);
    expect(production.windowOverride).toEqual({ group: 'release-managers' });
    expect(production.target).toEqual({ kind: 'local', port: 18082 });
  });

  it('resolves a relative build.source against the config file folder, not the working directory', () => {
    const sub = path.join(dir, 'nested', 'cfg');
    mkdirSync(path.join(dir, 'nested', 'svc'), { recursive: true });
    mkdirSync(sub, { recursive: true });
    const file = path.join(sub, 'shipgate.yaml');
    writeFileSync(file, REFERENCE_YAML.replace(JSON.stringify(HELLO), '../svc'));
    expect(process.cwd()).not.toBe(sub);
    expect(loadConfig(file).config.apps.hello!.build).toHaveProperty(
      'source',
      path.join(dir, 'nested', 'svc'),
    );
  });

  it('resolves examples/hello-service relative to a config at the repository root', () => {
    const raw = example();
    raw.apps.hello.build.source = 'examples/hello-service';
    const loaded = validateConfig(raw, path.join(ROOT, 'shipgate.yaml'));
    expect(loaded.config.apps.hello!.build).toHaveProperty('source', HELLO);
  });

  it('accepts waitTimer 0s, compound durations and a window in any IANA zone', () => {
    const raw = example();
    prod(raw).waitTimer = '0s';
    prod(raw).approvalTimeout = '1h30m';
    prod(raw).windows[0].timezone = 'Asia/Kolkata';
    const env = validateConfig(raw, FILE).config.apps.hello!.environments.production!;
    expect(env.waitTimer).toBe(0);
    expect(env.approvalTimeout).toBe(90 * 60 * 1000);
    expect(env.windows[0]!.timezone).toBe('Asia/Kolkata');
  });

  it('accepts an allow window that opens, and a longer three-environment chain in any key order', () => {
    const raw = example();
    prod(raw).windows = [
      { name: 'business-hours', kind: 'allow', schedule: '0 9 * * 1-5', duration: '8h', timezone: 'UTC' },
    ];
    const envs = raw.apps.hello.environments;
    raw.apps.hello.environments = {
      production: { ...envs.production, after: 'qa' },
      qa: { after: 'staging', target: { kind: 'local', port: 18083 } },
      staging: envs.staging,
    };
    const loaded: LoadedConfig = validateConfig(raw, FILE);
    expect(environmentChain(loaded.config.apps.hello!)).toEqual(['staging', 'qa', 'production']);
  });

  it('does not modify the raw input it was given', () => {
    const raw = example();
    raw.apps.hello.build.source = 'examples/hello-service';
    const before = JSON.stringify(raw);
    validateConfig(raw, path.join(ROOT, 'shipgate.yaml'));
    expect(JSON.stringify(raw)).toBe(before);
  });
});

describe('validateConfig: bad input names the file and the field', () => {
  it.each([
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['"two"', 'two'],
  ])('refuses approval count %s', (_label, count) => {
    const err = refusal((c) => (prod(c).approvals[0].count = count));
    expect(err.message).toBe(`${FILE}: ${PROD}.approvals[0].count: expected a positive integer`);
    expect(err.file).toBe(FILE);
    expect(err.problems).toEqual([
      { path: `${PROD}.approvals[0].count`, message: 'expected a positive integer' },
    ]);
  });

  it('refuses an approval rule without a count', () => {
    const err = refusal((c) => delete prod(c).approvals[0].count);
    expect(err.message).toBe(`${FILE}: ${PROD}.approvals[0].count: expected a positive integer`);
  });

  it('refuses an approval rule naming an unknown group, listing the groups', () => {
    const err = refusal((c) => (prod(c).approvals[0].group = 'security'));
    expect(err.message).toBe(
      `${FILE}: ${PROD}.approvals[0].group: unknown group "security" (groups: team-leads, release-managers)`,
    );
  });

  it('refuses a count larger than the group', () => {
    const err = refusal((c) => (prod(c).approvals[0].count = 4));
    expect(err.message).toBe(
      `${FILE}: ${PROD}.approvals[0].count: needs 4 approvals but group "team-leads" has only 3 member(s)`,
    );
  });

  it.each([
    ['data:application/json,{"status":{"indicator":"none"}}', /scheme (data|file): is not allowed/],
    ['file:///etc/passwd', /scheme (data|file): is not allowed/],
    ['http://status.example.com/api.json', /plain http/],
    ['https://169.254.169.254/latest/meta-data', /link-local|metadata/],
    ['https://10.0.0.7/status.json', /allowPrivateNetwork/],
  ])('refuses the external gate URL %s at load, naming the gate', (url, why) => {
    const err = refusal((c) => {
      prod(c).gates = [{ name: 'statuspage', url, field: 'status.indicator', equals: 'none' }];
    });
    expect(err.message).toContain(`${FILE}: ${PROD}.gates[0].url: `);
    expect(err.message).toMatch(why);
  });

  it('accepts a private-network gate only with allowPrivateNetwork', () => {
    const raw = example();
    prod(raw).gates = [
      {
        name: 'ci',
        url: 'https://10.0.0.7/status.json',
        field: 'ok',
        equals: true,
        allowPrivateNetwork: true,
      },
    ];
    expect(() => validateConfig(raw, FILE)).not.toThrow();
  });

  it('accepts a count equal to the group size', () => {
    const raw = example();
    prod(raw).approvals[0].count = 3;
    expect(() => validateConfig(raw, FILE)).not.toThrow();
  });

  it('refuses an unknown windowOverride group and rollbackGroup', () => {
    const err = refusal((c) => {
      prod(c).windowOverride.group = 'sre';
      prod(c).rollbackGroup = 'oncall';
    });
    expect(err.message.split('\n')).toEqual([
      `${FILE}: ${PROD}.windowOverride.group: unknown group "sre" (groups: team-leads, release-managers)`,
      `${FILE}: ${PROD}.rollbackGroup: unknown group "oncall" (groups: team-leads, release-managers)`,
    ]);
  });

  it.each([
    ['61 * * * *', 'Invalid value for minute: 61'],
    ['every night', 'every night'],
  ])('refuses the invalid cron schedule "%s"', (schedule, detail) => {
    const err = refusal((c) => (prod(c).windows[0].schedule = schedule));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain(
      `${FILE}: ${PROD}.windows[0].schedule: invalid cron schedule "${schedule}": `,
    );
    expect(err.message).toContain(detail);
  });

  it('refuses an unknown time zone', () => {
    const err = refusal((c) => (prod(c).windows[0].timezone = 'Mars/Olympus_Mons'));
    expect(err.message).toBe(
      `${FILE}: ${PROD}.windows[0].timezone: unknown IANA time zone "Mars/Olympus_Mons"`,
    );
  });

  it('refuses a window of duration 0s: it must be positive', () => {
    const err = refusal((c) => (prod(c).windows[0].duration = '0s'));
    expect(err.message).toBe(`${FILE}: ${PROD}.windows[0].duration: expected a positive duration, got "0s"`);
  });

  it.each(['-5m', '5 minutes', '5', '', '5M', '1.5h'])('refuses the window duration "%s"', (duration) => {
    const err = refusal((c) => (prod(c).windows[0].duration = duration));
    expect(err.message).toBe(
      `${FILE}: ${PROD}.windows[0].duration: expected a duration such as 90s, 5m, 24h or 7d, got "${duration}"`,
    );
  });

  it('refuses a duration given as a bare number', () => {
    const err = refusal((c) => (prod(c).waitTimer = 300));
    expect(err.message).toBe(`${FILE}: ${PROD}.waitTimer: expected a duration such as 90s, 5m, 24h or 7d`);
  });

  it('refuses approvalTimeout 0s but accepts waitTimer 0s', () => {
    const err = refusal((c) => (prod(c).approvalTimeout = '0s'));
    expect(err.message).toBe(`${FILE}: ${PROD}.approvalTimeout: expected a positive duration, got "0s"`);
  });

  it('refuses an allow window that never opens (30 February)', () => {
    const err = refusal((c) => {
      prod(c).windows = [
        { name: 'leap-day-only', kind: 'allow', schedule: '0 0 30 2 *', duration: '1h', timezone: 'UTC' },
      ];
    });
    expect(err.message).toBe(
      `${FILE}: ${PROD}.windows[0].schedule: allow window "leap-day-only" never opens, so nothing could ever deploy`,
    );
  });

  it('refuses an unknown field such as the typo "approval:"', () => {
    const err = refusal((c) => {
      prod(c).approval = prod(c).approvals;
      delete prod(c).approvals;
    });
    expect(err.message).toBe(`${FILE}: ${PROD}.approval: unknown field`);
  });

  it('refuses unknown fields at the top level and in a window', () => {
    const err = refusal((c) => {
      c.group = {};
      prod(c).windows[0].tz = 'UTC';
    });
    expect(err.message.split('\n').sort()).toEqual(
      [`${FILE}: group: unknown field`, `${FILE}: ${PROD}.windows[0].tz: unknown field`].sort(),
    );
  });

  it('refuses "after" naming an unknown environment', () => {
    const err = refusal((c) => (prod(c).after = 'stagin'));
    expect(err.message).toBe(`${FILE}: ${PROD}.after: unknown environment "stagin"`);
  });

  it('refuses two entry environments (two without "after")', () => {
    const err = refusal((c) => delete prod(c).after);
    expect(err.message).toBe(
      `${FILE}: apps.hello.environments: expected exactly one environment without "after" (the entry), found 2: staging, production`,
    );
  });

  it('refuses a two-environment cycle: no entry at all', () => {
    const err = refusal((c) => (c.apps.hello.environments.staging.after = 'production'));
    expect(err.message).toBe(
      `${FILE}: apps.hello.environments: expected exactly one environment without "after" (the entry), found 0: none`,
    );
  });

  it('refuses a cycle beside the entry', () => {
    const err = refusal((c) => {
      c.apps.hello.environments.qa = { after: 'production', target: { kind: 'local', port: 18083 } };
      prod(c).after = 'qa';
    });
    expect(err.message).toBe(
      `${FILE}: ${PROD}.after: environments production, qa are not reachable from "staging" (a cycle of "after" links)`,
    );
  });

  it('refuses an environment that comes after itself', () => {
    const err = refusal((c) => (prod(c).after = 'production'));
    expect(err.message).toContain(`${FILE}: ${PROD}.after: `);
    expect(err.message).toContain('cycle');
  });

  it('refuses two environments after the same one', () => {
    const err = refusal((c) => {
      c.apps.hello.environments.qa = { after: 'staging', target: { kind: 'local', port: 18083 } };
    });
    expect(err.message).toBe(
      `${FILE}: apps.hello.environments.qa.after: both "production" and "qa" come after "staging"; environments must form one chain`,
    );
  });

  it('refuses duplicate ports, within an app and across apps', () => {
    const within = refusal((c) => (prod(c).target.port = 18081));
    expect(within.message).toBe(`${FILE}: ${PROD}.target.port: port 18081 is already used by hello/staging`);

    const across = refusal((c) => {
      c.apps.other = {
        build: { kind: 'local', source: HELLO },
        environments: { dev: { target: { kind: 'local', port: 18082 } } },
      };
    });
    expect(across.message).toBe(
      `${FILE}: apps.other.environments.dev.target.port: port 18082 is already used by hello/production`,
    );
  });

  it.each([0, 65536, 70000, -1])('refuses port %s as out of range', (port) => {
    const err = refusal((c) => (prod(c).target.port = port));
    expect(err.message).toBe(`${FILE}: ${PROD}.target.port: expected a port between 1 and 65535`);
  });

  it('refuses a port that is not a number', () => {
    const err = refusal((c) => (prod(c).target.port = '18082'));
    expect(err.message).toBe(`${FILE}: ${PROD}.target.port: expected a port number`);
  });

  it('refuses a missing build source folder, naming the resolved path', () => {
    const err = refusal((c) => (c.apps.hello.build.source = 'no/such/folder'));
    expect(err.message).toBe(
      `${FILE}: apps.hello.build.source: folder not found: ${path.join(dir, 'no/such/folder')}`,
    );
  });

  it('refuses a build source that is a file, not a folder', () => {
    const err = refusal((c) => (c.apps.hello.build.source = path.join(HELLO, 'server.js')));
    expect(err.message).toBe(
      `${FILE}: apps.hello.build.source: folder not found: ${path.join(HELLO, 'server.js')}`,
    );
  });

  it.each(['bob smith', '-bob', 'bob_smith', 'b'.repeat(40), 'bob;rm'])(
    'refuses the invalid login "%s" in a group',
    (bad) => {
      const err = refusal((c) => (c.groups['team-leads'][1] = bad));
      expect(err.message).toBe(
        `${FILE}: groups.team-leads[1]: expected a login matching ^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`,
      );
    },
  );

  it('refuses empty apps', () => {
    const err = refusal((c) => (c.apps = {}));
    expect(err.message).toBe(`${FILE}: apps: expected at least one app`);
  });

  it('refuses an app without environments', () => {
    const err = refusal((c) => (c.apps.hello.environments = {}));
    expect(err.message).toBe(`${FILE}: apps.hello.environments: expected at least one environment`);
  });

  it('refuses a config without apps', () => {
    const err = refusal((c) => delete c.apps);
    expect(err.message).toMatch(new RegExp(`^${escape(FILE)}: apps: expected record`));
  });

  it('reports every problem at once, one line each', () => {
    const err = refusal((c) => {
      prod(c).approvals[0].group = 'security';
      prod(c).target.port = 18081;
      c.apps.hello.build.source = 'missing';
    });
    expect(err.problems.map((p) => p.path).sort()).toEqual(
      ['apps.hello.build.source', `${PROD}.approvals[0].group`, `${PROD}.target.port`].sort(),
    );
    expect(err.message.split('\n')).toHaveLength(3);
    for (const line of err.message.split('\n')) expect(line.startsWith(`${FILE}: `)).toBe(true);
  });

  it('refuses an unknown target kind and an unknown approval channel', () => {
    const kind = refusal((c) => (prod(c).target = { kind: 'nomad', port: 1 }));
    expect(kind.message).toBe(`${FILE}: ${PROD}.target.kind: expected target.kind: local or kubernetes`);
    const channel = refusal((c) => (prod(c).approvalChannels = ['email']));
    expect(channel.message).toContain(`${FILE}: ${PROD}.approvalChannels[0]: `);
  });
});

describe('loadConfig: the file itself', () => {
  it('refuses a missing file, naming it', () => {
    const missing = path.join(dir, 'nope.yaml');
    expect(() => loadConfig(missing)).toThrow(ConfigError);
    expect(() => loadConfig(missing)).toThrow(`${missing}: config file not found`);
  });

  it('refuses a file that is not YAML, naming it', () => {
    const file = writeYaml('broken.yaml', 'apps:\n  hello: { build: [unclosed\n');
    let err: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message.startsWith(`${file}: not valid YAML: `)).toBe(true);
  });

  it('refuses YAML whose top level is not a mapping', () => {
    const file = writeYaml('plain.yaml', 'just some words\n');
    expect(() => loadConfig(file)).toThrow(`${file}: expected object, received string`);
  });

  it('refuses an empty file, pointing at apps', () => {
    const file = writeYaml('empty.yaml', '');
    expect(() => loadConfig(file)).toThrow(new RegExp(`^${escape(file)}: apps: `));
  });

  it('reports YAML-level mistakes with the field path too', () => {
    const file = writeYaml('count.yaml', REFERENCE_YAML.replace('count: 2', 'count: 0'));
    expect(() => loadConfig(file)).toThrow(
      `${file}: ${PROD}.approvals[0].count: expected a positive integer`,
    );
  });

  it('resolves a relative file name to an absolute path in its errors', () => {
    const rel = path.relative(process.cwd(), path.join(dir, 'missing-too.yaml'));
    expect(() => loadConfig(rel)).toThrow(`${path.join(dir, 'missing-too.yaml')}: config file not found`);
  });
});

describe('parseDuration / formatDuration', () => {
  it('parses the reference examples', () => {
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d2h3m4s5ms')).toBe(86_400_000 + 7_200_000 + 180_000 + 4000 + 5);
  });

  it.each(['', '5', '-5m', '5 minutes', '5 m', ' 5m', '5m ', '1.5h', '5M', '5min', 'h', '1w', '5m-1s'])(
    'refuses "%s"',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it('formats durations compactly', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(604_800_000)).toBe('7d');
    expect(formatDuration(86_400_000 + 1500)).toBe('1d1s500ms');
  });

  it('round-trips every non-negative whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('identity: proven by default, with people’s keys, the CI issuer and each app’s repository', () => {
  const keys = keyDir();
  let alice: SshKey;
  let aliceRsa: SshKey;
  let bob: SshKey;
  beforeAll(async () => {
    alice = await generateKey(keys.dir, 'alice', 'ed25519');
    aliceRsa = await generateKey(keys.dir, 'alice-rsa', 'rsa');
    bob = await generateKey(keys.dir, 'bob', 'ecdsa-256');
  });
  afterAll(() => keys.cleanup());

  const load = (mutate: (c: Raw) => void) => {
    const raw = example();
    mutate(raw);
    return validateConfig(raw, FILE).config;
  };

  it('defaults to identity: proven, GitHub’s issuer with audience shipgate, and every proven channel', () => {
    const config = load(() => undefined);
    expect(config.identity).toBe('proven');
    expect(config.ci).toEqual({
      oidc: { issuer: 'https://token.actions.githubusercontent.com', audience: 'shipgate' },
    });
    expect(config.apps.hello!.repository).toBeUndefined();
    expect(config.apps.hello!.environments.production!.approvalChannels).toEqual([
      'ssh',
      'slack',
      'github-oidc',
      'web-oidc',
    ]);
  });

  it('adds the asserted channel to the default only under identity: asserted', () => {
    const config = load((c) => (c.identity = 'asserted'));
    expect(config.apps.hello!.environments.production!.approvalChannels).toEqual([
      'ssh',
      'slack',
      'github-oidc',
      'web-oidc',
      'asserted',
    ]);
  });

  it('reads the old channel names: cli is ssh (and asserted, where allowed), github is github-oidc', () => {
    const proven = load((c) => (prod(c).approvalChannels = ['cli', 'slack', 'github']));
    expect(proven.apps.hello!.environments.production!.approvalChannels).toEqual([
      'ssh',
      'slack',
      'github-oidc',
    ]);
    const asserted = load((c) => {
      c.identity = 'asserted';
      prod(c).approvalChannels = ['cli', 'ssh', 'slack'];
    });
    expect(asserted.apps.hello!.environments.production!.approvalChannels).toEqual([
      'ssh',
      'asserted',
      'slack',
    ]);
  });

  it('refuses the asserted channel where identity is proven, and an unknown identity mode', () => {
    const err = refusal((c) => (prod(c).approvalChannels = ['ssh', 'asserted']));
    expect(err.message).toBe(
      `${FILE}: ${PROD}.approvalChannels[1]: "asserted" needs identity: asserted (this config says identity: proven)`,
    );
    const mode = refusal((c) => (c.identity = 'trusted'));
    expect(mode.message).toBe(`${FILE}: identity: expected proven or asserted`);
  });

  it('names the channels when one is unknown', () => {
    const err = refusal((c) => (prod(c).approvalChannels = ['email']));
    expect(err.message).toBe(
      `${FILE}: ${PROD}.approvalChannels[0]: unknown channel "email" (channels: ssh, slack, github-oidc, web-oidc, asserted; old names: cli, github)`,
    );
  });

  it('loads people with SSH keys of any supported type, a Slack user, a GitHub login and an OIDC subject', () => {
    const config = load((c) => {
      c.people = {
        alice: {
          sshKeys: [alice.publicKey, aliceRsa.publicKey],
          slack: 'U0ALICE',
          github: 'alice-gh',
          oidc: 'alice@example.com',
        },
        bob: { sshKeys: [bob.publicKey] },
      };
    });
    expect(config.people.alice).toEqual({
      sshKeys: [alice.publicKey, aliceRsa.publicKey],
      slack: 'U0ALICE',
      github: 'alice-gh',
      oidc: 'alice@example.com',
    });
  });

  it.each<[string, () => unknown, string]>([
    [
      'text that is no key',
      () => 'my laptop key',
      'expected an OpenSSH public key such as "ssh-ed25519 AAAAC3Nza… alice@laptop"',
    ],
    [
      'a private key pasted by mistake',
      () =>
        '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
      'this is a private key; list the public key (the .pub file) instead',
    ],
    [
      'an unsupported key type',
      () => 'ssh-dss AAAAB3NzaC1kc3MAAACBAP alice@old',
      'unsupported key type "ssh-dss" (supported: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)',
    ],
    [
      'a truncated key',
      () => `ssh-ed25519 ${alice.publicKey.split(' ')[1]!.slice(0, 40)}`,
      'the public key is truncated',
    ],
    [
      'a key whose type does not match its data',
      () => alice.publicKey.replace('ssh-ed25519', 'ecdsa-sha2-nistp256'),
      'the key says ecdsa-sha2-nistp256 but its data is a ssh-ed25519 key',
    ],
    ['a number', () => 42, 'expected an OpenSSH public key string'],
  ])('refuses %s in people.<login>.sshKeys, naming the key', (_what, key, message) => {
    const err = refusal((c) => (c.people = { alice: { sshKeys: [alice.publicKey, key()] } }));
    expect(err.message).toBe(`${FILE}: people.alice.sshKeys[1]: ${message}`);
  });

  it('refuses an RSA key shorter than 2048 bits', async () => {
    const weak = await generateKey(keys.dir, 'weak', 'rsa', 1024);
    const err = refusal((c) => (c.people = { alice: { sshKeys: [weak.publicKey] } }));
    expect(err.message).toBe(
      `${FILE}: people.alice.sshKeys[0]: the RSA key has 1024 bits; at least 2048 are required`,
    );
  });

  it('refuses one SSH key or one GitHub user for two logins, and two logins that differ only in case', () => {
    const sharedKey = refusal(
      (c) =>
        (c.people = {
          alice: { sshKeys: [alice.publicKey] },
          bob: { sshKeys: [bob.publicKey, alice.publicKey] },
        }),
    );
    expect(sharedKey.message).toMatch(
      new RegExp(
        `^${escape(FILE)}: people\\.bob\\.sshKeys\\[1\\]: the key SHA256:\\S+ is already listed for alice; a key signs for one person only$`,
      ),
    );
    const sharedGithub = refusal(
      (c) => (c.people = { alice: { github: 'alice-gh' }, bob: { github: 'Alice-GH' } }),
    );
    expect(sharedGithub.message).toBe(
      `${FILE}: people.bob.github: GitHub user Alice-GH is already linked to alice`,
    );
    const twoAlices = refusal((c) => (c.people = { alice: {}, Alice: {} }));
    expect(twoAlices.message).toBe(
      `${FILE}: people.Alice: the same login as people.alice (logins compare without regard to case)`,
    );
  });

  it('accepts an https issuer, or plain http on loopback (a local issuer), with an audience', () => {
    const https = load(
      (c) => (c.ci = { oidc: { issuer: 'https://issuer.example.com', audience: 'deploys' } }),
    );
    expect(https.ci.oidc).toEqual({ issuer: 'https://issuer.example.com', audience: 'deploys' });
    const local = load((c) => (c.ci = { oidc: { issuer: 'http://127.0.0.1:8444' } }));
    expect(local.ci.oidc).toEqual({ issuer: 'http://127.0.0.1:8444', audience: 'shipgate' });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'a plain http issuer off loopback',
      { issuer: 'http://issuer.example.com' },
      'ci.oidc.issuer',
      'expected https: (plain http is allowed only on loopback), got http://issuer.example.com',
    ],
    [
      'an issuer of another scheme',
      { issuer: 'file:///etc/issuer' },
      'ci.oidc.issuer',
      'expected an https: URL, got file:',
    ],
    [
      'an issuer that is no URL',
      { issuer: 'token.actions.githubusercontent.com' },
      'ci.oidc.issuer',
      'expected an https URL',
    ],
    [
      'an empty audience',
      { audience: '' },
      'ci.oidc.audience',
      'Too small: expected string to have >=1 characters',
    ],
    ['an unknown key', { jwks: 'https://x' }, 'ci.oidc.jwks', 'unknown field'],
  ])('refuses %s', (_what, oidc, at, message) => {
    const err = refusal((c) => (c.ci = { oidc }));
    expect(err.message).toBe(`${FILE}: ${at}: ${message}`);
  });

  it('accepts apps.<app>.repository as owner/name, and refuses anything else', () => {
    expect(load((c) => (c.apps.hello.repository = 'acme/hello.service')).apps.hello!.repository).toBe(
      'acme/hello.service',
    );
    for (const bad of ['acme', 'acme/hello/extra', 'https://github.com/acme/hello', '-acme/hello']) {
      const err = refusal((c) => (c.apps.hello.repository = bad));
      expect(err.message).toBe(`${FILE}: apps.hello.repository: expected a GitHub repository as owner/name`);
    }
  });

  it('refuses slack.apiUrl over plain http off loopback, where the bot token would travel in clear', () => {
    const err = refusal((c) => (c.slack = { channel: 'C0DEPLOYS', apiUrl: 'http://slack.example.com/api/' }));
    expect(err.message).toBe(
      `${FILE}: slack.apiUrl: expected https: (plain http is allowed only on loopback), got http://slack.example.com`,
    );
    const local = load((c) => (c.slack = { channel: 'C0DEPLOYS', apiUrl: 'http://127.0.0.1:4000/api/' }));
    expect(local.slack!.apiUrl).toBe('http://127.0.0.1:4000/api/');
  });
});
