import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { grpcCode, ShipgateError } from '../client/errors.js';
import { EXIT } from '../protocol/failures.js';

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;

/** docker-compose.yml's default retention: the audit store, not history, is the long-term record. */
export const DEFAULT_NAMESPACE_RETENTION_DAYS = 30;

/** The worker's namespace is missing and could not be created: one message, naming it and how to create it. */
export class NamespaceMissingError extends ShipgateError {
  constructor(namespace: string, address: string, why: string, options?: { cause?: unknown }) {
    super(
      EXIT.badInput,
      `Temporal namespace "${namespace}" does not exist at ${address} and the worker could not create it (${why}). ` +
        `Create it, then start the worker again: temporal operator namespace create --address ${address} ` +
        `--namespace ${namespace} --retention 720h (on Temporal Cloud: create it in the Cloud console or with tcld)`,
      options,
    );
  }
}

export interface EnsureNamespaceOptions {
  address: string;
  retentionDays?: number;
  /** How long a newly created namespace may take to answer (the frontend's namespace cache refresh, ~10 s). */
  usableWithinMs?: number;
}

/**
 * Makes sure the namespace exists before the worker registers search attributes or polls (a missing one
 * otherwise shows first as a misleading search-attribute warning, then as pollers that never get a task).
 * Self-hosted servers let the worker create it; where that is refused (Temporal Cloud, an authorizer), the
 * start fails at once with NamespaceMissingError. Returns whether it created the namespace.
 */
export async function ensureNamespace(
  connection: Connection,
  namespace: string,
  opts: EnsureNamespaceOptions,
): Promise<{ created: boolean }> {
  const service = connection.workflowService;
  try {
    await service.describeNamespace({ namespace });
    return { created: false };
  } catch (err) {
    const code = grpcCode(err);
    // A name the server can never hold, or one this client may not see, cannot be created here either.
    if (code === GRPC_INVALID_ARGUMENT || code === GRPC_PERMISSION_DENIED)
      throw new NamespaceMissingError(namespace, opts.address, (err as Error).message, { cause: err });
    if (code !== GRPC_NOT_FOUND) throw err;
  }
  const days = opts.retentionDays ?? DEFAULT_NAMESPACE_RETENTION_DAYS;
  try {
    await service.registerNamespace({
      namespace,
      description: 'created by the shipgate worker',
      workflowExecutionRetentionPeriod: msToTs(`${days}d`),
    });
  } catch (err) {
    // Another worker created it meanwhile: fine.
    if (grpcCode(err) !== GRPC_ALREADY_EXISTS)
      throw new NamespaceMissingError(namespace, opts.address, (err as Error).message, { cause: err });
  }
  await waitUsable(connection, namespace, opts.usableWithinMs ?? 30_000);
  return { created: true };
}

/** A namespace is usable once the frontend lists its workflows (describe answers earlier, from the database). */
async function waitUsable(connection: Connection, namespace: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
