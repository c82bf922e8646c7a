/**
 * The Slack Web API client as shipgate uses it: bounded retries with backoff, a per-request timeout, no
 * waiting out rate limits, and logs through pino. A Slack outage costs a caller at most `SLACK_CALL_BUDGET_MS`.
 */
import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from '../../logger.js';
import { withTimeout } from '../../client/timeout.js';
import { httpsUnlessLoopbackProblem } from '../../identity/urls.js';

export interface SlackCallPolicy {
  /** Per HTTP attempt. */
  timeoutMs: number;
  /** Retries after the first attempt (network errors, timeouts and non-200 answers). */
  retries: number;
  /** Backoff before the first retry, doubled each time. */
  minBackoffMs: number;
  /** A hard bound on one call, retries included. */
  budgetMs: number;
}

/** 4 attempts × 1.5 s + 0.3 + 0.6 + 1.2 s of backoff ≈ 8.1 s, under a hard 9 s bound. */
export const DEFAULT_CALL_POLICY: SlackCallPolicy = {
  timeoutMs: 1500,
  retries: 3,
  minBackoffMs: 300,
  budgetMs: 9000,
};

/**
 * The bot token goes with every call, so `apiUrl` must be https, or plain http only to this machine (a local
 * stand-in). The config loader checks the same; this holds for any other caller too.
 */
export function createWebClient(
  token: string,
  opts: { apiUrl?: string; logger: Logger; policy?: SlackCallPolicy },
): WebClient {
  if (opts.apiUrl !== undefined) {
    const problem = httpsUnlessLoopbackProblem(opts.apiUrl);
    if (problem) throw new Error(`slack.apiUrl: ${problem}; the bot token must not travel in clear`);
  }
  const policy = opts.policy ?? DEFAULT_CALL_POLICY;
  return new WebClient(token, {
    ...(opts.apiUrl ? { slackApiUrl: withSlash(opts.apiUrl) } : {}),
    timeout: policy.timeoutMs,
    retryConfig: {
      retries: policy.retries,
      factor: 2,
      minTimeout: policy.minBackoffMs,
      maxTimeout: policy.minBackoffMs * 8,
      randomize: false,
    },
    // A rate limit is answered with Retry-After, often longer than our whole budget: fail fast instead.
    rejectRateLimitedCalls: true,
    logger: slackLogger(opts.logger),
    logLevel: LogLevel.WARN,
    // Absolute URLs as method names must not redirect the bot token elsewhere.
    allowAbsoluteUrls: false,
  });
}

/** Runs one Slack call under the policy's hard bound; the call itself may still finish in the background. */
export function withBudget<T>(budgetMs: number, what: string, fn: () => Promise<T>): Promise<T> {
  return withTimeout(fn(), budgetMs, () => new Error(`${what}: no answer within ${budgetMs} ms`));
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** The Web API's own log lines, through pino (stderr) instead of the console. */
function slackLogger(logger: Logger): SlackLogger {
  let level: LogLevel = LogLevel.WARN;
  const child = logger.child({ component: 'slack-web-api' });
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...m: unknown[]) => child.debug(text(m)),
    info: (...m: unknown[]) => child.debug(text(m)),
    warn: (...m: unknown[]) => child.info(text(m)),
    error: (...m: unknown[]) => child.warn(text(m)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** The Slack error code or message, for a log line. */
export function slackError(err: unknown): string {
  const e = err as { data?: { error?: string }; code?: string; message?: string };
  return e?.data?.error ?? e?.message ?? String(err);
}
