import type { Command } from 'commander';
import { esc } from '../../client/text.js';
import { requireAppName, requireLogin, requireText } from '../../client/validate.js';
import type { Runner } from '../context.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

/**
 * `teardown <app> <env>`: for an environment removed from the config that still serves. Names are not checked
 * against a --config file: the environment is, by definition, no longer in it; the worker decides (a configured
 * environment is refused, exit 3).
 */
export function registerTeardown(program: Command, run: Runner) {
  withKeyOption(
    program
      .command('teardown <app> <env>')
      .description('stop what runs on an environment removed from the config, and end its workflow')
      .option('--as <login>', 'who tears it down (the login the signing key is listed for)')
      .option('--reason <text>', 'why (required, one line, stored verbatim)'),
  ).action((app: string, env: string, o: { as?: string; reason?: string } & KeyOption) =>
    run(async (ctx) => {
      requireAppName(app, 'app');
      requireAppName(env, 'env');
      const by = requireLogin(o.as);
      const reason = requireText(o.reason, '--reason');
      const prove = await proverFor(ctx, by, o);
      const torn = await (await ctx.shipgate()).teardown({ app, env, reason, prove });
      const was = torn.version ? `, which served ${esc(torn.version)}` : '';
      ctx.print(`${esc(app)}/${esc(env)}${was}, is torn down: ${esc(torn.stopped)}.`, torn);
    }),
  );
}
