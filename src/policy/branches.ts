/** Branch policy: an environment lists the branches it accepts; `*` at the end matches any suffix (release/*). */
export function branchAllowed(allowed: readonly string[] | null | undefined, branch: string): boolean {
  if (!allowed || allowed.length === 0) return true;
  return allowed.some((pattern) =>
    pattern.endsWith('*') ? branch.startsWith(pattern.slice(0, -1)) : pattern === branch,
  );
}
