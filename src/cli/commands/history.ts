import type { Command } from 'commander';
import { checkNames, type Runner } from '../context.js';

export function registerHistory(program: Command, run: Runner) {
  program
    .command('history <app> <env>')
    .description('who deployed what and when, newest first')
    .action((app: string, env: string) =>
      run(async (ctx) => {
        checkNames(await ctx.explicitConfig(), app, env);
        const { current, rows } = await (await ctx.shipgate()).history(app, env);
        ctx.print(() => {
          if (rows.length === 0) return `Nothing deployed to ${app}/${env} yet.`;
          const lines = [`${app}/${env}${current ? ` — serving ${current}` : ''}`];
          for (const r of rows) {
            const what =
              r.action === 'rollback'
                ? `ROLLBACK ${r.fromVersion ?? '?'} → ${r.version}`
                : `deploy ${r.version}${r.fromVersion ? ` (from ${r.fromVersion})` : ''}`;
            const who = r.approvers.length ? `${r.actor}, approved by ${r.approvers.join(', ')}` : r.actor;
            lines.push(
              `  ${r.at}  ${what.padEnd(32)} ${r.outcome.padEnd(11)} by ${who}${r.reason ? `  — ${r.reason}` : ''}`,
            );
          }
          return lines.join('\n');
        }, rows);
      }),
    );
}
