/**
 * Clients that keep requesting an environment's public port while something happens to it, and count what
 * failed: a bounded autocannon load, and a tight single-request loop that timestamps every failure.
 * Both target 127.0.0.1 only and always end: on stop(), or at their own time limit.
 */
import autocannon from 'autocannon';
import { sleep } from './stack.js';
import { percentile } from './stats.js';

export interface LoadResult {
  /** Responses received, whatever their status. */
  requests: number;
  /** Connection errors and timeouts (autocannon counts timeouts as errors too). */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Latency of every response, in ms, from autocannon's own per-response timing (sub-millisecond). */
  p50: number;
  p99: number;
  max: number;
  seconds: number;
  statusCodes: Record<string, number>;
}

export interface LoadOptions {
  connections: number;
  /** Requests per second over all connections, so the load is steady and leaves the machine room to work. */
  rate: number;
  /** Hard limit on the run; stop() normally ends it long before. */
  maxSeconds: number;
}

/** Starts autocannon against http://127.0.0.1:<port><path>; stop() ends it and returns its figures. */
export function steadyLoad(port: number, path: string, opts: LoadOptions) {
  const latencies: number[] = [];
  let instance: autocannon.Instance | undefined;
  const done = new Promise<LoadResult>((resolve, reject) => {
    instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${path}`,
        connections: opts.connections,
        overallRate: opts.rate,
        duration: opts.maxSeconds,
        timeout: 5,
        sampleInt: 100,
        // autocannon's correction would invent samples at a 1 ms interval; the real latencies are wanted here.
        ignoreCoordinatedOmission: true,
      },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          requests: r.requests.total,
          errors: r.errors,
          timeouts: r.timeouts,
          non2xx: r.non2xx,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          max: latencies.length ? Math.max(...latencies) : NaN,
          seconds: r.duration,
          statusCodes: Object.fromEntries(
            Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]),
          ),
        });
      },
    );
  });
  instance!.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
  });
  return {
    /** Ends the load (at autocannon's next sample, within 100 ms) and returns its figures; safe to repeat. */
    stop(): Promise<LoadResult> {
      instance!.stop();
      return done;
    },
  };
}

export interface LoopResult {
  ok: number;
  failed: number;
  /** performance.now() at which the first and last failed requests were sent; null when none failed. */
  firstFailedAt: number | null;
  lastFailedAt: number | null;
  /** Failure kinds and how often each happened, e.g. "status 503" or "fetch failed". */
  kinds: Record<string, number>;
}

/**
 * One request at a time, one every `intervalMs` (or right after the previous one, if that took longer), so a
 * failure window is resolved to a few milliseconds. Gives up by itself after maxMs.
 */
export function tightLoop(port: number, path: string, intervalMs: number, maxMs: number) {
  const result: LoopResult = { ok: 0, failed: 0, firstFailedAt: null, lastFailedAt: null, kinds: {} };
  let stopped = false;
  const deadline = performance.now() + maxMs;
  const fail = (at: number, kind: string) => {
    result.failed++;
    result.firstFailedAt ??= at;
    result.lastFailedAt = at;
    result.kinds[kind] = (result.kinds[kind] ?? 0) + 1;
  };
  const loop = (async () => {
    while (!stopped && performance.now() < deadline) {
      const at = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status >= 200 && res.status < 300) result.ok++;
        else fail(at, `status ${res.status}`);
      } catch (err) {
        fail(at, (err as Error).message);
      }
      await sleep(Math.max(0, intervalMs - (performance.now() - at)));
    }
  })();
  return {
    async stop(): Promise<LoopResult> {
      stopped = true;
      await loop;
      return result;
    },
  };
}
