/**
 * (h) Self-healing: how long production answers nothing after its proxy, or the serving version's process, is
 *     killed with SIGKILL, until the worker's reconciler has it serving the same version again (no deploy, no
 *     rollback). One stack (dev server, `shipgate worker` process, local data plane), production alone, one
 *     version deployed (so no warm standby hides a dead process). A client loop requests /version every few ms
 *     throughout; each sample is the time from the kill to the first 200 answer after it, and the loop counts the
 *     requests that failed meanwhile. Kills are spaced so each outage is a fresh one (no repair backoff).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EnvState } from '../src/targets/local/state.js';
import { freePort } from '../src/temporal/ports.js';
import { tightLoop } from './lib/load.js';
import { releaseOutcome, sleep, startStack, withTimeout, type Cleanup } from './lib/stack.js';
import { ms, summarize, type ResultRow, type Summary } from './lib/stats.js';
import { strategyConfig } from './strategies.js';

const BENCH = 'h. self-healing';
const APP = 'hello';
const ENV = 'production';
const LOOP_INTERVAL_MS = 3;
/** Between kills: the worker reports the outage over and its next passes see it healthy. */
const SETTLE_MS = 2500;

export interface SelfHealingOptions {
  /** Kills of each kind. */
  samples: number;
  log: (line: string) => void;
}

export async function selfHealingBenchmark(cleanup: Cleanup, opts: SelfHealingOptions): Promise<ResultRow[]> {
  const { log } = opts;
  const port = await freePort();
  log(`starting dev server and worker (production :${port})`);
  const stack = await startStack(cleanup, 'self-healing', strategyConfig(port, 'blue-green'), ['dave']);
  await stack.sg.release({
    app: APP,
    version: '1.0.0',
    commit: 'bench0001',
    branch: 'main',
    prove: stack.prove('dave'),
  });
  const status = await withTimeout(releaseOutcome(stack, APP, '1.0.0'), 60_000, 'release 1.0.0 to end');
  if (status.state !== 'succeeded') throw new Error(`release 1.0.0 ended ${status.state}: ${status.reason}`);
  const stateFile = path.join(stack.home, 'targets', APP, ENV, 'state.json');
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as EnvState;

  /** Kills the pid the state names, and times how long until /version answers 1.0.0 again. */
  const outage = async (
    what: string,
    pidOf: (st: EnvState) => number,
  ): Promise<{ ms: number; failed: number }> => {
    const loop = tightLoop(port, '/version', LOOP_INTERVAL_MS, 60_000);
    cleanup.add('stop the request loop', () => loop.stop());
    await sleep(200);
    const pid = pidOf(state());
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    let back: number | null = null;
    while (performance.now() - t0 < 60_000) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/version`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json().catch(() => ({}))) as { version?: string };
        if (res.status === 200 && body.version === '1.0.0') {
          back = performance.now() - t0;
          break;
        }
      } catch {
        // not serving yet
      }
      await sleep(2);
    }
    await sleep(200);
    const seen = await loop.stop();
    if (back === null) throw new Error(`${what}: production did not serve again within 60 s`);
    if (pidOf(state()) === pid) throw new Error(`${what}: the state still names the killed pid ${pid}`);
    return { ms: back, failed: seen.failed };
  };

  const proxy: { ms: number; failed: number }[] = [];
  const proc: { ms: number; failed: number }[] = [];
  for (let i = 0; i < opts.samples; i++) {
    proxy.push(await outage('proxy', (st) => st.proxy!.pid));
    await sleep(SETTLE_MS);
    proc.push(
      await outage('process', (st) => {
        const live = st.route.find((e) => e.weight > 0)!;
        return st.processes.find((p) => p.port === live.port)!.pid;
      }),
    );
    await sleep(SETTLE_MS);
    log(`kill ${i + 1}: proxy back after ${ms(proxy[i]!.ms)}, process after ${ms(proc[i]!.ms)}`);
  }
  const row = (figure: string, s: Summary): ResultRow => ({
    bench: BENCH,
    figure,
    n: s.n,
    median: ms(s.median),
    p95: ms(s.p95),
    ratio: `min ${ms(s.min)}, max ${ms(s.max)}`,
    data: { medianMs: s.median, p95Ms: s.p95, minMs: s.min, maxMs: s.max },
  });
  const failedRow = (figure: string, s: Summary): ResultRow => ({
    bench: BENCH,
    figure,
    n: s.n,
    median: String(s.median),
    p95: String(s.p95),
    ratio: `max ${s.max} (${LOOP_INTERVAL_MS} ms client loop)`,
  });
  return [
    row('proxy kill -9 → serving the same version again', summarize(proxy.map((x) => x.ms))),
    failedRow('  failed requests per proxy outage', summarize(proxy.map((x) => x.failed))),
    row('serving process kill -9 → serving again (no standby)', summarize(proc.map((x) => x.ms))),
    failedRow('  failed requests per process outage', summarize(proc.map((x) => x.failed))),
  ];
}
