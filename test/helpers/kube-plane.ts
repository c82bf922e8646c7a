/**
 * A real Kubernetes control plane per test file (etcd, kube-apiserver with RBAC, controller-manager, scheduler
 * and kwok as the kubelet of one fake node), started by scripts/kube-plane.sh on free loopback ports. Pods
 * become Running/Ready but run no containers. The binary is built once by `scripts/kube-plane.sh build`
 * (scripts/test.sh does it before the suites), so a hook never waits for a 20-minute compile.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './processes.js';
import { readEnvFile } from './env-file.js';

const SCRIPT = path.join(ROOT, 'scripts', 'kube-plane.sh');
const ROLE_FILE = path.join(ROOT, 'docs', 'kubernetes-role.yaml');

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (for `apply -f -`). */
  input?: string;
  /** Another identity's kubeconfig; the plane's admin kubeconfig by default. */
  kubeconfig?: string;
  timeoutMs?: number;
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface RoleManifest {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'Role';
  metadata: { name: string; namespace: string };
  rules: PolicyRule[];
}

export interface KubePlane {
  dir: string;
  /** The admin kubeconfig (client certificate in system:masters). */
  kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` */
  apiUrl: string;
  /** A `kubectl` executable for this plane (admin unless KUBECONFIG says otherwise): the seed's kubectl. */
  kubectlPath: string;
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** The plane's processes, as `up` recorded them (empty once stopped). */
  pids(): Promise<{ name: string; pid: number }[]>;
  /** Creates a namespace and waits until pods can be admitted there (its default ServiceAccount exists). */
  createNamespace(name: string): Promise<void>;
  /**
   * Creates ServiceAccount `name` in `namespace`, bound to `role` (default: docs/kubernetes-role.yaml for that
   * namespace), and writes a kubeconfig that authenticates with a TokenRequest bearer token only. Resolves once
   * the apiserver enforces the binding.
   */
  serviceAccountKubeconfig(namespace: string, name: string, role?: RoleManifest): Promise<string>;
  /** Stops every process of the plane and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The Role shipgate documents, for `namespace`; `without` removes one verb on one resource. */
export async function shipgateRole(
  namespace: string,
  opts: { without?: { verb: string; resource: string } } = {},
): Promise<RoleManifest> {
  const role = parse(await readFile(ROLE_FILE, 'utf8')) as RoleManifest;
  role.metadata = { ...role.metadata, namespace };
  const without = opts.without;
  if (without) {
    const hit = role.rules.some(
      (r) => r.resources.includes(without.resource) && r.verbs.includes(without.verb),
    );
    if (!hit) throw new Error(`the Role grants no ${without.verb} on ${without.resource}`);
    role.rules = role.rules
      .map((r) =>
        r.resources.includes(without.resource)
          ? { ...r, verbs: r.verbs.filter((v) => v !== without.verb) }
          : r,
      )
      .filter((r) => r.verbs.length > 0);
  }
  return role;
}

export async function startKubePlane(): Promise<KubePlane> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shipgate-kube-'));
  // A worker that dies without afterAll must not leave a control plane running.
  const onExit = () => spawnSync('bash', [SCRIPT, 'down', dir], { stdio: 'ignore' });
  process.on('exit', onExit);
  const up = await run('bash', [SCRIPT, 'up', dir], {
    env: { ...process.env, KUBE_PLANE_NO_BUILD: '1' },
    timeoutMs: 150_000,
  });
  if (up.code !== 0) {
    process.off('exit', onExit);
    throw new Error(`scripts/kube-plane.sh up ${dir} failed (exit ${up.code}):\n${up.stderr.slice(-4000)}`);
  }
  const env = (await readEnvFile(dir)) as Record<string, string | undefined>;
  const bin = env.KUBE_PLANE_BIN;
  const apiUrl = env.KUBE_PLANE_API;
  if (!bin || !apiUrl) throw new Error(`${dir}/env lacks KUBE_PLANE_BIN or KUBE_PLANE_API`);
  const kubeconfigPath = path.join(dir, 'kubeconfig');
  let stopped = false;

  const kubectl = (args: string[], opts: KubectlOptions = {}) =>
    run(bin, ['kubectl', ...args], {
      env: { ...process.env, KUBECONFIG: opts.kubeconfig ?? kubeconfigPath },
      input: opts.input,
      timeoutMs: opts.timeoutMs,
    });
  const must = async (args: string[], opts: KubectlOptions = {}) => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}`);
    return r.stdout;
  };

  return {
    dir,
    kubeconfigPath,
    apiUrl,
    kubectlPath: path.join(dir, 'bin', 'kubectl'),
    kubectl,

    async pids() {
      const text = await readFile(path.join(dir, 'pids'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [name = '', pid = ''] = l.split(' ');
          return { name, pid: Number(pid) };
        });
    },

    async createNamespace(name) {
      await must(['create', 'namespace', name]);
      await must(['-n', name, 'wait', '--for=create', 'serviceaccount/default', '--timeout=60s']);
    },

    async serviceAccountKubeconfig(namespace, name, role) {
      const r = role ?? (await shipgateRole(namespace));
      // Named after the ServiceAccount, so identities with different Roles can share a namespace.
      const roleName = name;
      const list = {
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
          { ...r, metadata: { name: roleName, namespace } },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name, namespace },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
            subjects: [{ kind: 'ServiceAccount', name, namespace }],
          },
        ],
      };
      await must(['apply', '--server-side', '--field-manager=test', '-f', '-'], {
        input: JSON.stringify(list),
      });
      // TokenRequest API: a bound, expiring token, as a pod's projected token would be.
      const token = (await must(['-n', namespace, 'create', 'token', name, '--duration=2h'])).trim();
      const ca = await readFile(path.join(dir, 'pki', 'ca.crt'));
      const file = path.join(dir, `sa-${namespace}-${name}.kubeconfig`);
      const context = `${name}@${namespace}`;
      await writeFile(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'kube-plane',
              cluster: { server: apiUrl, 'certificate-authority-data': ca.toString('base64') },
            },
          ],
          users: [{ name: context, user: { token } }],
          contexts: [{ name: context, context: { cluster: 'kube-plane', user: context, namespace } }],
          'current-context': context,
        }),
        { mode: 0o600 },
      );
      // The RBAC authorizer learns of new bindings through a watch: wait until it grants the first rule.
      const first = r.rules[0];
      if (first?.verbs[0] && first.resources[0]) {
        const group = first.apiGroups[0] ? `.${first.apiGroups[0]}` : '';
        const [resource, sub] = first.resources[0].split('/');
        const args = ['-n', namespace, 'auth', 'can-i', first.verbs[0], `${resource}${group}`];
        if (sub) args.push(`--subresource=${sub}`);
        const deadline = Date.now() + 30_000;
        while ((await kubectl(args, { kubeconfig: file })).code !== 0) {
          if (Date.now() > deadline)
            throw new Error(`RoleBinding ${namespace}/${name} not enforced after 30 s`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      return file;
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      const down = await run('bash', [SCRIPT, 'down', dir], { timeoutMs: 30_000 });
      process.off('exit', onExit);
      if (down.code !== 0) throw new Error(`scripts/kube-plane.sh down ${dir} failed: ${down.stderr}`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
