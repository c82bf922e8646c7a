/**
 * One environment's cluster connection: its own kubeconfig and context (only that environment's worker loads
 * them), and the few generic calls the strategies make. Every call names its verb and resource, so an RBAC
 * refusal or a missing object reads as what to fix; an apiserver that does not answer is waited for with
 * progress messages until a deadline, then named by address.
 */
import { existsSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import {
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { KubernetesTargetConfig } from './types.js';
import {
  explain,
  isUnreachable,
  KubeconfigError,
  KubeUnreachableError,
  networkReason,
  type RequestDescription,
} from './errors.js';

export const FIELD_MANAGER = 'shipgate';

/** apiVersion and plural resource of each kind shipgate touches (for messages, watches and the proxy). */
export const KINDS = {
  Deployment: { apiVersion: 'apps/v1', resource: 'deployments', path: '/apis/apps/v1' },
  Service: { apiVersion: 'v1', resource: 'services', path: '/api/v1' },
  ControllerRevision: { apiVersion: 'apps/v1', resource: 'controllerrevisions', path: '/apis/apps/v1' },
  Pod: { apiVersion: 'v1', resource: 'pods', path: '/api/v1' },
  EndpointSlice: {
    apiVersion: 'discovery.k8s.io/v1',
    resource: 'endpointslices.discovery.k8s.io',
    path: '/apis/discovery.k8s.io/v1',
  },
  HTTPRoute: {
    apiVersion: 'gateway.networking.k8s.io/v1',
    resource: 'httproutes.gateway.networking.k8s.io',
    path: '/apis/gateway.networking.k8s.io/v1',
  },
} as const;
export type Kind = keyof typeof KINDS;

/** Loads the environment's kubeconfig; a bad file, path or context fails here, naming the environment. */
export function loadKubeConfig(target: KubernetesTargetConfig, where: string): KubeConfig {
  const kc = new KubeConfig();
  const source = target.kubeconfig ?? 'the default kubeconfig ($KUBECONFIG or ~/.kube/config)';
  try {
    if (target.kubeconfig === 'in-cluster') kc.loadFromCluster();
    else if (target.kubeconfig) {
      if (!existsSync(target.kubeconfig)) throw new Error(`file not found`);
      kc.loadFromFile(target.kubeconfig);
    } else kc.loadFromDefault();
  } catch (err) {
    throw new KubeconfigError(`${where}: cannot load kubeconfig ${source}: ${(err as Error).message}`);
  }
  if (target.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(target.context))
      throw new KubeconfigError(
        `${where}: context "${target.context}" is not in kubeconfig ${source} (contexts: ${names.join(', ') || 'none'})`,
      );
    kc.setCurrentContext(target.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server)
    throw new KubeconfigError(
      `${where}: kubeconfig ${source} names no cluster server for its current context`,
    );
  return kc;
}

export interface ClusterOptions {
  /** How long calls wait for an apiserver that does not answer before failing. */
  unreachableTimeoutMs: number;
  /** Called while waiting, so the activity heartbeats and says why it waits. */
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

export type Obj = KubernetesObject & Record<string, unknown>;

/** One API client per kubeconfig, so its connections are reused across activations (no TLS handshake each). */
const apis = new WeakMap<KubeConfig, KubernetesObjectApi>();
function objectsApi(kc: KubeConfig): KubernetesObjectApi {
  let api = apis.get(kc);
  if (!api) apis.set(kc, (api = KubernetesObjectApi.makeApiClient(kc)));
  return api;
}

export class Cluster {
  readonly server: string;
  private readonly objects: KubernetesObjectApi;
  private readonly watcher: Watch;

  constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
    private readonly opts: ClusterOptions,
  ) {
    this.server = kc.getCurrentCluster()!.server;
    this.objects = objectsApi(kc);
    this.watcher = new Watch(kc);
  }

  /** Runs one API call, waiting out an unreachable apiserver until the deadline, explaining refusals. */
  async call<T>(what: RequestDescription, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.opts.unreachableTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isUnreachable(err)) throw explain(err, what);
        const why = networkReason(err);
        if (Date.now() >= deadline || this.opts.signal?.aborted)
          throw new KubeUnreachableError(
            `the apiserver ${this.server} did not answer for ${Math.round(this.opts.unreachableTimeoutMs / 1000)} s (${why}); ` +
              `${what.verb} ${what.resource} in namespace ${what.namespace} was not done`,
          );
        this.opts.progress?.(`waiting for the apiserver ${this.server} (${why}), attempt ${attempt}`);
        await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 3000)));
      }
    }
  }

  private header(kind: Kind, name: string) {
    return { apiVersion: KINDS[kind].apiVersion, kind, metadata: { name, namespace: this.namespace } };
  }

  private describe(verb: string, kind: Kind, name?: string): RequestDescription {
    return { verb, resource: KINDS[kind].resource, namespace: this.namespace, ...(name ? { name } : {}) };
  }

  read<T = Obj>(kind: Kind, name: string): Promise<T> {
    return this.call(
      this.describe('get', kind, name),
      async () => (await this.objects.read(this.header(kind, name))) as unknown as T,
    );
  }

  /** The object, or null when it does not exist. */
  async find<T = Obj>(kind: Kind, name: string): Promise<T | null> {
    try {
      return await this.read<T>(kind, name);
    } catch (err) {
      if ((err as Error).name === 'KubeNotFoundError') return null;
      throw err;
    }
  }

  list<T = Obj>(kind: Kind, labelSelector?: string): Promise<T[]> {
    return this.call(this.describe('list', kind), async () => {
      const res = await this.objects.list(
        KINDS[kind].apiVersion,
        kind,
        this.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      );
      return res.items as unknown as T[];
    });
  }

  /** Server-side apply as field manager `shipgate`: shipgate owns exactly the fields it sends. */
  apply<T = Obj>(kind: Kind, name: string, body: Record<string, unknown>): Promise<T> {
    return this.patch(kind, name, body, PatchStrategy.ServerSideApply);
  }

  /** A JSON merge patch (a selector switch, a scale): one small, atomic change. */
  merge<T = Obj>(kind: Kind, name: string, patch: Record<string, unknown>): Promise<T> {
    return this.patch(kind, name, patch, PatchStrategy.MergePatch);
  }

  private patch<T>(
    kind: Kind,
    name: string,
    body: Record<string, unknown>,
    strategy: PatchStrategy,
  ): Promise<T> {
    const header = this.header(kind, name);
    const spec = { ...header, ...body, metadata: { ...header.metadata, ...(body.metadata as object) } };
    // Apply takes ownership of conflicting fields (force); a merge patch has no such notion.
    const force = strategy === PatchStrategy.ServerSideApply ? true : undefined;
    return this.call(
      this.describe('patch', kind, name),
      async () =>
        (await this.objects.patch(
          spec,
          undefined,
          undefined,
          FIELD_MANAGER,
          force,
          strategy,
        )) as unknown as T,
    );
  }

  /** Replaces the whole object; `resourceVersion` in `obj` makes it fail rather than overwrite a newer one. */
  replace<T extends { metadata?: { name?: string } }>(kind: Kind, obj: T): Promise<T> {
    return this.call(
      this.describe('update', kind, obj.metadata?.name),
      async () =>
        (await this.objects.replace(
          obj as unknown as Obj,
          undefined,
          undefined,
          FIELD_MANAGER,
        )) as unknown as T,
    );
  }

  create<T extends { metadata?: { name?: string } }>(kind: Kind, obj: T): Promise<T> {
    return this.call(
      this.describe('create', kind, obj.metadata?.name),
      async () =>
        (await this.objects.create(
          obj as unknown as Obj,
          undefined,
          undefined,
          FIELD_MANAGER,
        )) as unknown as T,
    );
  }

  delete(kind: Kind, name: string): Promise<unknown> {
    return this.call(this.describe('delete', kind, name), () => this.objects.delete(this.header(kind, name)));
  }

  /**
   * Waits until `decide` says an object is done (true) or failed (throws): reads it, then watches it from that
   * resourceVersion, so no change between the read and the watch is missed. A watch the server closes (they
   * time out) is followed by a fresh read. Watches, not polls: the answer comes as soon as the object changes.
   */
  async waitFor<T>(
    kind: Kind,
    name: string,
    decide: (obj: T) => boolean,
    until: { deadline: number; signal?: AbortSignal; onTimeout: () => Error },
  ): Promise<T> {
    const path = `${KINDS[kind].path}/namespaces/${this.namespace}/${KINDS[kind].resource.split('.')[0]}`;
    for (;;) {
      if (until.signal?.aborted) throw until.signal.reason ?? new Error('aborted');
      const obj = (await this.read(kind, name)) as T & { metadata?: { resourceVersion?: string } };
      if (decide(obj)) return obj;
      const left = until.deadline - Date.now();
      if (left <= 0) throw until.onTimeout();
      let latest: T = obj;
      const outcome = await new Promise<'matched' | 'closed' | Error>((resolve) => {
        let settled = false;
        let controller: AbortController | undefined;
        const finish = (v: 'matched' | 'closed' | Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          until.signal?.removeEventListener('abort', onAbort);
          controller?.abort();
          resolve(v);
        };
        const onAbort = () => finish('closed');
        const timer = setTimeout(() => finish('closed'), Math.min(left, 30_000));
        until.signal?.addEventListener('abort', onAbort);
        this.watcher
          .watch(
            path,
            { fieldSelector: `metadata.name=${name}`, resourceVersion: obj.metadata?.resourceVersion },
            (type, changed: T) => {
              if (type !== 'ADDED' && type !== 'MODIFIED') return;
              latest = changed;
              try {
                if (decide(changed)) finish('matched');
              } catch (err) {
                finish(err as Error);
              }
            },
            (err) => finish(err ? (err as Error) : 'closed'),
          )
          .then((c) => {
            controller = c;
            if (settled) c.abort();
          })
          .catch((err: unknown) => finish(err as Error));
      });
      if (outcome === 'matched') return latest;
      if (outcome instanceof Error && !isUnreachable(outcome) && !/410|Gone|too old/i.test(outcome.message))
        throw explain(outcome, this.describe('watch', kind, name));
    }
  }

  /** A GET through the apiserver (the service proxy), with the apiserver's credentials and CA. */
  async proxyGet(apiPath: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    const url = new URL(this.server.replace(/\/+$/, '') + apiPath);
    const options: RequestOptions = { method: 'GET', headers: {} };
    await this.kc.applyToHTTPSOptions(options);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { ...options, agent: false, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer through ${url.host} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}
