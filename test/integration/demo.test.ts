import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cli } from '../helpers/processes.js';

/** The demo promises to finish in under 3 minutes: past that the helper kills it, and the test fails. */
const DEMO_LIMIT_MS = 180_000;

describe('shipgate demo (embedded dev server, worker and local targets)', () => {
  it(
    'runs v1 through staging, signed approvals and production, then v2, rolls back to v1, prints the audit trail, verifies the proofs and exits 0',
    async () => {
      const r = await cli(['demo'], {}, DEMO_LIMIT_MS);
      expect(r.timedOut, `killed after 3 minutes:\n${r.stderr.slice(-2000)}`).toBe(false);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      expect(r.stderr).toContain('refused: carol started this release and cannot approve it');
      expect(r.stderr).toMatch(/production answers \{"version":"1\.1\.0"\}/);
      expect(r.stderr).toMatch(/rollback succeeded in \d+ ms; production answers \{"version":"1\.0\.0"\}/);
      expect(r.stdout).toMatch(/rollback 1\.1\.0 → 1\.0\.0\s+succeeded\s+by alice/);
      expect(r.stdout).toMatch(/deploy 1\.0\.0\s+succeeded\s+by carol \(approved by alice, bob\)/);
      expect(r.stdout).toMatch(/Audit trail \(\d+ records, hash chain intact\)/);
      // Every command is signed with the person's own key; a signature by anyone else is refused.
      expect(r.stderr).toMatch(/SSH keys for alice, bob, carol, dave in \S+ \(ssh-keygen, ed25519\)/);
      expect(r.stderr).toMatch(
        /dave signs an approval as alice with his own key — refused: .*not listed for alice/,
      );
      expect(r.stderr).toMatch(/✔ alice approves, signed with alice's key — team-leads 1\/2/);
      // It prints how to check the proofs again, and what that check says for 1.1.0.
      expect(r.stdout).toContain('shipgate audit verify-approvals <app> <version> --config shipgate.yaml');
      expect(r.stdout).toMatch(/✔ release by carol via ssh/);
      expect(r.stdout).toMatch(/✔ approve production by alice via ssh .*signature by SHA256:/);
      expect(r.stdout).toMatch(/✔ approve production by bob via ssh/);
      expect(r.stdout).toMatch(
        /^OK: 3 verified here, 0 verified by the worker only, 0 failed, 0 without a proof$/m,
      );
      // It ends by checking its own trail as `shipgate audit verify` does: hashes, links, Temporal's anchors,
      // the records as sent, the ledgers and the proofs.
      expect(r.stdout).toMatch(
        /\n\$ shipgate audit verify\naudit verify \(jsonl\): ok, (\d+) records \(seq 1–\1\), head seq \1 [0-9a-f]{12}…, [1-9]\d* anchors checked, [1-9]\d* matched Temporal history, [1-9]\d* ledger entries found, [1-9]\d* proofs re-verified\n$/,
      );
      // It stops everything it started: no proxy, app or dev server of its home is left running.
      const home = /Demo home (\S+);/.exec(r.stderr)![1]!;
      const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.includes(home));
      expect(left).toEqual([]);
    },
    DEMO_LIMIT_MS + 20_000,
  ); // the demo's own limit decides, not the test runner's
});
