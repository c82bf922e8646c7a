import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/common';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ConfigError } from '../config/errors.js';
import { TemporalUnreachableError } from '../temporal/connect.js';
import { FAILURE } from '../workflows/messages.js';

/** The Contract's exit codes. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, refused: 3, unreachable: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const badInput = (message: string) => new CliError(EXIT.badInput, message);
export const refused = (message: string) => new CliError(EXIT.refused, message);

function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause) e = (e as { cause?: unknown }).cause;
  return e;
}

function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: number })?.code;
  return code === 14 || /UNAVAILABLE|ECONNREFUSED|failed to connect/i.test(String((err as Error)?.message));
}

/** Maps anything thrown by a command to an exit code and a message a person understands. */
export function toCliError(err: unknown, address: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ConfigError) return new CliError(EXIT.badInput, err.message);
  if (err instanceof TemporalUnreachableError) return new CliError(EXIT.unreachable, err.message);
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = rootCause(err);
    if (cause instanceof ApplicationFailure) {
      if (cause.type === FAILURE.policy) return refused(cause.message);
      if (cause.type === FAILURE.badInput) return badInput(cause.message);
    }
    // Validators reject malformed input before it reaches history.
    return badInput((cause as Error)?.message ?? err.message);
  }
  if (err instanceof WorkflowNotFoundError) return refused(err.message);
  if (err instanceof WorkflowExecutionAlreadyStartedError) return refused(err.message);
  if (err instanceof WorkflowFailedError)
    return new CliError(EXIT.failed, (rootCause(err) as Error)?.message ?? err.message);
  if (isUnavailable(err))
    return new CliError(EXIT.unreachable, `Temporal is unreachable at ${address}: ${(err as Error).message}`);
  const message = (err as Error)?.message ?? String(err);
  if (/workflow execution already completed/i.test(message)) return refused(message);
  return new CliError(EXIT.failed, message);
}
