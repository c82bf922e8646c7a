import type { Command } from 'commander';
import { environmentDone, isTerminal, ShipgateClient, ReleaseAlreadySucceededError } from '../../client.js';
import {
  checkNames,
  requireAppName,
  requireLogin,
  requireText,
  requireVersion,
  type Runner,
} from '../context.js';
import { badInput, CliError, EXIT, refused } from '../errors.js';
import { formatStatus, statusJson } from '../format.js';
import type { ReleaseStatus } from '../../workflows/types.js';

export function registerRelease(program: Command, run: Runner) {
  program
    .command('release <app> <version>')
    .description('start a release (or attach to the running one)')
    .requiredOption('--commit <sha>', 'commit being released')
    .requiredOption('--branch <branch>', 'branch it came from')
    .requiredOption('--actor <login>', 'who started it')
    .option(
      '--wait <what>',
      'none | <environment>: return when that environment is done or the release ends',
      'none',
    )
    .action(
      (app: string, version: string, o: { commit: string; branch: string; actor: string; wait: string }) =>
        run(async (ctx) => {
          requireAppName(app);
          requireVersion(version);
          requireLogin(o.actor, '--actor');
          requireText(o.commit, '--commit');
          requireText(o.branch, '--branch');
          const config = await ctx.explicitConfig();
          checkNames(config, app, o.wait === 'none' ? undefined : o.wait);
          if (o.wait !== 'none' && !/^[a-z0-9][a-z0-9-]*$/.test(o.wait))
            throw badInput(`--wait: expected none or an environment name`);
          const sg = new ShipgateClient(await ctx.client());
          let admitted;
          try {
            admitted = await sg.startRelease({
              app,
              version,
              commit: o.commit,
              branch: o.branch,
              actor: o.actor,
              via: 'cli',
            });
          } catch (err) {
            if (err instanceof ReleaseAlreadySucceededError) throw refused(err.message);
            throw err;
          }
          ctx.info(
            `${admitted.attached ? 'Attached to' : 'Started'} release ${app} ${version} (workflow ${admitted.workflowId})`,
          );
          if (o.wait === 'none') {
            ctx.print(formatStatus(admitted.status), statusJson(admitted.status));
            return;
          }
          if (!(o.wait in admitted.status.environments))
            throw badInput(`--wait: ${app} has no environment "${o.wait}"`);
          const final = await sg.waitForRelease(app, version, environmentDone(o.wait), {
            onChange: (s) => ctx.info(`  stage: ${s.stage}`),
          });
          ctx.print(formatStatus(final), statusJson(final));
          return exitFor(final, o.wait);
        }),
    );
}

export function exitFor(s: ReleaseStatus, env: string): number {
  if (s.environments[env]?.state === 'succeeded') return EXIT.ok;
  if (isTerminal(s)) return s.state === 'succeeded' ? EXIT.ok : EXIT.failed;
  throw new CliError(EXIT.failed, `stopped waiting at stage ${s.stage}`);
}
