/**
 * Window evaluation cost (pure policy, no I/O): the worst cases a config can produce, against the common case of
 * one weeknight window. Moved here from a unit test that asserted wall-clock times, which failed on busy machines.
 */
import { evaluateWindows } from '../src/policy/windows.js';
import type { WindowConfig } from '../src/config/schema.js';
import { ms, ratio, summarize, type ResultRow } from './lib/stats.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const AT = new Date('2026-05-05T12:34:56Z');

const win = (name: string, kind: 'deny' | 'allow', schedule: string, duration: number, timezone: string) =>
  ({ name, kind, schedule, duration, timezone }) satisfies WindowConfig;

function sample(windows: WindowConfig[], runs: number): number[] {
  evaluateWindows(windows, [], AT); // warm-up: croner parses and caches the pattern
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    evaluateWindows(windows, [], AT);
    out.push(performance.now() - t);
  }
  return out;
}

export function windowsBenchmark(opts: { runs: number }): ResultRow[] {
  const runs = Math.max(opts.runs * 4, 20);
  const baseline = summarize(
    sample([win('weeknight', 'deny', '0 22 * * 1-5', 8 * HOUR, 'America/New_York')], runs),
  );
  const cases: [string, WindowConfig[]][] = [
    [
      'always-open every-minute deny window (New York)',
      [win('every-minute', 'deny', '* * * * *', MINUTE, 'America/New_York')],
    ],
    [
      'always-open every-minute deny window (Lord Howe, 30 min DST)',
      [win('every-minute', 'deny', '* * * * *', MINUTE, 'Australia/Lord_Howe')],
    ],
    ['weekday chain of 3-day windows', [win('weekdays', 'deny', '* * * * 1-5', 3 * DAY, 'America/New_York')]],
    [
      'allow/deny interleaving every 2 minutes',
      [
        win('odd', 'allow', '*/2 * * * *', MINUTE, 'UTC'),
        win('also-odd', 'deny', '*/2 * * * *', MINUTE, 'UTC'),
      ],
    ],
  ];
  const rows: ResultRow[] = [
    {
      bench: 'windows',
      figure: 'one weeknight deny window (baseline)',
      n: baseline.n,
      median: ms(baseline.median),
      p95: ms(baseline.p95),
      ratio: '1.00×',
    },
  ];
  for (const [figure, windows] of cases) {
    const s = summarize(sample(windows, runs));
    rows.push({
      bench: 'windows',
      figure,
      n: s.n,
      median: ms(s.median),
      p95: ms(s.p95),
      ratio: `${ratio(s.median, baseline.median)}, ${ratio(s.p95, baseline.p95)}`,
    });
  }
  return rows;
}
