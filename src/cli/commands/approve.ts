import type { Command } from 'commander';
import { tallyText } from '../../client.js';
import { requireLogin, requireText, requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';

export function registerApprove(program: Command, run: Runner) {
  program
    .command('approve <app> <version>')
    .description('approve a release waiting at its approval gate; prints the tally')
    .option('--as <login>', 'who approves')
    .option('--comment <text>', 'why')
    .action((app: string, version: string, o: { as?: string; comment?: string }) =>
      run(async (ctx) => {
        requireVersion(version);
        const by = requireLogin(o.as);
        if (o.comment !== undefined) requireText(o.comment, '--comment');
        checkNames(await ctx.explicitConfig(), app);
        const result = await (
          await ctx.shipgate()
        ).approve(app, version, {
          by,
          via: 'cli',
          comment: o.comment,
        });
        ctx.print(
          `Approved ${app} ${version} for ${result.environment} as ${by}. Tally: ${tallyText(result)}${result.met ? ' — approvals complete' : ''}`,
          result,
        );
      }),
    );
}
