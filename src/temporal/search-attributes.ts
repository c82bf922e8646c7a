import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;

import { SEARCH_ATTRIBUTE_NAMES } from '../protocol/search-attributes.js';

/**
 * Registers missing search attributes where the server allows it (dev server, self-hosted). On Temporal Cloud
 * they are created ahead of time, so a refusal here is reported, not fatal.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<{ created: string[]; error?: string }> {
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in (existing.customAttributes ?? {})));
    if (missing.length === 0) return { created: [] };
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((n) => [n, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
    return { created: [...missing] };
  } catch (err) {
    return { created: [], error: (err as Error).message };
  }
}
