/**
 * Records real workflow histories for the replay tests (test/replay/replay.test.ts).
 *
 *   npx tsx scripts/record-histories.ts
 *
 * records every history that is missing from test/replay/histories/. Options:
 *   --only <scenario>[,<scenario>]  just these scenarios (names below; `baseline` only when named)
 *   --side before|after             just one side of each patch
 *   --force                         re-record files that exist
 *   --out <dir>                     write somewhere else (default: test/replay/histories)
 *
 * Every scenario below drives one app through the code that one patched() change guards, and is recorded twice:
 * - `<scenario>.before-<patch>.json`: against the parent of the commit that introduced patched('<patch>'), or
 *   HEAD while the patch is not committed yet, checked out in a temporary git worktree and compiled there (a
 *   scenario's `beforeWith` files come from the patch's own code, for a guard that reads what only new
 *   activities return; a scenario's `beforeRef` names the commit instead where that parent does not build);
 * - `<scenario>.after-<patch>.json`: against this working tree, compiled first.
 * Each side runs on a fresh Temporal dev server with a real `shipgate worker` and the local target, driven
 * through that code's own `shipgate` CLI, so the history is exactly what that code writes.
 *
 * Changing a workflow's commands: guard the change with patched('<name>'), add a scenario here that reaches the
 * guarded code (both branches of the guard must change the commands), run this script with `--only <scenario>`
 * before committing, and commit the two new files. Then check, in a scratch copy, that replacing the guard by
 * `true` fails replay of the `before` file and by `false` that of the `after` file. The replay test fails while a patch in src/ has no history
 * on either side, and replay of the `before` file is what proves the guard keeps old runs working.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { startDevServer } from '../src/temporal/dev-server.js';
import { freePort } from '../src/temporal/ports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EventType } = proto.temporal.api.enums.v1;
/** Last events that mean a workflow task or an activity is still in flight. */
const IN_FLIGHT = new Set([
  EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
]);

type Side = 'before' | 'after';

/** What a scenario can do to the stack: the CLI of the code being recorded, and the Temporal client. */
interface Driver {
  side: Side;
  /**
   * The CLI flags that sign as `login` on this side: `--key <its key>` where the code signs (the keys are made
   * for the scenario's people and listed in the config), nothing where it predates proofs.
   */
  signAs(login: string): string[];
  /** Runs `shipgate <args>` of the recorded code; throws unless the exit code is one of `codes`. */
  cli(args: string[], codes?: number[]): Promise<{ code: number; stdout: string; json: unknown }>;
  /** Starts a release of `version` (commit c-<version>) by dave from main. */
  release(app: string, version: string): Promise<void>;
  /** Polls `shipgate status` until `until` holds. */
  waitRelease(app: string, version: string, until: (s: ReleaseView) => boolean): Promise<ReleaseView>;
  /** Waits until a workflow's history holds a completed activity of this type. */
  waitActivity(workflowId: string, activityType: string): Promise<void>;
  /** How many timers a workflow has started so far (its history's TimerStarted events). */
  timers(workflowId: string): Promise<number>;
  /** Waits until a workflow has started more than `than` timers. */
  waitTimers(workflowId: string, than: number): Promise<void>;
  /** Rewrites shipgate.yaml (the worker reads it live): `edit` changes the parsed document in place. */
  rewriteConfig(edit: (config: Record<string, unknown>) => void): Promise<void>;
  /** SIGKILLs the process of `version` that the local target runs for `app` in `env`. */
  killVersion(app: string, env: string, version: string): Promise<void>;
  /** Makes the JSONL audit store unwritable (a directory where its file was), and puts the file back. */
  breakAudit(): Promise<void>;
  restoreAudit(): Promise<void>;
  /** Waits until the JSONL audit store holds records for which `pred` holds. */
  waitAudit(
    what: string,
    pred: (records: { app: string; type: string; version?: string }[]) => boolean,
  ): Promise<void>;
  /** Polls `shipgate history --json` until `pred` holds. */
  waitHistory(
    app: string,
    env: string,
    pred: (rows: { action: string; outcome: string }[]) => boolean,
  ): Promise<void>;
}

interface ReleaseView {
  state: string;
  stage: string;
  reason: string | null;
}

interface Scenario {
  name: string;
  /** The patched() id whose two sides this scenario takes; null for the baseline pipeline. */
  patch: string | null;
  /** The app this scenario releases, alone in it so its histories hold nothing else. */
  app: string;
  /** Its entry in shipgate.yaml (`port` gives free ports; `source` is the recorded code's example service). */
  config(port: () => Promise<number>, source: string): Promise<Record<string, unknown>>;
  run(d: Driver): Promise<void>;
  /** File stem (without side) to workflow id. */
  save: Record<string, string>;
  /**
   * The commit the `before` side runs, where the patch's parent does not build on its own (parts of a change
   * that spans helpers landed first): the last commit whose code is wholly from before the patch.
   */
  beforeRef?: string;
  /** People to list in the config with an SSH key each (made by ssh-keygen for the recording). */
  people?: string[];
  /**
   * The `before` side's code signs too (it came after proofs): `signAs` gives keys on both sides. Without it,
   * only the `after` side signs.
   */
  signedBefore?: boolean;
  /**
   * Files (from the repository root) that the `before` side takes from the patch's own code: activities a fleet
   * in the middle of an upgrade already runs while workflow tasks still run the old workflow code. Needed when
   * the guard decides on something only the new activities return, which a wholly old run never holds.
   */
  beforeWith?: string[];
}

const GROUPS = { 'team-leads': ['alice', 'bob', 'carol'], 'release-managers': ['dave'] };
const releaseId = (app: string, version: string) => `release/${app}/${version}`;
const envId = (app: string, env: string) => `env/${app}/${env}`;

const singleEnv = (source: string, production: Record<string, unknown>) => ({
  build: { kind: 'local', source },
  environments: { production: { branches: ['main'], ...production } },
});
const versionCheck = [{ path: '/version', json: { version: '{{version}}' } }];

const SCENARIOS: Scenario[] = [
  {
    // slack-card-updates: once at the approval gate, each approval and stage change is notified.
    name: 'release-approvals',
    app: 'cards',
    patch: 'slack-card-updates',
    config: async (port, source) =>
      singleEnv(source, {
        target: { kind: 'local', port: await port() },
        approvals: [{ group: 'team-leads', count: 2 }],
        smoke: versionCheck,
      }),
    async run(d) {
      await d.release('cards', '1.0.0');
      await d.waitRelease('cards', '1.0.0', (s) => s.stage === 'awaiting-approval');
      await d.cli(['approve', 'cards', '1.0.0', '--as', 'alice', '--comment', 'lgtm']);
      await d.cli(['approve', 'cards', '1.0.0', '--as', 'bob']);
      await d.waitRelease('cards', '1.0.0', (s) => s.state === 'succeeded');
    },
    save: { 'release-approvals': releaseId('cards', '1.0.0') },
  },
  {
    // notify-override: a release held by a deny window and overridden announces the override.
    name: 'release-override',
    app: 'override',
    patch: 'notify-override',
    config: async (port, source) =>
      singleEnv(source, {
        target: { kind: 'local', port: await port() },
        smoke: versionCheck,
        // Open since the start of this UTC hour, for two hours: the release is held right away.
        windows: [
          {
            name: 'held',
            kind: 'deny',
            schedule: `0 ${new Date().getUTCHours()} * * *`,
            duration: '2h',
            timezone: 'UTC',
          },
        ],
        windowOverride: { group: 'release-managers' },
      }),
    async run(d) {
      await d.release('override', '1.0.0');
      await d.waitRelease('override', '1.0.0', (s) => s.stage === 'awaiting-window');
      await d.cli(['override', 'override', '1.0.0', '--as', 'dave', '--reason', 'replay recording']);
      await d.waitRelease('override', '1.0.0', (s) => s.state === 'succeeded');
    },
    save: { 'release-override': releaseId('override', '1.0.0') },
  },
  {
    // workflow-driven-soak: verification with a duration runs as rounds on workflow timers. A bad version fails
    // its second round well before the soak ends, so the old single-activity soak and the rounds part ways.
    name: 'environment-soak',
    app: 'soak',
    patch: 'workflow-driven-soak',
    config: async (port, source) =>
      singleEnv(source, {
        target: { kind: 'local', port: await port() },
        verify: { checks: [{ path: '/smoke' }], duration: '4s', interval: '1s', failureLimit: 1 },
      }),
    async run(d) {
      await d.release('soak', '1.0.0');
      await d.waitRelease('soak', '1.0.0', (s) => s.state === 'succeeded');
      await d.release('soak', '1.1.0-bad');
      await d.waitRelease('soak', '1.1.0-bad', (s) => s.state === 'rolled-back');
    },
    save: { 'environment-soak': envId('soak', 'production') },
  },
  {
    // soak-fails-on-dead-version: a version whose process exits during a soak fails it at once, whatever the
    // failureLimit. Older code counted each dead round as one failed round, so with failureLimit 1 it sleeps and
    // checks again before failing: at the first dead round the two sides part ways (rollback against timer).
    // The guard reads `dead`, which only the new verifyVersion returns: a wholly old run never holds it and
    // replays the same with the guard or without. So the `before` side runs the new checks activity under the
    // old workflow code, as a fleet mid-upgrade can, and its history shows old code taking a dead round calmly.
    name: 'environment-soak-dead',
    app: 'soak-dead',
    patch: 'soak-fails-on-dead-version',
    beforeWith: ['src/activities/checks.ts'],
    config: async (port, source) =>
      singleEnv(source, {
        target: { kind: 'local', port: await port() },
        // Long enough that the process is killed well inside 1.1.0's soak, even on a busy machine.
        verify: { checks: [{ path: '/smoke' }], duration: '30s', interval: '1s', failureLimit: 1 },
      }),
    async run(d) {
      await d.release('soak-dead', '1.0.0');
      await d.waitRelease('soak-dead', '1.0.0', (s) => s.state === 'succeeded');
      await d.release('soak-dead', '1.1.0');
      await d.waitRelease('soak-dead', '1.1.0', (s) => s.stage === 'verifying-production');
      await d.killVersion('soak-dead', 'production', '1.1.0');
      const end = await d.waitRelease('soak-dead', '1.1.0', (s) => s.state !== 'running');
      // Both sides end rolled back; what matters is that the soak saw the dead process, not some other failure.
      if (end.state !== 'rolled-back' || !end.reason?.includes('exited during verification'))
        throw new Error(`soak-dead 1.1.0 ended ${end.state}: ${end.reason}`);
    },
    save: { 'environment-soak-dead': envId('soak-dead', 'production') },
  },
  {
    // reap-warm-versions: a durable timer stops the warm previous version once keepPrevious has passed; a
    // rollback sets it again. (Older code only idles here, and a timer it would start is always cancelled by the
    // next wake-up before reaching history, so only the `after` side can catch this guard going missing.)
    name: 'environment-reap',
    app: 'reap',
    patch: 'reap-warm-versions',
    config: async (port, source) =>
      singleEnv(source, {
        target: { kind: 'local', port: await port() },
        smoke: versionCheck,
        keepPrevious: '2s',
      }),
    async run(d) {
      for (const version of ['1.0.0', '1.1.0']) {
        await d.release('reap', version);
        await d.waitRelease('reap', version, (s) => s.state === 'succeeded');
      }
      await d.cli([
        'rollback',
        'reap',
        'production',
        '--as',
        'bob',
        '--reason',
        'replay recording',
        '--wait',
      ]);
      // Code before the reaper has nothing to wait for: it kept warm versions running.
      if (d.side === 'after') await d.waitActivity(envId('reap', 'production'), 'reapWarmVersions');
    },
    save: { 'environment-reap': envId('reap', 'production') },
  },
  {
    // proven-identity: every start and decision carries a proof the workers verify before deciding (a local
    // activity), deploy requests are confirmed with the release and deploy reports with the environment. The
    // same commands on both sides: older code takes the CLI's --actor/--as as they are, newer code signs them
    // with each person's key (--key). A refused approval is in both.
    name: 'proven-identity',
    app: 'proven',
    patch: 'proven-identity',
    // The clients' half of the change landed before the workflows' half, so the patch's parent does not build.
    beforeRef: 'c3ee6c7',
    people: ['alice', 'bob', 'dave', 'mallory'],
    config: async (port, source) =>
      singleEnv(source, {
        target: { kind: 'local', port: await port() },
        approvals: [{ group: 'team-leads', count: 2 }],
        smoke: versionCheck,
      }),
    async run(d) {
      for (const version of ['1.0.0', '1.1.0']) {
        await d.cli([
          ...['release', 'proven', version, '--commit', `c-${version}`, '--branch', 'main'],
          ...['--actor', 'dave', ...d.signAs('dave')],
        ]);
        await d.waitRelease('proven', version, (s) => s.stage === 'awaiting-approval');
        await d.cli(['approve', 'proven', version, '--as', 'mallory', ...d.signAs('mallory')], [3]);
        await d.cli([
          'approve',
          'proven',
          version,
          '--as',
          'alice',
          '--comment',
          'lgtm',
          ...d.signAs('alice'),
        ]);
        await d.cli(['approve', 'proven', version, '--as', 'bob', ...d.signAs('bob')]);
        await d.waitRelease('proven', version, (s) => s.state === 'succeeded');
      }
      await d.cli([
        ...['rollback', 'proven', 'production', '--as', 'bob', '--reason', 'replay recording'],
        ...[...d.signAs('bob'), '--wait'],
      ]);
    },
    save: {
      'proven-release': releaseId('proven', '1.1.0'),
      'proven-environment': envId('proven', 'production'),
    },
  },
  {
    // drift-detection: before each deploy (and rollback) the environment reads its live policy (onDrift,
    // driftInterval, the target block) and, where the target can drift, compares what runs with the ledger, also
    // on a durable timer. On the local target the policy read before each deploy is what changes: local
    // processes cannot drift. `shipgate adopt` is new with it (after side only): a local target has nothing to
    // adopt, so it is refused as bad input after its proof and authorisation were checked.
    name: 'environment-drift',
    app: 'drift',
    patch: 'drift-detection',
    people: ['alice', 'bob', 'dave'],
    signedBefore: true,
    config: async (port, source) =>
      singleEnv(source, { target: { kind: 'local', port: await port() }, smoke: versionCheck }),
    async run(d) {
      for (const version of ['1.0.0', '1.1.0']) {
        await d.cli([
          ...['release', 'drift', version, '--commit', `c-${version}`, '--branch', 'main'],
          ...['--actor', 'dave', ...d.signAs('dave')],
        ]);
        await d.waitRelease('drift', version, (s) => s.state === 'succeeded');
      }
      if (d.side === 'after')
        await d.cli(
          [
            'adopt',
            'drift',
            'production',
            '--as',
            'alice',
            '--reason',
            'replay recording',
            ...d.signAs('alice'),
          ],
          [2],
        );
      await d.cli([
        ...['rollback', 'drift', 'production', '--as', 'bob', '--reason', 'replay recording'],
        ...[...d.signAs('bob'), '--wait'],
      ]);
    },
    save: { 'environment-drift': envId('drift', 'production') },
  },
  {
    // audit-never-blocks: audit records are written beside the workflows' own work with a bounded retry, and
    // wait in state (shown as "audit degraded") while the store refuses them; a release start asks the last
    // environment whether the version was released there already. The store is made unwritable after 1.0.0: a
    // release and a rollback follow. Older code deploys 1.1.0 and then waits on the store (the rollback is
    // accepted, and runs only once the store is back); newer code runs both while the store is still down and
    // writes their records afterwards.
    name: 'audit-never-blocks',
    app: 'audit',
    patch: 'audit-never-blocks',
    // `audit verify` (landed first) reads the snapshot fields this patch adds, so the patch's parent does not
    // build; this commit's workflows and activities are the parent's.
    beforeRef: '4d10df3',
    people: ['bob', 'dave'],
    signedBefore: true,
    config: async (port, source) =>
      singleEnv(source, { target: { kind: 'local', port: await port() }, smoke: versionCheck }),
    async run(d) {
      const release = async (version: string) => {
        await d.cli([
          ...['release', 'audit', version, '--commit', `c-${version}`, '--branch', 'main'],
          ...['--actor', 'dave', ...d.signAs('dave')],
        ]);
        await d.waitRelease('audit', version, (s) => s.state === 'succeeded');
      };
      const written =
        (type: string, version: string) => (rs: { app: string; type: string; version?: string }[]) =>
          rs.some((r) => r.app === 'audit' && r.type === type && r.version === version);
      await release('1.0.0');
      await d.waitAudit(
        '1.0.0 written',
        (rs) => written('release-ended', '1.0.0')(rs) && written('deploy-succeeded', '1.0.0')(rs),
      );
      await d.breakAudit();
      await release('1.1.0');
      await d.cli([
        ...['rollback', 'audit', 'production', '--as', 'bob', '--reason', 'replay recording'],
        ...d.signAs('bob'),
      ]);
      const rolledBack = (rows: { action: string; outcome: string }[]) =>
        rows.some((r) => r.action === 'rollback' && r.outcome === 'succeeded');
      // Older code runs the rollback only once the store takes the deploy's records again.
      if (d.side === 'after') await d.waitHistory('audit', 'production', rolledBack);
      await d.restoreAudit();
      await d.waitHistory('audit', 'production', rolledBack);
      await d.waitAudit(
        'every record written',
        (rs) => written('rollback-succeeded', '1.0.0')(rs) && written('release-ended', '1.1.0')(rs),
      );
    },
    save: {
      'audit-release': releaseId('audit', '1.1.0'),
      'audit-environment': envId('audit', 'production'),
    },
  },
  {
    // config-removed-ends: production is removed from the config while release 1.2.0 waits at its approval gate;
    // approved, it is held at the deploy gate (blockedBy config). Newer code ends it cancelled once the grace
    // (2s) has passed, and then rolls the unconfigured production back under its last known settings. Older code
    // holds it: a recheck after the grace (a freeze and unfreeze of staging nudges the app's releases) only
    // looks at the gate again. The before side runs the patch's gate activity (a mixed fleet), so its old
    // workflow code sees the same `removed` verdict the guard decides on.
    name: 'config-removed',
    app: 'removed',
    patch: 'config-removed-ends',
    people: ['bob', 'dave'],
    signedBefore: true,
    beforeWith: [
      'src/activities/gate.ts',
      'src/policy/config-removed.ts',
      'src/config/schema.ts',
      'src/workflows/types.ts',
    ],
    config: async (port, source) => ({
      build: { kind: 'local', source },
      environments: {
        staging: { branches: ['main'], target: { kind: 'local', port: await port() }, smoke: versionCheck },
        production: {
          after: 'staging',
          branches: ['main'],
          target: { kind: 'local', port: await port() },
          approvals: [{ group: 'team-leads', count: 1 }],
          smoke: versionCheck,
        },
      },
    }),
    async run(d) {
      const release = async (version: string) => {
        await d.cli([
          ...['release', 'removed', version, '--commit', `c-${version}`, '--branch', 'main'],
          ...['--actor', 'dave', ...d.signAs('dave')],
        ]);
        await d.waitRelease('removed', version, (s) => s.stage === 'awaiting-approval');
      };
      const approve = (version: string) =>
        d.cli(['approve', 'removed', version, '--as', 'bob', ...d.signAs('bob')]);
      for (const version of ['1.0.0', '1.1.0']) {
        await release(version);
        await approve(version);
        await d.waitRelease('removed', version, (s) => s.state === 'succeeded');
      }
      await release('1.2.0');
      await d.rewriteConfig((c) => {
        c.configRemovedGrace = '2s';
        const apps = c.apps as Record<string, { environments: Record<string, unknown> }>;
        delete apps.removed!.environments.production;
      });
      await approve('1.2.0');
      if (d.side === 'after') {
        await d.waitRelease('removed', '1.2.0', (s) => s.state === 'cancelled');
        await d.cli([
          ...['rollback', 'removed', 'production', '--unconfigured', '--as', 'bob'],
          ...['--reason', 'replay recording', '--wait', ...d.signAs('bob')],
        ]);
        return;
      }
      await d.waitRelease(
        'removed',
        '1.2.0',
        (s) => s.stage.startsWith('awaiting-') && s.stage !== 'awaiting-approval',
      );
      const held = await d.timers(releaseId('removed', '1.2.0'));
      await new Promise((r) => setTimeout(r, 3000));
      const until = new Date(Date.now() + 3_600_000).toISOString();
      await d.cli([
        ...['freeze', 'removed', 'staging', '--until', until, '--as', 'bob'],
        ...['--reason', 'replay recording', ...d.signAs('bob')],
      ]);
      await d.cli(['unfreeze', 'removed', 'staging', '--as', 'bob', ...d.signAs('bob')]);
      await d.waitTimers(releaseId('removed', '1.2.0'), held);
    },
    save: {
      'removed-release': releaseId('removed', '1.2.0'),
      'removed-environment': envId('removed', 'production'),
    },
  },
  {
    // github-deployments: each deploy and rollback queues its GitHub transitions, and a loop beside the main one
    // sends them (syncGithubDeployment, bounded retry). Without a github block the first answer for a deploy is
    // `skipped` and nothing more is asked (the second deploy's inactive for the first asks nothing either). Older
    // code runs no such activity. No rollback: its path is another guard's, and asks GitHub nothing here.
    name: 'github-deployments',
    app: 'ghdeploy',
    patch: 'github-deployments',
    people: ['dave'],
    signedBefore: true,
    config: async (port, source) =>
      singleEnv(source, { target: { kind: 'local', port: await port() }, smoke: versionCheck }),
    async run(d) {
      for (const version of ['1.0.0', '1.1.0']) {
        await d.cli([
          ...['release', 'ghdeploy', version, '--commit', `c-${version}`, '--branch', 'main'],
          ...['--actor', 'dave', ...d.signAs('dave')],
        ]);
        await d.waitRelease('ghdeploy', version, (s) => s.state === 'succeeded');
      }
      if (d.side === 'after') await d.waitActivity(envId('ghdeploy', 'production'), 'syncGithubDeployment');
    },
    save: { 'github-environment': envId('ghdeploy', 'production') },
  },
  {
    // rollback-critical-path: a requested rollback verifies its proof and reads the live policy at once (two local
    // activities in one round), switches and verifies in one activity (activateAndVerifyVersion), and the audit
    // delivery waits (a durable timer at most) while the rollback is next or running. Older code reads one after
    // the other, runs activateVersion then verifyVersion, and appends the records as they come.
    name: 'rollback-critical-path',
    app: 'fastrb',
    patch: 'rollback-critical-path',
    // The activity landed first (its comment names the patch), and its parent does not build without it; this
    // commit's workflows are wholly from before the patch.
    beforeRef: '1b0a5f7',
    people: ['bob', 'dave'],
    signedBefore: true,
    config: async (port, source) =>
      singleEnv(source, { target: { kind: 'local', port: await port() }, smoke: versionCheck }),
    async run(d) {
      for (const version of ['1.0.0', '1.1.0']) {
        await d.cli([
          ...['release', 'fastrb', version, '--commit', `c-${version}`, '--branch', 'main'],
          ...['--actor', 'dave', ...d.signAs('dave')],
        ]);
        await d.waitRelease('fastrb', version, (s) => s.state === 'succeeded');
      }
      await d.cli([
        ...['rollback', 'fastrb', 'production', '--as', 'bob', '--reason', 'replay recording'],
        ...[...d.signAs('bob'), '--wait'],
      ]);
      await d.waitAudit('the rollback written', (rs) =>
        rs.some((r) => r.app === 'fastrb' && r.type === 'rollback-succeeded' && r.version === '1.0.0'),
      );
    },
    save: { 'fastrb-environment': envId('fastrb', 'production') },
  },
  {
    // The pipeline of the example config: approvals, a rejection, an automatic and a requested rollback.
    // Its five files predate every patch; record it again only on purpose (--only baseline --force).
    name: 'baseline',
    app: 'hello',
    patch: null,
    config: async (port, source) => ({
      build: { kind: 'local', source },
      environments: {
        staging: { branches: ['main'], target: { kind: 'local', port: await port() }, smoke: versionCheck },
        production: {
          after: 'staging',
          branches: ['main'],
          target: { kind: 'local', port: await port() },
          approvals: [{ group: 'team-leads', count: 2 }],
          windowOverride: { group: 'release-managers' },
          smoke: [{ path: '/smoke', status: 200 }],
        },
      },
    }),
    async run(d) {
      const ship = async (version: string, approvers: string[], ends: string) => {
        await d.release('hello', version);
        await d.waitRelease('hello', version, (s) => s.stage === 'awaiting-approval');
        await d.cli(['approve', 'hello', version, '--as', 'mallory'], [3]);
        await d.cli(['approve', 'hello', version, '--as', 'dave'], [3]);
        for (const by of approvers)
          await d.cli(['approve', 'hello', version, '--as', by, '--comment', 'lgtm']);
        await d.waitRelease('hello', version, (s) => s.state === ends);
      };
      await ship('1.0.0', ['alice', 'bob'], 'succeeded');
      await ship('1.1.0', ['alice', 'carol'], 'succeeded');
      await ship('1.2.0-bad', ['bob', 'carol'], 'rolled-back');
      await d.release('hello', '1.3.0');
      await d.waitRelease('hello', '1.3.0', (s) => s.stage === 'awaiting-approval');
      await d.cli(['reject', 'hello', '1.3.0', '--as', 'alice', '--reason', 'not today']);
      await d.waitRelease('hello', '1.3.0', (s) => s.state === 'rejected');
      await d.cli([
        'rollback',
        'hello',
        'production',
        '--as',
        'bob',
        '--reason',
        'replay recording',
        '--wait',
      ]);
    },
    save: {
      'release-succeeded': releaseId('hello', '1.0.0'),
      'release-rolled-back': releaseId('hello', '1.2.0-bad'),
      'release-rejected': releaseId('hello', '1.3.0'),
      'environment-production': envId('hello', 'production'),
      'environment-staging': envId('hello', 'staging'),
    },
  },
];

const fileName = (stem: string, s: Scenario, side: Side) =>
  s.patch ? `${stem}.${side}-${s.patch}.json` : `${stem}.json`;

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();

/** The commit that introduced patched('<patch>'), or null while the patch is uncommitted. */
function introducedIn(patch: string): string | null {
  const first = git('log', '--reverse', '--format=%H', `-S`, `patched('${patch}'`, 'HEAD').split('\n')[0];
  return first || null;
}

/** The parent of the commit that introduced patched('<patch>'), or HEAD while the patch is uncommitted. */
function beforeRef(patch: string): string {
  const introduced = introducedIn(patch);
  return introduced ? git('rev-parse', `${introduced}^`) : git('rev-parse', 'HEAD');
}

/** A file as the patch's own code has it: from the commit that introduced it, or this working tree. */
async function patchedFile(patch: string, file: string): Promise<string> {
  const introduced = introducedIn(patch);
  return introduced ? git('show', `${introduced}:${file}`) + '\n' : readFile(path.join(ROOT, file), 'utf8');
}

/**
 * Compiles a tree's src/ into its build/, which its bin/shipgate.js runs. An older checkout may import a package
 * since removed from the shared node_modules (its type check then fails with TS2307 on that package alone):
 * with `olderTree`, that is tolerated (tsc still emits) as long as it is the only kind of error.
 */
function compile(tree: string, olderTree = false): void {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: tree, encoding: 'utf8' });
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '');
    const errors = out.split('\n').filter((l) => /error TS\d+/.test(l));
    const missingPackage = (l: string) => /error TS2307: Cannot find module '[^./][^']*'/.test(l);
    if (!olderTree || errors.length === 0 || !errors.every(missingPackage)) {
      process.stderr.write(out);
      throw err;
    }
    console.warn(`compiled ${tree} without packages it imports that are gone now:\n${errors.join('\n')}`);
  }
}

/** A compiled checkout of `ref` in a temporary worktree, sharing this tree's node_modules; `files` replace its own. */
async function checkout(
  ref: string,
  files: Record<string, string> = {},
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `shipgate-record-${ref.slice(0, 8)}-`));
  git('worktree', 'add', '--detach', dir, ref);
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
  try {
    compile(dir, true);
  } catch (err) {
    git('worktree', 'remove', '--force', dir);
    throw err;
  }
  return {
    dir,
    async remove() {
      git('worktree', 'remove', '--force', dir);
    },
  };
}

function run(
  tree: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(tree, 'bin', 'shipgate.js'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function startWorker(tree: string, env: Record<string, string>, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(tree, 'bin', 'shipgate.js'), 'worker', ...args], {
    env: { ...process.env, ...env, SHIPGATE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let logs = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      logs += b;
      if (logs.includes('worker running')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${logs}`)));
  });
  return child;
}

/** SIGTERM to the worker's process group, SIGKILL if it has not exited 15 s later. */
async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Waits, polling every 250 ms, until `probe` returns a value; fails after `ms` with `what`. */
async function until<T>(what: () => string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs `scenarios` against the code in `tree` and writes their histories. */
async function record(tree: string, side: Side, scenarios: Scenario[], out: string, commit: string) {
  const home = await mkdtemp(path.join(os.tmpdir(), 'shipgate-record-home-'));
  const server = await startDevServer({ home });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const configFile = path.join(home, 'shipgate.yaml');
  const source = path.join(tree, 'examples', 'hello-service');
  const apps: Record<string, unknown> = {};
  for (const s of scenarios) apps[s.app] = await s.config(freePort, source);
  // Keys for the scenarios' people; older code ignores them, newer code requires every message signed.
  const keys: Record<string, string> = {};
  const people: Record<string, { sshKeys: string[] }> = {};
  for (const login of new Set(scenarios.flatMap((s) => s.people ?? []))) {
    keys[login] = path.join(home, 'keys', login);
    await mkdir(path.dirname(keys[login]), { recursive: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', login, '-f', keys[login]], {
      stdio: 'ignore',
    });
    people[login] = { sshKeys: [(await readFile(`${keys[login]}.pub`, 'utf8')).trim()] };
  }
  await writeFile(
    configFile,
    stringify({ groups: GROUPS, ...(Object.keys(people).length ? { people } : {}), apps }),
  );
  const env = { SHIPGATE_HOME: home, SHIPGATE_CONFIG: configFile };
  const auditFile = path.join(home, 'audit', 'audit.jsonl');
  const global = ['--config', configFile, '--address', server.address];
  let worker: ChildProcess | undefined;
  try {
    worker = await startWorker(tree, env, global);
    const driver: Driver = {
      side,
      signAs: (login) => (side === 'after' ? ['--key', keys[login]!] : []),
      async cli(args, codes = [0]) {
        const r = await run(tree, [...args, ...global, '--json'], env);
        if (!codes.includes(r.code))
          throw new Error(`shipgate ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
        let json: unknown;
        try {
          json = JSON.parse(r.stdout);
        } catch {
          json = undefined;
        }
        return { code: r.code, stdout: r.stdout, json };
      },
      async release(app, version) {
        await driver.cli([
          'release',
          app,
          version,
          '--commit',
          `c-${version}`,
          '--branch',
          'main',
          '--actor',
          'dave',
        ]);
      },
      async waitRelease(app, version, pred) {
        let last: ReleaseView | undefined;
        return until(
          () => `${app} ${version}: ${JSON.stringify(last)}`,
          async () => {
            const r = await run(tree, ['status', app, version, ...global, '--json'], env);
            if (r.code !== 0) return undefined;
            last = JSON.parse(r.stdout) as ReleaseView;
            return pred(last) ? last : undefined;
          },
        );
      },
      async waitActivity(workflowId, activityType) {
        await until(
          () => `${activityType} completed in ${workflowId}`,
          async () => {
            const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
            const scheduled = new Set(
              events
                .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType)
                .map((e) => String(e.eventId)),
            );
            return events.some(
              (e) =>
                e.activityTaskCompletedEventAttributes &&
                scheduled.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId)),
            )
              ? true
              : undefined;
          },
        );
      },
      async timers(workflowId) {
        const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
        return events.filter((e) => e.timerStartedEventAttributes).length;
      },
      async waitTimers(workflowId, than) {
        await until(
          () => `${workflowId} to start more than ${than} timers`,
          async () => ((await driver.timers(workflowId)) > than ? true : undefined),
        );
      },
      async rewriteConfig(edit) {
        const config = parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
        edit(config);
        await writeFile(`${configFile}.tmp`, stringify(config));
        await rename(`${configFile}.tmp`, configFile);
      },
      async killVersion(app, env, version) {
        // The local target's own record of the processes it started (targets/local/state.ts).
        const file = path.join(home, 'targets', app, env, 'state.json');
        const state = JSON.parse(await readFile(file, 'utf8')) as {
          processes: { version: string; pid: number }[];
        };
        const pids = state.processes.filter((p) => p.version === version && p.pid > 0).map((p) => p.pid);
        if (pids.length !== 1) throw new Error(`${app} ${env}: ${pids.length} processes of ${version}`);
        process.kill(pids[0]!, 'SIGKILL');
      },
      async breakAudit() {
        // The store's own path (src/audit/registry.ts); a directory there fails every append, even as root.
        await rename(auditFile, `${auditFile}.aside`);
        await mkdir(auditFile);
      },
      async restoreAudit() {
        await rm(auditFile, { recursive: true });
        await rename(`${auditFile}.aside`, auditFile);
      },
      async waitAudit(what, pred) {
        await until(
          () => `audit store: ${what}`,
          async () => {
            const text = await readFile(auditFile, 'utf8').catch(() => '');
            const records = text
              .split('\n')
              .filter((l) => l.trim() !== '')
              .map((l) => JSON.parse(l) as { app: string; type: string; version?: string });
            return pred(records) ? true : undefined;
          },
          240_000,
        );
      },
      async waitHistory(app, envName, pred) {
        await until(
          () => `history of ${app}/${envName}`,
          async () => {
            const r = await run(tree, ['history', app, envName, ...global, '--json'], env);
            if (r.code !== 0) return undefined;
            return pred(JSON.parse(r.stdout) as { action: string; outcome: string }[]) ? true : undefined;
          },
          240_000,
        );
      },
    };
    const signing = (s: Scenario): Driver => ({
      ...driver,
      signAs: (login) => (side === 'after' || s.signedBefore ? ['--key', keys[login]!] : []),
    });
    await Promise.all(scenarios.map((s) => s.run(signing(s))));
    for (const s of scenarios) {
      for (const [stem, workflowId] of Object.entries(s.save)) {
        // Saved once nothing is in flight, so the file ends on a completed workflow task.
        const history = await until(
          () => `${workflowId} to settle`,
          async () => {
            const h = await client.workflow.getHandle(workflowId).fetchHistory();
            const last = h.events?.at(-1)?.eventType;
            return last == null || IN_FLIGHT.has(last) ? undefined : h;
          },
        );
        const file = path.join(out, fileName(stem, s, side));
        await writeFile(
          file,
          JSON.stringify({
            workflowId,
            scenario: s.name,
            patch: s.patch,
            side: s.patch ? side : null,
            recordedFrom: commit,
            history: JSON.parse(historyToJSON(history)),
          }),
        );
        console.log(
          `recorded ${path.relative(ROOT, file)} (${history.events?.length} events, from ${commit})`,
        );
      }
    }
  } finally {
    if (worker) await stopWorker(worker);
    await run(tree, ['down'], env).catch(() => undefined);
    await connection.close().catch(() => undefined);
    await server.stop().catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    side: { type: 'string' },
    force: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, 'test', 'replay', 'histories') },
  },
});
const only = values.only?.split(',').map((s) => s.trim());
for (const name of only ?? []) {
  if (!SCENARIOS.some((s) => s.name === name)) throw new Error(`unknown scenario ${name}`);
}
if (values.side && values.side !== 'before' && values.side !== 'after')
  throw new Error('--side: before or after');
const sides: Side[] = values.side ? [values.side as Side] : ['before', 'after'];
const out = path.resolve(values.out);
await mkdir(out, { recursive: true });
const chosen = SCENARIOS.filter((s) => (only ? only.includes(s.name) : s.patch !== null));
const missing = (s: Scenario, side: Side) =>
  values.force || Object.keys(s.save).some((stem) => !existsSync(path.join(out, fileName(stem, s, side))));

// The after side, and the baseline, run on this working tree as it is compiled now.
const current = chosen.filter((s) => sides.includes('after') && missing(s, 'after'));
if (current.length > 0) {
  compile(ROOT);
  const dirty = git('status', '--porcelain', '--', 'src').length > 0;
  await record(
    ROOT,
    'after',
    current,
    out,
    `${git('rev-parse', '--short', 'HEAD')}${dirty ? '+changes' : ''}`,
  );
}
// The before side of each patch, grouped by the commit they run on (and the patch's files they take, if any).
const byRef = new Map<string, { ref: string; s: Scenario; scenarios: Scenario[] }>();
for (const s of chosen) {
  if (!s.patch || !sides.includes('before') || !missing(s, 'before')) continue;
  const ref = s.beforeRef ? git('rev-parse', s.beforeRef) : beforeRef(s.patch);
  const key = s.beforeWith ? `${ref} ${s.patch} ${s.beforeWith.join(',')}` : ref;
  const group = byRef.get(key) ?? { ref, s, scenarios: [] };
  group.scenarios.push(s);
  byRef.set(key, group);
}
for (const { ref, s, scenarios } of byRef.values()) {
  const files: Record<string, string> = {};
  for (const file of s.beforeWith ?? []) files[file] = await patchedFile(s.patch!, file);
  const tree = await checkout(ref, files);
  const from = introducedIn(s.patch!);
  const taken = s.beforeWith
    ? ` with ${s.beforeWith.join(', ')} from ${from ? git('rev-parse', '--short', from) : 'the working tree'}`
    : '';
  try {
    await record(tree.dir, 'before', scenarios, out, `${git('rev-parse', '--short', ref)}${taken}`);
  } finally {
    await tree.remove();
  }
}
if (current.length === 0 && byRef.size === 0)
  console.log('every history is recorded already (--force re-records)');
