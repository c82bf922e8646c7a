import { describe, expect, it } from 'vitest';
import { artifactOf, withArtifact } from '../../src/policy/environment-artifact.js';

describe('artifact references from older runs', () => {
  it('reads artifact first, then the older artifactDir', () => {
    expect(artifactOf({ artifact: 'oci://hello:1.0.0' })).toBe('oci://hello:1.0.0');
    expect(artifactOf({ artifactDir: '/home/.shipgate/artifacts/hello/1.0.0' })).toBe(
      '/home/.shipgate/artifacts/hello/1.0.0',
    );
    expect(artifactOf({ artifact: 'new', artifactDir: 'old' })).toBe('new');
  });

  it('rewrites older state under artifact only, keeping every other field', () => {
    const current = { version: '1.0.0', since: '2026-01-01T00:00:00.000Z', artifactDir: '/a/1.0.0' };
    expect(withArtifact<{ version: string; since: string; artifact: string }>(current)).toEqual({
      version: '1.0.0',
      since: '2026-01-01T00:00:00.000Z',
      artifact: '/a/1.0.0',
    });
    const already = { version: '1.1.0', since: 'x', artifact: 'ref' };
    expect(withArtifact<typeof already>(already)).toEqual(already);
  });
});
