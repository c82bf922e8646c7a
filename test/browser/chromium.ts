/**
 * Debian's Chromium (the `chromium` package, installed by scripts/setup.sh) driven by playwright-core, which
 * downloads no browser of its own. Shared by the browser tests, bench/dashboard.ts and scripts/screenshots.ts.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian (and most distributions) put it; CHROMIUM_PATH overrides. */
const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/snap/bin/chromium',
];

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.CHROMIUM_PATH;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`CHROMIUM_PATH=${chosen}: no such file`);
    return chosen;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `Chromium not found (looked at ${CANDIDATES.join(', ')}): run scripts/setup.sh, which installs ` +
        `Debian's chromium package, or set CHROMIUM_PATH`,
    );
  return found;
}

/**
 * A headless Chromium. Its sandbox needs user namespaces that Chromium refuses to use as root, and root is who
 * runs the tests on CI and in containers; only then is it started with --no-sandbox. The pages it opens are the
 * dashboard and the test's own OpenID provider on 127.0.0.1, nothing from outside.
 */
export function launchChromium(): Promise<Browser> {
  const root = process.getuid?.() === 0;
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: root ? ['--no-sandbox'] : [],
  });
}
