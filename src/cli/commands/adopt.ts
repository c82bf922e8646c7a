import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { describeFindings } from '../../policy/drift.js';
import { esc } from '../../client/text.js';
import { requireLogin, requireText } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

export function registerAdopt(program: Command, run: Runner) {
  withKeyOption(
    program
      .command('adopt <app> <env>')
      .description('take what runs (changed outside shipgate) as the current version, ending the drift')
      .option('--as <login>', 'who adopts (the login the signing key is listed for)')
      .option('--reason <text>', 'why (required, one line, stored verbatim)'),
  ).action((app: string, env: string, o: { as?: string; reason?: string } & KeyOption) =>
    run(async (ctx) => {
      const by = requireLogin(o.as);
      const reason = requireText(o.reason, '--reason');
      checkNames(await ctx.explicitConfig(), app, env);
      const prove = await proverFor(ctx, by, o);
      const adopted = await (
        await ctx.shipgate()
      ).adopt({ app, env, reason, requestId: randomUUID(), prove });
      const ended = adopted.resolved
        ? ` Drift ended: ${esc(describeFindings(adopted.resolved.findings))}.`
        : '';
      const before = adopted.from ? ` (the ledger said ${esc(adopted.from)})` : '';
      ctx.print(
        `${esc(app)}/${esc(env)}: ${esc(adopted.version)} (${esc(adopted.artifact)}) is now current${before}.${ended}`,
        adopted,
      );
    }),
  );
}
