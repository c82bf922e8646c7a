import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { EXIT } from '../../client/errors.js';
import { requireLogin, requireText, requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';

export function registerRollback(program: Command, run: Runner) {
  program
    .command('rollback <app> <env>')
    .description('restore the previous good version, or --to any version that once succeeded there')
    .option('--to <version>', 'version to restore')
    .option('--as <login>', 'who rolls back')
    .option('--reason <text>', 'why (required, stored verbatim)')
    .option('--wait', 'return once the version serves traffic and passed verification')
    .action((app: string, env: string, o: { to?: string; as?: string; reason?: string; wait?: boolean }) =>
      run(async (ctx) => {
        if (o.to !== undefined) requireVersion(o.to, '--to');
        const by = requireLogin(o.as);
        const reason = requireText(o.reason, '--reason');
        checkNames(await ctx.explicitConfig(), app, env);
        const sg = await ctx.shipgate();
        const accepted = await sg.rollback(app, env, {
          to: o.to,
          by,
          via: 'cli',
          reason,
          requestId: randomUUID(),
        });
        ctx.info(`Rolling back ${app}/${env} from ${accepted.from ?? 'nothing'} to ${accepted.to}`);
        if (!o.wait) {
          ctx.print(
            `Rollback of ${app}/${env} to ${accepted.to} queued (operation ${accepted.opId}).`,
            accepted,
          );
          return;
        }
        const entry = await sg.waitForOperation(app, env, accepted.opId);
        ctx.print(
          entry.outcome === 'succeeded'
            ? `${app}/${env} is serving ${entry.version} again (rolled back from ${entry.fromVersion}).`
            : `Rollback of ${app}/${env} to ${entry.version} failed: ${entry.failure}`,
          { ...accepted, outcome: entry.outcome, failure: entry.failure },
        );
        return entry.outcome === 'succeeded' ? EXIT.ok : EXIT.failed;
      }),
    );
}
