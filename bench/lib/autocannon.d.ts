/** The part of autocannon's API the benchmarks use (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds; the run ends then at the latest. */
      duration?: number;
      /** Requests per second across all connections. */
      overallRate?: number;
      /** Seconds before a request counts as a timeout (and an error). */
      timeout?: number;
      /** Milliseconds between samples; stop() takes effect at the next one. */
      sampleInt?: number;
      ignoreCoordinatedOmission?: boolean;
    }

    interface Result {
      requests: { total: number; sent: number };
      latency: { p50: number; p99: number; max: number };
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      '2xx': number;
      duration: number;
      statusCodeStats: Record<string, { count: number }>;
    }

    interface Instance extends EventEmitter {
      stop(): void;
    }
  }

  function autocannon(
    opts: autocannon.Options,
    cb: (err: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance;

  export = autocannon;
}
