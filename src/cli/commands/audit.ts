import type { Command } from 'commander';
import { EXIT } from '../../client/errors.js';
import { esc } from '../../client/text.js';
import { requireAppName, requireVersion } from '../../client/validate.js';
import type { ApprovalsVerdict, ProofOutcome } from '../../client/verify-approvals.js';
import { checkNames, type Runner } from '../context.js';

const MARK: Record<ProofOutcome, string> = {
  verified: '✔',
  'worker-verified': '~',
  failed: '✘',
  missing: '✘',
};

/** One line per proof, then a summary line. */
export function formatVerdict(v: ApprovalsVerdict): string {
  const lines = [`${esc(v.app)} ${esc(v.version)} (run ${esc(v.run)}): ${v.checks.length} proof(s)`];
  for (const c of v.checks)
    lines.push(
      `  ${MARK[c.outcome]} ${c.action}${c.env ? ` ${esc(c.env)}` : ''} by ${esc(c.by)} via ${esc(c.via)} at ${esc(c.at)}: ${esc(c.detail)}`,
    );
  const count = (o: ProofOutcome) => v.checks.filter((c) => c.outcome === o).length;
  lines.push(
    `${v.ok ? 'OK' : 'NOT VERIFIED'}: ${count('verified')} verified here, ${count('worker-verified')} verified by the worker only, ${count('failed')} failed, ${count('missing')} without a proof`,
  );
  return lines.join('\n');
}

export function registerAudit(program: Command, run: Runner) {
  const audit = program.command('audit').description('check the record');
  audit
    .command('verify-approvals <app> <version>')
    .description(
      "re-verify, offline with the config's public keys, the proofs of a release: its start, every approval that counted, an override",
    )
    .action((app: string, version: string) =>
      run(async (ctx) => {
        requireAppName(app);
        requireVersion(version);
        const loaded = await ctx.requireConfig();
        checkNames(loaded, app);
        const { verifyReleaseProofs } = await import('../../client/verify-approvals.js');
        const verdict = await verifyReleaseProofs(await ctx.shipgate(), loaded.config, app, version);
        ctx.print(formatVerdict(verdict), verdict);
        return verdict.ok ? EXIT.ok : EXIT.failed;
      }),
    );
}
