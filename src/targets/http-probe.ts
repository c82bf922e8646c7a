import type { Probe } from './types.js';

/** fetch() reports every network failure as "fetch failed"; the cause says what happened (ECONNREFUSED, ...). */
function reason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}

/** A probe for a target reachable over plain HTTP at `baseUrl` (no trailing slash), e.g. http://127.0.0.1:8080. */
export function httpProbe(baseUrl: string): Probe {
  return async (path, timeoutMs) => {
    try {
      const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      throw new Error(reason(err), { cause: err });
    }
  };
}
