import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyHealthReport,
  foundDown,
  initialWatch,
  passEnded,
  reconcileWorkflowView,
  repairDelayMs,
  shownHealth,
  type Notice,
  type Watch,
} from '../../src/policy/self-healing.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('self-healing decisions', () => {
  it('a blip healed within one pass: one down report, one serving report, one notice (restored)', () => {
    const a = foundDown(initialWatch(), { version: '1.1.0', detail: 'proxy 9 is gone; restarting' }, at(0));
    expect(a.signals).toEqual([
      { state: 'down', version: '1.1.0', at: at(0), detail: 'proxy 9 is gone; restarting' },
    ]);
    expect(a.notices).toEqual([]);
    const b = passEnded(
      a.watch,
      { state: 'serving', version: '1.1.0', detail: 'restarted the proxy' },
      at(1),
    );
    expect(b.signals).toEqual([
      { state: 'serving', version: '1.1.0', at: at(1), detail: 'restarted the proxy', since: at(0) },
    ]);
    expect(b.notices.map((n) => n.kind)).toEqual(['environment-restored']);
    expect(b.watch).toEqual({ state: 'serving', outage: null });
  });

  it('an outage that outlasts its pass is announced once, however many passes it lasts', () => {
    let w = foundDown(initialWatch(), { version: '1.0.0', detail: 'x exited; restarting' }, at(0)).watch;
    const notices: Notice[] = [];
    for (let i = 1; i <= 5; i++) {
      const step = passEnded(w, { state: 'down', version: '1.0.0', detail: 'could not restart' }, at(i));
      expect(step.signals).toEqual([]);
      notices.push(...step.notices);
      w = step.watch;
    }
    expect(notices.map((n) => n.kind)).toEqual(['environment-down']);
    const end = passEnded(w, { state: 'serving', version: '1.0.0', detail: null }, at(9));
    expect(end.notices.map((n) => n.kind)).toEqual(['environment-restored']);
    expect(end.signals[0]).toMatchObject({ state: 'serving', since: at(0) });
  });

  it('per outage: one down report to the workflow, one serving report, at most one notice of each kind', () => {
    const pass = fc.record({
      found: fc.boolean(),
      ends: fc.constantFrom<'serving' | 'down'>('serving', 'down'),
    });
    fc.assert(
      fc.property(fc.array(pass, { maxLength: 30 }), (passes) => {
        let w: Watch = initialWatch();
        const signals: string[] = [];
        const notices: string[] = [];
        passes.forEach((p, i) => {
          if (p.found) {
            const s = foundDown(w, { version: '2.0.0', detail: 'gone; restarting' }, at(i));
            w = s.watch;
            signals.push(...s.signals.map((x) => x.state));
            notices.push(...s.notices.map((n) => n.kind));
          }
          const s = passEnded(w, { state: p.ends, version: '2.0.0', detail: null }, at(i));
          w = s.watch;
          signals.push(...s.signals.map((x) => x.state));
          notices.push(...s.notices.map((n) => n.kind));
        });
        // Reports alternate down, serving, down, ... starting with down; so do the notices' outages.
        signals.forEach((s, i) => expect(s).toBe(i % 2 === 0 ? 'down' : 'serving'));
        const downs = notices.filter((n) => n === 'environment-down').length;
        const restored = notices.filter((n) => n === 'environment-restored').length;
        expect(restored).toBe(signals.filter((s) => s === 'serving').length);
        expect(downs).toBeLessThanOrEqual(signals.filter((s) => s === 'down').length);
      }),
    );
  });

  it('a repair that keeps failing is retried after 1, 2, 4 ... seconds, never more than 30', () => {
    expect([1, 2, 3, 4, 6, 50].map(repairDelayMs)).toEqual([1000, 2000, 4000, 8000, 30_000, 30_000]);
  });

  it('a new worker tells a workflow that still shows DOWN that it serves again, and nothing otherwise', () => {
    const shown = { state: 'down' as const, version: '1.0.0', since: at(0) };
    expect(reconcileWorkflowView(shown, { state: 'serving', version: '1.0.0' }, at(5))).toEqual({
      state: 'serving',
      version: '1.0.0',
      at: at(5),
      detail: null,
      since: at(0),
    });
    expect(reconcileWorkflowView(null, { state: 'serving', version: '1.0.0' }, at(5))).toBeNull();
    expect(reconcileWorkflowView(shown, { state: 'serving', version: '0.9.0' }, at(5))).toBeNull();
  });
});

describe('the workflow side of health reports', () => {
  it('keeps DOWN, then the last outage, for the version that serves', () => {
    const down = applyHealthReport(
      null,
      { state: 'down', version: '1.1.0', at: at(0), detail: 'gone' },
      '1.1.0',
    );
    expect(down).toMatchObject({ state: 'down', since: at(0), detail: 'gone' });
    const up = applyHealthReport(
      down,
      { state: 'serving', version: '1.1.0', at: at(2), detail: 'restarted' },
      '1.1.0',
    );
    expect(up).toEqual({
      state: 'serving',
      version: '1.1.0',
      since: at(2),
      detail: null,
      lastOutage: { since: at(0), until: at(2), detail: 'restarted' },
    });
  });

  it('ignores a report about a version that does not serve, before any deploy, or malformed', () => {
    const prev = applyHealthReport(
      null,
      { state: 'serving', version: '1.1.0', at: at(0), detail: null },
      '1.1.0',
    );
    const forged = [
      { state: 'down', version: '0.0.1', at: at(1), detail: 'forged' },
      { state: 'down', version: '1.1.0', at: 'yesterday', detail: 'forged' },
      { state: 'exploded', version: '1.1.0', at: at(1) },
      { state: 'down', version: '1.1.0', at: at(1), detail: { html: true } },
      'down',
      null,
    ];
    for (const r of forged) expect(applyHealthReport(prev, r, '1.1.0')).toBe(prev);
    expect(
      applyHealthReport(null, { state: 'down', version: '1.1.0', at: at(1), detail: 'x' }, null),
    ).toBeNull();
  });

  it('caps a report detail, and shows health only while its version serves', () => {
    const h = applyHealthReport(
      null,
      { state: 'down', version: '1', at: at(0), detail: 'x'.repeat(5000) },
      '1',
    );
    expect(h?.detail).toHaveLength(500);
    expect(shownHealth(h, '1')).toBe(h);
    expect(shownHealth(h, '2')).toBeNull();
  });
});
