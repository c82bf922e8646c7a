/**
 * What a Service sends traffic to, as its EndpointSlices say, kept current by watches: the Service's
 * EndpointSlices and the namespace's pods are each listed, then watched from that resourceVersion (a watch the
 * server closes is listed and watched again). A benchmark asks when a condition on the endpoints first holds
 * and gets the arrival time of the event that made it hold, so every kind of rollback is timed by the same
 * observer, and nothing polls the apiserver.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  Watch,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Pod,
} from '@kubernetes/client-node';

/** One endpoint of the Service: its pod, the image that pod runs in the watched container, and readiness. */
export interface Endpoint {
  pod: string;
  /** null while the pod is unknown (not yet seen, or deleted). */
  image: string | null;
  ready: boolean;
}

type Condition = (endpoints: readonly Endpoint[]) => boolean;

interface Waiter {
  cond: Condition;
  resolve: (at: number) => void;
}

/** Every endpoint the Service lists is a Ready pod running `image`, and there are at least `count` of them. */
export const onlyReady =
  (image: string, count: number): Condition =>
  (endpoints) =>
    endpoints.length >= count && endpoints.every((e) => e.ready && e.image === image);

export class ServiceEndpoints {
  private readonly slices = new Map<string, V1EndpointSlice>();
  private readonly pods = new Map<string, V1Pod>();
  private readonly waiters = new Set<Waiter>();
  private readonly watches: AbortController[] = [];
  private stopped = false;

  private constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
    readonly service: string,
    private readonly container: string,
  ) {}

  /** Resolves once both lists are loaded and both watches are open. */
  static async start(
    kc: KubeConfig,
    namespace: string,
    service: string,
    container: string,
  ): Promise<ServiceEndpoints> {
    const s = new ServiceEndpoints(kc, namespace, service, container);
    const core = kc.makeApiClient(CoreV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const labelSelector = `kubernetes.io/service-name=${service}`;
    await Promise.all([
      s.follow(
        s.slices,
        `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
        { labelSelector },
        () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector }),
      ),
      s.follow(s.pods, `/api/v1/namespaces/${namespace}/pods`, {}, () =>
        core.listNamespacedPod({ namespace }),
      ),
    ]);
    return s;
  }

  /**
   * List into `into`, then watch from the list's resourceVersion. The client ends a watch after 30 s without
   * events: it is resumed at once from the last resourceVersion seen. Any other end lists again.
   */
  private async follow<T extends { metadata?: { name?: string; resourceVersion?: string } }>(
    into: Map<string, T>,
    path: string,
    query: Record<string, string>,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
  ): Promise<void> {
    const listed = await list();
    into.clear();
    for (const item of listed.items) into.set(item.metadata!.name!, item);
    this.changed();
    let resourceVersion = listed.metadata?.resourceVersion;
    const relist = (why: unknown) => {
      if (this.stopped) return;
      process.stderr.write(`bench: watch ${path} ended (${String(why)}); listing again\n`);
      setTimeout(() => void this.follow(into, path, query, list).catch(relist), 200);
    };
    const watch = async (): Promise<void> => {
      let ended = false;
      const open: { controller?: AbortController } = {};
      const end = (err: unknown) => {
        if (ended || this.stopped) return;
        ended = true;
        open.controller?.abort();
        if ((err as Error | null)?.name === 'TimeoutError') void watch().catch(relist);
        else relist(err ?? 'closed by the server');
      };
      open.controller = await new Watch(this.kc).watch(
        path,
        { ...query, resourceVersion, allowWatchBookmarks: true },
        (type: string, obj: T) => {
          if (type === 'ERROR') return end(`error event: ${JSON.stringify(obj)}`);
          resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
          const name = obj.metadata?.name;
          if (!name || type === 'BOOKMARK') return;
          if (type === 'DELETED') into.delete(name);
          else into.set(name, obj);
          this.changed();
        },
        end,
      );
      this.watches.push(open.controller);
    };
    await watch();
  }

  /** What the Service lists now. */
  endpoints(): Endpoint[] {
    const out: Endpoint[] = [];
    for (const slice of this.slices.values())
      for (const e of slice.endpoints ?? []) {
        const pod = e.targetRef?.name ?? '';
        const image =
          this.pods.get(pod)?.spec?.containers.find((c) => c.name === this.container)?.image ?? null;
        // The API says a missing ready condition means ready.
        out.push({ pod, image, ready: e.conditions?.ready !== false });
      }
    return out;
  }

  holds(cond: Condition): boolean {
    return cond(this.endpoints());
  }

  /**
   * The performance.now() at which `cond` first holds: at once when it holds already, else at the arrival of
   * the event that makes it hold. Rejects after timeoutMs with what the Service lists by then.
   */
  when(cond: Condition, timeoutMs: number, what: string): Promise<number> {
    if (this.holds(cond)) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        cond,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; ${this.namespace}/${this.service} lists ${this.describe()}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  describe(): string {
    const e = this.endpoints();
    if (e.length === 0) return 'no endpoints';
    return e
      .map((x) => `${x.pod} (${x.image ?? 'unknown pod'}, ${x.ready ? 'ready' : 'not ready'})`)
      .join(', ');
  }

  private changed(): void {
    if (this.waiters.size === 0) return;
    const at = performance.now();
    const now = this.endpoints();
    for (const w of [...this.waiters])
      if (w.cond(now)) {
        this.waiters.delete(w);
        w.resolve(at);
      }
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.watches.splice(0)) c.abort();
  }
}
