import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cli } from '../helpers/processes.js';

const DEMO_LIMIT_MS = 180_000;

describe('shipgate demo --kubernetes (a real control plane started by scripts/kube-plane.sh)', () => {
  it(
    'runs the same story on Kubernetes: rolling staging, blue-green production, a warm rollback; the cluster shows it and nothing is left running',
    async () => {
      const r = await cli(['demo', '--kubernetes'], {}, DEMO_LIMIT_MS);
      expect(r.timedOut, `killed after 3 minutes:\n${r.stderr.slice(-2000)}`).toBe(false);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stderr).toMatch(/Kubernetes control plane up: KUBECONFIG=\S+kubeconfig/);
      expect(r.stderr).toMatch(/production answers \{"version":"1\.1\.0"\}/);
      expect(r.stderr).toMatch(/rollback succeeded in \d+ ms; production answers \{"version":"1\.0\.0"\}/);
      expect(r.stdout).toMatch(/rollback 1\.1\.0 → 1\.0\.0\s+succeeded\s+by alice/);
      // What kubectl shows at the end: both colours scaled, the Service back on the colour running 1.0.0.
      expect(r.stdout).toMatch(/deployment\.apps\/hello-blue\s+3\/3.*registry\.example\.com\/hello:1\.1\.0/);
      expect(r.stdout).toMatch(/deployment\.apps\/hello-green\s+3\/3.*registry\.example\.com\/hello:1\.0\.0/);
      expect(r.stdout).toMatch(/service\/hello\s+ClusterIP.*app=hello,color=green/);
      expect(r.stdout).toMatch(/Audit trail \(\d+ records, hash chain intact\)/);
      const home = /Demo home (\S+);/.exec(r.stderr)![1]!;
      const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.includes(home));
      expect(left).toEqual([]);
    },
    DEMO_LIMIT_MS + 20_000,
  );
});
