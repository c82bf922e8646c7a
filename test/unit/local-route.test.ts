import { describe, expect, it } from 'vitest';
import { routeProblem, sameRoute, soleVersion, WeightedPicker } from '../../src/targets/local/route.js';

const v = (version: string, port: number, weight: number) => ({ version, port, weight });

describe('local target route', () => {
  it('picks upstreams in exact proportion to their weights, never a standby', () => {
    const picker = new WeightedPicker([v('2', 2, 10), v('1', 1, 90), v('0', 3, 0)]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const e = picker.pick();
      counts[e?.version ?? 'none'] = (counts[e?.version ?? 'none'] ?? 0) + 1;
    }
    expect(counts).toEqual({ '1': 90, '2': 10 });
  });

  it('has nothing to pick from an empty route', () => {
    expect(new WeightedPicker([]).pick()).toBeNull();
  });

  it('falls back to another weighted upstream, then a standby, then the same one', () => {
    expect(new WeightedPicker([v('2', 2, 50), v('1', 1, 50)]).fallback(2)?.version).toBe('1');
    expect(new WeightedPicker([v('2', 2, 100), v('1', 1, 0)]).fallback(2)?.version).toBe('1');
    expect(new WeightedPicker([v('2', 2, 100)]).fallback(2)?.version).toBe('2');
  });

  it('explains what is wrong with a route', () => {
    expect(routeProblem([v('1', 1, 100), v('0', 2, 0)])).toBeNull();
    expect(routeProblem([])).toBeNull();
    expect(routeProblem({})).toBe('route must be an array');
    expect(routeProblem([v('1', 0, 100)])).toBe('route[0].port must be a port number');
    expect(routeProblem([v('1', 1, 101)])).toBe('route[0].weight must be an integer from 0 to 100');
    expect(routeProblem([v('1', 1, 50), v('2', 1, 50)])).toBe('route[1].port 1 appears twice');
    expect(routeProblem([v('1', 1, 0)])).toBe('route has upstreams but none with a positive weight');
  });

  it('compares routes regardless of order and finds the sole version', () => {
    expect(sameRoute([v('1', 1, 0), v('2', 2, 100)], [v('2', 2, 100), v('1', 1, 0)])).toBe(true);
    expect(sameRoute([v('2', 2, 100)], [v('2', 2, 90)])).toBe(false);
    expect(soleVersion([v('2', 2, 100), v('1', 1, 0)])?.version).toBe('2');
    expect(soleVersion([v('2', 2, 50), v('1', 1, 50)])).toBeNull();
  });
});
