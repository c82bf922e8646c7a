import type { Command } from 'commander';
import { esc } from '../../client/text.js';
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
          if (rows.length === 0) return `Nothing deployed to ${esc(app)}/${esc(env)} yet.`;
          const lines = [`${esc(app)}/${esc(env)}${current ? ` — serving ${esc(current)}` : ''}`];
          for (const r of rows) {
            const what =
              r.action === 'rollback'
                ? `ROLLBACK ${esc(r.fromVersion ?? '?')} → ${esc(r.version)}`
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
