/** A bounded client that keeps requesting an environment's port and counts what failed. */
export function steadyTraffic(port: number, intervalMs = 20) {
  let ok = 0;
  let failed = 0;
  const failures: string[] = [];
  const versions = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/version`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as { version: string };
        if (res.status === 200) {
          ok++;
          versions.add(body.version);
        } else {
          failed++;
          failures.push(`status ${res.status}`);
        }
      } catch (err) {
        failed++;
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { ok, failed, failures, versions };
    },
  };
}
