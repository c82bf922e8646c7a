import { Agent, request } from 'node:http';

export interface TrafficOptions {
  /** Concurrent keep-alive connections, each with one request in flight at a time. Default 4. */
  connections?: number;
  /** Pause between one connection's requests, so the machine keeps room for the deploy itself. Default 5 ms. */
  pauseMs?: number;
}

export interface TrafficResult {
  ok: number;
  failed: number;
  /** What went wrong, one entry per failed request: a status and body, or a connection error. */
  failures: string[];
  /** Every version that answered, in the order the requests were sent (all connections together). */
  versions: string[];
}

interface Waiter {
  done: () => boolean;
  resolve: () => void;
}

/**
 * Concurrent clients that keep requesting GET /version on an environment's port and count what failed. Every
 * request is counted: a non-200 answer, a reset or a timeout is a failure with its reason. Waits are on
 * answers, never on time: `answers(n)` resolves after n more responses, `reached(v)` once v has answered, and
 * `stop(minimum)` ends the load only after at least `minimum` requests in all.
 *
 * Requests in flight on different connections may be answered out of order around a switch, so what a test
 * can rely on is by send order: `mark()` numbers the next request, and `versionsSince(mark)` lists what the
 * requests sent from then on got, e.g. everything sent after a switch returned.
 */
export function steadyTraffic(port: number, opts: TrafficOptions = {}) {
  const connections = opts.connections ?? 4;
  const pauseMs = opts.pauseMs ?? 5;
  /** By send order: the version that answered, or undefined for a failed request or one still in flight. */
  const answered: (string | undefined)[] = [];
  const finished: boolean[] = [];
  const failures: string[] = [];
  let sent = 0;
  let ok = 0;
  let stopping = false;
  let waiters: Waiter[] = [];
  const total = () => ok + failures.length;

  const settle = () => {
    waiters = waiters.filter((w) => {
      if (!w.done()) return true;
      w.resolve();
      return false;
    });
  };
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      waiters.push({ done, resolve });
      settle();
    });

  const once = (agent: Agent) =>
    new Promise<void>((done) => {
      const n = sent++;
      const finish = (outcome: { version: string } | { failure: string }) => {
        if (finished[n]) return;
        finished[n] = true;
        if ('version' in outcome) {
          ok++;
          answered[n] = outcome.version;
        } else failures.push(outcome.failure);
        done();
      };
      const req = request({ host: '127.0.0.1', port, path: '/version', agent, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode !== 200) return finish({ failure: `${res.statusCode} ${body}` });
          try {
            finish({ version: (JSON.parse(body) as { version: string }).version });
          } catch {
            finish({ failure: `200 but not JSON: ${body}` });
          }
        });
        res.on('error', (err) => finish({ failure: `response: ${err.message}` }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
      req.on('error', (err) => {
        finish({ failure: `request: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
      });
      req.end();
    });

  const agents = Array.from({ length: connections }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const loops = agents.map(async (agent) => {
    while (!stopping) {
      await once(agent);
      settle();
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });

  return {
    /** Resolves after `n` more requests have been answered (or have failed). */
    answers(n: number): Promise<void> {
      const target = total() + n;
      return until(() => total() >= target);
    },
    /** Resolves once `version` has answered a request. */
    reached(version: string): Promise<void> {
      return until(() => answered.includes(version));
    },
    /** The number of the next request to be sent. */
    mark(): number {
      return sent;
    },
    /** The versions that answered the requests sent since `mark`, in send order, once they are all answered. */
    async versionsSince(mark: number): Promise<string[]> {
      const upTo = sent;
      await until(() => finished.slice(mark, upTo).filter(Boolean).length === upTo - mark);
      return answered.slice(mark, upTo).filter((v): v is string => v !== undefined);
    },
    /** Waits until at least `minimum` requests were made in all, then ends the load and reports. */
    async stop(minimum = 0): Promise<TrafficResult> {
      await until(() => total() >= minimum);
      stopping = true;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
      return {
        ok,
        failed: failures.length,
        failures,
        versions: answered.filter((v): v is string => v !== undefined),
      };
    },
  };
}
