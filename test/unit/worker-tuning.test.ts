import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WORKFLOW_CACHE,
  workflowCacheSize,
  workflowTaskSlots,
} from '../../src/policy/worker-tuning.js';

describe('SHIPGATE_WORKFLOW_CACHE', () => {
  it('unset or blank means the default; 0 turns the cache off; a whole number in range is taken', () => {
    expect(workflowCacheSize(undefined)).toEqual({ size: DEFAULT_WORKFLOW_CACHE });
    expect(workflowCacheSize('  ')).toEqual({ size: DEFAULT_WORKFLOW_CACHE });
    expect(workflowCacheSize('0')).toEqual({ size: 0 });
    expect(workflowCacheSize(' 1000 ')).toEqual({ size: 1000 });
  });

  it('refuses what is not a whole number in range, naming the variable and the value', () => {
    for (const bad of ['1', '-5', '2.5', 'lots', '1e3', '100001']) {
      const r = workflowCacheSize(bad);
      expect(r).toHaveProperty('error');
      expect((r as { error: string }).error).toContain('SHIPGATE_WORKFLOW_CACHE');
      expect((r as { error: string }).error).toContain(`"${bad}"`);
    }
  });

  it('never lets concurrent workflow tasks exceed the cache (the SDK would refuse)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), (size) => {
        const slots = workflowTaskSlots(size);
        expect(slots).toBeGreaterThanOrEqual(2);
        expect(slots).toBeLessThanOrEqual(40);
        if (size >= 2) expect(slots).toBeLessThanOrEqual(size);
      }),
    );
  });
});
