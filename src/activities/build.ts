import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';

export interface BuildInput {
  app: string;
  version: string;
  commit: string;
  source: string;
}

/**
 * `artifact` is the opaque reference a target activates; `artifactDir` is the same folder under the name that
 * workflows started before targets had kinds read (their histories hold it).
 */
export interface BuildResult {
  artifact: string;
  artifactDir: string;
  reused: boolean;
}

/**
 * The local build: a copy of the source tree under SHIPGATE_HOME/artifacts/<app>/<version>. Idempotent per
 * version: a retry after a crash reuses a complete artifact and replaces a partial one.
 */
export function createBuildActivities(home: string) {
  return {
    async buildArtifact(input: BuildInput): Promise<BuildResult> {
      const artifactDir = path.join(home, 'artifacts', input.app, input.version);
      const marker = path.join(artifactDir, '.shipgate-build.json');
      if (existsSync(marker)) {
        const built = JSON.parse(await readFile(marker, 'utf8')) as { commit: string };
        if (built.commit !== input.commit) {
          throw new Error(
            `${input.app} ${input.version} was already built from commit ${built.commit}; a version is immutable`,
          );
        }
        return { artifact: artifactDir, artifactDir, reused: true };
      }
      const staging = `${artifactDir}.partial-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      await mkdir(path.dirname(artifactDir), { recursive: true });
      Context.current().heartbeat('copying');
      await cp(input.source, staging, {
        recursive: true,
        filter: (src) => !src.includes(`${path.sep}node_modules${path.sep}`),
      });
      await writeFile(
        path.join(staging, '.shipgate-build.json'),
        JSON.stringify({ ...input, builtAt: new Date().toISOString() }),
      );
      await rm(artifactDir, { recursive: true, force: true });
      await rename(staging, artifactDir);
      return { artifact: artifactDir, artifactDir, reused: false };
    },
  };
}
