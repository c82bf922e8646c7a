import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The node argv that runs `name`, a module next to `fromUrl` (pass `import.meta.url`).
 *
 * Under vitest or tsx the sources are .ts and need tsx's loader; in production tsc has compiled them to .js
 * in build/, which node runs directly. tsx is resolved to an absolute URL because the child's working
 * directory (an artifact folder, a temp home) usually has no node_modules to resolve it from.
 */
export function siblingEntryArgv(fromUrl: string, name: string): string[] {
  const from = fileURLToPath(fromUrl);
  const ext = from.endsWith('.ts') ? '.ts' : '.js';
  const file = join(dirname(from), `${name}${ext}`);
  if (ext === '.js') return [process.execPath, file];
  const tsx = pathToFileURL(createRequire(fromUrl).resolve('tsx')).href;
  return [process.execPath, '--import', tsx, file];
}
