import type { AppConfig } from './schema.js';

/**
 * The order a release promotes through an app's environments: the entry (no `after`) first, then along
 * `after` links. Returns an error message instead when the links do not form one straight chain.
 */
export function environmentChain(
  app: Pick<AppConfig, 'environments'>,
): string[] | { error: string; env?: string } {
  const names = Object.keys(app.environments);
  const entries = names.filter((n) => app.environments[n]!.after === undefined);
  if (entries.length !== 1) {
    return {
      error: `expected exactly one environment without "after" (the entry), found ${entries.length}: ${entries.join(', ') || 'none'}`,
    };
  }
  const next = new Map<string, string>();
  for (const n of names) {
    const after = app.environments[n]!.after;
    if (after === undefined) continue;
    if (!(after in app.environments)) return { error: `unknown environment "${after}"`, env: n };
    if (next.has(after)) {
      return {
        error: `both "${next.get(after)}" and "${n}" come after "${after}"; environments must form one chain`,
        env: n,
      };
    }
    next.set(after, n);
  }
  const order = [entries[0]!];
  while (next.has(order[order.length - 1]!)) order.push(next.get(order[order.length - 1]!)!);
  if (order.length !== names.length) {
    const stray = names.filter((n) => !order.includes(n));
    return {
      error: `environments ${stray.join(', ')} are not reachable from "${entries[0]}" (a cycle of "after" links)`,
      env: stray[0],
    };
  }
  return order;
}
