import type { Command } from 'commander';
import { exitCodeForWait } from '../../client.js';
import { BadInputError, OperationFailedError } from '../../client/errors.js';
import { esc } from '../../client/text.js';
import {
  requireAppName,
  requireLogin,
  requireText,
  requireVersion,
  requireWaitTarget,
} from '../../client/validate.js';
import type { ReleaseStatus } from '../../workflows/types.js';
import { checkNames, type Runner } from '../context.js';
import { formatStatus, statusJson } from '../format.js';
import { proverFor, withKeyOption, type KeyOption } from '../sign.js';

export function registerRelease(program: Command, run: Runner) {
  withKeyOption(
    program
      .command('release <app> <version>')
      .description('start a release (or attach to the running one), signed as --actor')
      .requiredOption('--commit <sha>', 'commit being released')
      .requiredOption('--branch <branch>', 'branch it came from')
      .requiredOption('--actor <login>', 'who starts it (the login the signing key is listed for)')
      .option(
        '--wait <what>',
        'none | <environment>: return when that environment is done or the release ends',
        'none',
      ),
  ).action(
    (
      app: string,
      version: string,
      o: { commit: string; branch: string; actor: string; wait: string } & KeyOption,
    ) =>
      run(async (ctx) => {
        requireAppName(app);
        requireVersion(version);
        const actor = requireLogin(o.actor, '--actor');
        requireText(o.commit, '--commit');
        requireText(o.branch, '--branch');
        const wait = requireWaitTarget(o.wait, '--wait');
        checkNames(await ctx.explicitConfig(), app, wait === 'none' ? undefined : wait);
        const prove = await proverFor(ctx, actor, o);
        const sg = await ctx.shipgate();
        const admitted = await sg.release({ app, version, commit: o.commit, branch: o.branch, prove });
        ctx.info(
          `${admitted.attached ? 'Attached to' : 'Started'} release ${esc(app)} ${esc(version)} (workflow ${esc(admitted.workflowId)})`,
        );
        if (wait === 'none') {
          ctx.print(formatStatus(admitted.status), statusJson(admitted.status));
          return;
        }
        if (!(wait in admitted.status.environments))
          throw new BadInputError(`--wait: ${app} has no environment "${wait}"`);
        let stage = '';
        const onStatus = (s: ReleaseStatus) => {
          if (s.stage !== stage) ctx.info(`  stage: ${esc(s.stage)}`);
          stage = s.stage;
        };
        onStatus(admitted.status);
        const { status } = await sg.follow(app, version, { until: wait, first: admitted.status, onStatus });
        ctx.print(formatStatus(status), statusJson(status));
        const code = exitCodeForWait(status, wait);
        if (code === null) throw new OperationFailedError(`stopped waiting at stage ${status.stage}`);
        return code;
      }),
  );
}
