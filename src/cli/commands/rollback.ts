import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { EXIT } from '../../client/errors.js';
import { esc } from '../../client/text.js';
import { requireLogin, requireText, requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

export function registerRollback(program: Command, run: Runner) {
  withKeyOption(
    program
      .command('rollback <app> <env>')
      .description('restore the previous good version, or --to any version that once succeeded there')
      .option('--to <version>', 'version to restore')
      .option('--as <login>', 'who rolls back (the login the signing key is listed for)')
      .option('--reason <text>', 'why (required, one line, stored verbatim)')
      .option('--wait', 'return once the version serves traffic and passed verification')
      .option(
        '--unconfigured',
        'the environment was removed from the config: do not check its name against --config (the worker authorises from what it last knew)',
      ),
  ).action(
    (
      app: string,
      env: string,
      o: { to?: string; as?: string; reason?: string; wait?: boolean; unconfigured?: boolean } & KeyOption,
    ) =>
      run(async (ctx) => {
        if (o.to !== undefined) requireVersion(o.to, '--to');
        const by = requireLogin(o.as);
        const reason = requireText(o.reason, '--reason');
        // Connecting overlaps reading the config and the key; its failure (exit 4) still comes after theirs.
        const connecting = ctx.shipgate();
        connecting.catch(() => undefined);
        checkNames(await ctx.explicitConfig(), app, o.unconfigured ? undefined : env);
        const prove = await proverFor(ctx, by, o);
        const sg = await connecting;
        const accepted = await sg.rollback({ app, env, to: o.to, reason, requestId: randomUUID(), prove });
        ctx.info(
          `Rolling back ${esc(app)}/${esc(env)} from ${esc(accepted.from ?? 'nothing')} to ${esc(accepted.to)}`,
        );
        if (!o.wait) {
          ctx.print(
            `Rollback of ${esc(app)}/${esc(env)} to ${esc(accepted.to)} queued (operation ${esc(accepted.opId)}).`,
            accepted,
          );
          return;
        }
        const entry = await sg.awaitOperation(app, env, accepted.opId);
        ctx.print(
          entry.outcome === 'succeeded'
            ? `${esc(app)}/${esc(env)} is serving ${esc(entry.version)} again (rolled back from ${esc(entry.fromVersion)}).`
            : `Rollback of ${esc(app)}/${esc(env)} to ${esc(entry.version)} failed: ${esc(entry.failure)}`,
          { ...accepted, outcome: entry.outcome, failure: entry.failure },
        );
        return entry.outcome === 'succeeded' ? EXIT.ok : EXIT.failed;
      }),
  );
}
