/** The `github` block and the per-environment GitHub fields: what is accepted, and refusals that name the field. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { logUrlOf } from '../../src/integrations/github/activities.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FILE = '/etc/shipgate/shipgate.yaml';

const config = (github: unknown, env: Record<string, unknown> = {}) => ({
  apps: {
    hello: {
      repository: 'acme/hello',
      build: { kind: 'local', source: path.join(ROOT, 'examples', 'hello-service') },
      environments: { production: { target: { kind: 'local', port: 18099 }, ...env } },
    },
  },
  ...(github === undefined ? {} : { github }),
});

const refusal = (github: unknown, env?: Record<string, unknown>): string => {
  try {
    validateConfig(config(github, env), FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('accepted');
};

describe('config: github', () => {
  it('accepts a token from the environment or a GitHub App, with defaults, and the environment fields', () => {
    const token = validateConfig(
      config({ token: { env: 'GH_TOKEN' } }, { githubEnvironment: 'live', url: 'https://hello.example.com' }),
      FILE,
    ).config;
    expect(token.github).toEqual({ api: 'https://api.github.com', token: { env: 'GH_TOKEN' } });
    expect(token.apps.hello!.environments.production).toMatchObject({
      githubEnvironment: 'live',
      url: 'https://hello.example.com',
    });
    const app = validateConfig(
      config({
        api: 'https://github.example.com/api/v3/',
        app: { appId: 123, installationId: '456', privateKeyFile: 'app.pem' },
      }),
      FILE,
    ).config;
    expect(app.github).toEqual({
      api: 'https://github.example.com/api/v3',
      app: { appId: '123', installationId: '456', privateKeyFile: 'app.pem' },
    });
    expect(validateConfig(config(undefined), FILE).config.github).toBeUndefined();
  });

  it('refuses secrets in the file, both or neither way in, and bad values, naming the field', () => {
    expect(refusal({ token: { env: 'GH_TOKEN', value: 'ghp_x' } })).toContain(
      'github.token.value: the token does not belong in the config',
    );
    expect(refusal({ token: { env: 'ghp_123-abc' } })).toMatch(
      /github\.token\.env: expected the name of an environment variable/,
    );
    expect(
      refusal({ app: { appId: 1, installationId: 2, privateKeyEnv: 'K', privateKey: '-----BEGIN' } }),
    ).toContain('github.app.privateKey: the private key does not belong in the config');
    expect(refusal({ app: { appId: 1, installationId: 2 } })).toContain(
      'github.app.privateKeyFile: expected exactly one of privateKeyFile and privateKeyEnv',
    );
    expect(refusal({ app: { appId: 'one', installationId: 2, privateKeyEnv: 'K' } })).toContain(
      'github.app.appId: expected the App ID, a number',
    );
    expect(refusal({})).toContain('github.token: expected exactly one of token: { env: NAME } and app:');
    expect(
      refusal({ token: { env: 'T' }, app: { appId: 1, installationId: 2, privateKeyEnv: 'K' } }),
    ).toContain('github.token: expected exactly one of');
    expect(refusal({ api: 'http://github.example.com', token: { env: 'T' } })).toMatch(/github\.api: /);
    expect(refusal({ token: { env: 'T' } }, { url: 'ftp://x' })).toContain(
      'apps.hello.environments.production.url: expected an http(s) URL',
    );
    expect(refusal({ token: { env: 'T' } }, { githubEnvironment: '' })).toMatch(
      /apps\.hello\.environments\.production\.githubEnvironment/,
    );
  });

  it('log links: the dashboard when ui.publicUrl is set, else the Temporal UI page of the workflow', () => {
    const deploy = {
      app: 'hello',
      env: 'production',
      releaseId: 'release/hello/1.0.0',
      action: 'deploy' as const,
    };
    expect(logUrlOf('https://deploys.example.com', 'http://ui', 'default', deploy)).toBe(
      'https://deploys.example.com/?app=hello&env=production',
    );
    expect(logUrlOf(undefined, 'http://127.0.0.1:8233', 'default', deploy)).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/release%2Fhello%2F1.0.0',
    );
    expect(logUrlOf(undefined, 'http://ui', 'ns', { ...deploy, action: 'rollback', releaseId: null })).toBe(
      'http://ui/namespaces/ns/workflows/env%2Fhello%2Fproduction',
    );
    expect(logUrlOf(undefined, undefined, 'default', deploy)).toBeUndefined();
  });
});
