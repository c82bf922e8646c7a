/**
 * A stand-in for an app's HTTP endpoint on a test control plane, where pods run no containers (kwok plays the
 * kubelet): `GET /<namespace>/<service>/<any path>` answers as the Service would, from what it really selects.
 * It reads the Service's ready endpoints (EndpointSlices) from the apiserver and the version annotation of the
 * pods behind them: 200 `{"version": ...}` when they all run one version, 503 when none is ready. The demo on
 * Kubernetes and the tests point their checks here (`target.url`, `target.previewUrl`); a real cluster needs
 * nothing of the kind.
 */
import { createServer, type Server } from 'node:http';
import { CoreV1Api, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';

export interface VersionReporter {
  url: string;
  close(): Promise<void>;
}

export async function startVersionReporter(kubeconfigPath: string): Promise<VersionReporter> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);

  const versions = async (namespace: string, service: string) => {
    const slices = await discovery.listNamespacedEndpointSlice({
      namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    const pods = slices.items.flatMap((s) =>
      (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name),
    );
    const found = new Map<string, number>();
    for (const name of pods) {
      if (!name) continue;
      const pod = await core.readNamespacedPod({ name, namespace }).catch(() => null);
      const v = pod?.metadata?.annotations?.['shipgate.dev/version'] ?? '(none)';
      found.set(v, (found.get(v) ?? 0) + 1);
    }
    return found;
  };

  const server: Server = createServer((req, res) => {
    const [namespace, service] = (req.url ?? '').split('?')[0]!.split('/').filter(Boolean);
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify(body));
    };
    if (!namespace || !service) return answer(404, { error: 'expected /<namespace>/<service>/...' });
    versions(namespace, service).then(
      (found) => {
        if (found.size === 0)
          return answer(503, { error: `no ready endpoints behind ${namespace}/${service}` });
        const all = [...found.entries()].map(([version, pods]) => ({ version, pods }));
        if (all.length === 1) return answer(200, { version: all[0]!.version, pods: all[0]!.pods });
        return answer(200, { version: 'mixed', versions: all });
      },
      (err: unknown) => answer(502, { error: (err as Error).message }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
