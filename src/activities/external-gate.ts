import type { z } from 'zod';
import type { externalGateSchema } from '../config/schema.js';

export type ExternalGate = z.output<typeof externalGateSchema>;

function field(body: unknown, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>(
      (acc, key) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[key] : undefined),
      body,
    );
}

/**
 * An HTTP check that must pass right before a deploy, such as a status page's "no active incident". Fails
 * closed: an error, a timeout, a non-2xx answer or a body that is not JSON all block, with the reason.
 */
export async function checkExternalGate(gate: ExternalGate, timeoutMs = 5000): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch(gate.url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    return `gate ${gate.name}: ${gate.url} unreachable (${cause?.message ?? (err as Error).message})`;
  }
  if (!res.ok) return `gate ${gate.name}: ${gate.url} answered ${res.status}`;
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return `gate ${gate.name}: ${gate.url} did not answer JSON`;
  }
  const got = field(body, gate.field);
  if (JSON.stringify(got) !== JSON.stringify(gate.equals)) {
    return `gate ${gate.name}: ${gate.field} is ${JSON.stringify(got)}, expected ${JSON.stringify(gate.equals)}`;
  }
  return null;
}
