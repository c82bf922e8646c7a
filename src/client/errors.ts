/**
 * The errors every channel (CLI, Slack, GitHub Action) sees, each with its exit code. Callers branch with
 * `instanceof`, never on an error's name or message: `toShipgateError` turns whatever Temporal or the config
 * loader threw into one of these, through the tables below.
 */
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ConfigError } from '../config/errors.js';
import { EXIT, EXIT_FOR_FAILURE, type ExitCode } from '../protocol/failures.js';

export { EXIT, type ExitCode };

/** An error already phrased for a person, with the exit code the CLI ends with. */
export class ShipgateError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Exit 2: usage, invalid input or config, an unknown app or environment. Nothing was started. */
export class BadInputError extends ShipgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(EXIT.badInput, message, options);
  }
}

/** Exit 3: a policy refused the request; the message says why. */
export class RefusedError extends ShipgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(EXIT.refused, message, options);
  }
}

/** Exit 1: the operation ran and failed, or stopped waiting before it got there. */
export class OperationFailedError extends ShipgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(EXIT.failed, message, options);
  }
}

/** Exit 4: Temporal did not answer. The message names the address. */
export class UnreachableError extends ShipgateError {
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    super(EXIT.unreachable, `Temporal is unreachable at ${address}: ${messageOf(cause)}`, { cause });
  }
}

/** How long a request may wait for a worker to take it before the caller is told none is polling. */
export const NO_WORKER_MS = 15_000;

/**
 * Exit 4: no worker took the request within NO_WORKER_MS. `sent` says whether the request reached Temporal
 * (it then counts only if a worker takes it while its proof is still fresh) or was never sent.
 */
export class NoWorkerError extends ShipgateError {
  constructor(
    readonly taskQueue: string,
    readonly sent: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      EXIT.unreachable,
      `no shipgate worker is polling task queue ${taskQueue}: nothing answered within ${NO_WORKER_MS / 1000} s. ` +
        (sent
          ? 'The request was sent; if a worker takes it later, it counts only while its proof is fresh (5 minutes). '
          : 'Nothing was sent. ') +
        'Start a worker (shipgate worker) and try again.',
      options,
    );
  }
}

/** Exit 2: the CLI has no way to prove who runs it, so it sends nothing. */
export class NoSigningKeyError extends BadInputError {}

/** A version that already succeeded is never released again; a rollback redeploys it. */
export class ReleaseAlreadySucceededError extends RefusedError {
  constructor(app: string, version: string) {
    super(
      `${app} ${version} was already released successfully; to deploy it again use: shipgate rollback ${app} <env> --to ${version}`,
    );
  }
}

export class ReleaseNotFoundError extends RefusedError {
  constructor(
    readonly app: string,
    readonly version: string,
  ) {
    super(`no release ${app} ${version} found`);
  }
}

/** A decision reached a release that has already ended (`state` null: how it ended could not be read). */
export class ReleaseEndedError extends RefusedError {
  constructor(
    readonly app: string,
    readonly version: string,
    readonly state: string | null,
    action: 'approve' | 'reject' | 'cancel' | 'override',
  ) {
    super(
      `release ${app} ${version} is not waiting for ${action === 'approve' ? 'approval' : 'a decision'}: ${state ? `it ended ${state}` : 'it has ended'}`,
    );
  }
}

/** An environment with no workflow yet: nothing was ever deployed, frozen or rolled back there. */
export class EnvironmentNotFoundError extends RefusedError {
  constructor(
    readonly app: string,
    readonly env: string,
    message: string,
  ) {
    super(message);
  }
}

/** gRPC status codes that mean "the server did not answer"; any other code is an answer. */
const GRPC_UNAVAILABLE = 14;
/** gRPC codes worth retrying while following: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const GRPC_RETRYABLE = new Set([4, 8, GRPC_UNAVAILABLE]);
/** ALREADY_EXISTS: an update-with-start found a run it may not reuse. */
export const GRPC_ALREADY_EXISTS = 6;

/** The gRPC status code of an error or of one of its causes. */
export function grpcCode(err: unknown): number | undefined {
  for (let e = err, i = 0; e instanceof Error && i < 8; i++) {
    if (isGrpcServiceError(e)) return e.code;
    e = e.cause;
  }
  return undefined;
}

/** Whether reading again may succeed: the server was unavailable, overloaded or slow. */
export function isTransient(err: unknown): boolean {
  const code = grpcCode(err);
  return code !== undefined && GRPC_RETRYABLE.has(code);
}

/**
 * The rejection a workflow sends for an Update it has no handler for: a worker from before that Update. The SDK
 * gives it no type, only this message (@temporalio/workflow, internals.ts), so this is the one check by message.
 */
export function isUnknownUpdate(err: unknown): boolean {
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  return cause instanceof ApplicationFailure && /^No registered handler for update/.test(cause.message);
}

/** The innermost cause: the workflow's ApplicationFailure inside an Update or workflow failure. */
function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.cause) e = e.cause;
  return e;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a failed Update's ApplicationFailure type means; other failures come from validators (bad input). */
function fromUpdateFailure(err: WorkflowUpdateFailedError): ShipgateError {
  const cause = rootCause(err);
  const byType: Partial<Record<string, ExitCode>> = EXIT_FOR_FAILURE;
  const code = (cause instanceof ApplicationFailure && cause.type && byType[cause.type]) || EXIT.badInput;
  return new ShipgateError(code, messageOf(cause ?? err), { cause: err });
}

/**
 * Error classes from Temporal and the config loader, and what each means for a caller. Checked in order, with
 * `instanceof`; the first match wins.
 */
const ERROR_TABLE: [
  abstract new (...args: never[]) => Error,
  (err: never, address: string) => ShipgateError,
][] = [
  [ConfigError, (e: ConfigError) => new BadInputError(e.message, { cause: e })],
  [WorkflowUpdateFailedError, fromUpdateFailure],
  [WorkflowNotFoundError, (e: WorkflowNotFoundError) => new RefusedError(e.message, { cause: e })],
  [
    WorkflowExecutionAlreadyStartedError,
    (e: WorkflowExecutionAlreadyStartedError) => new RefusedError(e.message, { cause: e }),
  ],
  [
    WorkflowFailedError,
    (e: WorkflowFailedError) => new OperationFailedError(messageOf(rootCause(e)), { cause: e }),
  ],
];

/** Maps anything a client operation threw to a ShipgateError (exit code and a message a person understands). */
export function toShipgateError(err: unknown, address: string): ShipgateError {
  if (err instanceof ShipgateError) return err;
  for (const [type, map] of ERROR_TABLE) if (err instanceof type) return map(err as never, address);
  if (grpcCode(err) === GRPC_UNAVAILABLE) return new UnreachableError(address, err);
  return new OperationFailedError(messageOf(err), { cause: err });
}
