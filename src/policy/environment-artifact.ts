/**
 * Artifacts are opaque references (`artifact`). Environments and releases started before that named the local
 * build's folder `artifactDir`, and their carried state, queued ops and recorded Update inputs still do: these
 * read either name, so an older run's state continues unchanged.
 */
export type WithArtifact<T> = T extends unknown
  ? Omit<T, 'artifact'> & { artifact?: string; artifactDir?: string }
  : never;

/** The artifact reference of something that names it either way ('' when it names neither). */
export function artifactOf(x: { artifact?: string; artifactDir?: string }): string {
  return x.artifact ?? x.artifactDir ?? '';
}

/** `x` with its artifact under `artifact` only. */
export function withArtifact<T extends { artifact: string }>(x: WithArtifact<T>): T {
  // Object rest keeps every other field, whatever the variant of a union T.
  const { artifactDir: _legacy, ...rest } = x;
  return { ...rest, artifact: artifactOf(x) } as unknown as T;
}
