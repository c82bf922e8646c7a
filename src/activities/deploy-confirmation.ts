/**
 * How an environment and a release check what the other tells them, so that nothing a namespace client sends
 * can make either act. An environment asks the release itself what it deploys; a release asks the environment
 * which reports it sent. Their answers land in the asking workflow's history.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { parseOpId } from '../policy/proofs.js';
import { environmentWorkflowId, parseReleaseWorkflowId } from '../protocol/ids.js';
import { deployReportsQuery, deployRequestQuery } from '../workflows/messages.js';
import type { DeployAsked, DeployReport } from '../workflows/types.js';
import { artifactPath, BUILD_MARKER, imageArtifact } from './build.js';
import type { ConfigSource } from '../config/source.js';

export type DeployConfirmation =
  { ok: true; asked: DeployAsked; artifact: string } | { ok: false; reason: string };

/** A query to another workflow is answered in moments or not at all (its run may be switching): retry it. */
const QUERY_DEADLINE_MS = 10_000;

export function createDeployConfirmationActivities(client: Client, home: string, config: ConfigSource) {
  const within = <R>(fn: () => Promise<R>) => client.withDeadline(Date.now() + QUERY_DEADLINE_MS, fn);
  return {
    /**
     * Whether release `releaseId` is, right now, asking `env` to deploy `version` under `opId`: the release must
     * be a running releaseWorkflow whose first run is the one the op id names, and its own answer must name the
     * same op, environment and version. The artifact is the build's own record for that version and commit.
     */
    async confirmDeployRequest(req: {
      app: string;
      env: string;
      releaseId: string;
      opId: string;
      version: string;
    }): Promise<DeployConfirmation> {
      const refuse = (reason: string): DeployConfirmation => ({
        ok: false,
        reason: `deploy request ${JSON.stringify(req.opId.slice(0, 200))} refused: ${reason}`,
      });
      const named = parseReleaseWorkflowId(req.releaseId);
      if (!named || named.app !== req.app || named.version !== req.version)
        return refuse(`${req.releaseId} is not a release of ${req.app} ${req.version}`);
      const op = parseOpId(req.opId);
      if (!op || op.releaseId !== req.releaseId || op.env !== req.env)
        return refuse(`it is not an operation of ${req.releaseId} on ${req.env}`);
      const handle = client.workflow.getHandle(req.releaseId, op.run);
      let asked: DeployAsked | null;
      try {
        const d = await within(() => handle.describe());
        if (d.type !== 'releaseWorkflow') return refuse(`${req.releaseId} is not a release workflow`);
        if (d.status.name !== 'RUNNING') return refuse(`release ${req.releaseId} is not running`);
        asked = await within(() => handle.query(deployRequestQuery, req.opId));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          return refuse(`no release ${req.releaseId} with run ${op.run} exists`);
        throw err;
      }
      if (!asked) return refuse(`release ${req.releaseId} is not asking for this deploy`);
      if (asked.opId !== req.opId || asked.env !== req.env || asked.version !== req.version)
        return refuse(`release ${req.releaseId} asks for ${asked.version} on ${asked.env}`);
      // An image build deploys the reference the app's config names for this version; a local one, its folder.
      const build = config.get().config.apps[req.app]?.build;
      const built =
        build?.kind === 'image'
          ? { ok: true as const, artifact: imageArtifact(build.image, req.app, asked.version).artifact }
          : await builtArtifact(home, req.app, asked.version, asked.commit);
      if (!built.ok) return refuse(built.reason);
      return { ok: true, asked, artifact: built.artifact };
    },

    /** The reports environment `env` of `app` sent about `opId`, or null when it knows none. */
    async confirmDeployReport(req: {
      app: string;
      env: string;
      opId: string;
    }): Promise<DeployReport[] | null> {
      try {
        const handle = client.workflow.getHandle(environmentWorkflowId(req.app, req.env));
        return await within(() => handle.query(deployReportsQuery, req.opId));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
    },
  };
}

/** The artifact the build made for this version from this commit, by its own marker file. */
async function builtArtifact(
  home: string,
  app: string,
  version: string,
  commit: string,
): Promise<{ ok: true; artifact: string } | { ok: false; reason: string }> {
  const dir = artifactPath(home, app, version);
  let built: { commit?: unknown };
  try {
    built = JSON.parse(await readFile(path.join(dir, BUILD_MARKER), 'utf8')) as { commit?: unknown };
  } catch {
    return { ok: false, reason: `no build of ${app} ${version} exists on this worker` };
  }
  if (built.commit !== commit)
    return { ok: false, reason: `${app} ${version} was built from another commit than the release names` };
  return { ok: true, artifact: dir };
}
