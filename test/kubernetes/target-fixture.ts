/**
 * What the kubernetes target's integration tests share: a real control plane (scripts/kube-plane.sh), the
 * loopback version reporter that stands in for the app's HTTP endpoint (pods run no containers there), and
 * small readers of what a user would see with kubectl. Each test file starts its own plane.
 */
import { expect } from 'vitest';
import { startKubePlane, type KubePlane } from '../helpers/kube-plane.js';
import { startVersionReporter, type VersionReporter } from '../../src/dev/kube-version-reporter.js';
import { kubernetesTargetSchema } from '../../src/config/schema.js';
import { createKubernetesTarget } from '../../src/targets/kubernetes/index.js';
import type { ActivateRequest, DeploymentTarget, Placement, Probe } from '../../src/targets/types.js';
import type { Deployment, Service } from '../../src/targets/kubernetes/types.js';

export const IMAGE_TEMPLATE = 'registry.example.com/app:{{version}}';
export const image = (version: string) => IMAGE_TEMPLATE.replace('{{version}}', version);

export interface Bed {
  plane: KubePlane;
  reporter: VersionReporter;
  stop(): Promise<void>;
}

export async function startBed(): Promise<Bed> {
  const plane = await startKubePlane();
  const reporter = await startVersionReporter(plane.kubeconfigPath).catch(async (err: unknown) => {
    await plane.stop();
    throw err;
  });
  return {
    plane,
    reporter,
    async stop() {
      await reporter.close();
      await plane.stop();
    },
  };
}

/** A `target` block as a user writes it, parsed by the config schema (so defaults are the real ones). */
export function targetConfig(fields: Record<string, unknown>) {
  const parsed = kubernetesTargetSchema.parse({
    kind: 'kubernetes',
    deployment: 'app',
    container: 'app',
    ...fields,
  });
  return parsed;
}

export function placement(config: ReturnType<typeof targetConfig>, env = 'production'): Placement {
  return { app: 'app', env, config, build: { image: IMAGE_TEMPLATE } };
}

/** Opens the environment's target as a worker would, through a fresh provider. */
export function openTarget(
  config: ReturnType<typeof targetConfig>,
  opts: { unreachableTimeoutMs?: number } = {},
): DeploymentTarget {
  return createKubernetesTarget(opts).open(placement(config));
}

export function request(version: string, fields: Partial<ActivateRequest> = {}): ActivateRequest {
  return {
    version,
    artifact: image(version),
    strategy: 'rolling',
    keepPreviousMs: 600_000,
    ...fields,
  };
}

/** Runs kubectl as the plane's admin and fails the test, with its stderr, when it fails. */
export async function kubectl(bed: Bed, args: string[], input?: string): Promise<string> {
  const r = await bed.plane.kubectl(args, { input, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function getJson<T>(bed: Bed, ns: string, what: string, name?: string): Promise<T> {
  return JSON.parse(await kubectl(bed, ['-n', ns, 'get', what, ...(name ? [name] : []), '-o', 'json'])) as T;
}

export async function getDeployment(bed: Bed, ns: string, name: string) {
  // kubectl hides managedFields unless asked.
  const out = await kubectl(bed, [
    '-n',
    ns,
    'get',
    'deployment',
    name,
    '-o',
    'json',
    '--show-managed-fields',
  ]);
  return JSON.parse(out) as Deployment & { metadata: { managedFields?: ManagedField[] } };
}
export const getService = (bed: Bed, ns: string, name: string) => getJson<Service>(bed, ns, 'service', name);

export interface ManagedField {
  manager: string;
  operation: string;
  fieldsV1?: Record<string, unknown>;
}

export interface Pod {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: { containers: { name: string; image: string }[] };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

export async function pods(bed: Bed, ns: string, selector: string): Promise<Pod[]> {
  const out = await kubectl(bed, ['-n', ns, 'get', 'pods', '-l', selector, '-o', 'json']);
  return (JSON.parse(out) as { items: Pod[] }).items;
}

export const imageIn = (d: Deployment, container = 'app') =>
  d.spec.template.spec?.containers.find((c) => c.name === container)?.image;
export const versionIn = (d: Deployment) => d.spec.template.metadata?.annotations?.['shipgate.dev/version'];

/** `kubectl rollout status`, the seed's own check that a Deployment finished rolling out. */
export async function rolledOut(bed: Bed, ns: string, name: string): Promise<void> {
  const out = await kubectl(bed, ['-n', ns, 'rollout', 'status', `deployment/${name}`, '--timeout=90s']);
  expect(out).toContain('successfully rolled out');
}

/** A namespace with the app's objects, given as YAML. */
export async function namespaceWith(bed: Bed, ns: string, yaml: string): Promise<void> {
  await bed.plane.createNamespace(ns);
  await kubectl(bed, ['-n', ns, 'apply', '-f', '-'], yaml);
}

/** A Deployment and, optionally, labels and extra container fields (YAML flow style). */
export function deploymentYaml(
  name: string,
  opts: {
    labels?: Record<string, string>;
    replicas?: number;
    image?: string;
    version?: string;
    env?: Record<string, string>;
    revisionHistoryLimit?: number;
  } = {},
): string {
  const labels = JSON.stringify(opts.labels ?? { app: 'app' });
  const annotations = opts.version ? JSON.stringify({ 'shipgate.dev/version': opts.version }) : '{}';
  const env = JSON.stringify(Object.entries(opts.env ?? {}).map(([n, value]) => ({ name: n, value })));
  return `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, labels: {app: app}}
spec:
  replicas: ${opts.replicas ?? 2}
  revisionHistoryLimit: ${opts.revisionHistoryLimit ?? 10}
  selector: {matchLabels: ${labels}}
  template:
    metadata: {labels: ${labels}, annotations: ${annotations}}
    spec:
      containers:
      - {name: app, image: '${opts.image ?? image('0.9.0')}', ports: [{containerPort: 8080}], env: ${env}}
      - {name: log-shipper, image: 'registry.example.com/log-shipper:3'}
`;
}

export function serviceYaml(name: string, selector: Record<string, string>): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {selector: ${JSON.stringify(selector)}, ports: [{port: 80, targetPort: 8080}]}
`;
}

/** What the app answers at `probe` (the reporter says which version the Service's ready pods run). */
export async function versionAt(probe: Probe): Promise<string> {
  const answer = await probe('/version', 5000);
  expect(answer.status, answer.body).toBe(200);
  return (JSON.parse(answer.body) as { version: string }).version;
}

/** Asks the reporter directly (a URL a user's browser would hit). */
export async function versionBehind(bed: Bed, ns: string, service: string): Promise<string> {
  const res = await fetch(`${bed.reporter.url}/${ns}/${service}/version`);
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return (JSON.parse(body) as { version: string }).version;
}

/** Polls `read` until it returns `want` (EndpointSlices follow pods moments after a rollout). */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  want: T,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read().catch(() => last);
    if (JSON.stringify(last) === JSON.stringify(want)) return last as T;
    if (Date.now() > deadline)
      throw new Error(
        `${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms, expected ${JSON.stringify(want)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
