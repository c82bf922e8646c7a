/**
 * Whether an environment may deploy at a moment: its configured windows and its live freezes. Apart from the
 * client class so that only callers who ask (the `windows` command) load croner and the time-zone rules.
 */
import type { ShipgateClient } from '../client.js';
import type { WindowConfig } from '../config/schema.js';
import { evaluateWindows, type Freeze, type WindowVerdict } from '../policy/windows.js';

/**
 * Freezes are read from the environment (none when nothing was deployed there). When Temporal or the
 * environment cannot be read, the verdict counts windows only and `freezesUnread` says why.
 */
export async function deployWindows(
  sg: Promise<ShipgateClient>,
  app: string,
  env: string,
  windows: WindowConfig[],
  at: Date,
): Promise<{ verdict: WindowVerdict; freezesUnread: string | null }> {
  let freezes: Freeze[] = [];
  let freezesUnread: string | null = null;
  try {
    freezes = (await (await sg).environmentState(app, env))?.freezes ?? [];
  } catch (err) {
    freezesUnread = err instanceof Error ? err.message : String(err);
  }
  return { verdict: evaluateWindows(windows, freezes, at), freezesUnread };
}
