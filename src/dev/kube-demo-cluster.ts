/**
 * The Kubernetes side of `shipgate demo --kubernetes`: a real control plane started by scripts/kube-plane.sh
 * (built once on first use and cached outside the repository), the app's namespaces with the objects a team
 * already has (a Deployment to roll in staging; blue and a Service selecting it in production), and the
 * loopback stand-in that answers for the app (pods run no containers on this plane).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../temporal/binaries.js';
import { startVersionReporter, type VersionReporter } from './kube-version-reporter.js';

const run = promisify(execFile);
const SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'kube-plane.sh');

export interface DemoCluster {
  kubeconfig: string;
  reporter: VersionReporter;
  kubectl(args: string[], input?: string): Promise<string>;
  /** What a user reaching the environment's Service would get: the version its ready endpoints run. */
  answers(namespace: string): Promise<string>;
  stop(): Promise<void>;
}

/** A team's starting point: one image running, as `kubectl apply` left it. */
function startingObjects(namespace: string, blueGreen: boolean, image: string): string {
  const labels = blueGreen ? '{app: hello, color: blue}' : '{app: hello}';
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${blueGreen ? 'hello-blue' : 'hello'}, namespace: ${namespace}}
spec:
  replicas: 3
  selector: {matchLabels: ${labels}}
  template:
    metadata: {labels: ${labels}}
    spec: {containers: [{name: hello, image: '${image}', ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: ${namespace}}
spec: {selector: ${labels}, ports: [{port: 80, targetPort: 8080}]}
`;
}

export async function startDemoCluster(
  home: string,
  namespaces: { staging: string; production: string },
  image: string,
  say: (line: string) => void,
): Promise<DemoCluster> {
  const dir = path.join(home, 'kube-plane');
  await mkdir(dir, { recursive: true });
  say('Building the Kubernetes control plane if this machine has not yet (once, cached; about 20 min cold)…');
  await run('bash', [SCRIPT, 'build'], { maxBuffer: 1 << 24 });
  await run('bash', [SCRIPT, 'up', dir], { maxBuffer: 1 << 24 });
  const kubeconfig = path.join(dir, 'kubeconfig');
  const kubectlPath = path.join(dir, 'bin', 'kubectl');
  const kubectl = async (args: string[], input?: string) => {
    const child = execFile(kubectlPath, ['--kubeconfig', kubeconfig, ...args]);
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: string) => (out += d));
    child.stderr?.on('data', (d: string) => (err += d));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${err.trim()}`);
    return out;
  };
  let reporter: VersionReporter | null = null;
  const stop = async () => {
    await reporter?.close();
    await run('bash', [SCRIPT, 'down', dir]).catch(() => undefined);
  };
  try {
    for (const [env, ns] of Object.entries(namespaces)) {
      await kubectl(['create', 'namespace', ns]);
      await kubectl(['-n', ns, 'wait', '--for=create', 'serviceaccount/default', '--timeout=60s']);
      await kubectl(['apply', '-f', '-'], startingObjects(ns, env === 'production', image));
    }
    reporter = await startVersionReporter(kubeconfig);
  } catch (err) {
    await stop();
    throw err;
  }
  const r = reporter;
  return {
    kubeconfig,
    reporter: r,
    kubectl,
    async answers(namespace) {
      const res = await fetch(`${r.url}/${namespace}/hello/version`);
      return ((await res.json()) as { version: string }).version;
    },
    stop,
  };
}
