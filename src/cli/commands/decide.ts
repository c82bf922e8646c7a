import type { Command } from 'commander';
import { esc } from '../../client/text.js';
import { requireLogin, requireText, requireVersion } from '../../client/validate.js';
import { checkNames, type Runner } from '../context.js';
import { formatStatus, statusJson } from '../format.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

type Decision = 'reject' | 'cancel' | 'override';

const DESCRIPTIONS: Record<Decision, string> = {
  reject: 'reject a release at its gate; it ends rejected',
  cancel: 'stop a running release before its next deploy starts; it ends cancelled',
  override: 'break glass: let a release held by a window or freeze go ahead (never skips approvals)',
};

const DONE: Record<Decision, string> = {
  reject: 'Rejected',
  cancel: 'Cancelled',
  override: 'Overrode the window for',
};

/** reject, cancel and override take the same inputs: who (signed), and a mandatory reason. */
export function registerDecision(program: Command, run: Runner, decision: Decision) {
  withKeyOption(
    program
      .command(`${decision} <app> <version>`)
      .description(DESCRIPTIONS[decision])
      .option('--as <login>', 'who decides (the login the signing key is listed for)')
      .option('--reason <text>', 'why (required, one line, stored verbatim)'),
  ).action((app: string, version: string, o: { as?: string; reason?: string } & KeyOption) =>
    run(async (ctx) => {
      requireVersion(version);
      const by = requireLogin(o.as);
      const reason = requireText(o.reason, '--reason');
      checkNames(await ctx.explicitConfig(), app);
      const prove = await proverFor(ctx, by, o);
      const status = await (await ctx.shipgate()).decision(decision, { app, version, reason, prove });
      ctx.print(
        `${DONE[decision]} ${esc(app)} ${esc(version)} as ${esc(by)}.\n${formatStatus(status)}`,
        statusJson(status),
      );
    }),
  );
}
