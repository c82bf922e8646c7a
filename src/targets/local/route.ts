/** One upstream in an environment's route. Weight 0 means a warm standby: never picked, but a retry target. */
export interface RouteEntry {
  version: string;
  port: number;
  weight: number;
}

/** Why `value` is not a valid route, or null when it is. */
export function routeProblem(value: unknown): string | null {
  if (!Array.isArray(value)) return 'route must be an array';
  const ports = new Set<number>();
  let total = 0;
  for (const [i, e] of value.entries()) {
    if (typeof e !== 'object' || e === null) return `route[${i}] must be an object`;
    const { version, port, weight } = e as Record<string, unknown>;
    if (typeof version !== 'string' || version === '')
      return `route[${i}].version must be a non-empty string`;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return `route[${i}].port must be a port number`;
    }
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
      return `route[${i}].weight must be an integer from 0 to 100`;
    }
    if (ports.has(port)) return `route[${i}].port ${port} appears twice`;
    ports.add(port);
    total += weight;
  }
  if (value.length > 0 && total === 0) return 'route has upstreams but none with a positive weight';
  return null;
}

export function sameRoute(a: RouteEntry[], b: RouteEntry[]): boolean {
  const key = (r: RouteEntry[]) =>
    JSON.stringify([...r].sort((x, y) => x.port - y.port).map((e) => [e.version, e.port, e.weight]));
  return key(a) === key(b);
}

/** The version that takes all traffic, if one does. */
export function soleVersion(route: RouteEntry[]): RouteEntry | null {
  const live = route.filter((e) => e.weight > 0);
  return live.length === 1 ? (live[0] ?? null) : null;
}

/**
 * Smooth weighted round-robin (as in nginx): deterministic, so a 10% canary gets exactly one request in
 * ten rather than a random share, which keeps canary checks and tests meaningful even at low traffic.
 */
export class WeightedPicker {
  private readonly current: number[];

  constructor(readonly route: RouteEntry[]) {
    this.current = route.map(() => 0);
  }

  pick(): RouteEntry | null {
    let total = 0;
    let best = -1;
    this.route.forEach((e, i) => {
      if (e.weight <= 0) return;
      this.current[i] = (this.current[i] ?? 0) + e.weight;
      total += e.weight;
      if (best < 0 || (this.current[i] ?? 0) > (this.current[best] ?? 0)) best = i;
    });
    if (best < 0) return null;
    this.current[best] = (this.current[best] ?? 0) - total;
    return this.route[best] ?? null;
  }

  /**
   * Where to retry after `failedPort` failed: another weighted upstream, else a warm standby, else the same
   * upstream again (a stale keep-alive socket fails once; a fresh connection usually works).
   */
  fallback(failedPort: number): RouteEntry | null {
    const others = this.route.filter((e) => e.port !== failedPort);
    const weighted = others.filter((e) => e.weight > 0).sort((a, b) => b.weight - a.weight);
    return weighted[0] ?? others[0] ?? this.route.find((e) => e.port === failedPort) ?? null;
  }
}
