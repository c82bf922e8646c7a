/**
 * The client layer's pure parts: how failures map to exit codes, how input is validated, and the one loop that
 * follows a release (on a fake clock, so no test waits). Against a real server, the same code runs in the CLI,
 * Slack and Action integration tests.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ConfigError } from '../../src/config/errors.js';
import {
  BadInputError,
  EXIT,
  isTransient,
  OperationFailedError,
  ReleaseEndedError,
  RefusedError,
  ShipgateError,
  toShipgateError,
  UnreachableError,
} from '../../src/client/errors.js';
import { exitCodeForWait, followStatus } from '../../src/client/follow.js';
import { settledWithin, withTimeout } from '../../src/client/timeout.js';
import { releaseUiLink, temporalUiLink } from '../../src/client/ui-link.js';
import {
  optionalMoment,
  requireFutureTime,
  requireLogin,
  requireText,
  requireVersion,
  requireWaitTarget,
} from '../../src/client/validate.js';
import { historyRows, tallyText } from '../../src/client.js';
import { FAILURE } from '../../src/protocol/failures.js';
import type { LedgerEntry } from '../../src/policy/ledger.js';
import type { ReleaseStatus } from '../../src/workflows/types.js';

/** A gRPC error as @grpc/grpc-js makes it: a code, details and metadata. */
const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });

const updateFailed = (type: string, message: string) =>
  new WorkflowUpdateFailedError(
    'Workflow Update failed',
    ApplicationFailure.create({ type, message, nonRetryable: true }),
  );

describe('failures map to exit codes by class and failure type, never by message', () => {
  const address = '127.0.0.1:7999';
  const mapped = (err: unknown) => {
    const e = toShipgateError(err, address);
    return [
      e.constructor.name === 'ShipgateError' ? 'ShipgateError' : e.constructor.name,
      e.exitCode,
      e.message,
    ];
  };

  it('reads the Update failure type: a policy refusal is 3, bad input 2, a deploy failure 1', () => {
    expect(mapped(updateFailed(FAILURE.policy, 'dave is not a member of team-leads'))).toEqual([
      'ShipgateError',
      EXIT.refused,
      'dave is not a member of team-leads',
    ]);
    expect(toShipgateError(updateFailed(FAILURE.badInput, 'unknown environment'), address).exitCode).toBe(
      EXIT.badInput,
    );
    expect(toShipgateError(updateFailed(FAILURE.deployFailed, 'never ready'), address).exitCode).toBe(
      EXIT.failed,
    );
  });

  it('treats an Update refused by a validator (no known failure type) as bad input, with its message', () => {
    const err = new WorkflowUpdateFailedError(
      'Workflow Update failed',
      new Error('by: "x y" is not a login'),
    );
    expect(toShipgateError(err, address)).toMatchObject({
      exitCode: EXIT.badInput,
      message: 'by: "x y" is not a login',
    });
  });

  it('does not read a message: a failure whose text says "policy" but whose type does not is not a refusal', () => {
    const err = updateFailed('SomethingElse', 'PolicyRefusal: looks like one');
    expect(toShipgateError(err, address).exitCode).toBe(EXIT.badInput);
  });

  it('maps a missing workflow and a reused id to refusals, and a failed workflow to 1 with its root cause', () => {
    expect(
      toShipgateError(new WorkflowNotFoundError('not found', 'release/a/1', undefined), address),
    ).toBeInstanceOf(RefusedError);
    expect(
      toShipgateError(
        new WorkflowExecutionAlreadyStartedError('started', 'release/a/1', 'releaseWorkflow'),
        address,
      ).exitCode,
    ).toBe(EXIT.refused);
    const failed = new WorkflowFailedError(
      'Workflow execution failed',
      new Error('smoke /smoke: 500'),
      'NON_RETRYABLE_FAILURE',
    );
    expect(toShipgateError(failed, address)).toMatchObject({
      exitCode: EXIT.failed,
      message: 'smoke /smoke: 500',
    });
  });

  it('maps a config error to 2 with the file and path in the message', () => {
    const e = toShipgateError(
      new ConfigError('shipgate.yaml', [{ path: 'apps.hello', message: 'bad' }]),
      address,
    );
    expect(e).toBeInstanceOf(BadInputError);
    expect(e.message).toBe('shipgate.yaml: apps.hello: bad');
  });

  it('maps an UNAVAILABLE gRPC status, however deep in the causes, to 4 naming the address', () => {
    const err = new ServiceError('Query failed', { cause: grpcError(14, 'No connection established') });
    const e = toShipgateError(err, address);
    expect(e).toBeInstanceOf(UnreachableError);
    expect(e.exitCode).toBe(EXIT.unreachable);
    expect(e.message).toContain(`Temporal is unreachable at ${address}`);
  });

  it('does not mistake a message that mentions UNAVAILABLE for an outage', () => {
    const e = toShipgateError(new Error('UNAVAILABLE ECONNREFUSED failed to connect'), address);
    expect(e).toBeInstanceOf(OperationFailedError);
    expect(e.exitCode).toBe(EXIT.failed);
  });

  it('passes its own errors through unchanged', () => {
    const own = new ReleaseEndedError('hello', '1.0.0', 'rejected', 'approve');
    expect(toShipgateError(own, address)).toBe(own);
    expect(own).toBeInstanceOf(RefusedError);
    expect(own).toBeInstanceOf(ShipgateError);
    expect(own.message).toBe('release hello 1.0.0 is not waiting for approval: it ended rejected');
    expect(own.name).toBe('ReleaseEndedError');
    // When how it ended cannot be read (no worker to answer the query), it still says it ended.
    expect(new ReleaseEndedError('hello', '1.0.0', null, 'reject').message).toBe(
      'release hello 1.0.0 is not waiting for a decision: it has ended',
    );
  });

  it('retries only gRPC answers that say try again (deadline, exhausted, unavailable)', () => {
    expect(isTransient(grpcError(14, 'unavailable'))).toBe(true);
    expect(isTransient(new ServiceError('x', { cause: grpcError(4, 'deadline') }))).toBe(true);
    expect(isTransient(grpcError(8, 'exhausted'))).toBe(true);
    expect(isTransient(grpcError(7, 'permission denied'))).toBe(false);
    expect(isTransient(new Error('14 UNAVAILABLE'))).toBe(false);
  });
});

describe('input validation names the field and throws BadInputError (exit 2)', () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(BadInputError);
      return (err as Error).message;
    }
    throw new Error('expected bad input');
  };

  it('checks versions, logins, free text and wait targets', () => {
    expect(message(() => requireVersion('$(id)', '--to'))).toMatch(
      /^--to: "\$\(id\)" is not a valid version/,
    );
    expect(message(() => requireLogin(undefined))).toBe('--as is required');
    expect(message(() => requireLogin('bob smith', '--actor'))).toMatch(
      /^--actor: "bob smith" is not a valid login/,
    );
    expect(message(() => requireText('  ', '--reason'))).toBe('--reason is required');
    expect(message(() => requireText('x'.repeat(4001), '--reason'))).toBe(
      '--reason must be at most 4000 characters',
    );
    expect(requireText('x'.repeat(4000), '--reason')).toHaveLength(4000);
    expect(requireWaitTarget('none', '--wait')).toBe('none');
    expect(requireWaitTarget('production', '--wait')).toBe('production');
    expect(message(() => requireWaitTarget('Prod;id', '--wait'))).toBe(
      '--wait: expected none or an environment name',
    );
  });

  it('takes a freeze end only as a future ISO-8601 time, normalised to UTC', () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    expect(requireFutureTime('2026-03-02T01:00:00+01:00', '--until', now)).toBe('2026-03-02T00:00:00.000Z');
    expect(message(() => requireFutureTime('2026-02-28T00:00:00Z', '--until', now))).toBe(
      '--until: 2026-02-28T00:00:00Z is in the past',
    );
    expect(message(() => requireFutureTime('next tuesday', '--until', now))).toBe(
      '--until: "next tuesday" is not an ISO-8601 time',
    );
    expect(message(() => requireFutureTime(undefined, '--until', now))).toBe('--until is required');
  });

  it('evaluates windows now by default, or at a given moment', () => {
    expect(optionalMoment('2026-01-01T10:00:00Z', '--at').toISOString()).toBe('2026-01-01T10:00:00.000Z');
    expect(message(() => optionalMoment('not a time', '--at'))).toBe(
      '--at: "not a time" is not an ISO-8601 time',
    );
  });
});

function status(over: Partial<ReleaseStatus> = {}): ReleaseStatus {
  return {
    app: 'hello',
    version: '1.0.0',
    commit: 'abc123',
    branch: 'main',
    actor: 'dave',
    state: 'running',
    stage: 'awaiting-approval',
    reason: null,
    startedAt: '2026-01-01T10:00:00.000Z',
    endedAt: null,
    approvals: { environment: 'production', required: [], given: [], refused: [] },
    environments: {
      staging: { state: 'succeeded', at: '2026-01-01T10:03:00.000Z' },
      production: { state: 'waiting', at: null },
    },
    blockedBy: null,
    blockedUntil: null,
    override: null,
    ...over,
  } as ReleaseStatus;
}

describe('following a release', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };

  it('reads until the condition holds, reporting every status it read', async () => {
    const seen: string[] = [];
    const states = [status({ stage: 'deploying-staging' }), status({ stage: 'awaiting-approval' })];
    const first = status({ stage: 'building', environments: { staging: { state: 'pending', at: null } } });
    const r = await followStatus(async () => states.shift()!, first, {
      until: (s) => s.stage === 'awaiting-approval',
      deadline: 60_000,
      intervalMs: 1000,
      onStatus: (s) => seen.push(s.stage),
      ...clock(),
    });
    expect(r.timedOut).toBe(false);
    expect(r.status.stage).toBe('awaiting-approval');
    expect(seen).toEqual(['deploying-staging', 'awaiting-approval']);
  });

  it('with an environment name, ends once that environment succeeded', async () => {
    const states = [
      status({ stage: 'deploying-staging', environments: { staging: { state: 'deploying', at: null } } }),
      status(),
    ];
    const r = await followStatus(async () => states.shift()!, undefined, { until: 'staging', ...clock() });
    expect(r).toMatchObject({
      timedOut: false,
      status: { environments: { staging: { state: 'succeeded' } } },
    });
    expect(states).toEqual([]);
  });

  it('always ends when the release ends, whatever it waited for', async () => {
    const ended = status({ state: 'rejected', stage: 'done' });
    const r = await followStatus(async () => ended, undefined, { until: 'production', ...clock() });
    expect(r).toEqual({ status: ended, timedOut: false });
    expect(exitCodeForWait(r.status, 'production')).toBe(EXIT.failed);
  });

  it('stops at the deadline with the last status, and retries transient errors until then', async () => {
    const c = clock();
    let reads = 0;
    const retries: string[] = [];
    const r = await followStatus(
      async () => {
        reads++;
        if (reads % 2) throw grpcError(14, 'unavailable');
        return status();
      },
      status({ stage: 'building' }),
      {
        until: () => false,
        deadline: 10_000,
        intervalMs: 1000,
        onRetry: (e) => retries.push(e.message),
        ...c,
      },
    );
    expect(r.timedOut).toBe(true);
    expect(r.status.stage).toBe('awaiting-approval');
    expect(c.now()).toBe(10_000);
    expect(retries.length).toBeGreaterThan(0);
  });

  it('rethrows errors that retrying cannot fix', async () => {
    const err = new Error('permission denied');
    await expect(
      followStatus(
        async () => {
          throw err;
        },
        status(),
        { until: () => false, deadline: 10_000, intervalMs: 10, ...clock() },
      ),
    ).rejects.toBe(err);
  });

  it('without a deadline, does not retry: an outage surfaces at once (the CLI exits 4)', async () => {
    const outage = grpcError(14, 'unavailable');
    await expect(
      followStatus(
        async () => {
          throw outage;
        },
        status({ stage: 'building' }),
        { until: 'production', ...clock() },
      ),
    ).rejects.toBe(outage);
  });

  it('gives each read the deadline as its due time, at most 30 s ahead', async () => {
    const c = clock();
    const dues: (number | undefined)[] = [];
    await followStatus(
      async (due) => {
        dues.push(due);
        return status({ state: 'succeeded', stage: 'done' });
      },
      undefined,
      { until: 'production', deadline: 100_000, ...c },
    );
    expect(dues).toEqual([30_000]);
    await followStatus(
      async (due) => {
        dues.push(due);
        return status({ state: 'succeeded', stage: 'done' });
      },
      undefined,
      { until: 'production', ...c },
    );
    expect(dues[1]).toBeUndefined();
  });

  it('exits 0 once the awaited environment succeeded or the release did, 1 when it ended otherwise', () => {
    expect(exitCodeForWait(status(), 'staging')).toBe(EXIT.ok);
    expect(exitCodeForWait(status(), 'production')).toBeNull();
    expect(exitCodeForWait(status({ state: 'succeeded', stage: 'done' }), 'production')).toBe(EXIT.ok);
    expect(exitCodeForWait(status({ state: 'rolled-back', stage: 'done' }), 'production')).toBe(EXIT.failed);
  });
});

describe('shared serialisers', () => {
  it('history rows: newest first, running operations left out, the reason falling back to the failure', () => {
    const entry = (over: Partial<LedgerEntry>): LedgerEntry => ({
      opId: 'op',
      action: 'deploy',
      version: '1.0.0',
      artifact: '/a',
      commit: 'c1',
      actor: 'dave',
      approvers: [],
      reason: null,
      fromVersion: null,
      outcome: 'succeeded',
      verifiedAt: null,
      releaseId: null,
      automatic: false,
      requestedAt: '2026-01-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:01.000Z',
      endedAt: '2026-01-01T00:00:02.000Z',
      failure: null,
      ...over,
    });
    const rows = historyRows([
      entry({ version: '1.0.0', approvers: ['alice', 'bob'] }),
      entry({ version: '1.1.0', outcome: 'failed', failure: 'smoke /smoke: 500', endedAt: null }),
      entry({ version: '1.2.0', outcome: 'running' }),
    ]);
    expect(rows.map((r) => r.version)).toEqual(['1.1.0', '1.0.0']);
    expect(rows[0]).toMatchObject({ reason: 'smoke /smoke: 500', at: '2026-01-01T00:00:01.000Z' });
    expect(Object.keys(rows[1]!).sort()).toEqual(
      ['action', 'actor', 'approvers', 'at', 'commit', 'fromVersion', 'outcome', 'reason', 'version'].sort(),
    );
  });

  it('the tally as every channel prints it', () => {
    expect(
      tallyText({
        tally: [
          { group: 'team-leads', count: 2, have: 1 },
          { group: 'security', count: 1, have: 0 },
        ],
      }),
    ).toBe('team-leads 1/2, security 0/1');
  });

  it('Temporal UI links encode every part and ignore a trailing slash on the base', () => {
    expect(temporalUiLink('http://ui:8233/', 'ns.acct', 'release/a/1+b', 'r/1')).toBe(
      'http://ui:8233/namespaces/ns.acct/workflows/release%2Fa%2F1%2Bb/r%2F1/history',
    );
    expect(releaseUiLink('http://ui', 'default', 'hello', '1.0.0')).toBe(
      'http://ui/namespaces/default/workflows/release%2Fhello%2F1.0.0',
    );
  });
});

describe('bounded waits', () => {
  it('settledWithin answers undefined when the promise is still pending, and its value otherwise', async () => {
    const never = new Promise<string>(() => undefined);
    expect(await settledWithin(never, 1)).toBeUndefined();
    expect(await settledWithin(Promise.resolve('ok'), 60_000)).toBe('ok');
    await expect(settledWithin(Promise.reject(new Error('no')), 60_000)).rejects.toThrow('no');
  });

  it('withTimeout fails with the given error when the promise is still pending', async () => {
    await expect(withTimeout(new Promise(() => undefined), 1, () => new Error('no answer'))).rejects.toThrow(
      'no answer',
    );
    expect(await withTimeout(Promise.resolve(7), 60_000, () => new Error('x'))).toBe(7);
  });
});
