import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { buildReleasePlan } from '../../src/activities/plan.js';

const FILE = '/etc/shipgate/shipgate.yaml';
const PROD = 'apps.checkout.environments.production';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = any;

function kubeConfig(): Raw {
  return {
    groups: { leads: ['alice', 'bob'] },
    apps: {
      checkout: {
        build: { kind: 'image', image: 'registry.example.com/checkout:{{version}}' },
        environments: {
          production: {
            target: {
              kind: 'kubernetes',
              kubeconfig: 'clusters/prod.yaml',
              context: 'prod',
              namespace: 'app',
              deployment: 'checkout',
              container: 'checkout',
              service: 'checkout',
              strategy: 'blue-green',
            },
            smoke: [{ url: 'https://checkout.example.com/health', status: 200 }, { path: '/ready' }],
          },
        },
      },
    },
  };
}

function refusal(mutate: (c: Raw) => void): ConfigError {
  const raw = kubeConfig();
  mutate(raw);
  try {
    validateConfig(raw, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected the config to be refused');
}

const target = (c: Raw) => c.apps.checkout.environments.production.target;

describe('config: the kubernetes target', () => {
  it('accepts the documented block, resolving the kubeconfig next to the config file', () => {
    const { config } = validateConfig(kubeConfig(), FILE);
    const t = config.apps.checkout!.environments.production!.target;
    expect(t).toMatchObject({
      kind: 'kubernetes',
      kubeconfig: path.join('/etc/shipgate', 'clusters/prod.yaml'),
      strategy: 'blue-green',
      trafficRouting: 'replicas',
    });
    expect(config.apps.checkout!.environments.production!.onDrift).toBe('block');
  });

  it('keeps `in-cluster` as it is', () => {
    const raw = kubeConfig();
    target(raw).kubeconfig = 'in-cluster';
    const t = validateConfig(raw, FILE).config.apps.checkout!.environments.production!.target;
    expect(t).toHaveProperty('kubeconfig', 'in-cluster');
  });

  it('plans an image build and the target strategy for the release', () => {
    const plan = buildReleasePlan(validateConfig(kubeConfig(), FILE).config, 'checkout');
    if (!plan.ok) throw new Error(plan.message);
    expect(plan.plan.image).toBe('registry.example.com/checkout:{{version}}');
    expect(plan.plan.environments[0]!.deploy.strategy).toBe('blue-green');
    expect(plan.plan.environments[0]!.deploy.verify.checks).toEqual([
      expect.objectContaining({ url: 'https://checkout.example.com/health', status: 200 }),
      expect.objectContaining({ path: '/ready', status: 200 }),
    ]);
  });

  it.each([
    [
      'blue-green without a service',
      (c: Raw) => delete target(c).service,
      `${PROD}.target.service: required for strategy blue-green`,
    ],
    [
      'canary without a service',
      (c: Raw) => ((target(c).strategy = 'canary'), delete target(c).service),
      `${PROD}.target.service: required for strategy canary`,
    ],
    [
      'gateway-api routing without an HTTPRoute',
      (c: Raw) => Object.assign(target(c), { strategy: 'canary', trafficRouting: 'gateway-api' }),
      `${PROD}.target.httpRoute: required with trafficRouting: gateway-api`,
    ],
    [
      'gateway-api routing for blue-green',
      (c: Raw) => Object.assign(target(c), { trafficRouting: 'gateway-api', httpRoute: 'checkout' }),
      `${PROD}.target.trafficRouting: gateway-api routing is for strategy canary`,
    ],
    [
      'a namespace that is not a Kubernetes name',
      (c: Raw) => (target(c).namespace = 'App_NS'),
      `${PROD}.target.namespace: expected a Kubernetes name`,
    ],
    ['a missing deployment', (c: Raw) => delete target(c).deployment, `${PROD}.target.deployment: `],
    ['a missing container', (c: Raw) => delete target(c).container, `${PROD}.target.container: `],
    ['an unknown strategy', (c: Raw) => (target(c).strategy = 'recreate'), `${PROD}.target.strategy: `],
    [
      'a port on a kubernetes target',
      (c: Raw) => (target(c).port = 8080),
      `${PROD}.target.port: unknown field`,
    ],
    [
      'an image without {{version}}',
      (c: Raw) => (c.apps.checkout.build.image = 'registry.example.com/checkout:latest'),
      'apps.checkout.build.image: expected {{version}} in the image reference',
    ],
    [
      'an image build on a local target',
      (c: Raw) => (c.apps.checkout.environments.production.target = { kind: 'local', port: 18090 }),
      `${PROD}.target.kind: a local target runs a local build, but build.kind is image`,
    ],
    [
      'a check with both a path and a url',
      (c: Raw) =>
        (c.apps.checkout.environments.production.smoke = [{ path: '/x', url: 'http://a.example/x' }]),
      `${PROD}.smoke[0].path: expected either path or url, not both`,
    ],
    [
      'a check url that is not http(s)',
      (c: Raw) => (c.apps.checkout.environments.production.smoke = [{ url: 'file:///etc/passwd' }]),
      `${PROD}.smoke[0].url: expected an http(s) URL`,
    ],
    [
      'an unknown onDrift',
      (c: Raw) => (c.apps.checkout.environments.production.onDrift = 'ignore'),
      `${PROD}.onDrift: `,
    ],
  ])('refuses %s, naming the field', (_, mutate, message) => {
    const err = refusal(mutate);
    expect(err.message).toContain(`${FILE}: ${message}`);
  });

  it('refuses a local build on a kubernetes target', () => {
    const err = refusal((c) => (c.apps.checkout.build = { kind: 'local', source: '/' }));
    expect(err.message).toContain(
      `${PROD}.target.kind: a kubernetes target runs an image, but build.kind is local`,
    );
  });
});
