import type { Command } from 'commander';
import { auditLines, esc } from '../../client/text.js';
import { describeFinding, describeFindings, driftConsequence } from '../../policy/drift.js';
import { checkNames, type Runner } from '../context.js';
import { downText, lastOutageText } from '../format.js';

export function registerHistory(program: Command, run: Runner) {
  program
    .command('history <app> <env>')
    .description('who deployed what and when, newest first, and drift found there')
    .action((app: string, env: string) =>
      run(async (ctx) => {
        checkNames(await ctx.explicitConfig(), app, env);
        const { current, drift, rows, audit, health } = await (await ctx.shipgate()).history(app, env);
        ctx.print(() => {
          if (rows.length === 0)
            return [`Nothing deployed to ${esc(app)}/${esc(env)} yet.`, ...auditLines(audit)].join('\n');
          const down = downText(health);
          const lines = [
            `${esc(app)}/${esc(env)}${current ? ` — serving ${esc(current)}` : ''}${down ? ` — ${down}` : ''}`,
          ];
          const last = lastOutageText(health);
          if (last) lines.push(`  ${last}`);
          lines.push(...auditLines(audit));
          if (drift) {
            lines.push(`  DRIFT since ${esc(drift.at)}: what runs is not what the ledger says`);
            for (const f of drift.findings) lines.push(`    ${esc(describeFinding(f))}`);
            lines.push(`    ${esc(driftConsequence(drift.onDrift, app, env))}`);
          }
          for (const r of rows) {
            if (r.action === 'drift') {
              const ended = r.resolved ? `${r.resolved.how} by ${esc(r.resolved.by)}` : 'in force';
              lines.push(
                `  ${esc(r.at)}  ${`DRIFT from ${esc(r.version)}`.padEnd(32)} ${ended.padEnd(11)}  — ${esc(describeFindings(r.findings))}`,
              );
              continue;
            }
            const what =
              r.action === 'rollback'
                ? `ROLLBACK ${esc(r.fromVersion ?? '?')} → ${esc(r.version)}`
                : r.action === 'adopt'
                  ? `ADOPT ${esc(r.version)}${r.fromVersion ? ` (ledger said ${esc(r.fromVersion)})` : ''}`
                  : `deploy ${esc(r.version)}${r.fromVersion ? ` (from ${esc(r.fromVersion)})` : ''}`;
            const who = r.approvers.length
              ? `${esc(r.actor)}, approved by ${r.approvers.map(esc).join(', ')}`
              : esc(r.actor);
            lines.push(
              `  ${esc(r.at)}  ${what.padEnd(32)} ${esc(r.outcome).padEnd(11)} by ${who}${r.reason ? `  — ${esc(r.reason)}` : ''}`,
            );
          }
          return lines.join('\n');
        }, rows);
      }),
    );
}
