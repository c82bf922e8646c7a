import type { Command } from 'commander';
import { tallyText } from '../../client.js';
import { esc } from '../../client/text.js';
import { requireLogin, requireText, requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

export function registerApprove(program: Command, run: Runner) {
  withKeyOption(
    program
      .command('approve <app> <version>')
      .description('approve a release waiting at its approval gate, signed as --as; prints the tally')
      .option('--as <login>', 'who approves (the login the signing key is listed for)')
      .option('--comment <text>', 'why'),
  ).action((app: string, version: string, o: { as?: string; comment?: string } & KeyOption) =>
    run(async (ctx) => {
      requireVersion(version);
      const by = requireLogin(o.as);
      if (o.comment !== undefined) requireText(o.comment, '--comment');
      checkNames(await ctx.explicitConfig(), app);
      const prove = await proverFor(ctx, by, o);
      const result = await (await ctx.shipgate()).approve({ app, version, comment: o.comment, prove });
      ctx.print(
        `Approved ${esc(app)} ${esc(version)} for ${esc(result.environment)} as ${esc(by)}. Tally: ${esc(tallyText(result))}${result.met ? ' — approvals complete' : ''}`,
        result,
      );
    }),
  );
}
