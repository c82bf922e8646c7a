import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { NAME_PATTERN, VERSION_PATTERN } from '../policy/patterns.js';
import { FAILURE } from '../protocol/failures.js';

export interface BuildInput {
  app: string;
  version: string;
  commit: string;
  source: string;
  /** An image build: CI built and pushed it; shipgate deploys this reference with the version filled in. */
  image?: string;
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

/** The file a finished build leaves in its artifact: what it was built from. */
export const BUILD_MARKER = '.shipgate-build.json';

/**
 * SHIPGATE_HOME/artifacts/<app>/<version>, proven to stay there: app and version must match their patterns,
 * and the resolved folder must lie strictly inside the artifacts folder (a version such as `../../x` is refused
 * before any file is touched).
 */
export function artifactPath(home: string, app: string, version: string): string {
  const refuse = (why: string): never => {
    throw ApplicationFailure.create({ type: FAILURE.badInput, message: why, nonRetryable: true });
  };
  if (!NAME_PATTERN.test(app)) refuse(`app ${JSON.stringify(app.slice(0, 80))} is not an app name`);
  if (!VERSION_PATTERN.test(version) || version === '.' || version === '..')
    refuse(`version ${JSON.stringify(version.slice(0, 80))} is not a version`);
  const root = path.resolve(home, 'artifacts');
  const dir = path.resolve(root, app, version);
  const rel = path.relative(root, dir);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep).length !== 2)
    refuse(`the artifact of ${app} ${version} would lie outside ${root}`);
  return dir;
}

/**
 * The local build: a copy of the source tree under SHIPGATE_HOME/artifacts/<app>/<version>. Idempotent per
 * version: a retry after a crash reuses a complete artifact and replaces a partial one.
 */
export function createBuildActivities(home: string) {
  return {
    async buildArtifact(input: BuildInput): Promise<BuildResult> {
      if (input.image !== undefined) return imageArtifact(input.image, input.app, input.version);
      const artifactDir = artifactPath(home, input.app, input.version);
      const marker = path.join(artifactDir, BUILD_MARKER);
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
        path.join(staging, BUILD_MARKER),
        JSON.stringify({ ...input, builtAt: new Date().toISOString() }),
      );
      await rm(artifactDir, { recursive: true, force: true });
      await rename(staging, artifactDir);
      return { artifact: artifactDir, artifactDir, reused: false };
    },
  };
}

/**
 * The image a version deploys: the template with {{version}} filled in. The version was checked against its
 * pattern, so it cannot smuggle a different registry or repository into the reference.
 */
export function imageArtifact(template: string, app: string, version: string): BuildResult {
  if (!VERSION_PATTERN.test(version))
    throw ApplicationFailure.create({
      type: FAILURE.badInput,
      message: `version ${JSON.stringify(version.slice(0, 80))} of ${app} is not a version`,
      nonRetryable: true,
    });
  // An image tag is at most 128 characters of [A-Za-z0-9_.-]; `+` (semver build metadata) is not allowed.
  const image = template.replaceAll('{{version}}', version.replaceAll('+', '_'));
  return { artifact: image, artifactDir: image, reused: true };
}
